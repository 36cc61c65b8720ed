"""The FETCH answers hrbot asks for, read with one regular expression instead of a character loop.

imapclient's general response parser walks every answer one byte at a time in Python: for the
header blocks and BODYSTRUCTUREs of a mailbox's 22,000 messages that was half a millisecond a
message, more than everything else hrbot does with a stranger's mail. This reader gives the same
values (`parse_fetch` returns what imapclient's `parse_fetch_response(..., normalise_times=False,
uid_is_key=True)` does, BODYSTRUCTURE as plain nested tuples, which bot.sources.imap_structure
reads) for the grammar of those answers: parenthesised lists, NIL, numbers, atoms (with a
`[section]<origin>`), quoted strings and literals. Anything else raises ResponseError, and
uid_fetch then hands the same answer to imapclient, so an unusual server costs time, never a message.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from imapclient.datetime_util import parse_to_datetime


class ResponseError(ValueError):
    """An answer outside the grammar this reader knows (imapclient's parser then reads it)."""


# One token: ( ) "quoted" atom (with a [section]); every other character is a token of its own, so
# nothing but imapclient's whitespace (space, tab, CR, LF) is ever skipped unread.
_TOKEN = re.compile(rb'\(|\)|"(?:[^"\\]|\\.)*"|(?:[^\x00-\x20()"%\[]|\[[^\]]*\])+|[^ \t\r\n]')
# What the last branch alone matches: an unclosed quote or bracket, imapclient's special "%", or a
# control character (imapclient makes each one a token of its own).
_REFUSED = frozenset((b'"', b"[", b"%"))
_LITERAL_MARK = re.compile(rb"\{(\d+)\}\Z")
_ESCAPED = re.compile(rb'\\([\\"])')
_DATE = re.compile(rb" ?(\d{1,2})-([A-Za-z]{3})-([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-])([01]\d|2[0-3])([0-5]\d)")
_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1)}
_ZONES: dict[bytes, timezone] = {}


def parse_fetch(data: list) -> dict[int, dict[bytes, object]]:
    """{UID: {item name: value}} of imaplib's data for a UID FETCH; each message also has b"SEQ".

    Items are named as the server wrote them, upper-cased (b"RFC822.SIZE", b"BODY[HEADER]").
    """
    found: dict[int, dict[bytes, object]] = {}
    if data == [None]:
        return found
    items = _values(data)
    if len(items) % 2:
        raise ResponseError("a message number without its items")
    for i in range(0, len(items), 2):
        seq, pairs = items[i], items[i + 1]
        if not isinstance(seq, int) or not isinstance(pairs, tuple) or len(pairs) % 2:
            raise ResponseError(f"not a FETCH answer: {seq!r}")
        message: dict[bytes, object] = {b"SEQ": seq}
        key = seq
        for j in range(0, len(pairs), 2):
            name, value = pairs[j], pairs[j + 1]
            if not isinstance(name, bytes):
                raise ResponseError(f"an item name that is no atom: {name!r}")
            name = name.upper()
            if name == b"UID":
                if not isinstance(value, int):
                    raise ResponseError(f"a UID that is no number: {value!r}")
                key = value
            elif name == b"INTERNALDATE":
                message[name] = internal_date(value)
            elif name in (b"ENVELOPE", b"BODY"):
                raise ResponseError(f"{name!r} is read by imapclient")  # hrbot never asks for these
            else:
                message[name] = value
        found.setdefault(key, {}).update(message)
    return found


def internal_date(value) -> datetime | None:
    """An INTERNALDATE as an aware datetime in the server's offset; None where it cannot be read (as imapclient)."""
    if not isinstance(value, bytes):
        return None
    m = _DATE.fullmatch(value)
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m is None or month is None:
        try:
            return parse_to_datetime(value, normalise=False)
        except ValueError:
            return None
    day, _, year, hour, minute, second, sign, zh, zm = m.groups()
    zone = _ZONES.get(sign + zh + zm)
    if zone is None:
        offset = timedelta(hours=int(zh), minutes=int(zm))
        zone = _ZONES.setdefault(sign + zh + zm, timezone(-offset if sign == b"-" else offset))
    try:
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=zone)
    except ValueError:
        return None


def _values(data: list) -> list:
    """The top-level values of all the lines; a (text ending in {n}, literal) pair gives the literal's bytes."""
    stack: list[list] = [[]]
    for chunk in data:
        if isinstance(chunk, tuple):
            text, literal = chunk
            mark = _LITERAL_MARK.search(text)
            if (mark is None or not isinstance(literal, bytes) or len(literal) != int(mark.group(1))
                    or text[mark.start() - 1:mark.start()] not in (b" ", b"(")):  # "X{3}" is one atom to imapclient
                raise ResponseError("a literal that does not match its {size}")
            _tokens(text, mark.start(), stack)
            stack[-1].append(literal)
        elif isinstance(chunk, bytes):
            _tokens(chunk, len(chunk), stack)
        else:
            raise ResponseError(f"an unexpected line {chunk!r}")
    if len(stack) != 1:
        raise ResponseError("a list left open")
    return stack[0]


def _tokens(text: bytes, end: int, stack: list[list]) -> None:
    """Append the values of text[:end] to the open list on top of `stack`, opening and closing lists."""
    top = stack[-1]
    for token in _TOKEN.findall(text, 0, end):
        first = token[0]
        if first == 40:  # (
            top = []
            stack.append(top)
        elif first == 41:  # )
            if len(stack) == 1:
                raise ResponseError("a list closed that was never opened")
            inner = stack.pop()
            top = stack[-1]
            top.append(tuple(inner))
        elif first == 34 and len(token) > 1:  # "
            quoted = token[1:-1]
            top.append(_ESCAPED.sub(rb"\1", quoted) if b"\\" in quoted else quoted)
        elif token == b"NIL":
            top.append(None)
        elif token in _REFUSED or first == 123 or first < 32:  # a "{n}" not at the end of a line is no literal
            raise ResponseError(f"unexpected {token!r}")
        elif token.isdigit() and (first != 48 or len(token) == 1):  # imapclient leaves "0123" an atom
            top.append(int(token))
        else:
            top.append(token)
