"""Intake step "decode": raw message bytes → a Mail record, never raising on any input."""

from __future__ import annotations

import binascii
import email
import functools
import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from email.message import Message
from email.feedparser import FeedParser
from email.parser import BytesParser
from email.policy import Compat32
from html.parser import HTMLParser

from bot.intake.bigbodies import CUT_ATTR, cut_big_bodies, restore, transfer_encoding
from bot.mime.charsets import decode_bytes
from bot.mime.names import (
    decode_words,
    lenient_base64,
    params,
    sender,
    to_bytes,
    unfold,
)
from bot.mime.parts import forward_name, name_part
from bot.records import Mail, Part

log = logging.getLogger(__name__)


class _RawHeaders(Compat32):
    """compat32 parsing (the most tolerant), but headers come back as the raw stored strings.

    Stock compat32 turns a header with 8-bit bytes into a Header object whose str() replaces
    those bytes with U+FFFD; the raw string keeps them (as surrogate escapes) for names.py.
    policy.default is no better for names: it drops an unquoted encoded word and puts U+FFFD
    where a gb2312 label carries GBK or a character is split across two encoded words.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


POLICY = _RawHeaders(linesep="\n", max_line_length=0)
_MAX_DEPTH = 40  # deeper nesting is an attack or a loop, not a mail


def decode(raw: bytes) -> Mail:
    """Decode one delivered message; on any failure, a degraded Mail rather than an exception."""
    raw = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    try:
        return _decode(raw)
    except Exception as error:  # noqa: BLE001 - decode never raises (docs/contract.md, "Parts and file names")
        log.warning("decode fell back to a raw reading of %d bytes: %s", len(raw), error,
                    exc_info=log.isEnabledFor(logging.DEBUG))
    try:
        return _fallback(raw)
    except Exception as error:  # noqa: BLE001 - not expected; an empty record still keeps the mailbox going
        log.error("decode could not read a %d-byte message at all: %s", len(raw), error,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        empty = Message(policy=POLICY)
        return Mail(None, None, "", "", "", [], empty, content_hash(None, "", "", []))


def _decode(raw: bytes) -> Mail:
    msg = _parse(repair_header_block(raw))
    leaves = list(_leaves(msg, 0, False))
    hint = _declared_charset([msg, *(leaf for leaf, _ in leaves)])
    from_addr, from_name = sender(_header(msg, "From"), hint)
    subject = decode_words(_header(msg, "Subject") or "", hint).strip()
    plain, html, parts = [], [], []
    for leaf, in_report in leaves:
        part = _guarded_part(leaf, leaf is msg, in_report, hint)
        if part is not None:
            parts.append(part)
        elif leaf.get_content_subtype() == "html":
            html.append(_text_of(leaf))
        else:
            plain.append(_text_of(leaf))
    text = "\n".join(t for t in plain if t.strip())
    if not text.strip() and html:
        text = "\n".join(html_to_text(h) for h in html)
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # one text whatever the transport
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


_FEED_CHUNK = 1 << 20


def _parse(raw: bytes) -> Message:
    """email.message_from_bytes, fed a slice at a time, big base64 bodies left out (bigbodies).

    The same parse (BytesParser reads bytes as ASCII with surrogate escapes, then feeds the
    FeedParser), without the whole message as one more str and a StringIO copy of that: a 34 MB
    message cost some 150 MB more at its peak. ASCII decoding is per byte, so any cut is safe.
    """
    small, cuts = cut_big_bodies(raw)
    parser = FeedParser(policy=POLICY)
    view = memoryview(small)
    for start in range(0, len(small), _FEED_CHUNK):
        parser.feed(str(view[start:start + _FEED_CHUNK], "ascii", "surrogateescape"))
    msg = parser.close()
    if cuts:
        restore(msg, cuts)
    return msg


def _base64(stored: str) -> bytes:
    """A base64 body as lenient_base64 reads it; a clean one straight from the parsed str.

    Without padding inside and with a whole number of quanta, binascii (which skips line breaks
    and other non-alphabet characters) gives the very same bytes, without the three copies of
    the encoded text lenient_base64 makes on its way: they were most of a big attachment's peak.
    """
    first_pad = stored.find("=")
    if stored.isascii() and (first_pad < 0 or not stored[first_pad:].strip("=\r\n\t ")):
        try:
            return binascii.a2b_base64(stored)
        except (binascii.Error, ValueError):
            pass  # a truncated or mis-padded body: read leniently below
    return lenient_base64(to_bytes(stored))


# A source's header batch (500 for IMAP) is triaged before the first of its messages is decoded:
# each header block is parsed once for both. The Message is only read, never changed.
@functools.lru_cache(maxsize=1024)
def parse_head(header: bytes) -> Message:
    """The header block alone parsed as decode parses a whole message's: same repairs, same policy."""
    return BytesParser(policy=POLICY).parsebytes(repair_header_block(header), headersonly=True)


