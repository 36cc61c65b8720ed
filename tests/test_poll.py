"""The poll's reading of the roster and calendar: checked whenever they change, otherwise only for mail."""

from __future__ import annotations

import os
import re
import sqlite3

import pytest
from conftest import at, deliver, use_imap

import bot.poll
import bot.sources
from bot.demo import build_message
from bot.errors import ConfigError
from bot.poll import Quiet, SeasonFiles, poll_once
from bot.store import STORE_FILE, Store

HR = "renliziyuan@tengfei.example"


@pytest.fixture
def roster_reads(monkeypatch) -> list[int]:
    """How many times the roster is read, one entry per read."""
    reads: list[int] = []
    real = bot.season.roster.load_roster

    def counting(config_dir):
        reads.append(1)
        return real(config_dir)

    monkeypatch.setattr(bot.poll, "load_roster", counting)  # where the poll reads it
    return reads


def _break_people(config_dir) -> None:
    with (config_dir / "people.csv").open("a", encoding="utf-8") as f:
        f.write("合成车间,赵六,局长,zhaoliu@tengfei.example\n")


def test_first_poll_checks_the_roster_although_no_mail_came(settings, roster_reads):
    assert poll_once(settings).recorded == []
    assert len(roster_reads) == 1


def test_unchanged_roster_is_not_read_again_while_no_mail_comes(settings, roster_reads):
    poll_once(settings)
    poll_once(settings)
    poll_once(settings)
    assert len(roster_reads) == 1


def test_unchanged_roster_is_read_once_for_new_mail(settings, roster_reads):
    poll_once(settings)
    deliver(settings, at("2026-12-07T10:00"), build_message("lijianguo@tengfei.example", "李建国", HR, "你好", "测试"))
    deliver(settings, at("2026-12-07T10:05"), build_message("stranger@elsewhere.example", "", HR, "广告", "促销"))
    report = poll_once(settings)
    assert sorted(report.counts()) == ["no_documents", "unknown_sender"]
    assert len(roster_reads) == 2  # the first poll's check, then once for both messages


def test_roster_mistake_stops_every_poll_until_fixed(settings, config_dir):
    good = (config_dir / "people.csv").read_bytes()
    _break_people(config_dir)
    for _ in range(2):  # a roster that failed is never noted as checked
        with pytest.raises(ConfigError, match="people.csv"):
            poll_once(settings)
    (config_dir / "people.csv").write_bytes(good)
    assert poll_once(settings).recorded == []


def test_roster_edited_after_a_good_poll_is_checked_at_the_next(settings, config_dir):
    poll_once(settings)
    _break_people(config_dir)
    with pytest.raises(ConfigError, match="局长"):
        poll_once(settings)


def test_calendar_file_added_after_a_good_poll_is_checked_at_the_next(settings, config_dir):
    poll_once(settings)
    (config_dir / "calendar").mkdir(exist_ok=True)
    (config_dir / "calendar" / "2027.toml").write_text("holidays = [\"2027-13-01\"]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="2027.toml"):
        poll_once(settings)


def test_a_file_named_calendar_is_no_calendar_folder_and_no_error(settings, config_dir):
    (config_dir / "calendar").write_text("a note, not the folder", encoding="utf-8")
    assert poll_once(settings).recorded == []


def test_stamp_follows_mode_changes_and_ignores_subfolders(settings, config_dir):
    season = SeasonFiles(config_dir)
    (config_dir / "people.csv").chmod(0o600)
    before = season.stamp()
    (config_dir / "data" / "more").mkdir(parents=True)  # the data, outbox and tracker folders change at every poll
    assert season.stamp() == before
    (config_dir / "people.csv").chmod(0o640)
    assert season.stamp() != before


def test_idle_poll_reads_the_store_through_indexes_only(config_dir, dovecot, monkeypatch):
    settings = use_imap(config_dir, dovecot, monkeypatch)
    for n in range(3):
        dovecot.append(build_message("lijianguo@tengfei.example", "李建国", settings.hr.address, f"你好 {n}",
                                     "周五开会。", (), "utf8"), at("2026-12-04T09:00"))
    assert len(poll_once(settings).recorded) == 3
    statements: list[str] = []
    real_open = Store.open.__func__

    def traced(cls, *args, **kwargs):
        store = real_open(cls, *args, **kwargs)
        store.db.set_trace_callback(statements.append)
        return store

    monkeypatch.setattr(Store, "open", classmethod(traced))
    assert poll_once(settings).recorded == []
    queries = [s for s in statements if re.match(r"\s*(SELECT|UPDATE|DELETE)\b", s, re.IGNORECASE)]
    assert len(queries) >= 4  # the config note, the held-mail note, the checkpoint, the outbox
    db = sqlite3.connect(settings.paths.data / STORE_FILE)
    try:
        for query in queries:
            plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + query)]
            # A table read whole grows with the season: every idle poll would pay for it.
            assert not [step for step in plan if re.fullmatch(r"SCAN \w+", step)], (query, plan)
    finally:
        db.close()


