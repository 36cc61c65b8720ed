"""Writes the daily tracker workbook HR opens in Excel or WPS, and beside it the full mail log as CSV."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from bot.crashpoints import sweep_stale_temp_files, write_atomically
from bot.errors import HrbotError
from bot.season.items import BALLOT_TALLY, item_codes, item_title
from bot.records import (
    CONFIRMATION,
    FAILED,
    KICKOFF,
    REMINDER,
    SUMMARY,
    UNCERTAIN,
    ACCEPTED,
    AUTO_REPLY,
    BOUNCE,
    DUPLICATE,
    EXEMPT,
    IGNORED,
    LATE,
    NO_DOCUMENTS,
    OVERDUE,
    OWN_MAIL,
    PENDING,
    RECEIVED,
    REJECTED,
    UNKNOWN_SENDER,
    AttachmentLog,
    LogEntry,
    OutboxRow,
    Roster,
    StatusRow,
)

if TYPE_CHECKING:  # XlsxWriter: imported where a workbook is written (tests/test_idle_imports.py)
    from bot.reports.todo import Todo
    from xlsxwriter import Workbook

    from bot.evaluation.progress import UnitProgress
    from xlsxwriter.format import Format

logger = logging.getLogger(__name__)  # `log` names the mail log here

FILE_PREFIX = "考核材料跟踪表"
SHEET_OVERVIEW = "总览"
SHEET_DETAIL = "明细"
SHEET_LOG = "邮件日志"
SHEET_OUTBOX = "发信问题"
SHEET_TODO = "待处理"
SHEET_EVALUATION = "测评"

STATE_LABELS = {RECEIVED: "已按时提交", LATE: "迟交", OVERDUE: "逾期未交", PENDING: "待提交", EXEMPT: "免交"}
MAIL_OUTCOME_LABELS = {
    ACCEPTED: "已登记",
    DUPLICATE: "重复投递",
    AUTO_REPLY: "自动回复",
    BOUNCE: "退信",
    OWN_MAIL: "本邮箱发出",
    UNKNOWN_SENDER: "非名单发件人",
    NO_DOCUMENTS: "未识别到材料",
    REJECTED: "已拒收",
}
OUTGOING_KIND_LABELS = {CONFIRMATION: "回执", REMINDER: "提醒", KICKOFF: "启动通知", SUMMARY: "进度日报"}
OUTBOX_STATE_LABELS = {FAILED: "发送失败（服务器拒收）", UNCERTAIN: "结果不明，需人工核对"}
PART_OUTCOME_LABELS = {ACCEPTED: "已登记", IGNORED: "已忽略", DUPLICATE: "重复", REJECTED: "已拒收"}
# The machine reasons (docs/contract.md) that HR should read in Chinese; other reasons are already HR text.
REASON_LABELS = {"unpacked": "已解包"}

# Excel's own "good / neutral / bad" fills, which HR already reads at a glance; grey for pending.
GREEN, AMBER, RED, GREY = "C6EFCE", "FFEB9C", "FFC7CE", "E7E6E6"
HEADER_FILL = "DDEBF7"
STATE_FILLS = {RECEIVED: GREEN, LATE: AMBER, OVERDUE: RED, PENDING: GREY}
# A cell of the overview takes the colour of its worst state; "worst" is this order.
STATE_SEVERITY = {OVERDUE: 3, LATE: 2, PENDING: 1, RECEIVED: 0}
# The detail sheet puts what HR must chase first.
STATE_ORDER = {OVERDUE: 0, LATE: 1, PENDING: 2, RECEIVED: 3}
# Mail that needs a person's look gets a colour on its outcome.
MAIL_OUTCOME_FILLS = {REJECTED: RED, UNKNOWN_SENDER: AMBER, NO_DOCUMENTS: AMBER}

DATE_FORMAT = "yyyy-mm-dd"
# Excel's day 0 (its 1900 date system, right for every date after February 1900).
EXCEL_EPOCH, EXCEL_EPOCH_DAY, ONE_DAY = datetime(1899, 12, 30), date(1899, 12, 30), timedelta(days=1)
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MAX_WIDTH = 60
FILTER_BUTTON_WIDTH = 2
MAX_CELL_CHARS = 32767  # Excel refuses longer cell text
# The control characters XML 1.0 cannot carry (tab, LF and CR it can), as openpyxl defines them.
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
TEXT, INT, DATE, DATETIME = "text", "int", "date", "datetime"
LOG_HEADERS = ["收到时间", "发件人", "主题", "邮件结果", "原因", "附件名", "附件结果", "附件说明", "识别为", "单位", "人员"]
# What makes Excel read a CSV cell as a formula: the mail log CSV defuses such text (_inert).
FORMULA_STARTS = "=+-@\t\r"
FIXED_WIDTHS = {DATE: 12, DATETIME: 17}


@dataclass
class _Table:
    """One sheet's data before it is written: headers, kinds, rows and the cells to colour."""

    headers: list[str]
    kinds: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    fills: list[dict[int, str]] = field(default_factory=list)  # per row: column index → fill colour
    note: str | None = None  # a line above the header, not sizing its column

    def add(self, values: list[Any], fills: dict[int, str] | None = None) -> None:
        self.rows.append(values)
        self.fills.append(fills or {})


