"""WorkCalendar: the library's 2026 calendar, override files, and the provisional flag for unknown years."""

from datetime import date
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.season.workdays import WorkCalendar


def write_override(config_dir: Path, year: int, text: str) -> Path:
    folder = config_dir / "calendar"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{year}.toml"
    file.write_text(text, encoding="utf-8")
    return file


def test_is_workday_2026_national_day_and_makeup_saturday():
    cal = WorkCalendar()
    assert not cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 7))
    assert cal.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert not cal.is_workday(date(2026, 12, 12))  # ordinary Saturday
    assert cal.is_workday(date(2026, 12, 14))


def test_is_known_library_years_only_without_overrides():
    cal = WorkCalendar()
    assert cal.is_known(2026)
    assert cal.is_known(2004)
    assert not cal.is_known(2027)
    assert not cal.is_known(2003)


def test_shift_zero_returns_same_day():
    assert WorkCalendar().shift(date(2026, 12, 12), 0) == (date(2026, 12, 12), False)


def test_shift_back_over_national_day():
    assert WorkCalendar().shift(date(2026, 10, 9), -3) == (date(2026, 9, 29), False)


def test_shift_forward_counts_makeup_saturday():
    assert WorkCalendar().shift(date(2026, 10, 9), 3) == (date(2026, 10, 13), False)


def test_shift_into_unknown_year_is_provisional():
    day, provisional = WorkCalendar().shift(date(2026, 12, 30), 3)
    assert provisional
    assert day == date(2027, 1, 4)  # weekends only: Thu 31, Fri 1, Mon 4


def test_shift_staying_in_known_year_near_unknown_one_is_not_provisional():
    assert WorkCalendar().shift(date(2027, 1, 4), 0) == (date(2027, 1, 4), False)
    assert WorkCalendar().shift(date(2026, 12, 31), -1)[1] is False


def test_workdays_after_counts_half_open_interval():
    cal = WorkCalendar()
    assert cal.workdays_after(date(2026, 12, 4), date(2026, 12, 7)) == (1, False)  # Fri -> Mon
    assert cal.workdays_after(date(2026, 12, 7), date(2026, 12, 7)) == (0, False)
    assert cal.workdays_after(date(2026, 12, 8), date(2026, 12, 7)) == (0, False)
    assert cal.workdays_after(date(2026, 9, 30), date(2026, 10, 10)) == (3, False)  # Oct 8, 9 and make-up Sat Oct 10


def test_workdays_after_into_unknown_year_is_provisional():
    assert WorkCalendar().workdays_after(date(2026, 12, 30), date(2027, 1, 5)) == (4, True)


def test_load_without_calendar_folder_uses_library(tmp_path):
    cal = WorkCalendar.load(tmp_path)
    assert cal.is_known(2026) and not cal.is_known(2027)


def test_load_complete_override_makes_year_known_and_wins(tmp_path):
    write_override(
        tmp_path,
        2027,
        "complete = true\nholidays = [2027-01-01, 2027-02-10]\nworkdays = [2027-02-07]\n",
    )
    cal = WorkCalendar.load(tmp_path)
    assert cal.is_known(2027)
    assert not cal.is_workday(date(2027, 2, 10))  # a Wednesday, listed off
    assert cal.is_workday(date(2027, 2, 7))  # a Sunday, listed on
    assert cal.is_workday(date(2027, 2, 11))  # not listed: weekday rule


def test_load_partial_override_stays_provisional(tmp_path):
    write_override(tmp_path, 2027, 'holidays = ["2027-01-01"]\n')
    cal = WorkCalendar.load(tmp_path)
    assert not cal.is_known(2027)
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.shift(date(2026, 12, 31), 1) == (date(2027, 1, 4), True)


def test_load_override_wins_over_library(tmp_path):
    write_override(tmp_path, 2026, "workdays = [2026-12-12]\n")
    assert WorkCalendar.load(tmp_path).is_workday(date(2026, 12, 12))


def test_load_ignores_non_toml_files(tmp_path):
    (tmp_path / "calendar").mkdir()
    (tmp_path / "calendar" / "README.md").write_text("说明", encoding="utf-8")
    assert WorkCalendar.load(tmp_path).is_known(2026)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("complete = true\nholidays = [2027-01-01,\n", None, "格式错误"),
        ('complete = "yes"\n', 1, "complete"),
        ("complete = true\nholiday = [2027-01-01]\n", 2, "holiday"),
        ('holidays = ["2027-13-01"]\n', 1, "不是日期"),
        ("holidays = [2027-01-01T08:00:00]\n", 1, "不是日期"),
        ("holidays = 2027-01-01\n", 1, "日期列表"),
        ("complete = true\nholidays = [\n  2027-01-01,\n  2026-12-31,\n]\n", 4, "不属于 2027 年"),
        ("holidays = [2027-02-07]\nworkdays = [2027-02-07]\n", 2, "同时列在"),
    ],
)
def test_load_broken_override_raises_config_error_naming_file(tmp_path, text, line, words):
    file = write_override(tmp_path, 2027, text)
    with pytest.raises(ConfigError) as caught:
        WorkCalendar.load(tmp_path)
    assert str(file) in str(caught.value)
    assert words in str(caught.value)
    if line is not None:
        assert caught.value.row == line


def test_load_bad_file_name_raises_config_error(tmp_path):
    folder = tmp_path / "calendar"
    folder.mkdir()
    (folder / "next-year.toml").write_text("complete = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="next-year.toml"):
        WorkCalendar.load(tmp_path)


def test_load_non_utf8_file_raises_config_error(tmp_path):
    folder = tmp_path / "calendar"
    folder.mkdir()
    (folder / "2027.toml").write_bytes("# 假日\ncomplete = true\n".encode("gbk"))
    with pytest.raises(ConfigError, match="UTF-8"):
        WorkCalendar.load(tmp_path)
