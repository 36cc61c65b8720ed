"""kill -9 at each injected point of a real `hrbot poll --once` / `hrbot tracker`, then a rerun: nothing lost, nothing twice."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import DEMO_DELIVERIES, at, deliver

from bot.crashpoints import ENV
from bot.demo import build_message
from parsers import forms

REPO = Path(__file__).resolve().parent.parent
HEAD = ("lijianguo@tengfei.example", "李建国")
HR = "hr@tengfei.example"
AS_OF = "2026-12-08"


def hrbot(config: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if crash_at:
        env[ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def season(settings):
    """A mailbox of five: three reports (accepted), a stranger's, and one whose .docx is broken (quarantined)."""
    def report(name, post, day):
        return f"{name}个人述职报告.docx", forms.fill_personal_report("合成车间", name, post, on=forms.date(2026, 12, day))

    broken = report("刘洋", "科级干部", 2)[1]
    with zipfile.ZipFile(io.BytesIO(broken)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["word/document.xml"] = b"<w:document><w:body>"
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    mails = [
        (HEAD, "2026-12-03T09:00", [report("王珺", "副职", 1)]),
        (("stranger@example.net", ""), "2026-12-03T09:10", [report("王珺", "副职", 1)]),
        (HEAD, "2026-12-03T09:20", [("刘洋个人述职报告.docx", rebuilt.getvalue())]),
        (HEAD, "2026-12-03T09:30", [report("刘洋", "科级干部", 3)]),
        (("zhanghaiyan@tengfei.example", "张海燕"), "2026-12-03T09:40", [report("张海燕", "党支部书记", 3)]),
    ]
    for n, (sender, when, attachments) in enumerate(mails):
        raw = build_message(sender[0], sender[1], HR, "述职报告", "请查收", attachments, sent=at(when),
                            message_id=f"<crash-{n}@tengfei.example>")
        deliver(settings, at(when), raw)
    return settings


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]


def assert_recorded_exactly_once(settings) -> None:
    done = hrbot(settings.config_dir, "log", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["message_id"] for e in entries] == [f"<crash-{n}@tengfei.example>" for n in range(5)]
    assert [e["outcome"] for e in entries] == ["accepted", "unknown_sender", "rejected", "accepted", "accepted"]
    accepted = {e["message_id"] for e in entries if e["outcome"] == "accepted"}
    replies = [message_from_bytes(p.read_bytes(), policy=policy.default)
               for p in settings.paths.outbox.glob("*.eml")]
    assert sorted(r["In-Reply-To"] for r in replies) == sorted(accepted)  # one confirmation each, no more
    kept = list((settings.paths.data / "quarantine").iterdir())
    assert [p.name.endswith(".eml") for p in kept] == [True]