def tracker_path(folder: Path, as_of: date) -> Path:
    """Where the workbook for `as_of` lives."""
    return Path(folder) / f"{FILE_PREFIX}-{as_of.isoformat()}.xlsx"


def log_csv_path(folder: Path, as_of: date) -> Path:
    """Where the full mail log written with the workbook for `as_of` lives: beside it, named after it."""
    return Path(folder) / f"{FILE_PREFIX}-{as_of.isoformat()}-{SHEET_LOG}.csv"


def write_tracker(
    folder: Path,
    as_of: date,
    rows: list[StatusRow],
    log: list[LogEntry],
    roster: Roster,
    season_tz: tzinfo,
    kept_aside: list[OutboxRow] = (),
    todo: list[Todo] = (),
    evaluation: list[UnitProgress] = (),
) -> Path:
    """Write the tracker workbook for `as_of` into `folder`, and the full mail log as CSV beside it
    (log_csv_path), each atomically; return the workbook's path.

    kept_aside: the outgoing mail a sender refused for good or whose fate is unknown.
    todo: what waits for HR, each with its fix (bot.reports.todo).
    evaluation: per unit, the tally sheets in and the meeting's quorum (no ballot figures: the tracker is mailed).
    """
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = tracker_path(folder, as_of)
    full_log = log_csv_path(folder, as_of)

    names = _roster_names(roster)
    unit_order = _unit_order(roster, rows)
    sheets = (
        (SHEET_OVERVIEW, _overview_table(rows, unit_order), _overview_banner(as_of)),
        (SHEET_DETAIL, _detail_table(rows, roster, unit_order, season_tz), None),
        (SHEET_LOG, _log_table(log, names, season_tz, full_log), None),
        (SHEET_OUTBOX, _outbox_table(kept_aside, season_tz), None),
        (SHEET_TODO, _todo_table(todo, season_tz), None),
        (SHEET_EVALUATION, _evaluation_table(rows, evaluation), None),
    )

    def write(handle) -> None:
        # XlsxWriter, not openpyxl: it writes a full season's ~27,000 rows about twice as fast.
        from xlsxwriter import Workbook

        # In memory: XlsxWriter's own temp files (in /tmp, not ours) would outlive a killed run.
        wb = Workbook(handle, {"in_memory": True})
        formats = _Formats(wb)
        for title, table, banner in sheets:
            _write_table(wb, title, table, formats, banner)
        wb.close()

    # The workbook first: the CSV is a side file, and one HR has open in Excel (which locks it on
    # Windows) must not hold back the workbook and the daily summary that mails it.
    _save_atomically(write, target, crash_at="tracker_write")
    try:
        _save_atomically(_log_csv(log, names, season_tz), full_log)
    except HrbotError as error:
        logger.warning("tracker: the full mail log was not written: %s", error)
    return target


# --- the three sheets -----------------------------------------------------


def _unit_order(roster: Roster, rows: list[StatusRow]) -> dict[str, int]:
    """Roster order first; a unit only the status knows (should not happen) goes last, not lost."""
    order = {name: i for i, name in enumerate(roster.units)}
    for row in rows:
        order.setdefault(row.unit, len(order))
    return order


