"""`hrbot tally-sheets`: per unit and channel the .xlsx the counting team fills in, validated in the sheet itself."""

from __future__ import annotations

import io
from pathlib import Path

from bot.crashpoints import write_atomically
from bot.evaluation.channels import Sheet, sheets
from bot.records import CADRE_LEVELS, CHANNEL_TITLES, TEAM_LEVELS, Roster
from parsers import tally

INPUT_FILL = "FFF2CC"  # the cells the counting team fills in


def write_tally_sheets(roster: Roster, year: int, folder: Path) -> list[Path]:
    """Write every tally sheet of the season into FOLDER; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for sheet in sheets(roster):
        path = folder / file_name(sheet)
        write_atomically(path, tally_sheet(sheet, year), mode=0o644)
        paths.append(path)
    return paths


def file_name(sheet: Sheet) -> str:
    return f"{sheet.label}-{CHANNEL_TITLES[sheet.channel]}统计表.xlsx"


def tally_sheet(sheet: Sheet, year: int) -> bytes:
    """One blank tally sheet: the visible form, and a hidden sheet that says what it is for."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    ws = book.active
    ws.title = tally.SHEET
    fill = PatternFill("solid", fgColor=INPUT_FILL)
    ws.cell(tally.TITLE_ROW, 1, f"{year}年度{sheet.label}{CHANNEL_TITLES[sheet.channel]}统计表").font = Font(
        bold=True, size=14)
    where = (tally.UNIT_LABEL, sheet.unit) if sheet.unit else (tally.SYSTEM_LABEL, sheet.system)
    for column, value in enumerate((*where, tally.CHANNEL_LABEL, CHANNEL_TITLES[sheet.channel]), 1):
        ws.cell(tally.WHAT_ROW, column, value)
    counts = (tally.EXPECTED_LABEL, sheet.expected, tally.ATTENDED_LABEL, None, tally.INVALID_LABEL, None)
    for column, value in enumerate(counts, 1):
        cell = ws.cell(tally.COUNT_ROW, column, value)
        if column % 2 == 0:
            cell.fill = fill
    inputs = [f"B{tally.COUNT_ROW}", f"D{tally.COUNT_ROW}", f"F{tally.COUNT_ROW}"]
    row = tally.COUNT_ROW + 1
    ws.cell(row, 1, "说明：只填写票数（0 或正整数）；每人各档票数之和不超过实到人数；无效票计入废票。")
    blocks = ([(TEAM_LEVELS, [(sheet.unit, tally.TEAM_NAME, "")])] if sheet.team else []) + [
        (CADRE_LEVELS, [(p.unit, p.name, p.role) for p in sheet.people])]
    for levels, rows in blocks:
        row += 2
        for column, value in enumerate((*tally.HEADER, *levels), 1):
            ws.cell(row, column, value).font = Font(bold=True)
        for values in rows:
            row += 1
            for column, value in enumerate(values, 1):
                ws.cell(row, column, value)
            for column in range(tally.FIRST_LEVEL_COLUMN, tally.FIRST_LEVEL_COLUMN + len(levels)):
                ws.cell(row, column).fill = fill
            first = ws.cell(row, tally.FIRST_LEVEL_COLUMN).coordinate
            last = ws.cell(row, tally.FIRST_LEVEL_COLUMN + len(levels) - 1).coordinate
            inputs.append(f"{first}:{last}")
    rule = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                          showErrorMessage=True, errorTitle="票数有误", error="请填写 0 或正整数")
    for cells in inputs:
        rule.add(cells)
    ws.add_data_validation(rule)
    for column, width in zip("ABCDEFG", (14, 12, 12, 10, 10, 10, 10)):
        ws.column_dimensions[column].width = width
    ws.cell(tally.TITLE_ROW, 1).alignment = Alignment(horizontal="left")

    marker = book.create_sheet(tally.MARKER_SHEET)
    for values in (("kind", tally.MARKER), ("channel", sheet.channel), ("unit", sheet.unit or ""),
                   ("system", sheet.system or ""), ("year", year)):
        marker.append(values)
    marker.sheet_state = "hidden"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def fill_tally(data: bytes, attended, counts: dict[str, tuple], invalid=0, expected=...) -> bytes:
    """A tally sheet filled in as a counting team does (the demo's and the tests'): counts by name, the
    team's under tally.TEAM_NAME; a name not on the sheet is written into a new row of the cadres' block."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    ws = book[tally.SHEET]
    ws.cell(tally.COUNT_ROW, 4, attended)
    ws.cell(tally.COUNT_ROW, 6, invalid)
    if expected is not ...:
        ws.cell(tally.COUNT_ROW, 2, expected)
    rows = {ws.cell(r, 2).value: r for r in range(tally.COUNT_ROW + 1, ws.max_row + 1)}
    for name, values in counts.items():
        row = rows.get(name)
        if row is None:
            row = ws.max_row + 1
            ws.cell(row, 1, ws.cell(row - 1, 1).value)
            ws.cell(row, 2, name)
        for i, value in enumerate(values):
            ws.cell(row, tally.FIRST_LEVEL_COLUMN + i, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