def _age_store(settings, seconds=10):
    """The store file as if last written `seconds` ago (a change shortly before a poll is not trusted)."""
    path = settings.paths.data / STORE_FILE
    past = path.stat().st_mtime_ns - seconds * 1_000_000_000
    os.utime(path, ns=(past, past))


def test_quiet_poll_opens_no_store_until_the_store_config_or_mailbox_changes(config_dir, dovecot, monkeypatch):
    settings = use_imap(config_dir, dovecot, monkeypatch)

    def hello(n: int) -> bytes:
        return build_message("lijianguo@tengfei.example", "李建国", settings.hr.address, f"你好 {n}", "周五开会。", (),
                             "utf8")

    dovecot.append(hello(1), at("2026-12-04T09:00"))
    source, quiet = bot.sources.source_for(settings), Quiet()
    assert len(poll_once(settings, source, quiet=quiet).recorded) == 1
    opened = []
    real_open = Store.open.__func__
    monkeypatch.setattr(Store, "open", classmethod(lambda cls, *a, **k: opened.append(1) or real_open(cls, *a, **k)))

    def idle() -> int:
        before = len(opened)
        assert poll_once(settings, source, quiet=quiet).recorded == []
        return len(opened) - before

    _age_store(settings)
    assert idle() == 1  # the store was written by the last poll: opened, and found as left
    assert idle() == 0 and idle() == 0

    dovecot.append(hello(2), at("2026-12-04T10:00"))  # new mail
    assert len(poll_once(settings, source, quiet=quiet).recorded) == 1
    _age_store(settings)
    assert idle() == 1 and idle() == 0

    with real_open(Store, settings.paths.data) as other:  # another process writes the store
        other.set_state("adjust:note", "1")
    assert idle() == 1
    _age_store(settings)
    assert idle() == 1 and idle() == 0

    _break_people(config_dir)  # a mistake in the roster stops the poll, quiet or not
    with pytest.raises(ConfigError):
        poll_once(settings, source, quiet=quiet)


def test_poll_quiet_again_after_the_newest_message_was_expunged(config_dir, dovecot, monkeypatch):
    """A junk filter moves the newest mail away before hrbot reads it: the checkpoint still reaches the
    folder's end, so the following idle polls are quiet ones (one EXAMINE, no store)."""
    settings = use_imap(config_dir, dovecot, monkeypatch)

    def hello(n):
        return build_message("lijianguo@tengfei.example", "李建国", settings.hr.address, f"你好 {n}", "周五开会。", (), "utf8")

    dovecot.append(hello(1), at("2026-12-04T09:00"))
    source, quiet = bot.sources.source_for(settings), Quiet()
    assert len(poll_once(settings, source, quiet=quiet).recorded) == 1
    dovecot.append(hello(2), at("2026-12-04T09:05"))
    with dovecot.client() as client:
        client.select_folder("INBOX")
        client.delete_messages([max(client.search("ALL"))])
        client.expunge()
    assert poll_once(settings, source, quiet=quiet).recorded == []
    source.open()
    try:
        assert source.nothing_new()
    finally:
        source.close()