def _overview_table(rows: list[StatusRow], unit_order: dict[str, int]) -> _Table:
    items = [item for item in item_codes() if any(r.item == item for r in rows)]
    items += sorted({r.item for r in rows} - set(item_codes()))  # an item code this module does not know yet
    states: dict[tuple[str, str], Counter[str]] = {}
    for row in rows:
        states.setdefault((row.unit, row.item), Counter())[row.state] += 1

    totals = ["应交", "已交", "逾期", "迟交", "待交"]
    table = _Table(["单位", *(item_title(i) for i in items), *totals],
                   [TEXT] + [TEXT] * len(items) + [INT] * len(totals))
    for unit in unit_order:
        values: list[Any] = [unit]
        fills: dict[int, str] = {}
        unit_count: Counter[str] = Counter()
        for col, item in enumerate(items, start=1):
            count = states.get((unit, item))
            if not count:
                values.append(None)
                continue
            unit_count += count
            values.append(f"{count[RECEIVED] + count[LATE]}/{count.total() - count[EXEMPT]}")  # 免交 is not owed
            worst = max(count, key=lambda state: STATE_SEVERITY.get(state, 0))
            if worst in STATE_FILLS:
                fills[col] = STATE_FILLS[worst]
        first_total = len(values)
        values += [unit_count.total() - unit_count[EXEMPT], unit_count[RECEIVED], unit_count[OVERDUE],
                   unit_count[LATE], unit_count[PENDING]]
        if unit_count[OVERDUE]:
            fills[first_total + 2] = RED
        if unit_count[LATE]:
            fills[first_total + 3] = AMBER
        table.add(values, fills)
    return table


def _overview_banner(as_of: date) -> list[tuple[str, str | None]]:
    """Row 1 of the overview: the as-of date, then a colour legend HR can read without asking."""
    banner: list[tuple[str, str | None]] = [(f"截至 {as_of.isoformat()}", None)]
    banner += [(STATE_LABELS[s], STATE_FILLS[s]) for s in (RECEIVED, LATE, OVERDUE, PENDING)]
    banner.append(("格内为 已收到/应交（含迟交），颜色取最差状态；“已交”只计按时提交", None))
    return banner


def _detail_table(
    rows: list[StatusRow], roster: Roster, unit_order: dict[str, int], season_tz: tzinfo
) -> _Table:
    table = _Table(
        ["单位", "材料", "人员", "截止日期", "状态", "首次收到时间", "迟交工作日", "版本数", "日期待定", "提醒/警告"],
        [TEXT, TEXT, TEXT, DATE, TEXT, DATETIME, INT, INT, TEXT, TEXT],
    )
    person_order = {(p.unit, p.name): i for i, p in enumerate(roster.people)}
    item_order = {item: i for i, item in enumerate(item_codes())}

    def key(row: StatusRow) -> tuple:
        # Worst first: overdue and late by how late, pending by what falls due next, then roster order.
        lateness = -row.late_workdays if row.state in (OVERDUE, LATE) else 0
        return (STATE_ORDER.get(row.state, len(STATE_ORDER)), lateness, row.due or date.max,
                unit_order.get(row.unit, 0), item_order.get(row.item, len(item_order)),
                person_order.get((row.unit, row.person), -1))

    for row in sorted(rows, key=key):
        late = row.late_workdays if row.state in (OVERDUE, LATE) else None
        table.add(
            [row.unit, item_title(row.item), row.person, row.due or "未定",
             STATE_LABELS.get(row.state, row.state), _local(row.received_at, season_tz), late,
             row.versions, "是" if row.provisional else None, "；".join(_notes(row)) or None],
            {4: STATE_FILLS[row.state]} if row.state in STATE_FILLS else None,
        )
    return table


def _notes(row: StatusRow) -> list[str]:
    """The row's warnings, and HR's adjustment when one applies."""
    notes = list(row.warnings)
    if row.adjustment:
        note = row.adjustment["note"]
        notes.append(f"人力资源科调整：{row.adjustment['action']}" + (f"（{note}）" if note else ""))
    return notes


def _roster_names(roster: Roster) -> dict[str, str]:
    """Address → the roster member's name; the first roster entry wins, as Roster.by_email does."""
    names: dict[str, str] = {}
    for person in roster.people:
        for address in person.emails:
            names.setdefault(address, person.name)
    return names


