"""Header and file-name decoding as real clients write them (Outlook, Foxmail, Japanese mailers)."""

from __future__ import annotations

import binascii
import email.utils
import functools
import re
import unicodedata
import urllib.parse

from bot.mime.charsets import decode_bytes, decode_raw

# An RFC 2047 encoded word, read leniently (charset may carry an RFC 2231 "*lang").  The text
# excludes "?" so a huge header full of "=?" starts cannot make the search quadratic.
ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, Unicode line breaks


def to_bytes(text: str) -> bytes:
    """The original bytes of a header value the parser kept as ASCII with surrogate escapes."""
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # already real Unicode (e.g. a value built in code)
        return text.encode("utf-8", "surrogateescape")


def unfold(text: str) -> str:
    """RFC 5322 unfolding: a line break followed by white space is not part of the value."""
    return _FOLD.sub("", text).replace("\r", "").replace("\n", "")


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(_BASE64_ALPHABET)))


def lenient_base64(data: bytes) -> bytes:
    """Base64 as mail clients decode it: stray bytes skipped, padding repaired, no error ever.

    The stdlib hands back the still-encoded text when the length is off by one (bpo-27397);
    a truncated attachment should rather keep every byte that can be recovered.  Padding in
    the middle ends one encoded chunk (some senders concatenate separately encoded pieces).
    """
    out = []
    for chunk in data.translate(None, _NOT_BASE64).split(b"="):
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]
        if chunk:
            out.append(binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4)))
    return b"".join(out)


def _q(text: str) -> bytes:
    return binascii.a2b_qp(to_bytes(text), header=True)


def _tokens(value: str) -> list[tuple[str | None, str, str]]:
    """(charset, encoding, text) per encoded word, (None, "", literal) per text between them.

    White space between two encoded words is dropped (RFC 2047 §6.2).
    """
    tokens: list[tuple[str | None, str, str]] = []
    pos = 0
    for m in ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        if gap and not (gap.isspace() and tokens and tokens[-1][0] is not None):
            tokens.append((None, "", gap))
        tokens.append((m.group(1).split("*", 1)[0].lower(), m.group(2).lower(), m.group(3)))
        pos = m.end()
    if pos < len(value):
        tokens.append((None, "", value[pos:]))
    return tokens


def _run_bytes(words: list[tuple[str | None, str, str]]) -> bytes:
    """The bytes of adjacent encoded words in one charset, joined before any decoding.

    Encoders that fold by byte count split a multi-byte character across two words (RFC 2047
    §5 forbids it), and some split base64 in the middle of a 4-character quantum.
    """
    data, pending = b"", b""
    for _, encoding, text in words:
        if encoding == "b":
            pending += to_bytes(text).translate(None, _NOT_BASE64).rstrip(b"=")
            if len(pending) % 4 == 0 or text.rstrip().endswith("="):
                data, pending = data + lenient_base64(pending), b""
        else:
            data, pending = data + lenient_base64(pending) + _q(text), b""
    return data + lenient_base64(pending)


def decode_words(value: str, hint: str | None = None) -> str:
    """Decode a header value: RFC 2047 words anywhere (even in quotes) and raw 8-bit bytes.

    hint is the charset the message declares for its text, for raw 8-bit bytes (decode_raw).
    """
    value = unfold(value)
    if "=?" not in value:
        return decode_raw(to_bytes(value), hint)
    out: list[str] = []
    tokens = _tokens(value)
    i = 0
    while i < len(tokens):
        charset = tokens[i][0]
        if charset is None:
            out.append(decode_raw(to_bytes(tokens[i][2]), hint))
            i += 1
            continue
        j = i
        while j < len(tokens) and tokens[j][0] == charset:
            j += 1
        out.append(decode_bytes(_run_bytes(tokens[i:j]), charset))
        i = j
    return "".join(out)


def clean_name(name: str | None) -> str | None:
    """NFC, control characters (newlines included) removed; None when nothing is left."""
    if name is None:
        return None
    name = _CONTROL.sub("", unicodedata.normalize("NFC", name))
    return name if name.strip() else None


# --- MIME parameters -------------------------------------------------------


# Inside an unterminated quote, where the next parameter starts: "; filename*1*=", "; size=".
_NEXT_PARAM = re.compile(
    r";\s*(?:file)?name\*?\d*\*?\s*=|;\s*(?:size|charset|boundary|[a-z]+-date)\s*=", re.I
)


