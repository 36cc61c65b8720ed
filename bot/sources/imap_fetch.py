"""IMAP fetching in UID ranges: message sizes and arrival first, then bodies in batches bounded by bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Iterable, Iterator

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

# Whole messages fetched per round trip at most (a bigger message goes alone).
BATCH_BYTES = 20 * 1024 * 1024
# Keeps a command line short even when the wanted UIDs are scattered.
MAX_RANGES_PER_COMMAND = 200

_META = "UID RFC822.SIZE INTERNALDATE"
_MESSAGE_ID_FIELD = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MESSAGE_ID_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
_BODY = "BODY.PEEK[]"  # PEEK: reading never sets \Seen
_BODY_KEY = b"BODY[]"


@dataclass(frozen=True)
class Meta:
    """What the server says about one message before its body is read."""

    uid: int
    size: int  # RFC822.SIZE
    received_at: datetime  # INTERNALDATE, aware
    message_id: str | None = None  # only when asked for (a full re-read)


def uid_fetch(client: IMAPClient, uid_set: str, items: str) -> dict[int, dict]:
    """UID FETCH with a UID set string such as "42:*" (imapclient's fetch() wants lists of numbers)."""
    typ, data = client._imap.uid("FETCH", uid_set, f"({items})")
    if typ != "OK":
        raise IMAPClient.Error(f"UID FETCH failed: {_first(data)}")
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


def fetch_bodies(client: IMAPClient, batch: list[Meta], known_uids: list[int]) -> dict[int, bytes]:
    """The whole messages of one batch (BODY.PEEK[]), asked for as UID ranges."""
    bodies: dict[int, bytes] = {}
    wanted = {m.uid for m in batch}
    for uid_set in uid_sets(sorted(wanted), known_uids):
        for uid, data in uid_fetch(client, uid_set, f"UID {_BODY}").items():
            if uid in wanted and _BODY_KEY in data and data[_BODY_KEY] is not None:
                bodies[uid] = bytes(data[_BODY_KEY])
    return bodies


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


def header_message_id(header: bytes) -> str | None:
    """The Message-ID header's value, unfolded and trimmed (as the intake keeps it)."""
    value = BytesHeaderParser(policy=compat32).parsebytes(header).get("Message-ID")
    if value is None:
        return None
    value = re.sub(r"\s+", " ", str(value)).strip()
    return value or None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # a server that sent no offset: RFC 3501 says the zone is required
        return value.replace(tzinfo=timezone.utc)
    return value.replace(tzinfo=timezone(value.utcoffset()))


def _first(data) -> str:
    item = data[0] if data else b""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