def _log_table(log: list[LogEntry], names: dict[str, str], season_tz: tzinfo, full_log: Path) -> _Table:
    """Roster members' mail one row per attachment; other senders' summed up per sender and outcome."""
    table = _Table(LOG_HEADERS, [DATETIME] + [TEXT] * 10,
                   note=f"非名单发件人的邮件按发件人合计为一行；逐封的完整邮件日志见跟踪表文件夹中的 {full_log.name}")
    # Mail from off the roster (most of a working inbox) is summed up per sender and outcome: one row
    # with the count and the latest message. The CSV beside the workbook and `hrbot log` list each.
    strangers: dict[tuple[str | None, str], list[LogEntry]] = {}
    arrivals = []
    for entry in log:
        if entry.from_addr in names:
            arrivals.append((_local(entry.received_at, season_tz), entry, None))
        else:
            strangers.setdefault((entry.from_addr, entry.outcome), []).append(entry)
    for entries in strangers.values():
        latest = max(entries, key=lambda e: e.received_at)
        arrivals.append((_local(latest.received_at, season_tz), latest, entries if len(entries) > 1 else None))
    arrivals.sort(key=lambda found: found[0])  # stable: the store's order breaks ties
    for received, entry, summed in arrivals:
        if summed is None:
            for values, fills in _message_rows(entry, received, names):
                table.add(values, fills)
            continue
        first = _local(min(e.received_at for e in summed), season_tz)
        subject = f"共 {len(summed)} 封（首封 {first:%Y-%m-%d}），最近一封：{entry.subject}"
        files = sum(len(e.attachments) for e in summed)
        outcome_fill = MAIL_OUTCOME_FILLS.get(entry.outcome)
        table.add(_message_head(entry, received, names, subject) + [f"共 {files} 个附件" if files else None] + [None] * 5,
                  {3: outcome_fill} if outcome_fill else None)
    return table


def _message_head(entry: LogEntry, received: Any, names: dict[str, str], subject: str | None) -> list[Any]:
    """The message's own columns: arrival, sender (with the roster name), subject, outcome, reason."""
    sender = entry.from_addr or "（无发件人）"
    if entry.from_addr in names:
        sender = f"{names[entry.from_addr]} <{entry.from_addr}>"
    return [received, sender, subject, MAIL_OUTCOME_LABELS.get(entry.outcome, entry.outcome), entry.reason or None]


def _part_values(part: AttachmentLog, filename: str | None) -> list[Any]:
    """An attachment's columns: name, outcome, why, what it was recognised as, for whom."""
    return [filename if filename is not None else "（无文件名）", PART_OUTCOME_LABELS.get(part.outcome, part.outcome),
            REASON_LABELS.get(part.reason, part.reason) or None, item_title(part.item) if part.item else None,
            part.unit, part.person]


def _message_rows(entry: LogEntry, received: datetime | None,
                  names: dict[str, str]) -> list[tuple[list[Any], dict[int, str]]]:
    """One row per attachment (one for a message without any), with the cells to colour."""
    head = _message_head(entry, received, names, entry.subject)
    outcome_fill = MAIL_OUTCOME_FILLS.get(entry.outcome)
    head_fills = {3: outcome_fill} if outcome_fill else {}
    if not entry.attachments:  # the message still gets its row
        return [(head + [None] * 6, head_fills)]
    return [(head + _part_values(part, part.filename),
             {**head_fills, 6: RED} if part.outcome == REJECTED else head_fills) for part in entry.attachments]


def _log_csv(log: list[LogEntry], names: dict[str, str], season_tz: tzinfo) -> bytes:
    """Every message as the sheet shows a roster member's, plus its Message-ID (for 归属 and reprocess).

    UTF-8 with a BOM, so Excel and WPS on Chinese Windows read it as UTF-8 and not as GBK. No cell that
    carries text from the mail starts like a formula (_inert): sender, subject, reasons (an attachment's
    can begin with its file name), file name, Message-ID. The other cells are hrbot's own words.
    """
    text = io.StringIO()
    out = csv.writer(text)
    out.writerow([*LOG_HEADERS, "Message-ID"])
    for entry in log:
        moment = entry.received_at
        if moment.tzinfo is not None:
            moment = moment.astimezone(season_tz)
        # The wall clock as the sheet shows it; the slice drops an offset (cheaper than _local's replace).
        head = _message_head(entry, moment.isoformat(" ", "seconds")[:19], names, _inert(entry.subject))
        head[1], head[4] = _inert(head[1]), _inert(head[4])
        mid = [_inert(entry.ref or entry.message_id)]  # a mail without one: the reference 归属 takes
        if not entry.attachments:
            out.writerow(head + [None] * 6 + mid)
            continue
        for part in entry.attachments:
            values = _part_values(part, _inert(part.filename))
            values[2] = _inert(values[2])
            out.writerow(head + values + mid)
    return text.getvalue().encode("utf-8-sig")


