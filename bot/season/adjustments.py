"""HR's corrections (adjustments.csv or the sheet 调整): read, checked row by row, and appended to by `hrbot adjust`."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from bot.crashpoints import write_atomically
from bot.errors import ConfigError
from bot.records import Roster
from bot.season.items import TABLE, item_title, item_titles
from bot.season.roster import ADJUSTMENTS_FILE, ADJUSTMENTS_SHEET, WORKBOOK_FILE, parse_day, read_adjustment_rows

UNIT, ITEM, PERSON, ACTION, DAY, NOTE = "单位", "材料", "人员", "处理", "日期", "说明"
COLUMNS = (UNIT, ITEM, PERSON, ACTION, DAY, NOTE)

RECEIVED, EXEMPT, EXTEND, ASSIGN = "已收到", "免交", "延期", "归属"
ACTIONS = (RECEIVED, EXEMPT, EXTEND, ASSIGN)
# The verbs of `hrbot adjust`, for those who prefer the command line.
VERBS = {"received": RECEIVED, "exempt": EXEMPT, "extend": EXTEND, "assign": ASSIGN}

MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Adjustment:
    """One row of HR's corrections."""

    unit: str
    item: str  # a code of bot.season.items
    person: str | None  # None: the unit's item, or (免交, 延期) every person's of the unit
    action: str  # one of ACTIONS
    day: date | None  # 已收到: the day it came; 延期: the new due day
    note: str
    row: int  # as the spreadsheet shows it
    message_id: str | None = None  # 归属: the message whose document this is
    arrived: datetime | None = None  # 归属: when that message arrived (filled from the store)

    def covers(self, unit: str, item: str, person: str | None) -> bool:
        if (unit, item) != (self.unit, self.item):
            return False
        return self.person == person or (self.person is None and self.action in (EXEMPT, EXTEND))

    def to_json(self) -> dict:
        return {"action": self.action, "note": self.note}


def load(config_dir: Path, roster: Roster) -> list[Adjustment]:
    """Every adjustment in file order; a malformed row raises ConfigError naming the file and row."""
    table = read_adjustment_rows(config_dir, COLUMNS)
    if table is None:
        return []
    return [check_row(roster, row.cells, row.number, table.where) for row in table.rows]


def for_status(config_dir: Path, roster: Roster, store) -> list[Adjustment]:
    """The adjustments as deadlines.status takes them: read, checked, 归属 rows with their message's arrival."""
    return with_arrivals(load(config_dir, roster), store)


def with_arrivals(adjustments: list[Adjustment], store) -> list[Adjustment]:
    """The 归属 rows with the arrival time of the message they name (None when the store has no such message)."""
    return [replace(a, arrived=store.first_arrival(a.message_id)) if a.action == ASSIGN else a for a in adjustments]


def unknown_messages(adjustments: list[Adjustment]) -> list[Adjustment]:
    """归属 rows naming a message the store does not have (after with_arrivals): shown to HR, not applied."""
    return [a for a in adjustments if a.action == ASSIGN and a.arrived is None]


def check_row(roster: Roster, cells: dict[str, str], number: int, where: str) -> Adjustment:
    def fail(problem: str):
        raise ConfigError(where, problem, number)

    unit = "".join(cells[UNIT].split())
    if unit not in roster.units:
        fail(f"单位“{unit}”不在名单中（现有：{'、'.join(roster.units)}）" if unit else "单位为空")
    item = _item(cells[ITEM])
    if item is None:
        fail(f"材料“{cells[ITEM]}”无效，可选：{'、'.join(item_titles().values())}")
    action = "".join(cells[ACTION].split())
    if action not in ACTIONS:
        fail(f"处理“{action}”无效，可选：{'、'.join(ACTIONS)}" if action else f"处理为空，可选：{'、'.join(ACTIONS)}")
    person = "".join(cells[PERSON].split()) or None
    if TABLE[item].personal:
        if person is None and action in (RECEIVED, ASSIGN):
            fail(f"{item_title(item)}是个人的材料，请在“人员”中填写是谁的")
        if person is not None and person not in {p.name for p in roster.people_in(unit)}:
            fail(f"{unit}名单中没有“{person}”")
    elif person is not None:
        fail(f"{item_title(item)}是单位的材料，“人员”应留空")
    day = None
    if action in (RECEIVED, EXTEND):
        day = parse_day(cells[DAY])
        if day is None:
            what = "收到的日期" if action == RECEIVED else "新的截止日期"
            fail(f"日期“{cells[DAY]}”无效：{action}需要填写{what}，如 2026-12-10" if cells[DAY]
                 else f"日期为空：{action}需要填写{what}，如 2026-12-10")
    message_id = None
    if action == ASSIGN:
        found = MESSAGE_ID.search(cells[NOTE])
        if found is None:
            fail("归属需要在“说明”中填写那封邮件的 Message-ID（带尖括号，如 <abc@mail.example>，见 hrbot log）")
        message_id = found.group(0)
    return Adjustment(unit=unit, item=item, person=person, action=action, day=day, note=cells[NOTE].strip(),
                      row=number, message_id=message_id)