def decode_head(header: bytes, parts: Sequence[Part], fingerprint: str, charset: str | None = None) -> Mail:
    """A message known by its header block and structure only: the source never downloaded its body.

    Sender, subject and identifiers are read as decode reads them, `charset` (the first one the
    structure declares) standing in for the hint decode takes from the body parts' headers. The
    parts are the source's (named from the structure by the same rules, data empty); there is no
    text. Without the bytes, the content hash covers what is known: sender, subject, Message-ID,
    Date and every leaf's type, name and size (the fingerprint). So duplicates of mail whose body
    was never read are judged by these: a stranger's mail delivered twice is a duplicate when all
    of them agree, and a reused Message-ID on another structure is a new message.
    """
    header = bytes(header)
    try:
        msg = parse_head(header)
        hint = _charset(msg) or charset
        from_addr, from_name = sender(_header(msg, "From"), hint)
        subject = decode_words(_header(msg, "Subject") or "", hint).strip()
        date = unfold(_header(msg, "Date") or "").strip()
        message_id = _token(msg, "Message-ID")
        in_reply_to, references = _token(msg, "In-Reply-To"), _token(msg, "References")
    except Exception as error:  # noqa: BLE001 - decode never raises (docs/contract.md, "Parts and file names")
        log.warning("decode could not read a %d-byte header block: %s", len(header), error,
                    exc_info=log.isEnabledFor(logging.DEBUG))
        msg, from_addr, from_name, subject, date = Message(policy=POLICY), None, "", "", ""
        message_id = in_reply_to = references = None
    return Mail(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        subject=subject,
        text="",
        parts=list(parts),
        headers=msg,
        content_hash=head_hash(from_addr, subject, message_id, date, fingerprint),
        in_reply_to=in_reply_to,
        references=references,
    )


_FIELD = re.compile(rb"(?:From |[\x21-\x39\x3b-\x7e]+[ \t]*:)")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_KNOWN_FIELD = re.compile(rb"(?im)^(?:from|received|return-path|date|subject|message-id|to):")


def repair_header_block(raw: bytes) -> bytes:
    """Undo the header damage the stdlib would stop at, so headers are not read as body.

    Seen in real mail: a UTF-8 BOM before the first header (joruri-mail's utf-8-8bit.eml), a
    junk line before it ("---- Original email message ----", Zammad mail068), continuation
    lines that lost their indentation (qmail Received lines, a base64 X-Brightmail-Tracker).
    """
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    blank = _BLANK_LINE.search(raw)
    end = blank.start() if blank else len(raw)
    lines = raw[:end].split(b"\n")
    if all(_FIELD.match(line) or line[:1] in (b" ", b"\t") for line in lines):
        return raw
    if not _KNOWN_FIELD.search(raw, 0, end):
        return raw  # not a damaged header block: a message without headers
    fixed: list[bytes] = []
    for line in lines:
        if _FIELD.match(line):
            fixed.append(re.sub(rb"^([^: \t]+)[ \t]+:", rb"\1:", line))
        elif fixed:
            fixed.append(line if line[:1] in (b" ", b"\t") else b" " + line)
        # else: junk before the first header line is dropped
    return b"\n".join(fixed) + raw[end:] if fixed else raw


def _fallback(raw: bytes) -> Mail:
    """What can still be read of bytes the parser choked on: the header block, the rest as text.

    Reached on parser recursion (thousands of nested multiparts); the sender still counts.
    """
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    msg, from_addr, from_name, subject, message_id = Message(policy=POLICY), None, "", "", None
    try:
        msg = email.message_from_bytes(head + b"\n\n", policy=POLICY)
        from_addr, from_name = sender(_header(msg, "From"))
        subject = decode_words(_header(msg, "Subject") or "").strip()
        message_id = _token(msg, "Message-ID")
    except Exception:  # noqa: BLE001 - nothing more to be had from these bytes
        log.debug("header block unreadable too", exc_info=True)
    text = decode_bytes(body)
    return Mail(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        subject=subject,
        text=text,
        parts=[],
        headers=msg,
        content_hash=content_hash(from_addr, subject, text, []),
    )