def _inert(text: str | None) -> str | None:
    """Text Excel would take for a formula in a CSV cell (=, +, -, @ first) gets a leading apostrophe."""
    if text and text[0] in FORMULA_STARTS:
        return "'" + text
    return text


def _outbox_table(kept_aside: list[OutboxRow], season_tz: tzinfo) -> _Table:
    """Outgoing mail that needs a person: refused for good, or cut off while being sent."""
    table = _Table(["写入时间", "类别", "收件人", "状态", "原因", "尝试次数"], [DATETIME, TEXT, TEXT, TEXT, TEXT, INT])
    for row in kept_aside:
        table.add([_local(row.created_at, season_tz), OUTGOING_KIND_LABELS.get(row.kind, row.kind),
                   ", ".join(row.recipients), OUTBOX_STATE_LABELS.get(row.state, row.state),
                   row.last_error or None, row.attempts], {3: RED})
    return table


def _todo_table(todo: list[Todo], season_tz: tzinfo) -> _Table:
    """What needs a person, each with the exact fix (the adjustments row to add, or the command to run)."""
    table = _Table(["类别", "收到时间", "涉及", "情况", "处理方法"], [TEXT, DATETIME, TEXT, TEXT, TEXT])
    for t in todo:
        table.add([t.kind, _local(t.when, season_tz), t.about, t.what, t.fix], {0: AMBER})
    return table


def _evaluation_table(rows: list[StatusRow], evaluation: list[UnitProgress]) -> _Table:
    """Per unit: its tally's state, the channels in, and whether the meeting reached its quorum (red when not)."""
    table = _Table(["单位", "类型", "测评统计表", "已收到的测评渠道", "人数", "实到人数", "到会比例", "法定比例",
                    "是否达到法定人数"], [TEXT, TEXT, TEXT, TEXT, INT, INT, TEXT, TEXT, TEXT])
    states = {r.unit: r.state for r in rows if r.item == BALLOT_TALLY}
    for u in evaluation:
        state = states.get(u.unit)
        met = {True: "达到", False: "未达到", None: None}[u.quorum_met]
        fills = {2: STATE_FILLS[state]} if state in STATE_FILLS else {}
        if u.quorum_met is False:
            fills[8] = RED
        table.add([u.unit, u.kind, STATE_LABELS.get(state, state), "、".join(u.channels) or None, u.headcount,
                   u.attended, f"{u.ratio:.1%}" if u.ratio is not None else None, f"{u.quorum_required:.0%}", met],
                  fills)
    return table


