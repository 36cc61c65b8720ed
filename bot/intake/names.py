"""Header and file-name decoding as real clients write them (Outlook, Foxmail, Japanese mailers)."""

from __future__ import annotations

import binascii
import codecs
import email.utils
import functools
import re
import unicodedata
import urllib.parse

# Text labelled gb2312 is in practice GBK (Windows code page 936, which Outlook and Foxmail
# label gb2312): read every GB label as GB18030, its superset, so 珺 or 镕 survive.
_GB_LABELS = frozenset(
    "gb2312 gbk x-gbk cp936 ms936 windows-936 x-cp936 gb18030 euc-cn x-euc-cn csgb2312 "
    "gb_2312 gb_2312-80 gb2312-80 iso-gb2312 chinese iso-ir-58 csiso58gb231280".split()
)
_JIS = ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3", "jis-cp932")
# Labels whose codec Python names differently, or whose senders mean a superset (Windows
# writes cp932 as "shift_jis", cp949 as "ks_c_5601-1987", cp1252 as "iso-8859-1").
_ALIASES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis",
                     "windows-31j"), ("cp932", "shift_jis_2004")),
    **dict.fromkeys(("iso-2022-jp", "csiso2022jp", "iso-2022-jp-1"), _JIS),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "cseucpkdfmtjapanese"), ("euc_jp", "euc_jis_2004")),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "ks_c_5601", "windows-949"), ("cp949",)),
    **dict.fromkeys(("big5", "x-big5", "cn-big5"), ("big5", "cp950", "big5hkscs")),
    **dict.fromkeys(("iso-8859-1", "latin1", "iso_8859-1"), ("cp1252", "latin-1")),
    **dict.fromkeys(("utf-8", "utf8"), ("utf-8-sig",)),
    "unicode-1-1-utf-7": ("utf-7",),
}
# After UTF-8 has failed, a Japanese label's sender most likely wrote another Japanese
# encoding (Zammad's mail093 has Shift_JIS bytes in an ISO-2022-JP word): try those first.
_FAMILY = {
    "cp932": ("euc_jis_2004",),
    "euc_jp": ("cp932",),
    "iso2022_jp": ("cp932", "euc_jis_2004"),
}
# Codecs Python calls text encodings that would run escape or IDNA processing on the bytes.
_REFUSED = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
# Contract: after the declared charset, the first of these that decodes cleanly.
CANDIDATES = ("utf-8-sig", "gb18030", "big5", "latin-1")
_SEVEN_BIT = frozenset({"utf-7", "hz"})  # labels whose ASCII-only bytes still need decoding
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_MULTI_BYTE = re.compile(r"gb|big5|cp9[345]|jis|euc|2022|utf|hz")
_GB2312_RUN = re.compile(rb"(?:[\xb0-\xf7\xa1-\xa9][\xa1-\xfe])+")
_JIS_RUN = re.compile(rb"\x1b\$[@B]([^\x1b]*)")
# An RFC 2047 encoded word, read leniently (charset may carry an RFC 2231 "*lang").  The text
# excludes "?" so a huge header full of "=?" starts cannot make the search quadratic.
ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, Unicode line breaks


