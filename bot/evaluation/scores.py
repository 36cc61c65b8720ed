"""HR's own scores: 日常考核.xlsx in the config folder (单位, 姓名, 日常考核成绩, 业绩指标成绩)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError
from bot.records import Roster

FILE = "日常考核.xlsx"
UNIT, NAME, DAILY, PERFORMANCE = "单位", "姓名", "日常考核成绩", "业绩指标成绩"


@dataclass(frozen=True)
class Scores:
    daily: float | None
    performance: float | None


def load_scores(config_dir: Path, roster: Roster) -> dict[tuple[str, str], Scores]:
    """(unit, name) -> the scores HR supplied; a blank cell stays None (missing, never 0). No file: no scores."""
    from openpyxl import load_workbook

    path = Path(config_dir) / FILE
    if not path.exists():
        return {}
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl reports a non-xlsx file through many unrelated exception types
        raise ConfigError(path, f"无法打开工作簿（{type(e).__name__}），请用 Excel 另存为 .xlsx 格式") from None
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    header = next((n for n, cells in enumerate(rows) if any(c is not None for c in cells)), None)
    if header is None:
        return {}
    names = ["".join(str(c or "").split()) for c in rows[header]]
    for column in (UNIT, NAME, DAILY, PERFORMANCE):
        if column not in names:
            raise ConfigError(path, f"缺少列“{column}”（应为：{UNIT},{NAME},{DAILY},{PERFORMANCE}）", header + 1)
    at = {c: names.index(c) for c in (UNIT, NAME, DAILY, PERFORMANCE)}
    known = {(p.unit, p.name) for p in roster.people}
    scores: dict[tuple[str, str], Scores] = {}
    for number, cells in enumerate(rows[header + 1:], header + 2):
        cells = tuple(cells) + (None,) * (len(names) - len(cells))
        unit, name = ("".join(str(cells[at[c]] or "").split()) for c in (UNIT, NAME))
        if not unit and not name:
            continue
        if (unit, name) not in known:
            raise ConfigError(path, f"“{unit} {name}”不在名单中，请核对单位和姓名", number)
        scores[(unit, name)] = Scores(_score(path, number, cells[at[DAILY]], DAILY),
                                      _score(path, number, cells[at[PERFORMANCE]], PERFORMANCE))
    return scores


def _score(path: Path, row: int, value: object, column: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(path, f"{column}“{value}”不是数字（未评分请留空）", row) from None
