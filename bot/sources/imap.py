"""The IMAP source: reads new mail by UID without changing the mailbox, resuming from a checkpoint.

The checkpoint `imap:<folder>` = "<UIDVALIDITY>:<last UID>" travels on each RawMessage, so the
store saves it in the transaction that records the message. A poll with nothing new costs one
EXAMINE (UIDNEXT tells) and fetches no body. When there is no usable checkpoint (first run, or the
server changed UIDVALIDITY) the folder is read again from `since`, and messages whose Message-ID
the store already has are skipped, so nothing is recorded twice.

Given `wants_body` (the poll says who can send a submission), new mail is read header first: the
header block and BODYSTRUCTURE of each message, then the bodies of only the messages it wants.
The others are handed on as header-only RawMessages (complete=False) listing their parts.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from datetime import datetime
from typing import Callable, Iterator, NamedTuple

from imapclient import DELETED, IMAPClient

from bot.errors import MailboxError
from bot.records import RawMessage
from bot.settings import Mailbox
from bot.sources import imap_connect
from bot.sources.imap_fetch import (
    BATCH_BYTES,
    HEADER_BATCH,
    Fetched,
    Meta,
    fetch_bodies,
    fetch_meta,
    fetch_meta_from,
    read_header_first,
    read_whole,
)

log = logging.getLogger(__name__)

# RFC 2177 lets a server drop an IDLE client after 30 minutes; renew before that.
IDLE_RENEW_S = 25 * 60


class ImapFeatures(NamedTuple):
    """The capabilities `hrbot check` reports."""

    id: bool  # RFC 2971: NetEase/Coremail require it before SELECT
    idle: bool  # push instead of polling
    move: bool  # RFC 6851
    uidplus: bool  # RFC 4315: UID EXPUNGE of just the moved message


class FolderStatus(NamedTuple):
    """What `hrbot check` reports of the folder: the server's STATUS and the store's checkpoint."""

    folder: str
    messages: int
    uidvalidity: int
    uidnext: int | None
    checkpoint: str | None  # "<uidvalidity>:<last uid>" as the store holds it, None before the first run


class ImapSource:
    """One IMAP folder as a Source; also answers `hrbot check` and waits for mail (IDLE) for the service."""

    batch_bytes = BATCH_BYTES
    header_batch = HEADER_BATCH
    idle_renew_s = IDLE_RENEW_S

    def __init__(self, mailbox: Mailbox, password: str):
        self.mailbox = mailbox
        self._password = password
        self.folder = mailbox.folder or "INBOX"
        self.state_key = f"imap:{self.folder}"
        self._client: IMAPClient | None = None
        self._validity: int | None = None  # of the selected folder; None when nothing is selected
        self._seen: tuple[int, int | None] | None = None  # (UIDVALIDITY, UIDNEXT) the last poll started from
        # (UIDVALIDITY, last UID) of the store's checkpoint when the last read ended whole; else None.
        self._reached: tuple[int, int] | None = None
        self._target_ready = False
        self._can_idle: bool | None = None  # known after the first connection
        # Made once: loading the system's CA certificates costs ~20 ms of CPU, more than the rest of
        # an idle poll ten times over (the service connects at every poll).
        self._tls: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"ImapSource({self.mailbox.username}@{self.mailbox.host}:{self.mailbox.port}/{self.folder})"

    # --- Source protocol --------------------------------------------------

    def open(self) -> None:
        if self._client is None:
            if self._tls is None and self.mailbox.security in ("ssl", "starttls"):
                self._tls = imap_connect.tls_context(self.mailbox)
            self._client = imap_connect.connect(self.mailbox, self._password, self._tls)

    def close(self) -> None:
        self._disconnect(polite=True)

    def messages(self, store, wants_body: Callable[[bytes], bool] | None = None) -> Iterator[RawMessage]:
        """The new messages, oldest first; with `wants_body`, header first and bodies only where it says so."""
        self._reached = None
        with self._errors():
            validity, todo, known_uids, upto = self._plan(store)
        if todo:
            log.info("imap: %s has %d new message(s)", self.folder, len(todo))
        if wants_body is None:
            reader = read_whole(self._client, todo, known_uids, self.batch_bytes)
        else:
            reader = read_header_first(self._client, todo, known_uids, wants_body, self.batch_bytes,
                                       self.header_batch)
        last_yielded = 0
        while True:
            with self._errors():
                fetched = next(reader, None)
            if fetched is None:
                break
            if fetched.data is None:
                log.info("imap: %s UID %d vanished before it was read", self.folder, fetched.meta.uid)
                continue
            last_yielded = fetched.meta.uid
            raw = self._raw(validity, fetched)
            # Only the consumer holds the message now: no copy of it waits here while the next is read.
            del fetched
            yield raw
            del raw
        # Every message up to `upto` was recorded or deliberately skipped (before `since`, already
        # recorded, vanished): move the checkpoint past the skipped ones so the next poll stays cheap.
        checkpoint = _checkpoint(store.get_state(self.state_key))
        if upto > last_yielded and checkpoint != (validity, upto):
            store.set_state(self.state_key, f"{validity}:{upto}")
            checkpoint = (validity, upto)
        self._reached = checkpoint if checkpoint == (validity, upto) else None

    def nothing_new(self) -> bool:
        """Whether the folder still ends where the last whole read left the store's checkpoint (one EXAMINE).

        The service's idle poll asks this before opening the store (bot.poll.Quiet); False when unsure.
        """
        if self._reached is None:
            return False
        with self._errors():
            info = self._select()
        validity, uidnext = info[b"UIDVALIDITY"], info.get(b"UIDNEXT")
        self._seen = (validity, uidnext)
        return uidnext is not None and (validity, uidnext - 1) == self._reached

    def fetch_again(self, source_key: str, message_id: str | None = None,
                    received_at: datetime | None = None) -> RawMessage | None:
        """The message the store knows as "imap:<folder>:<uidvalidity>:<uid>", whole (read with PEEK).

        Not there (expunged or moved away, or the folder's UIDVALIDITY changed, so its UIDs name other
        messages), it is looked for in `move_to`, where done() moved it: the one message with this
        Message-ID and this arrival time (MOVE and COPY keep INTERNALDATE). None when it is in neither,
        or when two there fit: a reused Message-ID must not bring back another mail's documents.
        """
        folder, validity, uid = source_key.removeprefix("imap:").rsplit(":", 2)
        if folder != self.folder:
            return None
        with self._errors(self.folder):
            if self._validity is None:  # selected once for a run of messages examined again
                self._select()
            if str(self._validity) == validity:
                metas = [m for m in fetch_meta(self._require(), uid) if m.uid == int(uid)]
                bodies = fetch_bodies(self._client, metas, [int(uid)]) if metas else {}
                if int(uid) in bodies:
                    return RawMessage(source_key=source_key, data=bodies[int(uid)], received_at=metas[0].received_at)
        if self.mailbox.move_to and message_id and message_id.isascii() and received_at is not None:
            return self._moved(source_key, message_id, received_at)
        return None

    def _moved(self, source_key: str, message_id: str, received_at: datetime) -> RawMessage | None:
        """The one message in `move_to` with this Message-ID (whitespace aside) that arrived at `received_at`."""
        target = self.mailbox.move_to
        with self._errors(target):
            client = self._require()
            if not client.folder_exists(target):
                return None
            client.select_folder(target, readonly=True)
            self._validity = None  # the source's own folder is selected again before it is read
            found = client.search(["HEADER", "Message-ID", message_id.strip("<>")])  # substring: checked below
            if not found:
                return None
            wanted = " ".join(message_id.split())
            metas = [m for m in fetch_meta(client, ",".join(map(str, sorted(found))), with_message_id=True)
                     if m.message_id is not None and " ".join(m.message_id.split()) == wanted
                     and abs((m.received_at - received_at).total_seconds()) < 1]
            if len(metas) != 1:
                if metas:
                    log.warning("imap: %s: %d messages in %s fit; none is taken", source_key, len(metas), target)
                return None
            bodies = fetch_bodies(client, metas, [m.uid for m in metas])
        if metas[0].uid not in bodies:
            return None
        log.info("imap: %s found again in %s", source_key, target)
        return RawMessage(source_key=source_key, data=bodies[metas[0].uid], received_at=metas[0].received_at)

    def done(self, raw: RawMessage) -> None:
        """Move the recorded message to `move_to`, when configured; otherwise leave it untouched."""
        target = self.mailbox.move_to
        if not target:
            return
        _, _, validity, uid = raw.source_key.rsplit(":", 3)
        if self._client is None or str(self._validity) != validity:
            log.warning("imap: %s is no longer selected as read, not moved", raw.source_key)
            return
        with self._errors(target):
            client = self._client
            if not self._target_ready:
                if not client.folder_exists(target):
                    client.create_folder(target)
                self._target_ready = True
            if client.has_capability("MOVE"):
                client.move([int(uid)], target)
                return
            client.copy([int(uid)], target)
            client.add_flags([int(uid)], [DELETED], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([int(uid)])
            else:
                # A plain EXPUNGE would also remove what others flagged \Deleted: leave it flagged.
                log.warning("imap: server lacks UIDPLUS; UID %s copied to %s and flagged \\Deleted only", uid, target)

    # --- for `hrbot check` and the service -----------------------------------

    def capabilities(self) -> ImapFeatures:
        with self._errors():
            client = self._require()
            return ImapFeatures(*(client.has_capability(c) for c in ("ID", "IDLE", "MOVE", "UIDPLUS")))

    def folder_status(self, store=None) -> FolderStatus:
        """STATUS of the folder (changes nothing) and the checkpoint the store holds for it."""
        with self._errors(self.folder):
            status = self._require().folder_status(self.folder, ("MESSAGES", "UIDNEXT", "UIDVALIDITY"))
        return FolderStatus(
            folder=self.folder,
            messages=int(status.get(b"MESSAGES", 0)),
            uidvalidity=int(status.get(b"UIDVALIDITY", 0)),
            uidnext=int(status[b"UIDNEXT"]) if b"UIDNEXT" in status else None,
            checkpoint=store.get_state(self.state_key) if store is not None else None,
        )

    def wait_for_mail(self, timeout_s: float, stop: threading.Event | None = None) -> bool:
        """Block until mail may have arrived (True) or timeout_s passed / stop was set (False).

        Uses IDLE where the server has it; otherwise sleeps up to poll_interval and says True.
        """
        if self._can_idle is False:
            return _sleep(min(timeout_s, self.mailbox.poll_interval), stop)
        with self._errors(self.folder):
            client = self._require()
            self._can_idle = client.has_capability("IDLE")
            if not self._can_idle:
                return _sleep(min(timeout_s, self.mailbox.poll_interval), stop)
            if self._validity is None:
                info = self._select()
                if self._seen != (info[b"UIDVALIDITY"], info.get(b"UIDNEXT")):
                    return True  # arrived since the last poll looked, or no poll yet on this source
            elif _has_exists(client):
                return True  # announced while we were fetching
            return self._idle(client, timeout_s, stop)

    # --- internals ----------------------------------------------------------

    def _raw(self, validity: int, fetched: Fetched) -> RawMessage:
        meta, structure = fetched.meta, fetched.structure
        return RawMessage(
            source_key=f"imap:{self.folder}:{validity}:{meta.uid}",
            data=fetched.data,
            received_at=meta.received_at,
            checkpoint={self.state_key: f"{validity}:{meta.uid}"},
            complete=structure is None,
            structure=structure.parts if structure is not None else (),
            fingerprint=structure.fingerprint if structure is not None else "",
            charset=structure.charset if structure is not None else None,
        )

    def _plan(self, store) -> tuple[int, list[Meta], list[int], int]:
        """(UIDVALIDITY, the messages to read, every UID listed, the highest UID now accounted for)."""
        client = self._require()
        info = self._select()
        validity, uidnext = info[b"UIDVALIDITY"], info.get(b"UIDNEXT")
        self._seen = (validity, uidnext)
        checkpoint = _checkpoint(store.get_state(self.state_key))
        if checkpoint is not None and checkpoint[0] == validity:
            last = checkpoint[1]
            if uidnext is not None and uidnext <= last + 1:
                return validity, [], [], last
            metas = fetch_meta_from(client, last + 1, uidnext, info.get(b"EXISTS", 0), above=last)
            uids = [m.uid for m in metas]
            # A UID below SELECT's UIDNEXT that the listing lacks is gone for good (a junk filter moved it):
            # accounted for, so the checkpoint reaches UIDNEXT - 1 and the next idle poll can stay quiet.
            return validity, metas, uids, max([last, *uids, (uidnext or 1) - 1])
        if checkpoint is not None:
            log.warning("imap: %s UIDVALIDITY changed (%d → %d): re-reading it, skipping what was recorded",
                        self.folder, checkpoint[0], validity)
        upto = uidnext - 1 if uidnext else 0
        if not info.get(b"EXISTS"):
            return validity, [], [], upto
        since = self.mailbox.since
        start = 1
        if since is not None:
            found = client.search(["SINCE", since])
            if not found:
                return validity, [], [], upto
            start = min(found)
        listed = fetch_meta_from(client, start, uidnext, info[b"EXISTS"], with_message_id=True)
        uids = [m.uid for m in listed]
        todo = [m for m in listed
                if (since is None or m.received_at.date() >= since) and not _recorded(store, m.message_id)]
        return validity, todo, uids, max([upto, *uids])

    def _select(self) -> dict:
        client = self._require()
        with self._errors(self.folder):
            # EXAMINE (read-only) unless processed mail is to be moved; bodies are read with PEEK anyway.
            info = client.select_folder(self.folder, readonly=not self.mailbox.move_to)
            client._imap.response("EXISTS")  # forget the count: later EXISTS mean new mail
        self._validity = info[b"UIDVALIDITY"]
        return info

    def _idle(self, client: IMAPClient, timeout_s: float, stop: threading.Event | None) -> bool:
        deadline = time.monotonic() + timeout_s
        client.idle()
        started = time.monotonic()
        arrived = False
        while not arrived:
            now = time.monotonic()
            if now >= deadline or (stop is not None and stop.is_set()):
                break
            if now - started >= self.idle_renew_s:
                client.idle_done()
                client.idle()
                started = now
            step = min(deadline - now, self.idle_renew_s - (now - started), 1.0 if stop is not None else 60.0)
            arrived = _new_mail(client.idle_check(timeout=max(step, 0.01)))
        _, responses = client.idle_done()
        return arrived or _new_mail(responses)

    def _disconnect(self, polite: bool) -> None:
        client, self._client, self._validity = self._client, None, None
        self._target_ready = False
        imap_connect.close(client, polite)

    def _require(self) -> IMAPClient:
        if self._client is None:
            self.open()
        return self._client

    @contextlib.contextmanager
    def _errors(self, folder: str | None = None):
        """Wrap failures as MailboxError and drop the connection: after an error its state is unknown."""
        try:
            with imap_connect.mailbox_errors(self.mailbox, folder):
                yield
        except MailboxError:
            self._disconnect(polite=False)
            raise


def _sleep(seconds: float, stop: threading.Event | None) -> bool:
    """Sleep; True unless `stop` was set meanwhile."""
    if stop is not None:
        return not stop.wait(seconds)
    time.sleep(seconds)
    return True


def _checkpoint(value: str | None) -> tuple[int, int] | None:
    try:
        validity, last = value.split(":")
        return int(validity), int(last)
    except (AttributeError, ValueError):
        if value is not None:
            log.warning("imap: ignoring unreadable checkpoint %r", value)
        return None


def _recorded(store, message_id: str | None) -> bool:
    # A message without Message-ID cannot be recognised here; the intake's content check catches it.
    return message_id is not None and store.message_id_reused(message_id)


def _new_mail(responses) -> bool:
    return any(len(r) >= 2 and r[1] == b"EXISTS" for r in responses)


def _has_exists(client: IMAPClient) -> bool:
    _, data = client._imap.response("EXISTS")
    return data != [None]
