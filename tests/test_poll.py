"""The poll's reading of the roster and calendar: checked whenever they change, otherwise only for mail."""

from __future__ import annotations

import pytest
from conftest import at, deliver

import bot.poll
from bot.demo import build_message
from bot.errors import ConfigError
from bot.poll import SeasonFiles, poll_once

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
