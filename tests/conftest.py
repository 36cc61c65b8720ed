"""Shared fixtures: a season config in a temp folder (the example config), with an empty Maildir."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import imap_server
import pytest

from bot.settings import EXAMPLE_CONFIG, Settings, load

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """A copy of the example config whose mail, data, outbox and tracker live in tmp_path."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("settings.toml", "units.csv", "people.csv"):
        shutil.copy(EXAMPLE_CONFIG / name, config / name)
    for sub in ("new", "cur", "tmp"):
        (config / "mail" / "inbox" / sub).mkdir(parents=True)
    return config


@pytest.fixture
def settings(config_dir) -> Settings:
    return load(config_dir)


def deliver(settings: Settings, when: datetime, raw: bytes, name: str | None = None) -> Path:
    """Put one message into the Maildir as a delivery at `when` (the file name carries the time)."""
    seconds = int(when.timestamp())
    folder = settings.mailbox.path / "new"
    existing = len(list(folder.iterdir())) + len(list((settings.mailbox.path / "cur").iterdir()))
    path = folder / (name or f"{seconds}.M{existing}P1.test")
    path.write_bytes(raw)
    return path


def at(text: str) -> datetime:
    """A moment in the plant's zone, written 2026-12-07T23:59."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# What a poll makes of the demo's deliveries: one message comes twice (the second is a duplicate).
DEMO_OUTCOMES = {"accepted": 15, "auto_reply": 1, "bounce": 1, "duplicate": 1, "no_documents": 1, "unknown_sender": 1}
DEMO_DELIVERIES = sum(DEMO_OUTCOMES.values())
DEMO_ACCEPTED = DEMO_OUTCOMES["accepted"]


@pytest.fixture
def demo_season(settings) -> Settings:
    """The demo's deliveries (DEMO_OUTCOMES) in the test config's Maildir, not yet polled."""
    from bot.demo import sample_messages
    from bot.season.roster import load_roster

    for when, raw in sample_messages(load_roster(settings.config_dir), settings.hr.address):
        deliver(settings, when, raw)
    return settings


def set_option(settings: Settings, section: str, text: str) -> Settings:
    """Append `text` (key = value lines) as a [section] of the test config's settings.toml; the settings re-read."""
    file = settings.config_dir / "settings.toml"
    file.write_text(file.read_text(encoding="utf-8") + f"\n[{section}]\n{text}\n", encoding="utf-8")
    return load(settings.config_dir)


@pytest.fixture
def dovecot(tmp_path):
    """A real dovecot on 127.0.0.1 for the test (tests/imap_server.py)."""
    if not imap_server.available():
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd; .ci/run does it)")
    with imap_server.run_dovecot(tmp_path) as server:
        yield server


def use_imap(config_dir: Path, dovecot, monkeypatch) -> Settings:
    """The test config's [mailbox] switched from the Maildir to the dovecot; the settings re-read."""
    monkeypatch.setenv("HRBOT_TEST_IMAP_PASSWORD", dovecot.password)
    text = (config_dir / "settings.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "maildir"', (
        f'kind = "imap"\nhost = "{dovecot.host}"\nport = {dovecot.port}\nsecurity = "none"\n'
        f'username = "{dovecot.user}"\npassword_env = "HRBOT_TEST_IMAP_PASSWORD"\ntimeout = 10'), 1)
    (config_dir / "settings.toml").write_text(text, encoding="utf-8")
    return load(config_dir)