def _header(msg: Message, name: str) -> str | None:
    value = msg.get(name)
    return value if isinstance(value, str) else None


def _declared_charset(parts: list[Message]) -> str | None:
    """The first charset the message declares: its clients write unencoded headers in it."""
    return next(filter(None, map(_charset, parts)), None)


def _charset(part: Message) -> str | None:
    # names.params, not Message.get_param: the stdlib's parameter split is quadratic.
    return params(_header(part, "Content-Type") or "").get("charset", "").strip() or None


def _token(msg: Message, name: str) -> str | None:
    """An identifier header (Message-ID, In-Reply-To, References) unfolded and trimmed."""
    value = _header(msg, name)
    if value is None:
        return None
    value = decode_bytes(to_bytes(unfold(value))).strip()
    return value or None


# --- structure -------------------------------------------------------------


def _leaves(msg: Message, depth: int, in_report: bool) -> Iterator[tuple[Message, bool]]:
    """(leaf, inside a multipart/report) in order; message/* parts are leaves, unpacked later."""
    if depth < _MAX_DEPTH and msg.get_content_maintype() == "multipart" and msg.is_multipart():
        report = in_report or msg.get_content_subtype() == "report"
        for sub in msg.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub, depth + 1, report)
    else:
        yield msg, in_report


def _guarded_part(leaf: Message, top: bool, in_report: bool, hint: str | None) -> Part | None:
    """_as_part, but one part the generator or a codec chokes on does not cost the others."""
    try:
        return _as_part(leaf, top, in_report, hint)
    except Exception as error:  # noqa: BLE001
        log.warning("part of type %s could not be decoded: %s", leaf.get_content_type(), error,
                    exc_info=log.isEnabledFor(logging.DEBUG))
        return Part(filename=None, content_type=leaf.get_content_type(), data=b"")


def _as_part(leaf: Message, top: bool, in_report: bool, hint: str | None) -> Part | None:
    """The Part for a leaf, or None when the leaf is body text.

    A bounce's returned message keeps no name unless it has one: it is listed as the
    structure shows it, not as a forwarded document.
    """
    disposition = _header(leaf, "Content-Disposition") or ""
    ctype = leaf.get_content_type()
    kind = disposition.split(";", 1)[0].strip().lower()
    named = name_part(ctype, kind, params(_header(leaf, "Content-Type") or ""), params(disposition), top, hint)
    if named.body_text:
        return None
    name = named.filename
    if ctype == "message/rfc822":
        data = _message_bytes(leaf)
        if name is None and not in_report:
            name = _forward_name(leaf, hint)
    else:
        data = _payload(leaf)
    return Part(filename=name, content_type=ctype, data=data, inline=named.inline)


def _forward_name(leaf: Message, hint: str | None) -> str:
    """A forwarded message without a file name is named by its subject plus .eml (docs/contract.md, "Containers").

    The inner message's own charset decodes its raw 8-bit subject (a GBK spam forwarded by
    a Latin-1 SpamAssassin report); without a subject, the part's description names it.
    """
    inner = leaf.get_payload(0) if leaf.is_multipart() else None
    subject, own = "", None
    if isinstance(inner, Message):
        own = _declared_charset([inner, *(sub for sub, _ in _leaves(inner, _MAX_DEPTH - 2, False))])
        subject = _header(inner, "Subject") or ""
    return forward_name(subject, own, _header(leaf, "Content-Description") or "", hint)


def _payload(leaf: Message) -> bytes:
    """The decoded payload: lenient base64 here, QP and uuencode by the stdlib."""
    if leaf.is_multipart():
        return _message_bytes(leaf)
    cte = transfer_encoding(leaf)
    if cte == "base64":
        cut = getattr(leaf, CUT_ATTR, None)
        return cut.decoded() if cut is not None else _base64(_stored(leaf))
    data = leaf.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _stored(leaf: Message) -> str:
    """The body text as parsed (ASCII with surrogate escapes), not yet transfer-decoded.

    get_payload() would re-decode 8-bit text through the part's charset label, and a label
    that is itself 8-bit garbage makes it raise.
    """
    cut = getattr(leaf, CUT_ATTR, None)
    if cut is not None:
        return cut.text()
    payload = leaf._payload  # noqa: SLF001 - see above; the stdlib generator reads it too
    return payload if isinstance(payload, str) else ""


