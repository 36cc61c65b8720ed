"""Reads the season's units and people (units.csv + people.csv, or roster.xlsx) into a checked Roster."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple, NoReturn

from bot.errors import ConfigError
from bot.records import HEAD, ROLES, SECRETARY, UNION_CHAIR, Person, Roster, Unit

log = logging.getLogger(__name__)

UNITS_FILE = "units.csv"
PEOPLE_FILE = "people.csv"
WORKBOOK_FILE = "roster.xlsx"
UNITS_SHEET = "单位"
PEOPLE_SHEET = "人员"

UNIT, KIND, HEADCOUNT, MEETING = "单位", "类型", "人数", "述职大会日期"
NAME, ROLE, EMAIL = "姓名", "角色", "邮箱"
SYSTEM = "系统"  # optional: the cadre's 专业系统, used only by the evaluation's ranking
UNIT_COLUMNS = (UNIT, KIND, HEADCOUNT, MEETING)
PEOPLE_COLUMNS = (UNIT, NAME, ROLE, EMAIL)
UNIT_KINDS = ("车间", "科室")
ADJUSTMENTS_FILE = "adjustments.csv"  # HR's corrections (bot.season.adjustments reads their meaning)
ADJUSTMENTS_SHEET = "调整"

# Copy-paste from web pages and WeChat brings these along; they are invisible in Excel.
_INVISIBLE_CHARS = "\ufeff\u200b\u200c\u200d\u2060"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS))
# Excel writes a CSV date as the cell displays it: 2026-12-10, 2026/12/10, 2026年12月10日, maybe with a time.
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_EMAIL = re.compile(r"[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+\.[^@\s<>()\[\]\\,;:\".]+")
_ADDRESS_SEPARATORS = re.compile(r"[\s,;，；、]")


class _Row(NamedTuple):  # a tuple: made once per roster row, on every poll
    number: int  # as the spreadsheet shows it: the header is row 1
    cells: dict[str, object]  # by column; text from CSV, also numbers and datetimes from xlsx


class _Table(NamedTuple):
    where: str  # how an error names the source, e.g. "config/people.csv"
    short: str  # how another table's error refers to it, e.g. "people.csv"
    rows: tuple[_Row, ...]

    def fail(self, row: _Row, problem: str) -> NoReturn:
        raise ConfigError(self.where, problem, row.number)


def load_roster(config_dir: Path) -> Roster:
    """Read and check the roster in DIR; any mistake raises ConfigError naming the file and row.

    A gap (a unit without head, secretary or union chair) is no mistake: see gaps().
    """
    units_table, people_table = _read_tables(Path(config_dir))
    units, _ = _units(units_table)
    return Roster(units=units, people=_people(people_table, units, units_table.short))


def read_adjustment_rows(config_dir: Path, columns: tuple[str, ...]) -> _Table | None:
    """adjustments.csv, else the sheet 调整 of roster.xlsx, read like the roster; None when neither exists.

    Each row's cells are given as text, trimmed, the invisible characters dropped.
    """
    config_dir = Path(config_dir)
    path = config_dir / ADJUSTMENTS_FILE
    if path.exists():
        table = _read_csv(path, ADJUSTMENTS_FILE, columns)
    else:
        workbook = config_dir / WORKBOOK_FILE
        if not workbook.exists() or (config_dir / UNITS_FILE).exists():
            return None
        from openpyxl import load_workbook

        try:
            book = load_workbook(workbook, read_only=True, data_only=True)
        except Exception as e:  # as in _read_workbook
            raise ConfigError(workbook, f"无法打开工作簿（{type(e).__name__}: {e}）") from None
        try:
            if not any(n.strip() == ADJUSTMENTS_SHEET for n in book.sheetnames):
                return None
            table = _sheet(book, workbook, ADJUSTMENTS_SHEET, columns)
        finally:
            book.close()
    rows = tuple(_Row(r.number, {c: _text(v) for c, v in r.cells.items()}) for r in table.rows)
    return table._replace(rows=rows)


def parse_day(text: str) -> date | None:
    """A date as Excel writes it in a cell (2026-12-10, 2026/12/10, 2026年12月10日); None if it is none."""
    match = _DATE.fullmatch(unicodedata.normalize("NFKC", text.strip()))
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:
        return None


# --- reading --------------------------------------------------------------


def _read_tables(config_dir: Path) -> tuple[_Table, _Table]:
    units_csv, people_csv = config_dir / UNITS_FILE, config_dir / PEOPLE_FILE
    workbook = config_dir / WORKBOOK_FILE
    if units_csv.exists() or people_csv.exists():
        for path, other in ((units_csv, PEOPLE_FILE), (people_csv, UNITS_FILE)):
            if not path.exists():
                raise ConfigError(path, f"找不到文件（{other} 与它需成对提供，或两者都删去改用 {WORKBOOK_FILE}）")
        if workbook.exists():
            log.warning("%s is ignored: %s and %s take precedence", workbook, UNITS_FILE, PEOPLE_FILE)
        return (
            _read_csv(units_csv, UNITS_FILE, UNIT_COLUMNS),
            _read_csv(people_csv, PEOPLE_FILE, PEOPLE_COLUMNS, optional=(SYSTEM,)),
        )
    if workbook.exists():
        return _read_workbook(workbook)
    raise ConfigError(units_csv, f"找不到名单文件：需要 {UNITS_FILE} 和 {PEOPLE_FILE}，或 {WORKBOOK_FILE}")


def _read_csv(path: Path, short: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> _Table:
    text = _visible(_decode(path))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        return _table(str(path), short, reader, columns, optional)
    except csv.Error as e:
        raise ConfigError(path, f"CSV 格式错误（{e}）", reader.line_num) from None


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(path, f"无法读取文件（{e.strerror}；是否正在 Excel 中打开？）") from None
    # Excel's "Unicode 文本" is UTF-16 with a BOM; "CSV UTF-8" has a BOM, hand-made files may not;
    # "CSV（逗号分隔）" from Excel on Chinese Windows is GBK, which GB18030 contains.
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    for encoding in ("utf-16",) if utf16 else ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ConfigError(path, "无法识别文件编码，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”")


def _delimiter(text: str) -> str:
    """The separator the header line uses most: a comma, unless Excel wrote tabs or semicolons."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max((",", "\t", ";"), key=header.count)  # ties, and no separator at all, mean a comma


