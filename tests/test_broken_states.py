"""Every command against a full disk, a read-only data folder and a damaged store: one line on stderr, no traceback.

The full disk and the read-only folder are a small tmpfs mounted for the test (root only, Linux);
where mounting is not allowed those cases are skipped with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import DEMO_ACCEPTED, DEMO_DELIVERIES, set_option

from bot.store import STORE_FILE

REPO = Path(__file__).resolve().parent.parent

# (command, may it succeed in that state?) — the writers must fail; readers may still answer.
COMMANDS = [
    ("poll --once", False), ("send", False), ("remind --as-of 2026-12-08", False), ("kickoff", False),
    ("tracker --as-of 2026-12-08", False), ("backup", False), ("status --as-of 2026-12-08", True), ("log", True),
    ("check", True), ("calendar due --meeting 2026-12-10", True), ("forms --dir {data}/forms", False),
    ("run", False), ("poll", False),
]


def hrbot(config: Path, command: str, data: Path) -> subprocess.CompletedProcess:
    args = command.format(data=data).split()
    return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@contextmanager
def tmpfs(where: Path, size: str):
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'}): full-disk and "
                    "read-only cases need one")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> None:
    """Take every free byte of the file system under `folder` (big blocks, then the last small ones)."""
    for name, block in (("filler", 65536), ("filler-small", 512)):
        try:
            with open(folder / name, "wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * block)
        except OSError:
            pass


@pytest.fixture
def on_tmpfs(demo_season, tmp_path):
    """The demo season with its data, outbox and tracker on a 16 MB tmpfs; the store made by an empty poll."""
    mount = tmp_path / "disk"
    with tmpfs(mount, "16m"):
        config = demo_season.config_dir
        text = (config / "settings.toml").read_text(encoding="utf-8")
        text = text.replace('data = "data"', f'data = "{mount}/data"').replace(
            'outbox = "outbox"', f'outbox = "{mount}/outbox"').replace('tracker = "tracker"', f'tracker = "{mount}/tracker"')
        (config / "settings.toml").write_text(text, encoding="utf-8")
        settings = set_option(demo_season, "service", "lock_wait_seconds = 1")
        yield settings, mount


def assert_one_line(done: subprocess.CompletedProcess, command: str, may_succeed: bool) -> None:
    assert "Traceback" not in done.stderr + done.stdout, (command, done.stderr)
    if done.returncode == 0:
        assert may_succeed, (command, done.stdout, done.stderr)
        return
    assert done.returncode == 1, (command, done.returncode, done.stderr)
    if command == "check":  # check reports on stdout, one ✓/✗ line per thing checked
        assert done.stderr == "" and "\n✗ " in "\n" + done.stdout, done.stdout
        return
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("hrbot: "), (command, done.stderr)


def test_broken_full_disk_every_command_says_one_line_and_the_mail_waits(on_tmpfs):
    settings, mount = on_tmpfs
    inbox = settings.mailbox.path
    held = inbox.parent / "held"
    shutil.move(inbox, held)
    for sub in ("new", "cur"):
        (inbox / sub).mkdir(parents=True)
    assert hrbot(settings.config_dir, "poll --once", mount).returncode == 0  # the store exists, empty
    shutil.rmtree(inbox)
    shutil.move(held, inbox)
    fill(mount)

    for command, may_succeed in COMMANDS:
        if command in ("run", "poll"):
            continue  # the services keep going on a full disk, logging each failed poll (test_service)
        assert_one_line(hrbot(settings.config_dir, command, mount), command, may_succeed)
    assert list(mount.rglob("*.tmp")) == []

    for filler in mount.glob("filler*"):
        filler.unlink()
    done = hrbot(settings.config_dir, "poll --once", mount)
    assert done.returncode == 0, done.stderr
    entries = json.loads(hrbot(settings.config_dir, "log --json", mount).stdout)
    # Nothing the full disk met became a verdict: every submission is accepted once.
    assert Counter(e["outcome"] for e in entries)["accepted"] == DEMO_ACCEPTED and len(entries) == DEMO_DELIVERIES


def test_broken_read_only_data_folder_every_command_says_one_line(on_tmpfs):
    settings, mount = on_tmpfs
    assert hrbot(settings.config_dir, "poll --once", mount).returncode == 0
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, text=True)
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only: {remounted.stderr.strip()}")
    for command, may_succeed in COMMANDS:
        assert_one_line(hrbot(settings.config_dir, command, mount), command, may_succeed)


def test_broken_damaged_store_every_command_says_one_line(polled_demo):
    settings = polled_demo
    store_file = settings.paths.data / STORE_FILE
    size = store_file.stat().st_size
    with open(store_file, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xa5" * 4096)
    for command, may_succeed in COMMANDS:
        done = hrbot(settings.config_dir, command, settings.paths.data)
        unaffected = command.startswith(("calendar", "forms"))  # they never open the store
        assert_one_line(done, command, may_succeed=unaffected)
        if not unaffected:
            assert "已损坏" in done.stderr + done.stdout, (command, done.stderr)


@pytest.fixture
def polled_demo(demo_season):
    settings = set_option(demo_season, "service", "lock_wait_seconds = 1")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(settings.config_dir), "poll", "--once"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return settings
