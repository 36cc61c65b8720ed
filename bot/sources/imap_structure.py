"""A message's parts from its IMAP BODYSTRUCTURE, named by the rules decode applies to the MIME headers.

For mail whose body is never downloaded (docs/contract.md, "Containers": for anyone but a
roster member the parts are listed as the structure shows them). The leaves follow
bot.intake.decode (_leaves); what counts as a part and how it is named is bot.mime.parts, which
decode uses too, with the same charset hint, the first charset the message declares.

The server has already parsed the parameters: dovecot joins RFC 2231 continuations into one
`filename*` value ("utf-8''%E6%8A%A5..."), which names.param_text reads as it reads the header.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.mime.parts import PartName, forward_name, name_part
from bot.records import Part

_MAX_DEPTH = 40  # as decode: deeper nesting is an attack or a loop, not a mail


@dataclass(frozen=True)
class Structure:
    """What a BODYSTRUCTURE says of a message, for a RawMessage that is not complete."""

    parts: tuple[Part, ...]  # as decode would list them, data empty
    fingerprint: str  # one line per leaf: type, disposition, name, transfer encoding, size
    charset: str | None  # the first charset the message declares (decode's hint)


@dataclass(frozen=True)
class _Leaf:
    content_type: str
    params: dict[str, str]  # Content-Type parameters, names lower-cased, first wins
    disposition: str  # lower-cased, "" when absent
    disposition_params: dict[str, str]
    description: str
    encoding: str
    size: int
    subject: str | None  # message/rfc822: the inner message's Subject, raw
    inner_charset: str | None  # message/rfc822: the first charset the inner message declares
    in_report: bool
    top: bool


def parse(body) -> Structure:
    """The Structure of an imapclient BODYSTRUCTURE value (a BodyData, or the tuples inside one)."""
    leaves = list(_leaves(body, 0, False, True))
    hint = _first_charset(body)
    parts = []
    lines = []
    for leaf in leaves:
        named = _named(leaf, hint)
        lines.append("\t".join((leaf.content_type, leaf.disposition, named.filename or "", leaf.encoding,
                                str(leaf.size))))
        part = _as_part(leaf, named, hint)
        if part is not None:
            parts.append(part)
    return Structure(parts=tuple(parts), fingerprint="\n".join(lines), charset=hint)


def _leaves(body, depth: int, in_report: bool, top: bool):
    multipart = _multipart(body)
    if multipart is not None:
        subs, rest = multipart
        if depth >= _MAX_DEPTH:
            return
        report = in_report or _text(_item(rest, 0)).lower() == "report"
        for sub in subs:
            yield from _leaves(sub, depth + 1, report, False)
        return
    if not isinstance(body, tuple) or len(body) < 2:
        return
    maintype, subtype = _text(body[0]).strip().lower(), _text(body[1]).strip().lower()
    # An unreadable Content-Type is text/plain (RFC 2045 §5.2), as the stdlib reads it for decode.
    ctype = f"{maintype}/{subtype}" if maintype and subtype else "text/plain"
    base = _extension_start(body, ctype)
    disposition = _item(body, base + 1)
    kind, disposition_params = "", {}
    if isinstance(disposition, tuple) and disposition:
        kind = _text(disposition[0]).strip().lower()
        disposition_params = _params(disposition[1] if len(disposition) > 1 else None)
    subject = inner_charset = None
    if base == 10:  # message/rfc822: envelope, body, lines
        envelope = _item(body, 7)
        if isinstance(envelope, tuple) and len(envelope) > 1 and envelope[1] is not None:
            subject = _text(envelope[1])
        inner_charset = _first_charset(_item(body, 8))
    yield _Leaf(
        content_type=ctype,
        params=_params(_item(body, 2)),
        disposition=kind,
        disposition_params=disposition_params,
        description=_text(_item(body, 4)),
        encoding=_text(_item(body, 5)).strip().lower(),
        size=_int(_item(body, 6)),
        subject=subject,
        inner_charset=inner_charset,
        in_report=in_report,
        top=top,
    )


def _named(leaf: _Leaf, hint: str | None) -> PartName:
    return name_part(leaf.content_type, leaf.disposition, leaf.params, leaf.disposition_params, leaf.top, hint)


def _as_part(leaf: _Leaf, named: PartName, hint: str | None) -> Part | None:
    """decode._as_part for a leaf known by its structure: None when it is body text."""
    if named.body_text:
        return None
    name = named.filename
    if leaf.content_type == "message/rfc822" and name is None and not leaf.in_report:
        name = forward_name(leaf.subject or "", leaf.inner_charset, leaf.description, hint)
    return Part(filename=name, content_type=leaf.content_type, data=b"", inline=named.inline)


def _first_charset(body, depth: int = 0) -> str | None:
    """The first charset the message declares, top first, then its leaves in order (decode's hint).

    "us-ascii" is skipped: dovecot writes it for every text part that declares no charset (the
    RFC 2045 default), so it says nothing about what the sender's client used.
    """
    if not isinstance(body, tuple) or not body or depth > _MAX_DEPTH:
        return None
    multipart = _multipart(body)
    if multipart is not None:
        subs, rest = multipart
        own = _charset(_params(_item(rest, 1)))
        if own:
            return own
        for sub in subs:
            found = _first_charset(sub, depth + 1)
            if found:
                return found
        return None
    return _charset(_params(_item(body, 2)))


def _charset(params: dict[str, str]) -> str | None:
    value = params.get("charset", "").strip()
    return value if value and value.lower() != "us-ascii" else None


def _multipart(body) -> tuple[list, tuple] | None:
    """(sub-parts, (subtype, params, ...)) of a multipart, None for a single part.

    imapclient nests a multipart's parts in a list at the top (BodyData); inside a message/rfc822
    part they stay the leading tuples of the raw response.
    """
    if not isinstance(body, tuple) or not body:
        return None
    if isinstance(body[0], list):
        return body[0], tuple(body[1:])
    if isinstance(body[0], tuple):
        count = next((i for i, item in enumerate(body) if not isinstance(item, tuple)), len(body))
        return list(body[:count]), tuple(body[count:])
    return None


def _extension_start(body, ctype: str) -> int:
    """Where the fields after the basic ones end (RFC 3501 body-type-1part): text and message/rfc822 add some."""
    if ctype in ("message/rfc822", "message/global") and isinstance(_item(body, 8), tuple):
        return 10
    if ctype.startswith("text/"):
        return 8
    return 7


def _params(value) -> dict[str, str]:
    """A body-fld-param list ("name" "value" ...) as names.params gives a header's: names lower-cased, first wins."""
    found: dict[str, str] = {}
    if not isinstance(value, tuple):
        return found
    for i in range(0, len(value) - 1, 2):
        name = _text(value[i]).strip().lower()
        if name and name not in found:
            found[name] = _text(value[i + 1])
    return found


def _item(body, index: int):
    return body[index] if isinstance(body, tuple) and len(body) > index else None


def _text(value) -> str:
    """A string of the response as the stdlib keeps a header: ASCII, raw 8-bit bytes as surrogate escapes."""
    if isinstance(value, bytes):
        return value.decode("ascii", "surrogateescape")
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
