"""Real hrbot processes started together on one config: each message recorded once, each confirmation written once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import DEMO_ACCEPTED, DEMO_DELIVERIES, DEMO_OUTCOMES, set_option

from bot.lock import PID_FILE

REPO = Path(__file__).resolve().parent.parent
# The outbox files of confirmations (bot.out.outbox names them by kind): `run` may also write the
# day's reminders and summary, depending on the hour the test runs at.
CONFIRMATIONS = "*-confirmation-*.eml"


def start(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def hrbot(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def assert_the_season_recorded_once(settings) -> None:
    """The demo's deliveries logged once each, all its submissions accepted, one confirmation each."""
    done = hrbot(settings.config_dir, "log", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert len(entries) == DEMO_DELIVERIES  # the demo delivers one message twice: the second is logged as duplicate
    assert Counter(e["outcome"] for e in entries) == DEMO_OUTCOMES
    accepted = sorted(e["message_id"] for e in entries if e["outcome"] == "accepted")
    replies = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in settings.paths.outbox.glob(CONFIRMATIONS)]
    assert sorted(r["In-Reply-To"] for r in replies) == accepted
    assert [p for p in settings.config_dir.rglob("*.tmp")] == []


def holder_pid(settings) -> int | None:
    try:
        return int((settings.paths.data / PID_FILE).read_text())
    except (OSError, ValueError):
        return None


def assert_waited_or_refused(code: int, out: str, err: str) -> None:
    """A loser either waited its turn (and found nothing new) or refused in one line naming the holder."""
    if code == 0:
        assert err == "", err
        return
    assert code == 1, err
    assert len(err.splitlines()) == 1 and "进程号" in err, err


@pytest.mark.parametrize("count", [2, 5])
def test_lock_polls_started_together_record_each_message_once(demo_season, count):
    procs = [start(demo_season.config_dir, "poll", "--once") for _ in range(count)]
    results = [finish(p) for p in procs]
    assert_the_season_recorded_once(demo_season)
    winners = [r for r in results if r[0] == 0 and f"本次收取 {DEMO_DELIVERIES} 封" in r[1]]
    assert len(winners) == 1, results
    for result in results:
        if result not in winners:
            assert_waited_or_refused(*result)


def test_lock_second_writer_refuses_after_the_wait_naming_the_holder(demo_season):
    settings = set_option(demo_season, "service", "lock_wait_seconds = 0.5")
    holder = start(settings.config_dir, "run")
    try:
        pid_file = settings.paths.data / PID_FILE
        deadline = time.monotonic() + 60
        while not pid_file.exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting on a real process to start
        assert pid_file.exists(), holder.stderr.read() if holder.poll() is not None else "no pid file"
        for command in (["poll", "--once"], ["send"], ["remind"], ["kickoff"], ["poll"]):
            started = time.monotonic()
            refused = hrbot(settings.config_dir, *command)
            assert refused.returncode == 1, (command, refused.stderr)
            assert refused.stderr.count("\n") == 1, refused.stderr
            assert f"进程号 {holder.pid}" in refused.stderr and "等待 0.5 秒" in refused.stderr
            assert time.monotonic() - started < 30
        # Reading never waits, and a dry run writes nothing.
        for command in (["status"], ["log"], ["check"], ["remind", "--dry-run"], ["kickoff", "--dry-run"]):
            assert hrbot(settings.config_dir, *command).returncode == 0, command
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=30)
    assert holder.returncode == 0


def test_lock_run_poll_and_send_started_together_record_each_message_once(demo_season):
    settings = set_option(demo_season, "service", "lock_wait_seconds = 15")
    run = start(settings.config_dir, "run")
    poll, send = start(settings.config_dir, "poll", "--once"), start(settings.config_dir, "send")
    try:
        for proc in (poll, send):
            code, out, err = finish(proc)
            if code != 0:
                assert_waited_or_refused(code, out, err)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and run.poll() is None:
            entries = json.loads(hrbot(settings.config_dir, "log", "--json").stdout or "[]")
            if (len(entries) == DEMO_DELIVERIES and len(list(settings.paths.outbox.glob(CONFIRMATIONS))) == DEMO_ACCEPTED
                    and holder_pid(settings) == run.pid):  # and run got its turn (a SIGTERM then stops it cleanly)
                break
            time.sleep(0.5)
    finally:
        run.send_signal(signal.SIGTERM)
        code, _, err = finish(run)
    assert code == 0 or "进程号" in err.splitlines()[-1], err
    assert_the_season_recorded_once(settings)


def test_lock_held_by_a_killed_process_is_free_at_once(demo_season):
    settings = set_option(demo_season, "service", "lock_wait_seconds = 0")
    holder = start(settings.config_dir, "run")
    pid_file = settings.paths.data / PID_FILE
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    polled = hrbot(settings.config_dir, "poll", "--once")
    assert polled.returncode == 0, polled.stderr
