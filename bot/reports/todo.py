"""What waits for HR (the tracker's sheet 待处理, the daily summary): each thing, what happened, and the exact fix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot.season.adjustments import ASSIGN, Adjustment, unknown_messages
from bot.records import (FAILED, NO_DOCUMENTS, REJECTED, RETRYABLE_REJECTIONS, UNCERTAIN, UNKNOWN_SENDER, LogEntry,
                         OutboxRow, Roster, StatusRow)
from bot.season.items import item_title
from bot.season.roster import ADJUSTMENTS_FILE, PEOPLE_FILE, gaps

HELD_MAIL, HELD_FILE, REFUSED, GONE, ROSTER, SENDING, DEADLINE, ADJUSTMENT = (
    "待确认的邮件", "待确认归属的文件", "已拒收的邮件", "邮箱中已找不到", "名单缺项", "发出的邮件", "截止日期暂定", "调整表")
# A stranger's line names this many of its files, then how many in all.
STRANGER_FILES_SHOWN = 3


@dataclass(frozen=True)
class Todo:
    """One thing that needs a person."""

    kind: str  # one of the labels above
    when: datetime | None  # when the mail came (local), None for standing facts
    about: str  # sender, unit or recipient
    what: str  # what happened, in HR's words
    fix: str  # the adjustments row to add, or the command to run


def waiting(roster: Roster, log: list[LogEntry], rows: list[StatusRow], kept_aside: list[OutboxRow],
            requested_meetings: dict, adjustments: list[Adjustment] = ()) -> list[Todo]:
    """Everything waiting for HR, mail first (in arrival order), then the roster, sending and deadlines.

    adjustments: as bot.season.adjustments.for_status gives them; a message HR attributed (归属) waits no more.
    """
    # Each 归属 row settles one held file of its message (bot.season.deadlines.reattributed).
    assigned = Counter(a.message_id for a in adjustments if a.action == ASSIGN and a.arrived is not None)
    todo: list[Todo] = []
    # A working inbox gets thousands of strangers' mails with attachments; one fix (the address in
    # people.csv) settles all of a sender's, so each sender is one line, placed at its latest mail.
    strangers: dict[str | None, list[LogEntry]] = {}
    for entry in log:
        settled = assigned.get(entry.ref, 0)
        if settled and settled >= sum(1 for a in entry.attachments if a.held):
            continue  # HR attributed it: it waits no more
        if _from_stranger(entry):
            strangers.setdefault(entry.from_addr, []).append(entry)
            continue
        todo.extend(_mail(entry, roster, settled))
    if strangers:
        todo = sorted(todo + [_strangers_mail(entries) for entries in strangers.values()], key=lambda t: t.when)
    for unit, what, fix in gaps(roster, requested_meetings):
        todo.append(Todo(ROSTER, None, unit, what, fix))
    for row in kept_aside:
        state = "发送失败（服务器拒收）" if row.state == FAILED else "发送中断，结果不明"
        fix = ("核实对方未收到后运行 hrbot send --retry-uncertain" if row.state == UNCERTAIN
               else "核对收件人地址（people.csv）后，在 Excel 追踪表中确认并另行联系")
        todo.append(Todo(SENDING, None, ", ".join(row.recipients), f"{state}：{row.last_error}", fix))
    provisional = sorted({r.due.year for r in rows if r.provisional and r.due})
    for year in provisional:
        count = sum(1 for r in rows if r.provisional and r.due and r.due.year == year)
        todo.append(Todo(DEADLINE, None, f"{year} 年", f"{count} 项截止日期为暂定（该年节假日安排未录入）",
                         f"国务院公布放假安排后，在配置文件夹的 calendar/ 中新建 {year}.toml"))
    for a in unknown_messages(adjustments):
        todo.append(Todo(ADJUSTMENT, None, a.unit, f"{ADJUSTMENTS_FILE} 第 {a.row} 行：没有收到过 {a.message_id}，未生效",
                         "用 hrbot log 查到正确的 Message-ID 后改正该行"))
    return todo


def _from_stranger(entry: LogEntry) -> bool:
    """Held because its sender is off the roster, with files that may be a cadre's from a private address."""
    return not entry.gone and entry.outcome == UNKNOWN_SENDER and any(a.filename for a in entry.attachments)


