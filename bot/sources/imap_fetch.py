"""IMAP fetching in UID ranges: sizes and arrival first, then header blocks and structures, then bodies.

Bodies come in batches bounded by bytes, and, when the caller says which it wants from the header
block, only those: the rest of a working mailbox (newsletters, strangers' mail with attachments of
several MB) is known by its header block and BODYSTRUCTURE alone.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from typing import Callable, Iterable, Iterator, NamedTuple

from imapclient import IMAPClient
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response

from bot.sources import imap_structure
from bot.sources.imap_response import ResponseError, parse_fetch
from bot.sources.imap_structure import Structure

log = logging.getLogger(__name__)

# Whole messages fetched per round trip at most (a bigger message goes alone). Each one is decoded
# while the rest of its batch waits in memory: the batch adds to the peak of the biggest message.
BATCH_BYTES = 8 * 1024 * 1024
# Header blocks and structures fetched per round trip: a few KB each, where a body may be MB.
HEADER_BATCH = 500
# Messages whose sizes and arrival one FETCH lists, about: imapclient's parsed answer for a folder of
# years at once took tens of MB, which the process kept (fragmented) through the whole poll.
META_CHUNK = 5000
# Keeps a command line short even when the wanted UIDs are scattered.
MAX_RANGES_PER_COMMAND = 200

_META = "UID RFC822.SIZE INTERNALDATE"
_MESSAGE_ID_FIELD = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MESSAGE_ID_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
_BODY = "BODY.PEEK[]"  # PEEK: reading never sets \Seen
_BODY_KEY = b"BODY[]"
_HEAD = "BODY.PEEK[HEADER] BODYSTRUCTURE"
_HEADER_KEY = b"BODY[HEADER]"
_STRUCTURE_KEY = b"BODYSTRUCTURE"


# NamedTuples: typed and immutable like frozen dataclasses, but cheap to define at every start (the
# idle poll imports this module) and to build (a Meta per new message, 22,000 in a first poll).
class Meta(NamedTuple):
    """What the server says about one message before its body is read."""

    uid: int
    size: int  # RFC822.SIZE
    received_at: datetime  # INTERNALDATE, aware
    message_id: str | None = None  # only when asked for (a full re-read)


class Fetched(NamedTuple):
    """One message as read: whole, or (structure given) its header block only; data None if it vanished."""

    meta: Meta
    data: bytes | None
    structure: Structure | None = None


def uid_fetch(client: IMAPClient, uid_set: str, items: str) -> dict[int, dict]:
    """UID FETCH with a UID set string such as "42:*" (imapclient's fetch() wants lists of numbers)."""
    typ, data = client._imap.uid("FETCH", uid_set, f"({items})")
    if typ != "OK":
        raise IMAPClient.Error(f"UID FETCH failed: {_first(data)}")
    try:
        return parse_fetch(data)
    except ResponseError as error:
        log.debug("imap: the quick reader left an answer to imapclient: %s", error)
        return parse_fetch_response(data, normalise_times=False, uid_is_key=True)


def fetch_meta(client: IMAPClient, uid_set: str, with_message_id: bool = False, above: int = 0) -> list[Meta]:
    """Sizes and arrival times of the messages in uid_set with a UID above `above`, in UID order."""
    items = _META + (" " + _MESSAGE_ID_FIELD if with_message_id else "")
    found = []
    for uid, data in uid_fetch(client, uid_set, items).items():
        # "N:*" always matches the newest message, even below N; unsolicited FETCHes carry no size.
        if uid <= above or b"RFC822.SIZE" not in data or b"INTERNALDATE" not in data:
            continue
        message_id = header_message_id(data.get(_MESSAGE_ID_KEY) or b"") if with_message_id else None
        found.append(Meta(uid, int(data[b"RFC822.SIZE"]), _aware(data[b"INTERNALDATE"]), message_id))
    found.sort(key=lambda m: m.uid)
    return found


def fetch_meta_from(client: IMAPClient, first: int, uidnext: int | None, exists: int,
                    with_message_id: bool = False, above: int = 0) -> list[Meta]:
    """fetch_meta of "first:*", asked in UID spans that hold about META_CHUNK messages if spread evenly.

    The last span is open ("n:*"), so mail that arrived since SELECT is listed as before.
    """
    if not uidnext or exists <= META_CHUNK or uidnext - first <= META_CHUNK:
        return fetch_meta(client, f"{first}:*", with_message_id, above)
    span = max(META_CHUNK, (uidnext - first) * META_CHUNK // exists)
    found: list[Meta] = []
    start = first
    while start + span < uidnext:
        found += fetch_meta(client, f"{start}:{start + span - 1}", with_message_id, above)
        start += span
    return found + fetch_meta(client, f"{start}:*", with_message_id, max(above, start - 1))


def fetch_bodies(client: IMAPClient, batch: list[Meta], known_uids: list[int]) -> dict[int, bytes]:
    """The whole messages of one batch (BODY.PEEK[]), asked for as UID ranges."""
    bodies: dict[int, bytes] = {}
    wanted = {m.uid for m in batch}
    for uid_set in uid_sets(sorted(wanted), known_uids):
        for uid, data in uid_fetch(client, uid_set, f"UID {_BODY}").items():
            if uid in wanted and _BODY_KEY in data and data[_BODY_KEY] is not None:
                bodies[uid] = bytes(data[_BODY_KEY])
    return bodies


def read_whole(client: IMAPClient, todo: list[Meta], known_uids: list[int],
               batch_bytes: int = BATCH_BYTES) -> Iterator[Fetched]:
    """Every message of `todo` whole, in order; each batch's entries handed on (and dropped) one by one."""
    for batch in batches(todo, batch_bytes):
        bodies = fetch_bodies(client, batch, known_uids)
        for meta in batch:
            yield Fetched(meta, bodies.pop(meta.uid, None))


def read_header_first(client: IMAPClient, todo: list[Meta], known_uids: list[int],
                      wants_body: Callable[[bytes], bool], batch_bytes: int = BATCH_BYTES,
                      header_batch: int = HEADER_BATCH) -> Iterator[Fetched]:
    """Every message of `todo` in order: header block and structure first, the body only where wanted.

    `wants_body(header block)` says whether a message can carry what the caller looks for; the
    bodies of those in one header batch are fetched in batches of at most `batch_bytes`, as UID
    ranges, when the first of them is reached. A group whose structures cannot be parsed is read
    whole, as is a message whose structure alone cannot be read: reading too much is safe.
    """
    for start in range(0, len(todo), header_batch):
        group = todo[start:start + header_batch]
        heads = fetch_heads(client, group, known_uids)
        if heads is None:
            yield from read_whole(client, group, known_uids, batch_bytes)
            continue
        wanted = [m for m in group if m.uid in heads and (heads[m.uid][1] is None or wants_body(heads[m.uid][0]))]
        whole = {m.uid for m in wanted}
        body_batches = batches(wanted, batch_bytes)
        bodies: dict[int, bytes] = {}
        asked: set[int] = set()
        for meta in group:
            header, structure = heads.pop(meta.uid, (None, None))
            if meta.uid not in whole:
                yield Fetched(meta, header, structure)  # header None: it vanished
                continue
            if meta.uid not in asked:  # the first of the next body batch
                batch = next(body_batches)
                asked = {m.uid for m in batch}
                bodies = fetch_bodies(client, batch, known_uids)
            yield Fetched(meta, bodies.pop(meta.uid, None))


def fetch_heads(client: IMAPClient, group: list[Meta],
                known_uids: list[int]) -> dict[int, tuple[bytes, Structure | None]] | None:
    """Header block and parsed structure of each message of `group` (structure None where unreadable).

    None when the server's answer cannot be parsed at all (imapclient refuses some malformed
    BODYSTRUCTUREs): the caller then reads the group whole rather than stop the mailbox.
    """
    wanted = {m.uid for m in group}
    heads: dict[int, tuple[bytes, Structure | None]] = {}
    for uid_set in uid_sets(sorted(wanted), known_uids):
        try:
            answer = uid_fetch(client, uid_set, f"UID {_HEAD}")
        except ProtocolError as e:
            log.warning("imap: unreadable structures in UIDs %s (%s): reading those messages whole", uid_set, e)
            return None
        for uid, data in answer.items():
            header = data.get(_HEADER_KEY)
            if uid not in wanted or header is None:
                continue
            heads[uid] = (bytes(header), _structure(uid, data.get(_STRUCTURE_KEY)))
    return heads


def _structure(uid: int, body) -> Structure | None:
    if body is None:
        return None
    try:
        return imap_structure.parse(body)
    except Exception as error:  # noqa: BLE001 - a structure we cannot read: that message is read whole
        log.warning("imap: UID %d has a structure we cannot read (%s): reading it whole", uid, error,
                    exc_info=log.isEnabledFor(logging.DEBUG))
        return None


def batches(metas: Iterable[Meta], limit: int = BATCH_BYTES) -> Iterator[list[Meta]]:
    """Consecutive groups whose sizes add up to at most `limit` (a bigger message alone)."""
    batch: list[Meta] = []
    total = 0
    for meta in metas:
        if batch and total + meta.size > limit:
            yield batch
            batch, total = [], 0
        batch.append(meta)
        total += meta.size
    if batch:
        yield batch


def uid_sets(wanted: list[int], known_uids: list[int]) -> list[str]:
    """UID set strings covering exactly `wanted` (sorted), as few ranges as the server's UIDs allow.

    `known_uids` (sorted) are all the UIDs the server listed: a range a:b is safe when every
    known UID between a and b is wanted, even if the numbers themselves have gaps.
    """
    if not wanted:
        return []
    position = {uid: i for i, uid in enumerate(known_uids)}
    ranges: list[tuple[int, int]] = []
    for uid in wanted:
        if ranges:
            start, end = ranges[-1]
            if uid == end + 1 or (uid in position and end in position and position[uid] == position[end] + 1):
                ranges[-1] = (start, uid)
                continue
        ranges.append((uid, uid))
    parts = [str(a) if a == b else f"{a}:{b}" for a, b in ranges]
    return [",".join(parts[i:i + MAX_RANGES_PER_COMMAND]) for i in range(0, len(parts), MAX_RANGES_PER_COMMAND)]


_ONE_MESSAGE_ID = re.compile(rb"Message-ID:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)\r?\n(?:\r?\n)?", re.IGNORECASE)


def header_message_id(header: bytes) -> str | None:
    """The Message-ID header's value, unfolded, its runs of white space one space, trimmed (compare the
    intake's value, which keeps them, white space aside)."""
    one = _ONE_MESSAGE_ID.fullmatch(header)
    if one is not None and one.group(1).isascii():  # the usual block: one plain field, read without a parser
        return " ".join(one.group(1).decode("ascii").split()) or None
    value = BytesHeaderParser().parsebytes(header).get("Message-ID")
    if value is None:
        return None
    value = re.sub(r"\s+", " ", str(value)).strip()
    return value or None


def _aware(value: datetime | None) -> datetime:
    if value is None:  # NIL or unreadable: the message still counts, as arriving now
        log.warning("imap: a message without a readable INTERNALDATE is taken as arriving now")
        return datetime.now(timezone.utc)
    if value.tzinfo is None:  # a server that sent no offset: RFC 3501 says the zone is required
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.replace(tzinfo=timezone(value.utcoffset()))
    except ValueError:  # an offset of a day or more, which no zone has
        return value.astimezone(timezone.utc)


def _first(data) -> str:
    item = data[0] if data else b""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