def _quoted(value: str, start: int) -> tuple[str, int]:
    """Read a quoted string from value[start] == '"'; returns (content, index after it).

    A backslash right after a raw 8-bit byte is the second byte of a GBK/Big5/Shift_JIS
    character (0x5C), not an escape.  An unterminated quote ends where the next parameter
    starts, else at the end of the value (hand-written and broken clients forget it).
    """
    out, i, n = [], start + 1, len(value)
    close = value.find('"', i)
    runaway = _NEXT_PARAM.search(value, i, close if close >= 0 else n)
    stop = runaway.start() if runaway else n
    while i < stop:
        ch = value[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < n and not (out and "\udc80" <= out[-1] <= "\udcff"):
            out.append(value[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out), stop


def params(value: str) -> dict[str, str]:
    """The parameters of a Content-Type/Content-Disposition value, names lower-cased.

    Hand-made instead of the stdlib's because real headers break the grammar: encoded words
    inside quotes, unquoted values with spaces, stray or doubled quotes and semicolons.  Text
    after an empty quoted string (name=""=?...?=") is the value; the first occurrence wins.
    """
    value = unfold(value)
    found: dict[str, str] = {}
    i, n, eq = value.find(";"), len(value), -1
    if i < 0:
        return found
    while i < n:
        while i < n and value[i] in "; \t":
            i += 1
        if eq < i:  # found once per "=", so "a;a;a;...;a=b" stays linear
            eq = value.find("=", i)
            if eq < 0:
                break
        semi = value.find(";", i)
        if 0 <= semi < eq:
            i = semi
            continue
        name = value[i:eq].strip().lower()
        j = eq + 1
        while j < n and value[j] in " \t":
            j += 1
        text = ""
        if j < n and value[j] == '"':
            text, j = _quoted(value, j)
        end = value.find(";", j)
        i = end if end >= 0 else n
        if not text:  # unquoted, or a doubled opening quote: name=""=?...?="
            text = value[j:i].strip().strip('"')
        if name and name not in found:
            found[name] = text
    return found


def _rfc2231(found: dict[str, str], key: str) -> tuple[bytes, str | None] | None:
    """Bytes and charset of key* or key*0*, key*1*… (RFC 2231 §3-4), or None when absent."""
    pieces: list[tuple[int, str, bool]] = []
    for name, text in found.items():
        if name == key + "*":
            pieces.append((0, text, True))
            continue
        m = re.fullmatch(re.escape(key) + r"\*(\d{1,4})(\*?)", name)
        if m:
            pieces.append((int(m.group(1)), text, bool(m.group(2))))
    if not pieces:
        return None
    pieces.sort(key=lambda p: p[0])
    charset, data = None, b""
    for index, (_, text, extended) in enumerate(pieces):
        if extended and index == 0 and text.count("'") >= 2:
            charset, _lang, text = text.split("'", 2)
        if extended:
            data += urllib.parse.unquote_to_bytes(to_bytes(text))
        else:
            data += to_bytes(text)
    return data, charset or None


def param_text(found: dict[str, str], key: str, hint: str | None = None) -> str | None:
    """A decoded parameter: RFC 2231 form first (it is the precise one), then the plain one."""
    extended = _rfc2231(found, key)
    if extended is not None:
        data, charset = extended
        text = decode_bytes(data, charset) if charset else decode_raw(data, hint)
        # Some clients put RFC 2047 words inside RFC 2231 values as well.
        return decode_words(text, hint) if "=?" in text else text
    if key in found:
        return decode_words(found[key], hint)
    return None


# --- From ---------------------------------------------------------------

_ANGLE = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+?)\s*>")
_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"')
_STASHED = re.compile("\x01(\\d+)\x01")


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
    if value.isascii():
        found = _ascii_sender(value)
        if found is not None:
            return found
        # The unfolded reading was _ascii_sender's, which the hint cannot change: only the decoded one is left.
        readings = (decode_words(value, hint),)
    else:
        readings = (unfold(value), decode_words(value, hint))
    for text in readings:
        found = _reading(text, hint)
        if found is not None:
            return found
    return None, decode_words(value, hint).strip()


# The triage reads each new message's From, then decode reads it again: the first reading of an
# ASCII header is remembered for that. It cannot depend on the hint, which only ever decodes raw
# 8-bit bytes: every piece of it is ASCII or an encoded word, decoded by its own charset.
@functools.lru_cache(maxsize=1024)
def _ascii_sender(value: str) -> tuple[str | None, str] | None:
    """sender() of an ASCII header when its first reading finds an address, else None."""
    return _reading(unfold(value), None)


def _reading(text: str, hint: str | None) -> tuple[str, str] | None:
    """(address, name) as one reading of a From text finds them, or None without an address."""
    words = [m.group(0) for m in ENCODED_WORD.finditer(text)]
    masked = _stash(text)
    pairs = email.utils.getaddresses([masked])
    angle = _ANGLE.search(_QUOTED.sub('""', masked))
    address = angle.group(1) if angle else next((a for _, a in pairs if "@" in a), None)
    if not address:
        return None
    name = next((n for n, a in pairs if a == address and n), "")
    if not name and angle:
        name = masked[: angle.start()].strip().strip('"')
    name = _STASHED.sub(lambda m: words[int(m.group(1))], name)
    # Raw 8-bit in the address itself: UTF-8 (RFC 6531) or whatever the sender used.
    return decode_raw(to_bytes(address), hint).lower(), decode_words(name, hint).strip()


def _stash(text: str) -> str:
    """Each encoded word replaced by \x01<index>\x01, an atom to the address parser."""
    counter = iter(range(len(text)))
    return ENCODED_WORD.sub(lambda _: f"\x01{next(counter)}\x01", text)
