"""The service: simulated days on a fake clock, a failing job, the instance lock, SIGTERM on a real process."""

from __future__ import annotations

import email
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from email import policy
from pathlib import Path

import pytest
from conftest import at, deliver
from test_reminders import CHEN, GAO, HR, LEADER, LI, LIANG, ZHANG, HC, season

from bot.demo import build_message
from bot.errors import ConfigError
from bot.lock import PID_FILE, WriterLock
from bot.service import Service
from bot.out.summary import unconfirmed_years
from bot.season.workdays import WorkCalendar
from bot.sources.maildir import MaildirSource
from bot.store import Store
from bot.settings import load
from parsers import forms

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """The service's "now": moved by the test, never slept on."""

    def __init__(self, moment: datetime):
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


class Run:
    """Drives a Service through moments and notes which outbox rows each moment produced."""

    def __init__(self, settings, clock: FakeClock):
        self.settings = settings
        self.clock = clock
        self.rows: list[tuple[date, object]] = []  # (simulated day, outbox row)

    def at(self, service: Service, moment: str, poll: bool = False) -> list:
        self.clock.now = at(moment)
        with Store.open(self.settings.paths.data) as store:
            before = {r.id for r in store.outbox()}
        if poll:
            service.poll(MaildirSource(self.settings.mailbox.path))
        service.tick()
        with Store.open(self.settings.paths.data) as store:
            new = [r for r in store.outbox() if r.id not in before]
        self.rows.extend((self.clock.now.date(), r) for r in new)
        return new

    def sent(self, kind: str) -> dict[date, list[str]]:
        by_day: dict[date, list[str]] = {}
        for day, row in self.rows:
            if row.kind == kind:
                by_day.setdefault(day, []).append(row.recipients[0])
        return {day: sorted(to) for day, to in by_day.items()}


def mail(row) -> email.message.EmailMessage:
    return email.message_from_bytes(row.eml, policy=policy.default)


