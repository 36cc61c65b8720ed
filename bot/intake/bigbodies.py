"""Big base64 bodies cut out of a message before the email package parses it, decoded from the raw bytes.

The email package keeps a body as one str per line while it parses, then joins them: a 25 MB
attachment (34 MB encoded) raised decode's peak by some 94 MB over the raw bytes, most of a first
poll's peak. So each body that is plainly base64 (its part says so, and it holds nothing but the
alphabet and line breaks) and at least CUT_BYTES long is replaced by a short token before parsing;
after it, the part whose whole body a token is carries a Cut, which decodes straight from the raw
bytes. A token found anywhere else (the lookalike of a part inside a text body) is put back as the
text it stood for, so the parsed message reads exactly as it would have uncut.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass
from email.message import Message

from bot.intake.names import lenient_base64

CUT_BYTES = 1 << 20
CUT_ATTR = "hrbot_cut"  # the attribute a parsed part carries its Cut in

_BASE64_HEADER = re.compile(rb"(?im)^content-transfer-encoding:[ \t]*base64[ \t]*\r?$")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\r\n\t ]*")
_PADDING_ONLY = re.compile(rb"[=\r\n\t ]*")


@dataclass(frozen=True)
class Cut:
    """raw[start:end], a base64 body left out of the parse."""

    raw: bytes
    start: int
    end: int

    def text(self) -> str:
        """The body as the parser would have stored it."""
        return str(memoryview(self.raw)[self.start:self.end], "ascii")

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
        if end - start < CUT_BYTES or not _BASE64_TEXT.fullmatch(raw, start, end):
            continue
        token = f"hrbot-cut-{nonce}-{len(cuts)}"
        cuts[token] = Cut(raw, start, end)
        pieces += [raw[done:start], token.encode("ascii")]
        done = end
    if not cuts:
        return raw, cuts
    pieces.append(raw[done:])
    return b"".join(pieces), cuts


def _body_end(raw: bytes, start: int) -> int:
    """Where a body starting at `start` ends: before the line break of the next line that starts
    with "-" (a boundary; base64 has no "-"), or at the end of the message."""
    dash = raw.find(b"\n-", start)
    if dash < 0:
        return len(raw)
    return dash - 1 if dash > start and raw[dash - 1:dash] == b"\r" else dash


def restore(msg: Message, cuts: dict[str, Cut]) -> None:
    """Give each base64 part whose whole body is a token its Cut; put every other token back as text."""
    for part in msg.walk():
        payload = part._payload  # noqa: SLF001 - the stored body, as decode._stored reads it
        if isinstance(payload, str) and payload in cuts and transfer_encoding(part) == "base64":
            setattr(part, CUT_ATTR, cuts[payload])
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