@pytest.mark.parametrize("point", ["before_record", "after_record", "write_files", "write_files_renamed"])
def test_crash_during_poll_then_rerun_records_each_message_once(season, point):
    killed = hrbot(season.config_dir, "poll", "--once", crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = hrbot(season.config_dir, "poll", "--once")
    assert rerun.returncode == 0, rerun.stderr
    assert_recorded_exactly_once(season)
    assert temp_files(season.config_dir) == []
    again = hrbot(season.config_dir, "poll", "--once")  # and a third run changes nothing
    assert again.returncode == 0 and "无新邮件" in again.stdout
    assert_recorded_exactly_once(season)


def test_crash_point_before_record_leaves_nothing_recorded(season):
    killed = hrbot(season.config_dir, "poll", "--once", crash_at="before_record")
    assert killed.returncode == -signal.SIGKILL
    assert json.loads(hrbot(season.config_dir, "log", "--json").stdout) == []


def test_crash_point_write_files_leaves_a_temp_file_the_next_run_sweeps(season):
    killed = hrbot(season.config_dir, "poll", "--once", crash_at="write_files")
    assert killed.returncode == -signal.SIGKILL
    assert len(temp_files(season.paths.outbox)) == 1 and not list(season.paths.outbox.glob("*.eml"))
    assert hrbot(season.config_dir, "poll", "--once").returncode == 0
    assert temp_files(season.paths.outbox) == []


def test_crash_during_tracker_write_keeps_the_old_workbook_and_the_rerun_cleans_up(season):
    from openpyxl import load_workbook

    assert hrbot(season.config_dir, "poll", "--once").returncode == 0
    first = hrbot(season.config_dir, "tracker", "--as-of", AS_OF)
    assert first.returncode == 0, first.stderr
    workbook = Path(first.stdout.strip())
    before = workbook.read_bytes()

    killed = hrbot(season.config_dir, "tracker", "--as-of", AS_OF, crash_at="tracker_write")
    assert killed.returncode == -signal.SIGKILL
    assert workbook.read_bytes() == before  # the reader still sees the whole earlier workbook
    assert len(temp_files(season.paths.tracker)) == 1  # what the killed writer left

    rerun = hrbot(season.config_dir, "tracker", "--as-of", AS_OF)
    assert rerun.returncode == 0, rerun.stderr
    assert temp_files(season.paths.tracker) == []
    wb = load_workbook(workbook)
    assert {"总览", "明细", "邮件日志"} <= set(wb.sheetnames)
    assert wb["邮件日志"].max_row == 2 + 5  # the line naming the full log, header, one row per message


def test_crash_first_tracker_write_leaves_no_workbook_and_the_rerun_writes_one(season):
    from openpyxl import load_workbook

    assert hrbot(season.config_dir, "poll", "--once").returncode == 0
    killed = hrbot(season.config_dir, "tracker", "--as-of", AS_OF, crash_at="tracker_write")
    assert killed.returncode == -signal.SIGKILL
    assert not list(season.paths.tracker.glob("*.xlsx"))  # never half a workbook under the real name
    rerun = hrbot(season.config_dir, "tracker", "--as-of", AS_OF)
    assert rerun.returncode == 0
    load_workbook(Path(rerun.stdout.strip()))
    assert temp_files(season.paths.tracker) == []


# --- kill -9 at random moments of a long poll ----------------------------------------------


def big_season(config: Path, messages: list) -> None:
    """Six rounds of the demo's deliveries: the demo's own, then five more under new Message-IDs."""
    from bot.settings import load

    settings = load(config)
    for round_ in range(6):
        for when, raw in messages:
            copy = raw if round_ == 0 else raw.replace(b"Message-ID: <", f"Message-ID: <copy{round_}.".encode(), 1)
            deliver(settings, when + timedelta(days=round_), copy)


def outcome_of(config: Path) -> dict:
    """What a poll leaves that must not depend on how it was interrupted."""
    from bot.settings import load

    settings = load(config)
    done = hrbot(config, "log", "--json")
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    replies = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in settings.paths.outbox.glob("*.eml")]
    data = settings.paths.data
    return {
        "log": entries,
        "confirmations": sorted(str(r["In-Reply-To"]) for r in replies),
        "files": sorted(p.name for p in (data / "files").rglob("*") if p.is_file()),
        "quarantine": sorted(p.name for p in (data / "quarantine").glob("*")) if (data / "quarantine").exists() else [],
        "temp files": [p.name for p in config.rglob("*.tmp")],
    }


def test_crash_kill_9_at_random_moments_of_a_long_poll_then_a_clean_poll_is_an_uninterrupted_run(tmp_path):
    from bot.demo import sample_messages
    from bot.season.roster import load_roster
    from bot.settings import EXAMPLE_CONFIG

    messages = sample_messages(load_roster(EXAMPLE_CONFIG), HR)  # made once: a .docx carries its making time
    pristine = tmp_path / "pristine" / "config"
    pristine.mkdir(parents=True)
    for file in ("settings.toml", "units.csv", "people.csv"):
        shutil.copy(EXAMPLE_CONFIG / file, pristine / file)
    for sub in ("new", "cur", "tmp"):
        (pristine / "mail" / "inbox" / sub).mkdir(parents=True)
    big_season(pristine, messages)

    straight = shutil.copytree(pristine, tmp_path / "straight" / "config")
    started = time.monotonic()
    done = hrbot(straight, "poll", "--once")
    took = time.monotonic() - started
    assert done.returncode == 0 and f"本次收取 {6 * DEMO_DELIVERIES} 封" in done.stdout, done.stderr
    expected = outcome_of(straight)

    seed = int(time.time())
    chance = random.Random(seed)
    midway = 0
    for trial in range(10):  # each on a fresh copy: killed at a random moment, then one clean poll
        config = shutil.copytree(pristine, tmp_path / f"killed-{trial}" / "config")
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "poll", "--once"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            proc.wait(timeout=chance.uniform(0.2, took))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (seed, err)
        recorded = len(json.loads(hrbot(config, "log", "--json").stdout))
        midway += 0 < recorded < 6 * DEMO_DELIVERIES
        clean = hrbot(config, "poll", "--once")
        assert clean.returncode == 0, (seed, clean.stderr)
        assert outcome_of(config) == expected, f"seed {seed}, trial {trial}"
    assert midway >= 3, f"seed {seed}: only {midway} of 10 runs were killed with part of the mail recorded"
