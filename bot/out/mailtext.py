"""Writes outgoing mail as RFC 5322 / MIME bytes by hand: headers RFC 2047-encoded, bodies base64, CRLF lines.

The email package's header registry parses and refolds every header it is given; for a mail hrbot
itself writes from known parts that was most of a confirmation's cost. The output is what
`email.message.EmailMessage` with the SMTP policy writes for the same mail, as a reader parses it
(tests/test_mailtext.py compares the two).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

CRLF = b"\r\n"
# An encoded word is at most 75 characters; 39 bytes (52 in base64) keep "Subject: " and its first word within 78.
_WORD_BYTES = 39
_LINE = 76  # base64 body lines, as the email package writes them
_ONE_LINE = 900  # longer ASCII is folded as encoded words: a line may not pass 998 characters
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*")  # a display name that needs no quotes
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Body:
    text: str
    html: str | None = None
    attachments: Sequence[Attachment] = ()


def encoded_words(text: str) -> str:
    """RFC 2047 base64 words for a non-ASCII text, split on character boundaries, folded one per line."""
    words, chunk = [], b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk or not words:
        words.append(chunk)
    return "\r\n ".join("=?utf-8?b?" + base64.b64encode(w).decode("ascii") + "?=" for w in words)


def unstructured(text: str) -> str:
    """A header value such as Subject: short ASCII as written (one line), anything else as folded encoded words."""
    text = _UNSAFE.sub(" ", text)
    return text if text.isascii() and "=?" not in text and len(text) <= _ONE_LINE else encoded_words(text)


def mailbox(name: str, address: str) -> str:
    """`Name <address>`: the name as an atom, a quoted string or encoded words, as it needs."""
    name = _UNSAFE.sub(" ", name).strip()
    if not name:
        return address
    if not name.isascii() or "=?" in name:
        return f"{encoded_words(name)} <{address}>"
    if _ATOM.fullmatch(name):
        return f"{name} <{address}>"
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def message_ids(value: str) -> str:
    """Message identifiers one per line (References grows long), keeping only printable ASCII tokens."""
    return "\r\n ".join(t for t in value.split() if t.isascii() and t.isprintable())


def render(headers: Sequence[tuple[str, str]], body: Body) -> bytes:
    """The whole mail: the given headers (values already encoded), MIME-Version, then the body parts."""
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    head = ("\r\n".join(lines) + "\r\n").encode("ascii")
    return head + _entity(body)


def _entity(body: Body) -> bytes:
    text = _text_part(body.text, "plain")
    if body.html is not None:
        text = _multipart("alternative", [text, _text_part(body.html, "html")])
    if not body.attachments:
        return text
    return _multipart("mixed", [text, *(_attachment(a) for a in body.attachments)])


def _text_part(text: str, subtype: str) -> bytes:
    # Lines end in LF inside the base64, each line included, as EmailMessage.set_content writes them.
    data = b"".join(line + b"\n" for line in text.encode("utf-8").splitlines())
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode("ascii") + _base64(data)


def _attachment(a: Attachment) -> bytes:
    # Outlook and Foxmail read an RFC 2047 word inside the quotes, and many do not read RFC 2231
    # (filename*=): so the name is written the way those clients themselves write it.
    name = "=?utf-8?b?" + base64.b64encode(a.filename.encode("utf-8")).decode("ascii") + "?="
    maintype, _, subtype = a.content_type.partition("/")
    return (f'Content-Type: {maintype}/{subtype or "octet-stream"}; name="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{name}"\r\n\r\n').encode("ascii") + _base64(a.data)


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = "=_" + secrets.token_hex(12)  # "=_" never occurs in base64 lines
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        out += [f"--{boundary}\r\n".encode("ascii"), part]
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def _base64(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[i:i + _LINE] + CRLF for i in range(0, len(encoded), _LINE))