def _message_bytes(leaf: Message) -> bytes:
    """The body of a message/* part as bytes (the parser already split it into messages)."""
    if leaf.is_multipart():
        data = b"".join(flatten(sub) for sub in leaf.get_payload() if isinstance(sub, Message))
    else:
        data = to_bytes(_stored(leaf))
    # Against RFC 2046 §5.2.1, but sent: a message/rfc822 body in base64 or QP.
    cte = transfer_encoding(leaf)
    if cte == "base64":
        return lenient_base64(data)
    return binascii.a2b_qp(data) if cte == "quoted-printable" else data


def flatten(msg: Message) -> bytes:
    """A parsed message back to bytes as it came: raw header lines, bodies as stored.

    Not the stdlib generator: it re-folds headers, re-decodes 8-bit text through charset
    labels and raises on damage (an "embedded header") that a delivered message can carry.
    """
    out = [to_bytes(f"{name}: {value}") + b"\n" for name, value in msg.items()]
    out.append(b"\n")
    payload = msg.get_payload() if msg.is_multipart() else None
    if payload is None:
        out.append(to_bytes(_stored(msg)))
    elif msg.get_content_maintype() == "multipart":
        boundary = to_bytes(params(_header(msg, "Content-Type") or "").get("boundary", ""))
        out.append(to_bytes(msg.preamble or "") + b"\n" if msg.preamble else b"")
        for sub in payload:
            out += [b"--", boundary, b"\n", flatten(sub), b"\n"]
        out += [b"--", boundary, b"--\n", to_bytes(msg.epilogue or "")]
    else:  # message/rfc822 (one message), message/delivery-status (header blocks)
        out += [flatten(sub) for sub in payload]
    return b"".join(out)


# --- body text -------------------------------------------------------------


def _text_of(leaf: Message) -> str:
    """A body part as text: its declared charset (an HTML one may be in <meta>), else candidates."""
    data = _payload(leaf) if not leaf.is_multipart() else b""
    declared = _charset(leaf)
    if declared is None and leaf.get_content_subtype() == "html":
        meta = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", data[:4096], re.I)
        declared = meta.group(1).decode("ascii") if meta else None
    return decode_bytes(data, declared)


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML body, one line per block element or <br>."""

    BLOCKS = frozenset("p div tr table li ul ol blockquote h1 h2 h3 h4 h5 h6".split())
    HIDDEN = frozenset({"script", "style", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def _end_line(self) -> None:
        # One newline per block boundary: Outlook writes every line as its own <p>.
        if self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append("\n")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag in self.BLOCKS:
            self._end_line()
        elif tag in ("td", "th") and self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self._end_line()

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
    """sha256 over sender, subject, body text and each part's bytes, each length-prefixed.

    Text and message parts travel as lines, so their line ends are hashed as LF: the same
    message read over IMAP (CRLF) and from a Maildir (LF) is the same content.
    """
    digest = hashlib.sha256()
    texts = (from_addr or "", subject, text)
    fields = [*(t.encode("utf-8", "surrogatepass") for t in texts), *map(_hashed_bytes, parts)]
    for field in fields:
        digest.update(b"%d:" % len(field))
        digest.update(field)
    return digest.hexdigest()


def head_hash(from_addr: str | None, subject: str, message_id: str | None, date: str, fingerprint: str) -> str:
    """sha256 over what is known of a message whose body was never read (decode_head), length-prefixed.

    Prefixed with its own label, so it never equals a whole message's content_hash.
    """
    digest = hashlib.sha256(b"header-only\n")
    for text in (from_addr or "", subject, message_id or "", date, fingerprint):
        field = text.encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(field))
        digest.update(field)
    return digest.hexdigest()


def _hashed_bytes(part: Part) -> bytes:
    if part.content_type.startswith(("text/", "message/")):
        return part.data.replace(b"\r\n", b"\n")
    return part.data
