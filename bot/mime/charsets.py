"""Charsets as mail clients mislabel them: which codecs to try, and bytes decoded by the first that fits."""

from __future__ import annotations

import codecs
import functools
import re

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