def _local(moment: datetime | None, season_tz: tzinfo) -> datetime | None:
    """Excel has no time zones: show the plant's wall clock. A naive value is taken as local already."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(season_tz).replace(tzinfo=None)


# --- writing --------------------------------------------------------------


class _Formats:
    """One XlsxWriter Format per combination of number format, fill and bold, made on first use."""

    def __init__(self, wb: Workbook) -> None:
        self._wb = wb
        self._made: dict[tuple[str | None, str | None, bool], Format | None] = {}

    def get(self, number_format: str | None = None, fill: str | None = None, bold: bool = False) -> Format | None:
        key = (number_format, fill, bold)
        if key not in self._made:
            props: dict[str, Any] = {}
            if number_format:
                props["num_format"] = number_format
            if fill:
                props.update(pattern=1, bg_color=f"#{fill}")  # XlsxWriter's bg_color is a solid fill's colour
            if bold:
                props["bold"] = True
            self._made[key] = self._wb.add_format(props) if props else None
        return self._made[key]


def _write_table(wb: Workbook, title: str, table: _Table, formats: _Formats,
                 banner: list[tuple[str, str | None]] | None = None) -> None:
    """One sheet: optional banner row, bold frozen header, coloured cells, autofilter."""
    ws = wb.add_worksheet(title)
    for col, width in enumerate(_widths(table, banner[0][0] if banner else None)):
        ws.set_column(col, col, width)
    header_row = 1 if banner or table.note else 0  # XlsxWriter counts rows and columns from 0
    ws.freeze_panes(header_row + 1, 0)

    if banner:
        for col, (text, fill) in enumerate(banner):
            ws.write_string(0, col, text, formats.get(fill=fill, bold=fill is None and col == 0))
    elif table.note:
        ws.write_string(0, 0, _clean(table.note))
    header = formats.get(fill=HEADER_FILL, bold=True)
    for col, text in enumerate(table.headers):
        ws.write_string(header_row, col, text, header)

    number_formats = [{DATE: DATE_FORMAT, DATETIME: DATETIME_FORMAT}.get(kind) for kind in table.kinds]
    write_string, write_number = ws.write_string, ws.write_number
    # This loop writes every cell of the workbook (some 160,000 in a full season): keep it lean.
    for row, (values, fills) in enumerate(zip(table.rows, table.fills), start=header_row + 1):
        for col, value in enumerate(values):
            if value is None:
                continue
            fill = fills.get(col) if fills else None
            kind = type(value)
            if kind is str:
                if not value.isprintable() or len(value) > MAX_CELL_CHARS:
                    value = _clean(value)
                # Always as text: a subject like "=HYPERLINK(...)" never becomes a formula.
                write_string(row, col, value, formats.get(fill=fill) if fill else None)
            elif kind is datetime:
                # The serial number Excel stores, reckoned here: XlsxWriter's write_datetime costs more.
                number_format = number_formats[col] or DATETIME_FORMAT
                write_number(row, col, (value - EXCEL_EPOCH) / ONE_DAY, formats.get(number_format, fill))
            elif kind is date:
                number_format = number_formats[col] or DATE_FORMAT
                write_number(row, col, (value - EXCEL_EPOCH_DAY).days, formats.get(number_format, fill))
            elif kind is int or kind is float:
                write_number(row, col, value, formats.get(fill=fill) if fill else None)
            else:
                write_string(row, col, _clean(str(value)), formats.get(fill=fill) if fill else None)

    last_row = header_row + max(len(table.rows), 1)  # an empty sheet still filters its (empty) first row
    ws.autofilter(header_row, 0, last_row, len(table.headers) - 1)


def _clean(text: str) -> str:
    """Strip what Excel cannot store in a cell: control characters, text past its length limit."""
    return _ILLEGAL.sub("", text)[:MAX_CELL_CHARS]


def _widths(table: _Table, first_cell: str | None) -> list[float]:
    # The autofilter arrow covers the right end of a header cell: leave it room.
    widths = [float(_text_width(h) + FILTER_BUTTON_WIDTH) for h in table.headers]
    if first_cell:  # the overview's as-of line sits over the unit column
        widths[0] = max(widths[0], _text_width(first_cell))
    for col, kind in enumerate(table.kinds):
        if kind in FIXED_WIDTHS:
            widths[col] = max(widths[col], FIXED_WIDTHS[kind])
            continue
        best = widths[col]
        for values in table.rows:
            value = values[col]
            if value is None:
                continue
            text = value if isinstance(value, str) else str(value)
            if len(text) * 2 > best:  # cheap bound first: no text is wider than two units a character
                best = max(best, _text_width(text))
        widths[col] = best
    return [min(w + 2, MAX_WIDTH) for w in widths]


def _text_width(text: str) -> int:
    """Column width units: CJK and full-width characters take two, ASCII one."""
    if text.isascii():
        return len(text)
    # UTF-8 spends 3 bytes on a CJK or full-width character and 1 on ASCII, so this counts them 2 and 1.
    return (len(text) + len(text.encode("utf-8", "replace"))) // 2


def _save_atomically(data: bytes | Callable[[BinaryIO], None], target: Path, crash_at: str | None = None,
                     sync_parent: bool = True) -> None:
    """Save beside the target, then rename: readers never see half a file (crashpoints.write_atomically)."""
    sweep_stale_temp_files(target.parent, f".{FILE_PREFIX}-*.tmp")
    try:
        write_atomically(target, data, crash_at=crash_at, sync_parent=sync_parent)
    except OSError as e:
        raise HrbotError(f"无法写入跟踪表 {target}：{e.strerror or e}（若文件正在 Excel/WPS 中打开，请关闭后再试）") from e