def _strangers_mail(entries: list[LogEntry]) -> Todo:
    """One sender's held mail: the one message as it is, or how many, the latest subject and some file names."""
    latest = max(entries, key=lambda e: e.received_at)
    who = latest.from_addr or "（无发件人）"
    files = [a.filename for e in entries for a in e.attachments if a.filename]
    fix = f"如是名单中某人的地址：在 {PEOPLE_FILE} 此人的“邮箱”格末尾加上 ;{who}，保存后下次收取自动重新处理"
    if len(entries) == 1:
        mid = latest.ref or latest.message_id
        return Todo(HELD_MAIL, latest.received_at, who,
                    f"「{latest.subject or '无主题'}」：发件人不在名单中，附件 {'、'.join(files)} 未登记",
                    f"{fix}（或运行 hrbot reprocess --message {mid}）")
    shown = "、".join(files[:STRANGER_FILES_SHOWN]) + (f" 等 {len(files)} 个" if len(files) > STRANGER_FILES_SHOWN else "")
    return Todo(HELD_MAIL, latest.received_at, who,
                f"{len(entries)} 封邮件（最近一封「{latest.subject or '无主题'}」）：发件人不在名单中，附件 {shown} 未登记",
                f"{fix}（或运行 hrbot reprocess --all-held）；每封邮件见跟踪表文件夹中的邮件日志 CSV 或 hrbot log")


def _mail(entry: LogEntry, roster: Roster, settled: int = 0) -> list[Todo]:
    who = entry.from_addr or "（无发件人）"
    subject = f"「{entry.subject or '无主题'}」"
    mid = entry.ref or entry.message_id
    if entry.gone:
        return [Todo(GONE, entry.received_at, who, f"{subject}：要重新处理时，邮箱中已找不到此邮件",
                     "在邮箱（含已删除邮件）中找到后转发到本邮箱；或按纸质收件在 "
                     f"{ADJUSTMENTS_FILE} 添加：单位,材料,人员,已收到,收到日期,说明")]
    held = [a for a in entry.attachments if a.held][settled:]
    if held:
        return [Todo(HELD_FILE, entry.received_at, _name(who, roster),
                     f"{subject}中的“{a.filename or '附件'}”：{a.reason}",
                     f"在 {ADJUSTMENTS_FILE} 添加一行：{a.unit or '单位'},{item_title(a.item, '材料')},"
                     f"{a.person or '人员'},归属,,{mid}（或 hrbot adjust assign --message '{mid}' …）")
                for a in held]
    if entry.outcome == NO_DOCUMENTS:
        return [Todo(HELD_MAIL, entry.received_at, _name(who, roster), f"{subject}：未识别到考核材料",
                     "阅读邮件后直接回复发件人；如材料已线下交来，在 "
                     f"{ADJUSTMENTS_FILE} 添加：单位,材料,人员,已收到,收到日期,说明")]
    if entry.outcome == REJECTED:
        if entry.reason.startswith(RETRYABLE_REJECTIONS):
            fix = f"运行 hrbot reprocess --message {mid}"
        else:
            fix = "请发件人处理后重新发送（如改用 .docx、解除加密、分开发送），或由本人从名单地址发送"
        return [Todo(REFUSED, entry.received_at, _name(who, roster), f"{subject}：{entry.reason}", fix)]
    return []


def _name(address: str, roster: Roster) -> str:
    person = roster.by_email(address)
    return f"{person.unit} {person.name} <{address}>" if person else address
