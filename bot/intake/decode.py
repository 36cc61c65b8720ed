"""Intake step "decode": raw message bytes → a Mail record, never raising on any input."""

from __future__ import annotations

import email
import email.utils
import hashlib
import logging
import re
from collections.abc import Iterator
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32
from html.parser import HTMLParser
from io import BytesIO

from bot.intake.names import ENCODED_WORD, clean_name, decode_bytes, decode_words, file_name, unfold
from bot.records import Mail, Part

log = logging.getLogger(__name__)


class _RawHeaders(Compat32):
    """compat32 parsing (the most tolerant), but headers come back as the raw stored strings.

    Stock compat32 turns a header with 8-bit bytes into a Header object whose str() replaces
    those bytes with U+FFFD; the raw string keeps them (as surrogate escapes) for names.py.
    policy.default is stricter still and drops some names Outlook and Foxmail write.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


POLICY = _RawHeaders(linesep="\n", max_line_length=0)
_MAX_DEPTH = 40  # deeper nesting is an attack or a loop, not a mail


def decode(raw: bytes) -> Mail:
    """Decode one delivered message; on any failure, a degraded Mail rather than an exception."""
    raw = bytes(raw)
    try:
        return _decode(raw)
    except Exception:  # noqa: BLE001 - the contract: decode never raises
        log.warning("decode fell back to a raw reading of a %d-byte message", len(raw), exc_info=True)
        return _fallback(raw)


def _decode(raw: bytes) -> Mail:
    msg = email.message_from_bytes(repair_header_block(raw), policy=POLICY)
    leaves = list(_leaves(msg, 0))
    hint = _declared_charset([msg, *leaves])
    from_addr, from_name = sender(_header(msg, "From"), hint)
    subject = decode_words(_header(msg, "Subject") or "", hint).strip()
    plain, html, parts = [], [], []
    for leaf in leaves:
        part = _as_part(leaf, leaf is msg, hint)
        if part is not None:
            parts.append(part)
        elif leaf.get_content_subtype() == "html":
            html.append(_text_of(leaf))
        else:
            plain.append(_text_of(leaf))
    text = "\n".join(t for t in plain if t.strip())
    if not text.strip() and html:
        text = "\n".join(html_to_text(h) for h in html)
    return Mail(
        message_id=_token(msg, "Message-ID"),
        from_addr=from_addr,
        from_name=from_name,
        subject=subject,
        text=text,
        parts=parts,
        headers=msg,
        content_hash=content_hash(from_addr, subject, text, parts),
        in_reply_to=_token(msg, "In-Reply-To"),
        references=_token(msg, "References"),
    )


_FIELD = re.compile(rb"(?:From |[\x21-\x39\x3b-\x7e]+[ \t]*:)")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def repair_header_block(raw: bytes) -> bytes:
    """Undo the header damage the stdlib would stop at, so headers are not read as body.

    Seen in real mail: a UTF-8 BOM before the first header, a junk line before it ("----
    Original email message ----" from Kerio), and continuation lines that lost their
    indentation (qmail Received lines, base64 X-Brightmail-Tracker).
    """
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    blank = _BLANK_LINE.search(raw)
    end = blank.start() if blank else len(raw)
    lines = raw[:end].split(b"\n")
    if all(_FIELD.match(line) or line[:1] in (b" ", b"\t") for line in lines):
        return raw
    fixed: list[bytes] = []
    for line in lines:
        if _FIELD.match(line):
            fixed.append(re.sub(rb"^([^: \t]+)[ \t]+:", rb"\1:", line))
        elif fixed:
            fixed.append(line if line[:1] in (b" ", b"\t") else b" " + line)
        # else: junk before the first header line is dropped
    return b"\n".join(fixed) + raw[end:] if fixed else raw


def _fallback(raw: bytes) -> Mail:
    """What can still be said of bytes the parser choked on: the header block and the text."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    try:
        msg = email.message_from_bytes(head + b"\n\n", policy=POLICY)
    except Exception:  # noqa: BLE001
        msg = Message(policy=POLICY)
    text = decode_bytes(body)
    return Mail(None, None, "", "", text, [], msg, content_hash(None, "", text, []))


def _header(msg: Message, name: str) -> str | None:
    value = msg.get(name)
    return value if isinstance(value, str) else None


def _declared_charset(parts: list[Message]) -> str | None:
    """The first charset the message declares: its clients write unencoded headers in it."""
    for part in parts:
        charset = part.get_param("charset")
        if isinstance(charset, str) and charset.strip():
            return charset
    return None


def _token(msg: Message, name: str) -> str | None:
    """An identifier header (Message-ID, In-Reply-To, References) unfolded and trimmed."""
    value = _header(msg, name)
    if value is None:
        return None
    value = decode_bytes(unfold(value).encode("ascii", "surrogateescape")).strip()
    return value or None


# --- sender ----------------------------------------------------------------

_ANGLE = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+?)\s*>")
_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"')