def test_service_over_simulated_days_catches_up_and_sends_nothing_twice(config_dir):
    settings = season(config_dir)
    clock = FakeClock(at("2026-09-28T07:00"))
    run = Run(settings, clock)

    service = Service(settings, clock=clock)
    assert run.at(service, "2026-09-28T07:00") == []  # before the tracker time
    [summary] = run.at(service, "2026-09-28T08:30")
    assert summary.kind == "summary" and summary.recipients == (HR,)
    assert {r.kind for r in run.at(service, "2026-09-28T09:30")} == {"reminder"}
    assert run.at(service, "2026-09-28T15:00") == []  # once a day

    # Tue 9-29: the service is down all day. Wed 9-30, a team report arrives at 10:00 and the
    # service starts again at 11:00: it polls, then catches up the tracker and the reminders at once.
    deliver(settings, at("2026-09-30T10:00"), build_message(
        LI, "李建国", HR, "班子述职报告", "请查收。", [("班子述职报告.docx", forms.fill_team_report(HC, "李建国"))]))
    service = Service(settings, clock=clock)
    new = run.at(service, "2026-09-30T11:00", poll=True)
    assert sorted(r.kind for r in new) == ["confirmation", "reminder", "reminder", "summary"]
    assert run.at(service, "2026-09-30T16:00") == []

    assert run.at(service, "2026-10-01T08:30") == [] and run.at(service, "2026-10-01T09:30") == []  # National Day
    run.at(service, "2026-10-08T08:30")
    run.at(service, "2026-10-08T09:30")
    # Another restart on the same day sends nothing again: the store remembers.
    assert run.at(Service(settings, clock=clock), "2026-10-08T16:00") == []
    # Fri 10-09 skipped too; Sat 10-10 is a make-up working day; Sun 10-11 is not.
    run.at(service, "2026-10-10T09:30")
    assert run.at(service, "2026-10-11T09:30") == []

    days = [date(2026, 9, 28), date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 10)]
    assert run.sent("summary") == {day: [HR] for day in days}
    assert run.sent("reminder") == {
        date(2026, 9, 28): sorted([GAO, LI]),  # 李建国's early reminder for reports due 9-29
        date(2026, 9, 30): sorted([GAO, LI]),  # overdue now; the due-day one was lost with 9-29
        date(2026, 10, 8): sorted([GAO, LI]),
        # Reviews due 10-13 and the union reviews due 10-12: their windows opened on the skipped 10-09.
        date(2026, 10, 10): sorted([GAO, LI, ZHANG, CHEN, LIANG]),
    }
    with Store.open(settings.paths.data) as store:
        rows = store.outbox()
        reminders = store.reminders_sent()
    assert {r.state for r in rows} == {"spooled"}  # sent (spool) right after each job and poll
    assert len(reminders) == len({(day, to) for day, to, _ in reminders}) == 11
    team = [c for day, to, covers in reminders if to == LI and day >= date(2026, 9, 30) for c in covers]
    assert [HC, "team_report", None] not in team  # arrived before the 11:00 catch-up
    assert sorted(p.name for p in settings.paths.tracker.iterdir()) == sorted(
        f"考核材料跟踪表-{day.isoformat()}{end}" for day in days for end in (".xlsx", "-邮件日志.csv"))
    assert sorted(p.name for p in settings.paths.outbox.glob("*.eml")) == sorted(r.file for r in rows)

    summaries = {day: mail(row) for day, row in run.rows if row.kind == "summary"}
    first = summaries[date(2026, 9, 28)]
    assert [a.get_filename() for a in first.iter_attachments()] == ["考核材料跟踪表-2026-09-28.xlsx"]
    text = first.get_body(("plain",)).get_content()
    html = first.get_body(("html",)).get_content()
    assert "2027 年的法定节假日安排尚未录入" in text and "2027.toml" in html  # said on start
    assert "尚有单位未收到启动通知" in text
    assert "2027" not in summaries[date(2026, 10, 8)].get_body(("plain",)).get_content()  # not again
    # Escalated items come first: 高建华's meeting request is 4 working days late on 10-08.
    oct8 = summaries[date(2026, 10, 8)].get_body(("plain",)).get_content()
    assert oct8.index("需督办") < oct8.index("设备动力科 述职大会时间申请") < oct8.index("总体情况")
    assert "逾期" in summaries[date(2026, 10, 8)]["Subject"]
    # What arrived since the day before the restart shows in 9-30's summary.
    assert "班子述职报告" in summaries[date(2026, 9, 30)].get_body(("plain",)).get_content().split("自上次日报以来收到")[1]
    copied = [mail(r) for day, r in run.rows if r.kind == "reminder" and day == date(2026, 10, 8) and r.recipients[0] == LI]
    assert copied[0]["Cc"] == LEADER


def test_a_failing_job_does_not_stop_the_others(config_dir, caplog):
    settings = season(config_dir)
    settings.paths.tracker.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.tracker.write_text("a file where the tracker folder should be")
    clock = FakeClock(at("2026-09-28T09:30"))
    service = Service(settings, clock=clock)

    with caplog.at_level(logging.ERROR, logger="bot.service"):
        service.tick()
        clock.now = at("2026-09-28T09:31")
        service.tick()  # the failed job rests a while: one log line, not one per tick
    failures = [r for r in caplog.records if "job tracker failed" in r.getMessage()]
    assert len(failures) == 1
    with Store.open(settings.paths.data) as store:
        assert sorted(r.kind for r in store.outbox()) == ["reminder", "reminder"]

    settings.paths.tracker.unlink()
    clock.now = at("2026-09-28T09:36")
    service.tick()
    with Store.open(settings.paths.data) as store:
        assert sorted(r.kind for r in store.outbox()) == ["reminder", "reminder", "summary"]
    assert len(service.scheduler.jobs) == len(service.jobs) == 3  # schedule still holds every job


