"""The store: one SQLite file under paths.data, and the only code that writes it."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import zlib
from datetime import date, datetime, timezone
from pathlib import Path

from bot.crashpoints import write_atomically
from bot.errors import StoreError, save_failed
from bot.records import (ACCEPTED, CANCELLED, CONFIRMATION, FAILED, QUEUED, SENDING, SENT, UNCERTAIN, Arrival,
                         AttachmentLog, HeldDocument, LogEntry, OutboxRow, Outgoing, Recorded, StoredMessage, message_ref,
                         ref_row)

log = logging.getLogger(__name__)

STORE_FILE = "hrbot.sqlite3"
# What a damaged, locked or unreadable store raises; others catch it by this name (only this module imports sqlite3).
DatabaseError = sqlite3.Error
# Size and modification time of the store as hrbot last left it. A store found otherwise was
# changed by something else (a copy, a restore, a damaged disk) and is checked before use; an
# unchanged one is not, so the idle poll stays cheap.
SEEN_FILE = STORE_FILE + ".seen"
# A store file changed less than this before it was opened is not trusted to show a later change
# in its modification time (file systems keep that time in steps of up to 2 s): see Store.untouched.
RACY_NS = 3_000_000_000
RESTORE_HINT = "请停止 hrbot，用最近的备份（在 data/backups/ 中）恢复后再运行，步骤见 README 的“Restoring a backup”"

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL UNIQUE,      -- one row per delivery the source handed over
    message_id TEXT,
    content_hash TEXT NOT NULL,
    from_addr TEXT,
    subject TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,            -- ISO 8601 with offset
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    quarantined_as TEXT,                  -- raw bytes kept for HR (relative to paths.data)
    reprocessed_at TEXT,                  -- when HR's changes had it examined again (ISO 8601, UTC)
    gone INTEGER NOT NULL DEFAULT 0       -- 1: no longer in the mailbox when it was to be examined again
);
CREATE INDEX IF NOT EXISTS messages_by_id ON messages (message_id, content_hash);
CREATE INDEX IF NOT EXISTS messages_by_hash ON messages (content_hash);

CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY,
    message INTEGER NOT NULL REFERENCES messages (id),
    position INTEGER NOT NULL,
    filename TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    item TEXT, unit TEXT, person TEXT,
    sha256 TEXT,
    saved_as TEXT,
    held INTEGER NOT NULL DEFAULT 0       -- a document waiting for HR to say what and whose it is
);
CREATE INDEX IF NOT EXISTS attachments_by_message ON attachments (message);

CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    message INTEGER NOT NULL REFERENCES messages (id),
    item TEXT NOT NULL, unit TEXT NOT NULL, person TEXT,
    received_at TEXT NOT NULL,
    sha256 TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',  -- JSON list of HR-facing strings
    meeting_date TEXT                     -- meeting_request only
);
CREATE INDEX IF NOT EXISTS documents_by_key ON documents (unit, item, person);

CREATE TABLE IF NOT EXISTS state (       -- source checkpoints and other small facts
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                   -- confirmation | reminder | kickoff | summary
    recipients TEXT NOT NULL,             -- JSON list
    answers INTEGER REFERENCES messages (id),
    created_at TEXT NOT NULL,
    eml BLOB NOT NULL,
    file TEXT,                            -- name under paths.outbox once written
    state TEXT NOT NULL DEFAULT 'queued', -- queued | sending | sent | failed | uncertain | spooled | cancelled
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state);
-- Every poll asks for these; a scan would step over each stored mail (file comes after eml).
CREATE INDEX IF NOT EXISTS outbox_without_file ON outbox (id) WHERE file IS NULL;
-- The per-sender daily cap counts the confirmations answering one day's arrivals before each new
-- one (replies_for_arrivals): without these, every confirmation of a first poll scanned them all.
CREATE INDEX IF NOT EXISTS outbox_by_answers ON outbox (answers);
CREATE INDEX IF NOT EXISTS messages_by_arrival ON messages (received_at);

CREATE TABLE IF NOT EXISTS reminders (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,                    -- the working day it was for
    recipient TEXT NOT NULL,
    covers TEXT NOT NULL,                 -- JSON list of [unit, item, person]
    outbox INTEGER REFERENCES outbox (id),
    UNIQUE (day, recipient)
);
"""


