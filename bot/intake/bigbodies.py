"""Big base64 bodies cut out of a message before the email package parses it, decoded from the raw bytes.

The email package keeps a body as one str per line while it parses, then joins them: a 25 MB
attachment (34 MB encoded) raised decode's peak by some 94 MB over the raw bytes, most of a first
poll's peak. So each body that is plainly base64 (its part says so and declares a type that is
neither message/* nor multipart/*, whose bodies the parser reads as header blocks; the body starts
with the alphabet and holds nothing else but line breaks) and at least CUT_BYTES long is replaced by
a short token before parsing. After it, the part whose whole body a token is (line breaks aside)
carries a Cut, which decodes straight from the raw bytes. A token found anywhere else (the lookalike
of a part inside a text body) is put back as the text it stood for, so the parsed message reads
exactly as it would have uncut.

The same cut makes decode cheaper for every attachment: the parser handles a body one line at a
time, about 2 ms for a 50 KB report, where decoding it from the raw bytes takes microseconds. So
the threshold is a few kilobytes, not megabytes.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass, replace
from email.message import Message

from bot.mime.names import lenient_base64

CUT_BYTES = 4 * 1024
CUT_ATTR = "hrbot_cut"  # the attribute a parsed part carries its Cut in

_BASE64_HEADER = re.compile(rb"(?im)^content-transfer-encoding:[ \t]*base64[ \t]*\r?$")
_CONTENT_TYPE = re.compile(rb"(?im)^content-type:[ \t]*([a-z0-9!#$&^_.+-]+)/")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_BASE64_FIRST = re.compile(rb"[A-Za-z0-9+/]")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\r\n\t ]*")
_PADDING_ONLY = re.compile(rb"[=\r\n\t ]*")


@dataclass(frozen=True)
class Cut:
    """raw[start:end], a base64 body left out of the parse, and the line breaks the parser kept after it."""

    raw: bytes
    start: int
    end: int
    tail: str = ""

    def text(self) -> str:
        """The body as the parser would have stored it."""
        return str(memoryview(self.raw)[self.start:self.end], "ascii") + self.tail

    def decoded(self) -> bytes:
        """The body decoded as decode decodes a stored one (decode._base64), without a copy of the encoded text."""
        first_pad = self.raw.find(b"=", self.start, self.end)
        if first_pad < 0 or _PADDING_ONLY.fullmatch(self.raw, first_pad, self.end):
            try:
                return binascii.a2b_base64(memoryview(self.raw)[self.start:self.end])
            except (binascii.Error, ValueError):
                pass  # mis-padded: read leniently below
        return lenient_base64(self.raw[self.start:self.end])


def transfer_encoding(part: Message) -> str:
    """The part's Content-Transfer-Encoding, lower case ("" when none)."""
    value = part.get("Content-Transfer-Encoding")
    return value.strip().lower() if isinstance(value, str) else ""


def cut_big_bodies(raw: bytes) -> tuple[bytes, dict[str, Cut]]:
    """(raw with each big base64 body replaced by a token, the Cut behind each token)."""
    if len(raw) < CUT_BYTES:
        return raw, {}  # nothing to cut, and no need to pay for the scan (a sixth of decode's time)
    pieces: list[bytes] = []
    cuts: dict[str, Cut] = {}
    nonce = secrets.token_hex(8)  # a token never met in the message itself
    done = pos = 0  # raw[:done] is in pieces; the next header is searched for from pos
    # A search resumed past each body, not finditer: the megabytes of a body are never scanned for headers.
    while (header := _BASE64_HEADER.search(raw, pos)) is not None:
        blank = _BLANK_LINE.search(raw, header.end())
        if blank is None:
            break
        start = blank.end()
        end = pos = _body_end(raw, start)
        last = next(reversed(cuts.values()), None)
        if (end - start < CUT_BYTES or not _cuttable_type(raw, header.start(), blank.start(), last)
                or not _BASE64_FIRST.match(raw, start) or not _BASE64_TEXT.fullmatch(raw, start, end)):
            continue
        # Fixed width: no token is the start of another (put back by str.replace, in any order).
        token = f"hrbot-cut-{nonce}-{len(cuts):08d}"
        cuts[token] = Cut(raw, start, end)
        pieces += [raw[done:start], token.encode("ascii")]
        done = end
    if not cuts:
        return raw, cuts
    pieces.append(raw[done:])
    return b"".join(pieces), cuts


def _body_end(raw: bytes, start: int) -> int:
    """Where a body starting at `start` ends: before the next line that starts with "-" (a boundary;
    base64 has no "-") or the end of the message, and before the line breaks that precede it, which
    stay with the parse (how many of them the parser keeps depends on where the part stands)."""
    dash = raw.find(b"\n-", start)
    end = len(raw) if dash < 0 else dash
    while end > start and raw[end - 1] in b"\r\n":
        end -= 1
    return end


def _cuttable_type(raw: bytes, field: int, block_end: int, last: Cut | None) -> bool:
    """Whether the header block around `field` declares a type whose body the parser keeps as text.

    Not message/* (nor an untyped part, which a digest reads as message/rfc822): the parser reads
    those bodies as header blocks, where a cut's first lines would be read otherwise than the token.
    The block starts after the last blank line before `field`, which is never before the one that
    ends the header block of `last` (the body cut before this one); `last` itself holds only the
    base64 alphabet and line breaks, so no header line is in it and its bytes are not searched again.
    """
    # That blank line ("\n\n" or "\n\r\n") begins at most 3 bytes before the body it introduces.
    block_start = max(_last_blank_line(raw, max(last.start - 3, 0) if last else 0, field), 0)
    declared = None
    if last and last.end > block_start:
        declared = _CONTENT_TYPE.search(raw, block_start, max(block_start, last.start))
        block_start = last.end
    declared = declared or _CONTENT_TYPE.search(raw, block_start, block_end)
    return declared is not None and declared.group(1).lower() not in (b"message", b"multipart")


def _last_blank_line(raw: bytes, start: int, end: int) -> int:
    """Where the last blank line in raw[start:end] begins (its first line break), -1 when there is none."""
    return max(raw.rfind(b"\n\n", start, end), raw.rfind(b"\n\r\n", start, end))


def restore(msg: Message, cuts: dict[str, Cut]) -> None:
    """Give each base64 part whose whole body is a token its Cut; put every other token back as text."""
    for part in msg.walk():
        payload = part._payload  # noqa: SLF001 - the stored body, as decode._stored reads it
        token = payload.rstrip("\r\n") if isinstance(payload, str) else None
        if token in cuts and transfer_encoding(part) == "base64":
            setattr(part, CUT_ATTR, replace(cuts[token], tail=payload[len(token):]))
        elif isinstance(payload, str):
            part._payload = _put_back(payload, cuts)  # noqa: SLF001
        part.preamble = _put_back(part.preamble, cuts)
        part.epilogue = _put_back(part.epilogue, cuts)


def _put_back(text: str | None, cuts: dict[str, Cut]) -> str | None:
    if not text or "hrbot-cut-" not in text:
        return text
    for token, cut in cuts.items():
        text = text.replace(token, cut.text())
    return text
