"""China's working days: the one module that knows which days are on, from chinese_calendar plus HR's override files."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import read_toml

CALENDAR_DIR = "calendar"
_KEYS = ("complete", "holidays", "workdays")
_ONE_DAY = timedelta(days=1)


class WorkCalendar:
    """Working days as the library and the override files say; every answer is cached, nothing is read after load."""

    def __init__(self, overrides: dict[date, bool] | None = None, complete_years: frozenset[int] = frozenset()):
        # date -> True for a make-up working day (调休), False for a day off; wins over the library.
        self._overrides = dict(overrides or {})
        self._complete_years = frozenset(complete_years)
        self._days: dict[date, bool] = {}
        self._years: dict[int, bool] = {}
        self._shifts: dict[tuple[date, int], tuple[date, bool]] = {}
        self._counts: dict[tuple[date, date], tuple[int, bool]] = {}

    @classmethod
    def load(cls, config_dir: Path | str) -> WorkCalendar:
        """Read every <config_dir>/calendar/<year>.toml; a mistake raises ConfigError naming file and line."""
        folder = Path(config_dir) / CALENDAR_DIR
        overrides: dict[date, bool] = {}
        complete: set[int] = set()
        if folder.is_dir():
            for file in sorted(folder.glob("*.toml")):
                year, is_complete, days = _read_override(file)
                overrides.update(days)
                if is_complete:
                    complete.add(year)
        return cls(overrides, frozenset(complete))

    def is_known(self, year: int) -> bool:
        """Whether the official calendar of `year` is known (library or a complete override file)."""
        known = self._years.get(year)
        if known is None:
            known = year in self._complete_years or _library_covers(year)
            self._years[year] = known
        return known

    def is_workday(self, d: date) -> bool:
        """Whether `d` is a working day; for an unknown year, weekends plus whatever the override lists."""
        on = self._days.get(d)
        if on is None:
            on = self._overrides.get(d)
            if on is None:
                try:
                    on = _library().is_workday(d)
                except NotImplementedError:
                    # Unknown year: the caller learns this through the provisional flag, never silently.
                    on = d.weekday() < 5
            self._days[d] = on
        return on

    def shift(self, d: date, n: int) -> tuple[date, bool]:
        """The n-th working day after d (n > 0) or before it (n < 0); True when a day examined is in an unknown year."""
        key = (d, n)
        cached = self._shifts.get(key)
        if cached is not None:
            return cached
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        left, day, provisional = abs(n), d, False
        while left:
            day += step
            provisional = provisional or not self.is_known(day.year)
            if self.is_workday(day):
                left -= 1
        self._shifts[key] = (day, provisional)
        return day, provisional

    def workdays_after(self, start: date, end: date) -> tuple[int, bool]:
        """Working days in (start, end], 0 when end <= start; True when a day counted through is in an unknown year."""
        key = (start, end)
        cached = self._counts.get(key)
        if cached is not None:
            return cached
        count, day, provisional = 0, start, False
        while day < end:
            day += _ONE_DAY
            provisional = provisional or not self.is_known(day.year)
            count += self.is_workday(day)
        self._counts[key] = (count, provisional)
        return count, provisional


def _library():
    """chinese_calendar, imported at the first day asked about: a poll with nothing new asks none."""
    import chinese_calendar

    return chinese_calendar


def _library_covers(year: int) -> bool:
    try:
        _library().is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _read_override(file: Path) -> tuple[int, bool, dict[date, bool]]:
    """One override file: (year, complete, {day: is_workday})."""
    if not re.fullmatch(r"\d{4}", file.stem):
        raise ConfigError(file, "文件名应为四位年份，例如 2027.toml")
    year = int(file.stem)
    text, doc = read_toml(file)
    lines = text.splitlines()

    def line_of(key: str, value: str | None = None) -> int | None:
        """The line of `key =`, or of the first line after it that mentions `value`."""
        start = next((i for i, line in enumerate(lines) if re.match(rf"\s*{key}\s*=", line)), None)
        if start is None:
            return None
        if value is not None:
            for i in range(start, len(lines)):
                if value in lines[i]:
                    return i + 1
        return start + 1

    for key in doc:
        if key not in _KEYS:
            raise ConfigError(file, f"未知的设置项“{key}”，只能写 complete、holidays、workdays", line_of(key))
    complete = doc.get("complete", False)
    if not isinstance(complete, bool):
        raise ConfigError(file, "complete 应是 true 或 false", line_of("complete"))

    days: dict[date, bool] = {}
    for key, on in (("holidays", False), ("workdays", True)):
        values = doc.get(key, [])
        if not isinstance(values, list):
            raise ConfigError(file, f"{key} 应是日期列表，例如 [{year}-01-01, {year}-02-10]", line_of(key))
        for value in values:
            day = _as_date(value)
            if day is None:
                raise ConfigError(
                    file, f"{key} 中的“{value}”不是日期，应写成 {year}-01-01 这样的格式", line_of(key, str(value))
                )
            if day.year != year:
                raise ConfigError(file, f"{key} 中的 {day} 不属于 {year} 年（本文件只管 {year} 年）", line_of(key, str(day)))
            if days.get(day, on) != on:
                raise ConfigError(file, f"{day} 同时列在 holidays 和 workdays 中，请只保留一处", line_of(key, str(day)))
            days[day] = on
    return year, complete, days


def _as_date(value: object) -> date | None:
    # A TOML date is the documented form; a quoted "2027-01-01" is accepted too, since HR may type it so.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return None
