"""A failure of the machine (a full disk, a refused permission) is never a message's verdict; the Maildir's
skipped entries are said once; `send` says what still waits."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import DEMO_ACCEPTED
from smtp_server import SmtpServer, free_port

import bot.intake.extract
from parsers import recognise
from bot.errors import StoreError
from bot.poll import poll_once
from bot.out.senders import deliver
from bot.settings import load
from bot.sources.maildir import MaildirSource
from bot.store import Store

REPO = Path(__file__).resolve().parent.parent


def hrbot(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def outcomes(settings) -> Counter:
    with Store.open(settings.paths.data) as store:
        return Counter(entry.outcome for entry in store.log())


def test_save_failure_records_nothing_and_the_next_poll_accepts_everything(demo_season, monkeypatch):
    def disk_full(path, data, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(bot.intake.extract, "write_atomically", disk_full)
    with pytest.raises(StoreError, match="No space left on device.*未能保存的邮件没有记录"):
        poll_once(demo_season)
    recorded = outcomes(demo_season)
    # It stopped at the first document to keep (a meeting request in a mail's text needs no file).
    assert recorded["rejected"] == 0 and recorded["accepted"] < DEMO_ACCEPTED

    monkeypatch.undo()
    poll_once(demo_season)
    assert outcomes(demo_season)["accepted"] == DEMO_ACCEPTED and outcomes(demo_season)["rejected"] == 0


def test_save_environment_error_under_a_parser_is_no_verdict_on_the_attachment(demo_season, monkeypatch):
    def no_room(*args, **kw):  # as when LibreOffice cannot write its temp file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recognise, "recognise", no_room)
    with pytest.raises(OSError):
        poll_once(demo_season)
    assert outcomes(demo_season)["rejected"] == 0


def test_save_a_parser_bug_still_rejects_the_mail_without_a_traceback(demo_season, monkeypatch, capsys):
    def bug(*args, **kw):
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(bot.intake.extract, "documents", bug)
    monkeypatch.setattr(bot.intake.pipeline, "HANDLERS", tuple(
        bug if h.__name__ == "documents" else h for h in bot.intake.pipeline.HANDLERS))
    poll_once(demo_season)
    assert outcomes(demo_season)["rejected"] >= DEMO_ACCEPTED  # every mail that reached the failing handler
    assert "Traceback" not in capsys.readouterr().err


def test_save_cli_disk_full_is_one_line_exit_1(demo_season, tmp_path):
    files = demo_season.paths.data / "files"
    files.mkdir(parents=True)
    os.chmod(files, 0o500)
    if os.access(files, os.W_OK):  # root writes anywhere: make it a file instead, which nobody can write into
        os.chmod(files, 0o700)
        files.rmdir()
        files.write_text("not a folder")
    done = hrbot(demo_season.config_dir, "poll", "--once")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and "未能保存的邮件没有记录" in done.stderr
    entries = json.loads(hrbot(demo_season.config_dir, "log", "--json").stdout)
    assert all(e["outcome"] != "rejected" for e in entries)


def test_maildir_skipped_entries_are_logged_once_with_why(settings, caplog):
    inbox = settings.mailbox.path
    (inbox / "new" / "1733212800.M1P1.folder").mkdir()
    (inbox / "new" / "1733212801.M2P1.dangling").symlink_to(inbox / "new" / "gone")
    (inbox / "cur" / ".1733212802.M3P1.hidden").write_bytes(b"x")
    source = MaildirSource(inbox)
    with Store.open(settings.paths.data) as store, caplog.at_level(logging.INFO, logger="bot.sources.maildir"):
        assert list(source.messages(store)) == []
        assert list(source.messages(store)) == []  # the second poll says nothing new
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3, said
    assert any("M1P1.folder: a folder" in line for line in said)
    assert any("dangling: a link to a file that does not exist" in line for line in said)
    assert any(".hidden: a hidden file" in line for line in said)


def test_send_says_how_many_wait_and_until_when_and_exits_1_until_nothing_waits(demo_season):
    assert hrbot(demo_season.config_dir, "poll", "--once").returncode == 0
    file = demo_season.config_dir / "settings.toml"
    dead_port = free_port()
    file.write_text(file.read_text(encoding="utf-8").replace(
        'kind = "spool"', f'kind = "smtp"\nhost = "127.0.0.1"\nport = {dead_port}\nsecurity = "none"\ntimeout = 2'),
        encoding="utf-8")
    first = hrbot(demo_season.config_dir, "send")
    assert first.returncode == 1, first.stderr
    assert f"{DEMO_ACCEPTED} 封邮件等待重试，最早于 " in first.stdout and "再试" in first.stdout
    again = hrbot(demo_season.config_dir, "send")  # none due yet: still said, still not done
    assert again.returncode == 1 and f"{DEMO_ACCEPTED} 封邮件等待重试" in again.stdout

    with SmtpServer() as server:
        file.write_text(file.read_text(encoding="utf-8").replace(f"port = {dead_port}", f"port = {server.port}"),
                        encoding="utf-8")
        report = deliver(load(demo_season.config_dir), now=datetime.now(timezone.utc) + timedelta(hours=1))
        assert len(report.sent) == DEMO_ACCEPTED and report.settled()
        assert report.summary() == f"已发送 {DEMO_ACCEPTED} 封"


def test_save_environmental_errors_are_the_machines_not_the_mails():
    import sqlite3

    from bot.errors import environmental
    from bot.store import StoreDamaged
    from parsers.errors import UnreadableDocument

    assert environmental(OSError(errno.ENOSPC, "No space left on device"))
    assert environmental(PermissionError(errno.EACCES, "Permission denied"))
    assert environmental(sqlite3.OperationalError("database or disk is full"))
    assert environmental(StoreDamaged(Path("hrbot.sqlite3"), "malformed"))
    # What a mail can cause itself stays the mail's verdict.
    assert not environmental(MemoryError())
    assert not environmental(OSError("cannot identify image file"))  # no errno: a library's word on bad bytes
    assert not environmental(UnreadableDocument("不是有效的 .docx"))
    assert not environmental(ValueError("bad"))
