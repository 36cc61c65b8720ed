"""The 民主测评 tally sheet: its layout, and reading a returned one into checked counts."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from bot.records import CADRE_LEVELS, CHANNEL_TITLES, TEAM_LEVELS, Roster
from parsers.errors import UnreadableDocument
from parsers.caps import check_workbook_sizes

# The layout hrbot writes (bot.evaluation.sheets) and reads back here.
SHEET = "测评统计"
MARKER_SHEET = "hrbot"  # hidden; carries what the sheet is for, whatever the counting team does to the visible one
MARKER = "hrbot-ballot-tally"
TITLE_ROW, WHAT_ROW, COUNT_ROW = 1, 2, 3  # the title; 单位 and 测评渠道; 应到人数, 实到人数 and 废票
UNIT_LABEL, SYSTEM_LABEL, CHANNEL_LABEL = "单位", "系统", "测评渠道"
EXPECTED_LABEL, ATTENDED_LABEL, INVALID_LABEL = "应到人数", "实到人数", "废票"
HEADER = ("单位", "姓名", "职务")  # then the four levels
TEAM_NAME = "领导班子"  # the staff ballot's team row
FIRST_LEVEL_COLUMN = len(HEADER) + 1
MAX_ROWS = 500


@dataclass
class TallyRow:
    row: int  # as the spreadsheet shows it
    unit: str
    name: str  # TEAM_NAME for the team
    counts: dict[str, int]  # level -> count


@dataclass
class TallySheet:
    channel: str
    unit: str | None  # None for a system's peer review, which spans units
    system: str | None
    expected: int | None  # 应到人数; None when left blank
    attended: int  # 实到人数
    invalid: int  # 废票
    team: TallyRow | None = None
    people: list[TallyRow] = field(default_factory=list)


class TallyRefused(Exception):
    """A tally sheet that cannot count; str() names the row and the problem in HR's words."""

    def __init__(self, problem: str, row: int | None = None):
        self.row = row
        super().__init__(f"第 {row} 行：{problem}" if row is not None else problem)


def read_tally(data: bytes, roster: Roster) -> TallySheet | None:
    """The counts of a returned tally sheet; None if the workbook is not one. TallyRefused when it cannot count."""
    import openpyxl

    check_workbook_sizes(data)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises assorted errors on broken files
        raise UnreadableDocument("Excel 文件已损坏，无法读取") from error
    try:
        marker = _marker(book)
        if marker is None or SHEET not in book.sheetnames:
            return None
        rows = list(book[SHEET].iter_rows(max_row=MAX_ROWS, max_col=FIRST_LEVEL_COLUMN + 3, values_only=True))
    finally:
        book.close()
    sheet = _parse(marker, rows)
    _check(sheet, roster)
    return sheet


def is_tally(data: bytes) -> bool:
    """Whether a workbook carries the tally sheet's marker (cheap: the marker sheet only)."""
    import openpyxl

    try:
        check_workbook_sizes(data)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - not a readable workbook, so not a tally sheet either
        return False
    try:
        return _marker(book) is not None
    finally:
        book.close()


def _marker(book) -> dict[str, str] | None:
    if MARKER_SHEET not in book.sheetnames:
        return None
    cells = {str(k): str(v) if v is not None else "" for k, v, *_ in
             book[MARKER_SHEET].iter_rows(max_row=10, max_col=2, values_only=True) if k is not None}
    if cells.get("kind") != MARKER or cells.get("channel") not in CHANNEL_TITLES:
        return None
    return cells


def _parse(marker: dict[str, str], rows: list[tuple]) -> TallySheet:
    counts_row = rows[COUNT_ROW - 1] if len(rows) >= COUNT_ROW else ()
    values = dict(zip(counts_row[0::2], counts_row[1::2]))
    expected = _count(values.get(EXPECTED_LABEL), COUNT_ROW, EXPECTED_LABEL, blank=None)
    attended = _count(values.get(ATTENDED_LABEL), COUNT_ROW, ATTENDED_LABEL, blank=None)
    if attended is None:
        raise TallyRefused(f"{ATTENDED_LABEL}未填写", COUNT_ROW)
    sheet = TallySheet(
        channel=marker["channel"], unit=marker.get("unit") or None, system=marker.get("system") or None,
        expected=expected, attended=attended, invalid=_count(values.get(INVALID_LABEL), COUNT_ROW, INVALID_LABEL),
    )
    levels = None
    for number, cells in enumerate(rows[COUNT_ROW:], COUNT_ROW + 1):
        cells = tuple(cells) + (None,) * (FIRST_LEVEL_COLUMN + 3 - len(cells))
        head = tuple(_text(c) for c in cells[FIRST_LEVEL_COLUMN - 1:])
        if head in (TEAM_LEVELS, CADRE_LEVELS):
            levels = head
            continue
        unit, name = _squeeze(cells[0]), _squeeze(cells[1])
        if levels is None or not name:
            continue
        counts = {level: _count(cells[FIRST_LEVEL_COLUMN - 1 + i], number, f"{name}的“{level}”票数")
                  for i, level in enumerate(levels)}
        row = TallyRow(number, unit, name, counts)
        if levels == TEAM_LEVELS:
            sheet.team = row
        else:
            sheet.people.append(row)
    return sheet


def _check(sheet: TallySheet, roster: Roster) -> None:
    if sheet.expected is not None and sheet.attended > sheet.expected:
        raise TallyRefused(f"{ATTENDED_LABEL} {sheet.attended} 多于{EXPECTED_LABEL} {sheet.expected}", COUNT_ROW)
    if sheet.unit is not None and sheet.unit not in roster.units:
        raise TallyRefused(f"单位“{sheet.unit}”不在名单中")
    names = {(p.unit, p.name) for p in roster.people}
    for row in [sheet.team] * (sheet.team is not None) + sheet.people:
        if row is not sheet.team and (row.unit, row.name) not in names:
            raise TallyRefused(f"“{row.unit} {row.name}”不在名单中，请核对姓名和单位", row.row)
        total = sum(row.counts.values())
        if total > sheet.attended:
            raise TallyRefused(f"{row.name}的票数合计 {total} 多于{ATTENDED_LABEL} {sheet.attended}", row.row)


def _count(value: object, row: int, what: str, blank: int | None = 0) -> int | None:
    """A whole number ≥ 0 from a cell; a blank cell is `blank`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return blank
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit():
            raise TallyRefused(f"{what}“{text}”不是整数", row)
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TallyRefused(f"{what}“{value}”不是整数", row)
    if value != int(value):
        raise TallyRefused(f"{what}“{value}”不是整数，票数只能是 0 或正整数", row)
    if value < 0:
        raise TallyRefused(f"{what}“{int(value)}”是负数，票数只能是 0 或正整数", row)
    return int(value)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _squeeze(value: object) -> str:
    return "".join(_text(value).split())
