"""The store checked when changed outside hrbot, refused when damaged, and backed up and restored."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import DEMO_DELIVERIES, SHANGHAI

from bot.backup import BACKUP_DIR, DAILY_PREFIX, KEEP_DAILY, backup, daily_backup
from bot.poll import poll_once
from bot.store import STORE_FILE, Store, StoreDamaged

REPO = Path(__file__).resolve().parent.parent


def hrbot(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def damage(store_file: Path) -> None:
    """Overwrite 4 KB in the middle of the SQLite file, as a bad sector or a stray write would."""
    size = store_file.stat().st_size
    with open(store_file, "r+b") as f:
        f.seek(size // 2)
        f.write(random.Random(16).randbytes(4096))


@pytest.fixture
def polled(demo_season):
    done = hrbot(demo_season.config_dir, "poll", "--once")
    assert done.returncode == 0, done.stderr
    return demo_season


def test_store_damaged_is_refused_by_poll_and_check_naming_the_file(polled):
    store_file = polled.paths.data / STORE_FILE
    damage(store_file)
    for command in (["poll", "--once"], ["check"], ["send"], ["status"], ["remind"]):
        done = hrbot(polled.config_dir, *command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        said = done.stderr + (done.stdout if command == ["check"] else "")
        line = next(line for line in said.splitlines() if "已损坏" in line)
        assert str(store_file) in line and "Restoring a backup" in line
        if command != ["check"]:
            assert done.stderr.count("\n") == 1, done.stderr
    assert "✗ 数据库" in hrbot(polled.config_dir, "check").stdout


def test_store_backup_restores_to_a_working_season(polled):
    before = hrbot(polled.config_dir, "log", "--json").stdout
    made = hrbot(polled.config_dir, "backup")
    assert made.returncode == 0, made.stderr
    copy = Path(made.stdout.strip())
    assert copy.parent == polled.paths.data / BACKUP_DIR and copy.is_file()

    store_file = polled.paths.data / STORE_FILE
    damage(store_file)
    assert hrbot(polled.config_dir, "poll", "--once").returncode == 1
    # The README's steps: stop hrbot, put the copy in place of the store (without its -wal/-shm), poll.
    for leftover in (store_file.with_name(STORE_FILE + "-wal"), store_file.with_name(STORE_FILE + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(copy, store_file)
    again = hrbot(polled.config_dir, "poll", "--once")
    assert again.returncode == 0 and "无新邮件" in again.stdout, again.stderr
    assert hrbot(polled.config_dir, "log", "--json").stdout == before
    assert hrbot(polled.config_dir, "check").returncode == 0
    status = hrbot(polled.config_dir, "status", "--as-of", "2026-12-17", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)


def test_store_backup_to_a_file_refuses_a_damaged_store(polled, tmp_path):
    damage(polled.paths.data / STORE_FILE)
    done = hrbot(polled.config_dir, "backup", "--to", str(tmp_path / "copy.sqlite3"))
    assert done.returncode == 1 and "已损坏" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "copy.sqlite3").exists()


def test_store_quick_check_only_when_changed_outside_hrbot(demo_season, caplog):
    def checks() -> int:
        return sum("(quick_check)" in r.getMessage() for r in caplog.records)

    poll_once(demo_season)
    with caplog.at_level(logging.INFO, logger="bot.store"):
        poll_once(demo_season)  # an idle poll of a store as hrbot left it: no check
        assert checks() == 0
        store_file = demo_season.paths.data / STORE_FILE
        os.utime(store_file, ns=(store_file.stat().st_atime_ns, store_file.stat().st_mtime_ns + 10**9))
        poll_once(demo_season)  # touched by something else: checked once
        assert checks() == 1
        poll_once(demo_season)
        assert checks() == 1


def test_store_daily_backup_keeps_the_last_seven(demo_season):
    poll_once(demo_season)
    start = datetime(2026, 12, 1, 7, 0, tzinfo=SHANGHAI)
    for day in range(10):
        assert daily_backup(demo_season, start + timedelta(days=day)) is not None
        assert daily_backup(demo_season, start + timedelta(days=day, hours=3)) is None  # once a day
    folder = demo_season.paths.data / BACKUP_DIR
    kept = sorted(p.name for p in folder.glob(f"{DAILY_PREFIX}*"))
    assert kept == [f"{DAILY_PREFIX}2026-12-{d:02d}.sqlite3" for d in range(4, 11)] and len(kept) == KEEP_DAILY
    manual = backup(demo_season)
    assert manual.parent == folder and manual.name not in kept
    restored = demo_season.paths.data / "restored"
    restored.mkdir()
    shutil.copy(folder / kept[-1], restored / STORE_FILE)
    with Store.open(restored, verify=True) as store:
        assert len(store.log()) == DEMO_DELIVERIES


def test_store_damaged_stops_run_with_one_line(polled):
    damage(polled.paths.data / STORE_FILE)
    done = hrbot(polled.config_dir, "run")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "已损坏" in done.stderr


def test_store_damage_found_by_verify_is_a_store_error(polled):
    damage(polled.paths.data / STORE_FILE)
    with pytest.raises(StoreDamaged, match="已损坏"):
        Store.open(polled.paths.data, verify=True)