def _item(text: str) -> str | None:
    text = "".join(text.split())
    for item, title in item_titles().items():
        if text in (item, "".join(title.split())):
            return item
    return None


# --- `hrbot adjust` --------------------------------------------------------------


def append(config_dir: Path, roster: Roster, cells: dict[str, str]) -> Adjustment:
    """Check a new row against the roster and append it to adjustments.csv, as Excel would have saved it.

    The file keeps its encoding (UTF-8 with or without BOM, GBK), separator and line ends; a new
    file is UTF-8 with a BOM so that Excel opens it in the right encoding.
    """
    config_dir = Path(config_dir)
    path = config_dir / ADJUSTMENTS_FILE
    existing = load(config_dir, roster)  # a mistake already in the file is named first
    if not path.exists() and (config_dir / WORKBOOK_FILE).exists() and read_adjustment_rows(config_dir, COLUMNS):
        raise ConfigError(config_dir / WORKBOOK_FILE, f"调整写在工作表“{ADJUSTMENTS_SHEET}”中：请在 Excel 中添加这一行")
    adjustment = check_row(roster, cells, len(existing) + 2, str(path))
    cells = {**cells, UNIT: adjustment.unit, ITEM: item_title(adjustment.item)}  # as HR reads them in Excel
    if path.exists():
        raw = path.read_bytes()
        encoding, separator, newline = _layout(raw)
        ends_a_line = raw.decode(encoding, errors="replace").endswith(("\n", "\r"))
        prefix = b"" if ends_a_line else newline.encode(encoding)
        line = _csv_line([cells[c] for c in COLUMNS], separator) + newline
        try:
            data = line.encode(encoding)
        except UnicodeEncodeError:
            raise ConfigError(path, "文件是 GBK 编码，新行含有 GBK 无法表示的字符；请在 Excel 中另存为“CSV UTF-8”") from None
        with open(path, "ab") as f:
            f.write(prefix + data)
    else:
        text = _csv_line(list(COLUMNS), ",") + "\r\n" + _csv_line([cells[c] for c in COLUMNS], ",") + "\r\n"
        write_atomically(path, codecs.BOM_UTF8 + text.encode("utf-8"), mode=0o644)
    return adjustment


def _layout(raw: bytes) -> tuple[str, str, str]:
    """(encoding, separator, line end) of a CSV file as it was saved."""
    if raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"  # appended after the BOM: no second one
    elif raw.startswith(codecs.BOM_UTF16_LE):  # Excel's "Unicode 文本"
        encoding = "utf-16-le"
    elif raw.startswith(codecs.BOM_UTF16_BE):
        encoding = "utf-16-be"
    else:
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "gb18030"
    text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    header = next((line for line in text.splitlines() if line.strip()), "")
    separator = max((",", "\t", ";"), key=header.count)
    newline = "\r\n" if "\r\n" in text else "\n"
    return encoding, separator, newline


def _csv_line(values: list[str], separator: str) -> str:
    def quoted(value: str) -> str:
        if any(ch in value for ch in (separator, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    return separator.join(quoted(v) for v in values)