@functools.lru_cache(maxsize=256)
def codecs_for(label: str | None) -> tuple[str, ...]:
    """The Python codecs to try for a charset label, most likely first; () when unknown."""
    label = (label or "").strip().strip("\"'").lower()
    if not label:
        return ()
    if label in _GB_LABELS:
        return ("gb18030",)
    if label in _ALIASES:
        return _ALIASES[label]
    # iso-8859-8-i (Hebrew, logical order) and x-mac-roman style labels Python lacks.
    for name in (label, label.removeprefix("x-"), label.removesuffix("-i").removesuffix("-e")):
        try:
            info = codecs.lookup(name.replace("mac-", "mac_"))
        except (LookupError, ValueError):
            continue
        if info._is_text_encoding and info.name not in _REFUSED:
            return (info.name,)
    return ()


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode with the declared charset, else the first candidate that decodes cleanly.

    "Cleanly" for an undeclared multi-byte candidate also means no private-use characters:
    GB18030 reads almost any Latin-1 byte pair as some character, but user-defined areas are
    a sure sign it was the wrong guess.
    """
    declared_codecs = codecs_for(declared)
    if data.isascii():
        if b"\x1b" in data:  # 7-bit ISO-2022 (JIS) text, whatever the label says
            declared_codecs = (*_JIS, "iso2022_kr", *declared_codecs)
        elif not _SEVEN_BIT.intersection(declared_codecs):
            return data.decode("ascii")
    family = _FAMILY.get(declared_codecs[0], ()) if declared_codecs else ()
    for codec in declared_codecs:
        try:
            return _decode(data, codec)
        except (ValueError, LookupError):
            continue
    for codec in ("utf-8-sig", *family, *CANDIDATES[1:]):
        try:
            text = _decode(data, codec)
        except (ValueError, LookupError):
            continue
        if codec == "latin-1" or not _PRIVATE_USE.search(text):
            return text
    return data.decode("latin-1")  # not reached: Latin-1 is the last candidate


def _decode(data: bytes, codec: str) -> str:
    if codec == "utf-7":
        return _imap_utf7(data)
    if codec == "jis-cp932":
        return _jis_as_cp932(data)
    return data.decode(codec)


def _imap_utf7(data: bytes) -> str:
    """UTF-7, also in the IMAP form ("&...-", "," for "/") some webmails put in names."""

    def shifted(match: re.Match[str]) -> str:
        try:
            return ("+" + match.group(1).replace(",", "/") + "-").encode("ascii").decode("utf-7")
        except ValueError:  # a literal "&" after all ("AT&T-Mobile")
            return match.group(0)

    return re.sub(r"&([A-Za-z0-9+,]+)-", shifted, data.decode("utf-7"))


def _jis_as_cp932(data: bytes) -> str:
    """ISO-2022-JP with the NEC and IBM extensions Windows writes (CP50220: ①, №, ㈱).

    Python's iso2022 codecs reject those characters, so each JIS X 0208 run is re-coded to
    Shift_JIS arithmetically and the whole read as cp932, which has them.
    """

    def to_sjis(match: re.Match[bytes]) -> bytes:
        run = match.group(1)
        if len(run) % 2:
            raise ValueError("odd JIS run")
        out = bytearray()
        for j1, j2 in zip(run[::2], run[1::2]):
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F if j1 % 2 else 0x7E)
            out += bytes((s1, s2 + 1 if j1 % 2 and s2 >= 0x7F else s2))
        return bytes(out)

    converted = re.sub(rb"\x1b\([BJ]", b"", _JIS_RUN.sub(to_sjis, data))
    if b"\x1b" in converted:
        raise ValueError("unsupported ISO-2022 escape")
    return converted.decode("cp932")


def decode_raw(data: bytes, hint: str | None = None) -> str:
    """Header bytes with no label of their own (no RFC 2047/2231 around them).

    UTF-8 first (RFC 6532, and what Apple Mail and webmails write), then the charset the
    message declares for its text (a client that does not encode names writes them in it:
    Foxmail in GBK, German webmails in ISO-8859-1), then the candidates.  Bytes that are all
    GB2312 pairs beat a single-byte hint: a GBK subject inside a Latin-1 wrapper (spam
    filters, forwarding gateways) is far likelier than Latin text made only of such pairs.
    """
    if data.isascii() and b"\x1b" not in data:
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    hinted = codecs_for(hint)
    if hinted and not _MULTI_BYTE.search(hinted[0]) and _looks_gb2312(data):
        return data.decode("gb18030")
    return decode_bytes(data, hint)


def _looks_gb2312(data: bytes) -> bool:
    runs = re.findall(rb"[\x80-\xff]+", data)
    return sum(map(len, runs)) >= 4 and all(_GB2312_RUN.fullmatch(run) for run in runs)


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


def file_name(
    disposition: str | None, content_type: str | None, hint: str | None = None
) -> str | None:
    """The part's file name: Content-Disposition filename wins over Content-Type name."""
    for header, key in ((disposition, "filename"), (content_type, "name")):
        if header:
            name = clean_name(param_text(params(header), key, hint))
            if name:
                return name
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
    for text in (unfold(value), decode_words(value, hint)):
        words = [m.group(0) for m in ENCODED_WORD.finditer(text)]
        masked = _stash(text)
        pairs = email.utils.getaddresses([masked])
        angle = _ANGLE.search(_QUOTED.sub('""', masked))
        address = angle.group(1) if angle else next((a for _, a in pairs if "@" in a), None)
        if address:
            name = next((n for n, a in pairs if a == address and n), "")
            if not name and angle:
                name = masked[: angle.start()].strip().strip('"')
            name = _STASHED.sub(lambda m: words[int(m.group(1))], name)
            # Raw 8-bit in the address itself: UTF-8 (RFC 6531) or whatever the sender used.
            return decode_raw(to_bytes(address), hint).lower(), decode_words(name, hint).strip()
    return None, decode_words(value, hint).strip()


def _stash(text: str) -> str:
    """Each encoded word replaced by \x01<index>\x01, an atom to the address parser."""
    counter = iter(range(len(text)))
    return ENCODED_WORD.sub(lambda _: f"\x01{next(counter)}\x01", text)