def _read_workbook(path: Path) -> tuple[_Table, _Table]:
    from openpyxl import load_workbook  # a heavy package (tests/test_idle_imports.py): most folders use CSV

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl reports a non-xlsx file through many unrelated exception types
        raise ConfigError(path, f"无法打开工作簿（{type(e).__name__}: {e}），请用 Excel 另存为 .xlsx 格式") from None
    try:
        return _sheet(book, path, UNITS_SHEET, UNIT_COLUMNS), _sheet(book, path, PEOPLE_SHEET, PEOPLE_COLUMNS, (SYSTEM,))
    finally:
        book.close()


def _sheet(book, path: Path, title: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> _Table:
    name = next((n for n in book.sheetnames if n.strip() == title), None)
    if name is None:
        raise ConfigError(path, f"缺少工作表“{title}”（现有：{'、'.join(book.sheetnames)}）")
    sheet = book[name]
    sheet.reset_dimensions()  # a wrong <dimension> from other tools would cut rows off in read-only mode
    rows = ([_visible(c) if type(c) is str else c for c in cells] for cells in sheet.iter_rows(values_only=True))
    return _table(f"{path} 工作表“{title}”", f"工作表“{title}”", rows, columns, optional)


def _table(where: str, short: str, records: Iterable[list | tuple], columns: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> _Table:
    """Find the header (the first non-blank row), check its columns, and keep the non-blank rows.

    An optional column is read when the header has it; a row's cells then lack it otherwise."""
    numbered = enumerate(records, 1)
    header = next(((n, cells) for n, cells in numbered if not _blank(cells)), None)
    if header is None:
        raise ConfigError(where, f"文件是空的；第 1 行应为表头：{','.join(columns)}")
    number, cells = header
    names = [_squeeze(_text(c)) for c in cells]
    for column in columns:
        if column not in names:
            read = "，".join(n for n in names if n)
            raise ConfigError(where, f"缺少列“{column}”（读到：{read}；应为：{','.join(columns)}）", number)
    index = [(c, names.index(c)) for c in (*columns, *(o for o in optional if o in names))]
    rows = []
    for n, cells in numbered:
        values = {c: cells[i] if i < len(cells) else None for c, i in index}
        # A row with only a note in an extra column (备注) is blank for the roster.
        if not _blank(values.values()):
            rows.append(_Row(n, values))
    return _Table(where, short, tuple(rows))


# --- cells ----------------------------------------------------------------


def _visible(text: str) -> str:
    """Without the invisible characters; the readers apply it once to what they read, not per cell."""
    if any(ch in text for ch in _INVISIBLE_CHARS):  # five fast searches; translate is slow on clean text
        return text.translate(_INVISIBLE)
    return text


def _text(value: object) -> str:
    """A cell (already _visible) as trimmed text; xlsx cells may hold numbers and datetimes."""
    if type(value) is str:  # every CSV cell: the fast path, thousands of times a load
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return _visible(str(value)).strip()


def _squeeze(text: str) -> str:
    # Every Unicode space, also the full-width U+3000 and NBSP: str.split() knows the same set as re's \s.
    return "".join(text.split())


def _blank(cells: Iterable[object]) -> bool:
    for cell in cells:
        if _text(cell):
            return False
    return True


def _choices(options: Iterable[str]) -> str:
    return "、".join(options)


# --- units ----------------------------------------------------------------


def _units(table: _Table) -> tuple[dict[str, Unit], dict[str, int]]:
    units: dict[str, Unit] = {}
    rows: dict[str, int] = {}
    for row in table.rows:
        name = _squeeze(_text(row.cells[UNIT]))
        if not name:
            table.fail(row, "单位名称为空")
        if name in units:
            table.fail(row, f"单位“{name}”重复，第 {rows[name]} 行已有同名单位")
        kind = _one_of(table, row, KIND, UNIT_KINDS, "类型“{}”无效")
        units[name] = Unit(name=name, kind=kind, headcount=_headcount(table, row), meeting=_meeting(table, row))
        rows[name] = row.number
    if not units:
        raise ConfigError(table.where, "没有任何单位，请至少填写一行")
    return units, rows


def _one_of(table: _Table, row: _Row, column: str, options: tuple[str, ...], invalid: str) -> str:
    """The cell of `column`, which must be one of `options`; `invalid` words a wrong value ({} is the value)."""
    value = _squeeze(_text(row.cells[column]))
    if value not in options:
        shown = invalid.format(value) if value else f"{column}为空"
        table.fail(row, f"{shown}，可选：{_choices(options)}")
    return value


def _headcount(table: _Table, row: _Row) -> int:
    raw = _text(row.cells[HEADCOUNT])
    # Full-width digits from a Chinese IME, "1,200" as Excel displays it, "120人" as people write it.
    text = _squeeze(unicodedata.normalize("NFKC", raw)).replace(",", "").removesuffix("人")
    if not re.fullmatch(r"[0-9]+", text) or int(text) <= 0:
        shown = f"人数“{raw}”无效" if raw else "人数为空"
        table.fail(row, f"{shown}，应为正整数，例如 120")
    return int(text)


def _meeting(table: _Table, row: _Row) -> date | None:
    value = row.cells[MEETING]
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = _text(value)
    if not raw:
        return None  # HR has not fixed the date yet
    match = _DATE.fullmatch(unicodedata.normalize("NFKC", raw))
    try:
        if match:
            return date(*map(int, match.groups()))
    except ValueError:
        pass
    table.fail(row, f"述职大会日期“{raw}”无效，应写成 2026-12-10 这样的格式（尚未确定可留空）")


# --- people ---------------------------------------------------------------


def _people(table: _Table, units: dict[str, Unit], units_short: str) -> tuple[Person, ...]:
    """One Person per (单位, 姓名, 角色): repeated rows of the same person add addresses to the first."""
    addresses: dict[tuple[str, str, str], list[str]] = {}  # in file order
    systems: dict[tuple[str, str, str], str | None] = {}  # the first row's 系统 wins
    by_email: dict[str, tuple[tuple[str, str, str], int]] = {}
    by_name: dict[tuple[str, str], int] = {}
    heads: dict[str, tuple[str, int]] = {}
    for row in table.rows:
        unit, name = _unit_of(table, row, units, units_short), _name(table, row)
        role = _one_of(table, row, ROLE, ROLES, "未知角色“{}”")
        key = (unit, name, role)
        if key not in addresses:
            if (unit, name) in by_name:
                table.fail(row, f"{unit}已有“{name}”（第 {by_name[unit, name]} 行）；同一人兼任多个角色时只填一行，"
                                f"同单位重名的两人请在姓名后加以区分，如 王伟（大）")
            if role == HEAD and unit in heads:
                other, number = heads[unit]
                table.fail(row, f"{unit}已有主要领导 {other}（第 {number} 行），每个单位只能有一位主要领导")
            addresses[key] = []
            systems[key] = _squeeze(_text(row.cells.get(SYSTEM))) or None
            by_name[unit, name] = row.number
            if role == HEAD:
                heads[unit] = (name, row.number)
        for email in _emails(table, row):
            if email in by_email:
                owner, number = by_email[email]
                if owner == key:
                    continue  # the same person's address written twice
                hint = "（同一人兼任多个角色时只填一行）" if owner[1] == name else ""
                table.fail(row, f"邮箱“{email}”已在第 {number} 行（{owner[0]} {owner[1]}）使用，"
                                f"一个地址只能对应一人{hint}")
            by_email[email] = (key, row.number)
            addresses[key].append(email)
    if not addresses:
        raise ConfigError(table.where, "没有任何人员，请至少为每个单位填写主要领导")
    return tuple(Person(unit=u, name=n, role=r, email=emails[0], emails=tuple(emails), system=systems[u, n, r])
                 for (u, n, r), emails in addresses.items())


def _unit_of(table: _Table, row: _Row, units: dict[str, Unit], units_short: str) -> str:
    unit = _squeeze(_text(row.cells[UNIT]))
    if not unit:
        table.fail(row, "单位为空")
    if unit not in units:
        table.fail(row, f"单位“{unit}”不在 {units_short} 中（现有：{_choices(units)}）")
    return unit


def _name(table: _Table, row: _Row) -> str:
    name = _squeeze(_text(row.cells[NAME]))  # "王  珺" is how people align two-character names
    if not name:
        table.fail(row, "姓名为空")
    return name


def _emails(table: _Table, row: _Row) -> list[str]:
    """The addresses in the 邮箱 cell: one, or several separated by ; or ；."""
    raw = _text(row.cells[EMAIL])
    # NFKC turns a full-width "＠" and "；" from a Chinese IME into ASCII; Outlook's copy adds a trailing ";".
    cell = unicodedata.normalize("NFKC", raw).strip().strip(";").strip()
    if not cell:
        table.fail(row, "邮箱为空（提醒和回执都要发到这个地址）")
    return [_email(table, row, one.strip().lower()) for one in cell.split(";") if one.strip()]


def _email(table: _Table, row: _Row, email: str) -> str:
    if _ADDRESS_SEPARATORS.search(email):
        table.fail(row, f"邮箱“{email}”只能填一个地址本身（不含空格、姓名）；一人有多个地址时用分号隔开")
    if "@" not in email:
        table.fail(row, f"邮箱“{email}”不是有效地址：缺少 @")
    if not email.isascii():
        table.fail(row, f"邮箱“{email}”含有中文或全角字符，请切换到英文输入法重新输入")
    if not _EMAIL.fullmatch(email):
        table.fail(row, f"邮箱“{email}”不是有效地址，应像 lijianguo@tengfei.example 这样")
    return email


# --- whole-roster checks ----------------------------------------------------


def gaps(roster: Roster, requested_meetings: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """What a valid roster still lacks, as (unit, what, the fix) for HR; reminders meant for the missing
    person go to HR meanwhile.

    requested_meetings: the units that asked for a meeting date in their request (that date then holds).
    """
    requested = set(requested_meetings)
    found = []
    for unit in roster.units:
        missing = [role for role, present in (
            (HEAD, roster.head_of(unit)), (SECRETARY, roster.secretary_of(unit)), (UNION_CHAIR, roster.union_chair_of(unit)),
        ) if present is None]
        if missing:
            found.append((unit, f"{unit}在名单中没有{'、'.join(missing)}，需要此人的提醒暂发给人力资源科",
                          f"在 {PEOPLE_FILE} 中补上一行：{unit},姓名,{missing[0]},邮箱"))
        if roster.units[unit].meeting is None and unit not in requested:
            found.append((unit, f"{unit}的述职大会日期未定，述职报告和评议表的截止日期随之未定",
                          f"在 {UNITS_FILE} 中填写，或等待单位在申请中提出"))
    return found