class Store:
    """Open with Store.open(data_dir); every write is one transaction."""

    def __init__(self, db: sqlite3.Connection, data_dir: Path, seen: str | None = None):
        self.db = db
        self.data_dir = data_dir
        self._seen = seen  # the file's stamp at open, if it matched hrbot's note
        self._opened = (time.time_ns(), _identity(data_dir / STORE_FILE))
        # Set by close(): the file's identity if nothing changed it while this store was open (see there).
        self.untouched: tuple[int, int, int] | None = None

    @classmethod
    def open(cls, data_dir: Path, verify: bool = False) -> Store:
        """Open (or create) the store; checked with PRAGMA quick_check when `verify` or when changed
        outside hrbot. A damaged store raises StoreDamaged naming the file and what to do."""
        data_dir = Path(data_dir)
        path = data_dir / STORE_FILE
        db = None
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                # Created 0600 before SQLite opens it: the store holds people's mail.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            seen = _stamp(path)
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            store = cls(db, data_dir, seen)
            if verify or seen != _read_seen(data_dir):
                store.verify()
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL, not FULL: in WAL mode a commit then writes the WAL without waiting for fsync
            # (synced at each checkpoint instead). A killed process (kill -9, OOM, a crash) loses
            # nothing: what was committed is in the OS's page cache, and one transaction per message
            # still makes each delivery all or nothing (tests/test_crash.py). Only a power cut or an
            # OS crash can roll back the last commits since the WAL was synced; the store stays
            # consistent, those messages are read again with their checkpoint, and a confirmation
            # that had already left may go out a second time. FULL cost a fsync per message: 6 s of
            # a first poll of 22,000. The outbox's sending marks stay FULL (set_outbox_state).
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                _migrate(db)
        except (OSError, sqlite3.Error, StoreError) as e:
            if db is not None:
                db.close()
            if isinstance(e, StoreError):
                raise
            raise store_error(path, e) from e
        return store

    def close(self) -> None:
        self.db.close()
        # The file as we leave it (SQLite checkpoints the WAL into it at the last close).
        path = self.data_dir / STORE_FILE
        self.untouched = _untouched(path, *self._opened)
        stamp = _stamp(path)
        if stamp != self._seen and stamp is not None:
            try:
                with open(os.open(self.data_dir / SEEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                    f.write(stamp)
            except OSError:
                pass  # without the note the next open checks the store: slower, never wrong

    def verify(self) -> None:
        """PRAGMA quick_check: raise StoreDamaged unless SQLite finds the file sound."""
        path = self.data_dir / STORE_FILE
        log.info("store: checking %s (quick_check)", path)
        try:
            rows = self.db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreDamaged(path, str(e)) from e
        problems = [row[0] for row in rows if row[0] != "ok"]
        if problems:
            raise StoreDamaged(path, "；".join(problems[:3]))
        self._seen = None  # checked: note the file at close even if unchanged

    def backup_to(self, target: Path) -> None:
        """A consistent copy of the store in `target` (SQLite's backup API), written atomically.

        Checked first: a damaged store is never copied over a good backup.
        """
        self.verify()
        copy = sqlite3.connect(":memory:")
        try:
            self.db.backup(copy)
            data = copy.serialize()
        except sqlite3.Error as e:
            raise store_error(self.data_dir / STORE_FILE, e) from e
        finally:
            copy.close()
        try:
            Path(target).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(Path(target), data)
        except OSError as e:
            raise save_failed(target, e) from e

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sources ----------------------------------------------------------

    def has_delivery(self, source_key: str) -> bool:
        return self.db.execute("SELECT 1 FROM messages WHERE source_key = ?", (source_key,)).fetchone() is not None

    def delivered_keys(self, prefix: str) -> set[str]:
        rows = self.db.execute(
            "SELECT source_key FROM messages WHERE source_key >= ? AND source_key < ?", (prefix, prefix + "\uffff")
        )
        return {key for (key,) in rows}

    def get_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        with self._transaction():
            self._put_state(key, value)

    def _put_state(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                        (key, value, value))

    # --- intake -----------------------------------------------------------

    def is_duplicate(self, message_id: str | None, content_hash: str, excluding: int | None = None) -> bool:
        """Delivered before: same Message-ID and same content (docs/contract.md, "Identity and duplicates").

        excluding: the row of a message being examined again, which is no earlier delivery of itself.
        """
        row = self.db.execute(
            "SELECT 1 FROM messages WHERE message_id IS ? AND content_hash = ? AND id IS NOT ? LIMIT 1",
            (message_id, content_hash, excluding),
        ).fetchone()
        return row is not None

    def message_id_reused(self, message_id: str | None, excluding: int | None = None) -> bool:
        if message_id is None:
            return False
        row = self.db.execute("SELECT 1 FROM messages WHERE message_id = ? AND id IS NOT ? LIMIT 1",
                              (message_id, excluding)).fetchone()
        return row is not None

    def has_document(self, unit: str, item: str, person: str | None, sha256: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM documents WHERE unit = ? AND item = ? AND person IS ? AND sha256 = ? LIMIT 1",
            (unit, item, person, sha256),
        ).fetchone()
        return row is not None

    def record(self, rec: Recorded) -> int | None:
        """Record one delivery with its log entry, documents, checkpoint and mail out, all or nothing.

        Returns the message's row id, or None when that delivery was recorded before.
        """
        entry = rec.entry
        with self._transaction():
            try:
                cursor = self.db.execute(
                    "INSERT INTO messages (source_key, message_id, content_hash, from_addr, subject, received_at,"
                    " outcome, reason, quarantined_as) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.raw.source_key, entry.message_id, rec.content_hash, entry.from_addr, entry.subject,
                     _iso_utc(entry.received_at), entry.outcome, entry.reason, rec.quarantined_as),
                )
            except sqlite3.IntegrityError:
                return None
            message = cursor.lastrowid
            self._insert_parts(message, entry, rec.documents)
            for key, value in rec.raw.checkpoint.items():
                self._put_state(key, value)
            for out in rec.outgoing:
                self._queue(out, answers=message)
        return message

    def _insert_parts(self, message: int, entry: LogEntry, documents: list) -> None:
        self.db.executemany(
            "INSERT INTO attachments (message, position, filename, outcome, reason, item, unit, person,"
            " sha256, saved_as, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(message, position, a.filename, a.outcome, a.reason, a.item, a.unit, a.person, a.sha256, a.saved_as,
              int(a.held)) for position, a in enumerate(entry.attachments)],
        )
        for document, attachment in documents:
            self.db.execute(
                "INSERT INTO documents (message, item, unit, person, received_at, sha256, warnings, meeting_date)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (message, document.item, document.unit, document.person, _iso_utc(entry.received_at),
                 attachment.sha256 if attachment else None, json.dumps(list(document.warnings), ensure_ascii=False),
                 document.meeting_date.isoformat() if document.meeting_date else None),
            )

    def update(self, message: int, rec: Recorded, reprocessed_at: datetime) -> None:
        """Replace what a message examined again was recorded as, all or nothing: its outcome, attachments,
        documents and mail out. Its arrival time and source identity stay; a confirmation already queued
        for it is not queued again."""
        entry = rec.entry
        with self._transaction():
            self.db.execute(
                "UPDATE messages SET content_hash = ?, from_addr = ?, subject = ?, outcome = ?, reason = ?,"
                " quarantined_as = COALESCE(?, quarantined_as), reprocessed_at = ?, gone = 0 WHERE id = ?",
                (rec.content_hash, entry.from_addr, entry.subject, entry.outcome, entry.reason, rec.quarantined_as,
                 _iso_utc(reprocessed_at), message),
            )
            self.db.execute("DELETE FROM attachments WHERE message = ?", (message,))
            self.db.execute("DELETE FROM documents WHERE message = ?", (message,))
            self._insert_parts(message, entry, rec.documents)
            answered = {kind for (kind,) in self.db.execute("SELECT kind FROM outbox WHERE answers = ?", (message,))}
            for out in rec.outgoing:
                if out.kind not in answered:
                    self._queue(out, answers=message)

    def mark_gone(self, message: int, reason: str, reprocessed_at: datetime) -> None:
        """A message to be examined again that the mailbox no longer has: said in its entry, for HR."""
        with self._transaction():
            self.db.execute("UPDATE messages SET gone = 1, reason = ?, reprocessed_at = ? WHERE id = ?",
                            (reason, _iso_utc(reprocessed_at), message))

    def held(self, message_id: str | None = None) -> list[StoredMessage]:
        """The messages whose outcome HR's changes may alter (unknown_sender, no_documents, rejected),
        oldest first; with message_id, every message of that Message-ID whatever its outcome."""
        if message_id is None:
            where, params = "outcome IN ('unknown_sender', 'no_documents', 'rejected')", ()
        else:
            where, key = self._by_ref(message_id)
            params = (key,)
        rows = self.db.execute(
            "SELECT id, source_key, message_id, from_addr, received_at, outcome, reason, quarantined_as, gone"
            f" FROM messages WHERE {where} ORDER BY received_at, id", params)
        return [StoredMessage(id=r[0], source_key=r[1], message_id=r[2], from_addr=r[3],
                              received_at=datetime.fromisoformat(r[4]), outcome=r[5], reason=r[6],
                              quarantined_as=r[7], gone=bool(r[8])) for r in rows]

    # --- reading ----------------------------------------------------------

    def log(self) -> list[LogEntry]:
        """Every delivered message in arrival order, with its attachments."""
        attachments: dict[int, list[AttachmentLog]] = {}
        for row in self.db.execute(
            "SELECT message, filename, outcome, reason, item, unit, person, sha256, saved_as, held FROM attachments"
            " ORDER BY message, position"
        ):
            attachments.setdefault(row[0], []).append(AttachmentLog(*row[1:-1], held=bool(row[-1])))
        entries = []
        for row in self.db.execute(
            "SELECT id, message_id, from_addr, received_at, outcome, reason, subject, reprocessed_at, gone"
            " FROM messages ORDER BY received_at, id"
        ):
            entries.append(LogEntry(
                message_id=row[1], from_addr=row[2], received_at=datetime.fromisoformat(row[3]), outcome=row[4],
                reason=row[5], subject=row[6], attachments=attachments.get(row[0], []),
                reprocessed_at=datetime.fromisoformat(row[7]) if row[7] else None, gone=bool(row[8]),
                ref=message_ref(row[1], row[0]),
            ))
        return entries

    def accepted_files(self, item: str) -> list[tuple[str | None, str, datetime]]:
        """(file name, saved_as, when its message arrived) of each accepted attachment recognised as `item`."""
        rows = self.db.execute(
            "SELECT a.filename, a.saved_as, m.received_at FROM attachments a JOIN messages m ON m.id = a.message"
            " WHERE a.item = ? AND a.outcome = ? AND a.saved_as IS NOT NULL ORDER BY m.received_at, m.id, a.position",
            (item, ACCEPTED))
        return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    def arrivals(self) -> list[Arrival]:
        rows = self.db.execute(
            "SELECT d.unit, d.item, d.person, d.received_at, m.message_id, d.warnings, m.id"
            " FROM documents d JOIN messages m ON m.id = d.message ORDER BY d.received_at, d.id"
        )
        return [
            Arrival(unit=r[0], item=r[1], person=r[2], received_at=datetime.fromisoformat(r[3]),
                    message_id=message_ref(r[4], r[6]), warnings=tuple(json.loads(r[5])))
            for r in rows
        ]

    def first_received(self, sha256: str) -> datetime | None:
        """When a document with these bytes was first recorded; None if never."""
        row = self.db.execute("SELECT MIN(received_at) FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def first_arrival(self, message_id: str | None) -> datetime | None:
        """When the first delivery with this Message-ID (or records.message_ref) arrived, whatever its outcome;
        None if none did."""
        where, key = self._by_ref(message_id)
        row = self.db.execute(f"SELECT MIN(received_at) FROM messages WHERE {where}", (key,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def held_documents(self) -> list[HeldDocument]:
        """The documents waiting for HR's attribution, with what they may be."""
        rows = self.db.execute(
            # One per held file, not DISTINCT: two held files of one mail are settled by two 归属 rows.
            "SELECT a.unit, a.item, a.person, m.message_id, m.id FROM attachments a JOIN messages m ON m.id = a.message"
            " WHERE a.held = 1 AND a.unit IS NOT NULL ORDER BY a.message, a.position"
        )
        return [HeldDocument(unit=r[0], item=r[1], person=r[2], message_id=message_ref(r[3], r[4])) for r in rows]

    def arrival_times(self, unit: str, item: str, person: str | None) -> list[datetime]:
        """When each recorded version of one document arrived, oldest first."""
        rows = self.db.execute(
            "SELECT received_at FROM documents WHERE unit = ? AND item = ? AND person IS ? ORDER BY received_at, id",
            (unit, item, person),
        )
        return [datetime.fromisoformat(r) for (r,) in rows]

    def requested_meetings(self) -> dict[str, date]:
        """The meeting date each unit asked for last."""
        rows = self.db.execute(
            "SELECT unit, meeting_date FROM documents WHERE meeting_date IS NOT NULL ORDER BY received_at, id"
        )
        return {unit: date.fromisoformat(day) for unit, day in rows}

    # --- outbox -----------------------------------------------------------

    def queue(self, out: Outgoing, reminder: tuple[date, str, list] | None = None,
              state: dict[str, str] | None = None) -> int | None:
        """Queue a mail that answers no message, in one transaction with what it stands for:
        with `reminder`, the day, recipient and items it covers; with `state`, facts to remember
        (e.g. that the kickoff went out), so a crash can neither lose nor repeat the mail.

        Returns the outbox id, or None if a reminder for that day and recipient exists already.
        """
        with self._transaction():
            if reminder is not None:
                day, recipient, covers = reminder
                exists = self.db.execute(
                    "SELECT 1 FROM reminders WHERE day = ? AND recipient = ?", (day.isoformat(), recipient)
                ).fetchone()
                if exists:
                    return None
            outbox_id = self._queue(out, answers=None)
            for key, value in (state or {}).items():
                self._put_state(key, value)
            if reminder is not None:
                self.db.execute(
                    "INSERT INTO reminders (day, recipient, covers, outbox) VALUES (?, ?, ?, ?)",
                    (day.isoformat(), recipient, json.dumps(covers, ensure_ascii=False), outbox_id),
                )
        return outbox_id

    def _queue(self, out: Outgoing, answers: int | None) -> int:
        cursor = self.db.execute(
            "INSERT INTO outbox (message_id, kind, recipients, answers, created_at, eml) VALUES (?, ?, ?, ?, ?, ?)",
            (out.message_id, out.kind, json.dumps(list(out.recipients)), answers,
             _utcnow(), out.eml),
        )
        return cursor.lastrowid

    def kept_aside(self) -> list[OutboxRow]:
        """The mails that need a person: refused for good, or of unknown fate. For `hrbot log` and the tracker."""
        return self.outbox(FAILED, UNCERTAIN)

    def outbox(self, *states: str) -> list[OutboxRow]:
        where = f" WHERE state IN ({','.join('?' * len(states))})" if states else ""
        return self._outbox_rows(where, states)

    def _outbox_rows(self, where: str, params: tuple) -> list[OutboxRow]:
        rows = self.db.execute(
            "SELECT id, message_id, kind, recipients, created_at, eml, file, state, attempts, next_attempt,"
            " last_error FROM outbox" + where + " ORDER BY id", params).fetchall()
        if not rows:
            return []  # an idle poll's usual answer
        return [
            OutboxRow(id=r[0], message_id=r[1], kind=r[2], recipients=tuple(json.loads(r[3])),
                      created_at=datetime.fromisoformat(r[4]), eml=r[5], file=r[6], state=r[7], attempts=r[8],
                      next_attempt=datetime.fromisoformat(r[9]) if r[9] else None, last_error=r[10])
            for r in rows
        ]

    def outbox_without_file(self) -> list[OutboxRow]:
        return self._outbox_rows(" WHERE file IS NULL", ())

    def mail_waiting(self) -> bool:
        """Whether a mail waits to go out (queued) or was interrupted going out (sending)."""
        row = self.db.execute("SELECT 1 FROM outbox WHERE state IN (?, ?) LIMIT 1", (QUEUED, SENDING)).fetchone()
        return row is not None

    def set_outbox_files(self, files: list[tuple[int, str]]) -> None:
        """Each outbox row's file name, (id, file) pairs, in one transaction."""
        with self._transaction():
            self.db.executemany("UPDATE outbox SET file = ? WHERE id = ?", [(file, i) for i, file in files])

    def set_outbox_state(self, outbox_id: int, state: str, error: str = "", next_attempt: datetime | None = None,
                         attempted: bool = False) -> None:
        # Synced even against a power cut: 'sending' must be on disk before the server hears of the
        # mail, or a lost mark would send it twice (bot.out.senders). A few per mail sent: cheap.
        with self._transaction(durable=True):
            self.db.execute(
                "UPDATE outbox SET state = ?, last_error = ?, next_attempt = ?, attempts = attempts + ?,"
                " sent_at = COALESCE(?, sent_at) WHERE id = ?",
                (state, error, _iso_utc(next_attempt) if next_attempt else None, int(attempted),
                 _utcnow() if state == SENT else None, outbox_id),
            )

    def replies_for_arrivals(self, recipient: str, start: datetime, end: datetime) -> int:
        """How many confirmations answer this address's mail that arrived in [start, end).

        Counted by arrival, not by when the answer was queued, so reading a backlog of old mail
        does not use up today's allowance.
        """
        rows = self.db.execute(
            "SELECT o.recipients FROM outbox o JOIN messages m ON m.id = o.answers"
            " WHERE o.kind = ? AND m.received_at >= ? AND m.received_at < ?",
            (CONFIRMATION, _iso_utc(start), _iso_utc(end)),
        )
        return sum(1 for (recipients,) in rows if recipient in json.loads(recipients))

    def reminder_covers(self, outbox_id: int) -> list | None:
        """The [unit, item, person] triples a queued reminder asks for, or None if it is no reminder."""
        row = self.db.execute("SELECT covers FROM reminders WHERE outbox = ?", (outbox_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def cancel_if_queued(self, outbox_id: int, reason: str) -> bool:
        """Withdraw a mail that has not started going out; False if a sender already took it.

        A withdrawn reminder was never sent: its note in `reminders` goes too, so the days and
        windows of later reminders (and another one the same day) are judged without it.
        """
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE outbox SET state = ?, last_error = ? WHERE id = ? AND state = ?",
                (CANCELLED, reason, outbox_id, QUEUED),
            )
            if cursor.rowcount == 1:
                self.db.execute("DELETE FROM reminders WHERE outbox = ?", (outbox_id,))
        return cursor.rowcount == 1

    def reminders_sent(self) -> list[tuple[date, str, list]]:
        rows = self.db.execute("SELECT day, recipient, covers FROM reminders ORDER BY day, id")
        return [(date.fromisoformat(d), r, json.loads(c)) for d, r, c in rows]

    # --- plumbing ---------------------------------------------------------

    @staticmethod
    def _by_ref(ref: str | None) -> tuple[str, object]:
        """The WHERE clause and its parameter that find the messages a Message-ID or a records.message_ref names."""
        row = ref_row(ref) if ref else None
        return ("id = ?", row) if row is not None else ("message_id = ?", ref)

    def _transaction(self, durable: bool = False):
        return _Transaction(self.db, durable, self.data_dir)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (autocommit connection).

    durable: committed with synchronous=FULL (fsync of the WAL), which also syncs every commit before it.
    """

    def __init__(self, db: sqlite3.Connection, durable: bool, data_dir: Path):
        self.db = db
        self.durable = durable
        self.data_dir = data_dir  # the store's file named only in an error: a transaction a message costs no path

    def __enter__(self):
        try:
            if self.durable:
                self.db.execute("PRAGMA synchronous=FULL")  # only outside a transaction
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise store_error(self.data_dir / STORE_FILE, e) from e

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.db.execute("COMMIT")
            elif self.db.in_transaction:  # SQLite may have rolled back itself (a full disk)
                self.db.execute("ROLLBACK")
            if self.durable:
                self.db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as e:
            if exc_type is None:
                raise store_error(self.data_dir / STORE_FILE, e) from e
            # The first error is the one to report; this one followed from it.
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
            raise store_error(self.data_dir / STORE_FILE, exc) from exc
        return False


# Columns added after a season's store was first created: (table, column, declaration).
# CREATE TABLE IF NOT EXISTS leaves an older table as it was, so each is added here once.
ADDED_COLUMNS = (
    ("attachments", "held", "INTEGER NOT NULL DEFAULT 0"),
    ("messages", "reprocessed_at", "TEXT"),
    ("messages", "gone", "INTEGER NOT NULL DEFAULT 0"),
)


# The schema a store has, kept in SQLite's user_version: an open that finds this one skips the
# script and the column checks (an idle poll opens the store every few minutes). Derived from the
# schema's text, so any change to SCHEMA or ADDED_COLUMNS makes every existing store migrate once;
# a store from before user_version was kept has 0, a store from another hrbot version another number.
SCHEMA_VERSION = zlib.crc32(f"{SCHEMA}{ADDED_COLUMNS!r}".encode()) % 0x7FFFFFFF + 1


def _migrate(db: sqlite3.Connection) -> None:
    """Create what is missing (tables, indexes, added columns), then note the schema as current."""
    db.executescript(SCHEMA)
    _add_missing_columns(db)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, column, declaration in ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


class StoreDamaged(StoreError):
    """PRAGMA quick_check found the store damaged: every command stops until it is restored."""

    def __init__(self, path: Path, detail: str):
        detail = " ".join(detail.split())[:160]
        super().__init__(f"数据库 {path} 已损坏（{detail}）；{RESTORE_HINT}")


def store_error(path: Path, error: Exception) -> StoreError:
    """One line for a failed open, read or write; a malformed file is named as damaged."""
    text = str(error)
    if isinstance(error, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return StoreDamaged(path, text)
    if isinstance(error, OSError):
        text = error.strerror or text
    return StoreError(f"无法读写数据库 {path}：{text}（请检查磁盘空间与文件夹权限）")


def _stamp(path: Path) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size} {st.st_mtime_ns}"


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _untouched(path: Path, opened_ns: int, at_open: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    """The file's identity after a close, if nothing wrote it while the store was open and no connection is
    left (no -wal file): then it holds what that store read. None otherwise, or if it changed too shortly
    before the open for a later write to show in its time.

    The -wal file is looked at first: a write committed before that moment was checkpointed into the file
    (changing its time) by the connection that closed last and removed the -wal."""
    if os.path.exists(f"{path}-wal"):
        return None
    now = _identity(path)
    if now is None or now != at_open or now[2] > opened_ns - RACY_NS:
        return None
    return now


def unchanged_since(data_dir: Path, untouched: tuple[int, int, int] | None) -> bool:
    """Whether the store is still as a store closed with `untouched` (Store.untouched) left it, with no
    connection open: then every answer it gave is still true, without opening it."""
    if untouched is None:
        return False
    path = Path(data_dir) / STORE_FILE
    return not os.path.exists(f"{path}-wal") and _identity(path) == untouched


def _read_seen(data_dir: Path) -> str | None:
    try:
        return (data_dir / SEEN_FILE).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def _iso_utc(moment: datetime) -> str:
    # Stored in UTC so that ISO strings sort in time order whatever zone the source gave.
    return moment.astimezone(timezone.utc).isoformat()


def _utcnow() -> str:
    # UTC so that ISO strings compare in time order.
    return datetime.now(timezone.utc).isoformat()