def sender(value: str | None, hint: str | None = None) -> tuple[str | None, str]:
    """(lower-cased address, decoded display name) of a From header.

    The address is the one inside angle brackets: a display name that looks like an address
    ("li@x.example" <evil@y.example>, or the same unquoted) must never identify anyone.
    getaddresses runs with each encoded word stashed as an opaque atom, so a name decoding to
    commas or quotes cannot split the header, and neither can a raw comma some clients leave
    inside an encoded word (=?iso-8859-1?Q?B=FCrling,=20Andreas?=).  A header that is one
    encoded word around name and address is read once more, decoded.
    """
    if not value:
        return None, ""
    for text in (unfold(value), decode_words(value, hint)):
        words: list[str] = []
        masked = ENCODED_WORD.sub(lambda m: f"\x01{words.append(m.group(0)) or len(words) - 1}\x01", text)
        pairs = email.utils.getaddresses([masked])
        angle = _ANGLE.search(_QUOTED.sub('""', masked))
        address = angle.group(1) if angle else next((a for _, a in pairs if "@" in a), None)
        if address:
            name = next((n for n, a in pairs if a == address and n), "")
            if not name and angle:
                name = masked[: angle.start()].strip().strip('"')
            name = re.sub("\x01(\\d+)\x01", lambda m: words[int(m.group(1))], name)
            return address.lower(), decode_words(name, hint).strip()
    return None, decode_words(value, hint).strip()


# --- structure -------------------------------------------------------------


def _leaves(msg: Message, depth: int) -> Iterator[Message]:
    """The leaf parts in order; a message/* part is a leaf (containers are unpacked later)."""
    if depth < _MAX_DEPTH and msg.get_content_maintype() == "multipart" and msg.is_multipart():
        for sub in msg.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub, depth + 1)
    else:
        yield msg


def _as_part(leaf: Message, top: bool, hint: str | None) -> Part | None:
    """The Part for a leaf, or None when the leaf is body text."""
    disposition = _header(leaf, "Content-Disposition") or ""
    name = file_name(disposition, _header(leaf, "Content-Type"), hint)
    ctype = leaf.get_content_type()
    kind = disposition.split(";", 1)[0].strip().lower()
    is_body_text = ctype in ("text/plain", "text/html") or (
        leaf.get_content_maintype() == "multipart"  # a multipart whose boundary never came
    )
    if name is None and is_body_text and (kind != "attachment" or top):
        return None
    if ctype == "message/rfc822":
        data = _message_bytes(leaf)
        if name is None:
            name = _forward_name(leaf, hint)
    else:
        data = _payload(leaf)
    return Part(filename=name, content_type=ctype, data=data, inline=kind == "inline")


def _forward_name(leaf: Message, hint: str | None) -> str:
    """A forwarded message without a file name is named by its subject plus .eml (contract).

    The inner message's own charset decodes its raw 8-bit subject (a GBK spam forwarded by
    a Latin-1 SpamAssassin report); a bounce's returned message without a subject falls back
    to the part's description (Postfix: "Undelivered Message").
    """
    inner = leaf.get_payload(0) if leaf.is_multipart() else None
    subject = ""
    if isinstance(inner, Message):
        own = _declared_charset([inner, *_leaves(inner, _MAX_DEPTH - 2)])
        subject = decode_words(_header(inner, "Subject") or "", own or hint).strip()
    subject = subject or decode_words(_header(leaf, "Content-Description") or "", hint).strip()
    return clean_name(subject + ".eml") or "message.eml"


def _payload(leaf: Message) -> bytes:
    """The decoded payload; lenient base64/QP come from the stdlib, message/* is regenerated."""
    if leaf.is_multipart():
        return _message_bytes(leaf)
    data = leaf.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _message_bytes(leaf: Message) -> bytes:
    """The body of a message/* part as bytes (the parser already split it into messages)."""
    if not leaf.is_multipart():  # the parser kept it as text, e.g. message/rfc822 in base64
        data = leaf.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=POLICY).flatten(leaf)
    body = out.getvalue().split(b"\n\n", 1)
    data = body[1] if len(body) == 2 else b""
    cte = str(leaf.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable"):
        # Against RFC 2046 §5.2.1, but sent: the parser read encoded text as a message.
        shell = Message(policy=POLICY)
        shell["Content-Transfer-Encoding"] = cte
        shell.set_payload(data.decode("ascii", "surrogateescape"))
        data = shell.get_payload(decode=True) or b""
    return data


# --- body text -------------------------------------------------------------


def _text_of(leaf: Message) -> str:
    data = _payload(leaf) if not leaf.is_multipart() else b""
    charset = leaf.get_param("charset")
    declared = charset if isinstance(charset, str) else None
    if declared is None and leaf.get_content_subtype() == "html":
        meta = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", data[:4096], re.I)
        declared = meta.group(1).decode("ascii") if meta else None
    return decode_bytes(data, declared)


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML body, one line per block element."""

    BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BREAKS:
            self.chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in self.BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BREAKS and tag != "br":
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text of an HTML body: scripts and styles dropped, block elements on own lines."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # noqa: BLE001 - _markupbase asserts on some broken markup
        text = re.sub(r"<[^>]*>", " ", html)
    lines = (line.strip() for line in text.replace("\xa0", " ").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- identity --------------------------------------------------------------


def content_hash(from_addr: str | None, subject: str, text: str, parts: list[Part]) -> str:
    """sha256 over sender, subject, body text and each part's bytes, each length-prefixed."""
    digest = hashlib.sha256()
    fields = [(from_addr or "").encode(), subject.encode("utf-8", "surrogatepass"),
              text.encode("utf-8", "surrogatepass"), *(p.data for p in parts)]
    for field in fields:
        digest.update(b"%d:" % len(field))
        digest.update(field)
    return digest.hexdigest()
