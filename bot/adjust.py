"""`hrbot adjust VERB …`: append one of HR's adjustment rows, then say what it changed in today's status."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.season.adjustments import ACTION, ASSIGN, DAY, ITEM, MESSAGE_ID, NOTE, PERSON, UNIT, VERBS, append
from bot.errors import ConfigError
from bot.season.items import item_title
from bot.reports.views import status_rows
from bot.season.roster import ADJUSTMENTS_FILE, load_roster
from bot.store import Store
from bot.reports.tracker import STATE_LABELS


def adjust(settings, verb: str, unit: str, item: str, person: str, day: date | None, message: str, note: str,
           today: date) -> list[str]:
    """`hrbot adjust VERB …`: append the row, then say what it changed in today's status."""
    roster = load_roster(settings.config_dir)
    action = VERBS[verb]
    if action == ASSIGN:
        if not MESSAGE_ID.fullmatch(message.strip()):
            raise ConfigError("--message", "assign 需要 --message 给出那封邮件的 Message-ID（带尖括号，见 hrbot log）")
        with Store.open(settings.paths.data) as store:
            if store.first_arrival(message.strip()) is None:
                raise ConfigError("--message", f"没有收到过 Message-ID 为 {message.strip()} 的邮件（见 hrbot log）")
        note = f"{message.strip()} {note}".strip()
    cells = {UNIT: unit, ITEM: item, PERSON: person, ACTION: action, DAY: day.isoformat() if day else "", NOTE: note}
    before = {_key(r): r for r in status_rows(settings, today, roster)}
    added = append(settings.config_dir, roster, cells)
    lines = [f"已写入 {Path(settings.config_dir) / ADJUSTMENTS_FILE}：{unit},{item_title(added.item)},{person},"
             f"{action},{cells[DAY]},{note}"]
    for row in status_rows(settings, today, roster):
        old = before.get(_key(row))
        if old is not None and _shown(old) != _shown(row):
            who = f"（{row.person}）" if row.person else ""
            lines.append(f"  {row.unit} {item_title(row.item)}{who}：{_shown(old)} → {_shown(row)}")
    if len(lines) == 1:
        lines.append("  今天的状态没有变化（该项已是这一结果，或所指邮件尚无可登记的材料）")
    return lines


def _key(row) -> tuple:
    return row.unit, row.item, row.person


def _shown(row) -> str:
    late = f"，迟 {row.late_workdays} 个工作日" if row.late_workdays else ""
    return f"{STATE_LABELS[row.state]}（截止 {row.due or '未定'}{late}）"