def test_next_years_calendar_is_checked_in_the_first_week_of_december(config_dir):
    settings = season(config_dir)
    cal = WorkCalendar.load(config_dir)
    assert unconfirmed_years(cal, settings, date(2026, 12, 7), include_next=False) == [2027]
    assert unconfirmed_years(cal, settings, date(2026, 12, 8), include_next=False) == []
    assert unconfirmed_years(cal, settings, date(2026, 10, 8), include_next=True) == [2027]  # on start
    (config_dir / "calendar").mkdir(exist_ok=True)
    (config_dir / "calendar" / "2027.toml").write_text("complete = true\nholidays = [2027-01-01]\n")
    assert unconfirmed_years(WorkCalendar.load(config_dir), settings, date(2026, 12, 7), include_next=True) == []


def test_lock_is_reentrant_within_a_process_and_released_by_the_last_holder(config_dir):
    settings = season(config_dir)
    with WriterLock(settings):
        with WriterLock(settings, wait=0):  # `run` holds it and the library it calls takes it again
            assert (settings.paths.data / PID_FILE).read_text().strip() == str(os.getpid())
        assert (settings.paths.data / PID_FILE).exists()
    assert not (settings.paths.data / PID_FILE).exists()


def test_service_log_file_setting_is_read_and_checked(config_dir):
    settings = season(config_dir)
    assert settings.service.log_file is None
    text = (config_dir / "settings.toml").read_text(encoding="utf-8")
    (config_dir / "settings.toml").write_text(text + '\n[service]\nlog_file = "logs/hrbot.log"\n', encoding="utf-8")
    assert load(config_dir).service.log_file == (config_dir / "logs" / "hrbot.log").resolve()
    (config_dir / "settings.toml").write_text(text + "\n[service]\nlog_backups = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="log_backups"):
        load(config_dir)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be caught on Windows")
def test_sigterm_stops_a_real_service_cleanly_and_a_second_start_is_refused(config_dir):
    settings = season(config_dir)
    text = (config_dir / "settings.toml").read_text(encoding="utf-8")
    (config_dir / "settings.toml").write_text(
        text + '\n[service]\nlog_file = "logs/hrbot.log"\nlock_wait_seconds = 1\n', encoding="utf-8")
    command = [sys.executable, "-m", "bot.cli", "--config", str(config_dir), "run"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid_file = settings.paths.data / PID_FILE
        deadline = time.monotonic() + 30
        while not pid_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting on a real process to start, not simulating time
        assert pid_file.exists(), proc.stderr.read() if proc.poll() is not None else "no pid file"

        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert f"进程号 {proc.pid}" in second.stderr

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert "SIGTERM received" in stderr and "hrbot stopped" in stderr
    assert not pid_file.exists()
    assert "hrbot run started" in (config_dir / "logs" / "hrbot.log").read_text(encoding="utf-8")


def test_service_poll_sends_only_when_mail_waits(config_dir, monkeypatch):
    settings = season(config_dir)
    service = Service(settings, clock=FakeClock(at("2026-09-30T11:00")))
    source = MaildirSource(settings.mailbox.path)
    sends = []
    send = service.send
    monkeypatch.setattr(service, "send", lambda now=None: (sends.append(now), send(now)))

    service.poll(source)
    assert sends == []  # nothing new and nothing waiting: the store is not opened a second time
    deliver(settings, at("2026-09-30T10:00"), build_message(
        LI, "李建国", HR, "班子述职报告", "请查收。", [("班子述职报告.docx", forms.fill_team_report(HC, "李建国"))]))
    service.poll(source)
    assert len(sends) == 1
    with Store.open(settings.paths.data) as store:
        [confirmation] = store.outbox()
        assert confirmation.kind == "confirmation" and confirmation.state != "queued"
        store.set_outbox_state(confirmation.id, "queued")  # as if its sending had been put off
    service.poll(source)
    assert len(sends) == 2  # what still waits is sent by the next poll, new mail or not
    service.poll(source)
    assert len(sends) == 2
