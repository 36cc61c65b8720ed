"""The store's schema version (an older store migrates once, a current one opens without the schema script),
and what a closed store tells of the file it left."""

from __future__ import annotations

import os
import sqlite3

from bot.store import SCHEMA_VERSION, STORE_FILE, Store, unchanged_since

# A store as hrbot first created it: without the columns added since, nor the outbox's later indexes.
OLD_SCHEMA = """
CREATE TABLE messages (id INTEGER PRIMARY KEY, source_key TEXT NOT NULL UNIQUE, message_id TEXT,
    content_hash TEXT NOT NULL, from_addr TEXT, subject TEXT NOT NULL DEFAULT '', received_at TEXT NOT NULL,
    outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', quarantined_as TEXT);
CREATE TABLE attachments (id INTEGER PRIMARY KEY, message INTEGER NOT NULL REFERENCES messages (id),
    position INTEGER NOT NULL, filename TEXT, outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    item TEXT, unit TEXT, person TEXT, sha256 TEXT, saved_as TEXT);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO messages (source_key, message_id, content_hash, from_addr, subject, received_at, outcome)
    VALUES ('maildir:1', '<a@x>', 'h', 'li@tengfei.example', '述职报告', '2026-09-28T02:00:00+00:00', 'no_documents');
INSERT INTO attachments (message, position, filename, outcome) VALUES (1, 0, 'a.docx', 'rejected');
INSERT INTO state (key, value) VALUES ('imap:INBOX', '7:41');
"""


def _sql(data_dir, *statements):
    db = sqlite3.connect(data_dir / STORE_FILE, isolation_level=None)
    try:
        return [db.execute(s).fetchall() for s in statements]
    finally:
        db.close()


def _columns(data_dir, table):
    [rows] = _sql(data_dir, f"PRAGMA table_info({table})")
    return {row[1] for row in rows}


def _indexes(data_dir):
    [rows] = _sql(data_dir, "SELECT name FROM sqlite_master WHERE type = 'index'")
    return {name for (name,) in rows}


def test_store_schema_old_store_without_user_version_migrates(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / STORE_FILE)
    db.executescript(OLD_SCHEMA)
    db.close()

    with Store.open(data) as store:
        [entry] = store.log()
        assert entry.message_id == "<a@x>" and entry.gone is False and entry.reprocessed_at is None
        assert entry.attachments[0].held is False
        assert store.get_state("imap:INBOX") == "7:41"
        assert store.outbox() == []
    assert {"held"} <= _columns(data, "attachments")
    assert {"reprocessed_at", "gone"} <= _columns(data, "messages")
    assert {"outbox_without_file", "outbox_by_state", "documents_by_key"} <= _indexes(data)
    assert _sql(data, "PRAGMA user_version") == [[(SCHEMA_VERSION,)]]


def test_store_schema_current_store_skips_the_script(tmp_path):
    data = tmp_path / "data"
    Store.open(data).close()
    assert _sql(data, "PRAGMA user_version") == [[(SCHEMA_VERSION,)]]
    # Taken away behind hrbot's back: an open that ran the schema script would put it back.
    _sql(data, "DROP INDEX outbox_without_file")
    Store.open(data).close()
    assert "outbox_without_file" not in _indexes(data)


def test_store_schema_another_version_migrates_again(tmp_path):
    data = tmp_path / "data"
    Store.open(data).close()
    # A store another hrbot version left: its schema differs, so this one's script runs (and adds nothing twice).
    _sql(data, "DROP INDEX outbox_without_file", f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    Store.open(data).close()
    assert "outbox_without_file" in _indexes(data)
    assert _sql(data, "PRAGMA user_version") == [[(SCHEMA_VERSION,)]]
    Store.open(data).close()
    assert _sql(data, "PRAGMA user_version") == [[(SCHEMA_VERSION,)]]


def _age(data_dir, seconds=10):
    """The store file as if last written `seconds` ago."""
    path = data_dir / STORE_FILE
    past = path.stat().st_mtime_ns - seconds * 1_000_000_000
    os.utime(path, ns=(past, past))


def test_store_untouched_only_when_nothing_wrote_it_and_no_connection_is_left(tmp_path):
    data = tmp_path / "data"
    with Store.open(data) as store:
        store.set_state("k", "1")
    assert store.untouched is None  # written meanwhile
    store = Store.open(data)
    store.close()
    assert store.untouched is None  # written too shortly before the open for a later write to show
    _age(data)
    store = Store.open(data)
    store.close()
    assert store.untouched is not None and unchanged_since(data, store.untouched)

    other = Store.open(data)
    other.get_state("k")
    assert not unchanged_since(data, store.untouched)  # a connection is open: its writes are not in the file yet
    other.set_state("k", "2")
    other.close()
    assert not unchanged_since(data, store.untouched)  # written: its time (or size) changed

    _age(data)
    first, second = Store.open(data), Store.open(data)
    first.get_state("k"), second.get_state("k")
    first.close()
    assert first.untouched is None  # another connection was left open
    second.close()
    assert second.untouched is not None
