"""What HR reads: status rows, the mail log, the tracker workbook — built from the store."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from bot.evaluation.progress import progress
from bot.evaluation.tallies import folder_arrivals
from bot.errors import ConfigError
from bot.records import LogEntry, OutboxRow, Roster, StatusRow
from bot.reports.todo import waiting
from bot.reports.tracker import OUTBOX_STATE_LABELS, OUTGOING_KIND_LABELS, STATE_LABELS, write_tracker
from bot.season import adjustments, deadlines
from bot.season.items import item_title
from bot.season.roster import load_roster
from bot.season.workdays import WorkCalendar
from bot.settings import Settings
from bot.store import Store

logger = logging.getLogger(__name__)


def status_rows(settings: Settings, as_of: date, roster: Roster | None = None) -> list[StatusRow]:
    if roster is None:
        roster = load_roster(settings.config_dir)
    calendar = WorkCalendar.load(settings.config_dir)
    with Store.open(settings.paths.data) as store:
        return season_status(settings, calendar, roster, store, as_of)


def season_status(settings: Settings, calendar: WorkCalendar, roster: Roster, store: Store,
                  as_of: date) -> list[StatusRow]:
    """Every expected item's status: where the store's arrivals, the tallies/ folder, HR's adjustments
    and the documents held for HR come together for deadlines.status (status, tracker, reminders, summary)."""
    arrivals = store.arrivals() + folder_arrivals(settings.config_dir, roster, settings.season.timezone)
    adjusted = adjustments.for_status(settings.config_dir, roster, store)
    return deadlines.status(settings.season, calendar, roster, arrivals, store.requested_meetings(), as_of,
                            adjusted, store.held_documents())


def log_entries(settings: Settings) -> list[LogEntry]:
    """The mail log with arrival times in the season's zone."""
    with Store.open(settings.paths.data) as store:
        entries = store.log()
    for entry in entries:
        entry.received_at = deadlines.local(entry.received_at, settings.season)
        if entry.reprocessed_at is not None:
            entry.reprocessed_at = deadlines.local(entry.reprocessed_at, settings.season)
    return entries


def assignments_by_message(settings: Settings) -> dict[str, list[adjustments.Adjustment]]:
    """HR's 归属 rows by the Message-ID they name, for the mail log; none when the config folder has a mistake
    (the log still shows what was recorded; status and check name the mistake)."""
    try:
        rows = adjustments.load(settings.config_dir, load_roster(settings.config_dir))
    except ConfigError as error:
        logger.warning("log: HR's 归属 rows not shown: %s", error)
        return {}
    found: dict[str, list[adjustments.Adjustment]] = {}
    for row in rows:
        if row.action == adjustments.ASSIGN and row.message_id:
            found.setdefault(row.message_id, []).append(row)
    return found


def assigned_json(rows: list[adjustments.Adjustment]) -> dict:
    """The key `hrbot log --json` adds to a message HR attributed: where its documents count now."""
    return {"assigned": [{"unit": a.unit, "item": a.item, "person": a.person, "row": a.row} for a in rows]} if rows else {}


def write_tracker_for(settings: Settings, as_of: date) -> Path:
    roster = load_roster(settings.config_dir)
    rows = status_rows(settings, as_of, roster)

    log, kept_aside = log_entries(settings), kept_aside_mail(settings)
    return write_tracker(settings.paths.tracker, as_of, rows, log, roster, settings.season.timezone, kept_aside,
                         waiting_for_hr(settings, roster, rows, log, kept_aside), progress(settings, roster))


def waiting_for_hr(settings: Settings, roster: Roster, rows: list[StatusRow], log: list[LogEntry],
                   kept_aside: list[OutboxRow]) -> list:
    """What needs a person (bot.reports.todo), from the store and the config folder."""
    with Store.open(settings.paths.data) as store:
        requested = store.requested_meetings()
        adjusted = adjustments.for_status(settings.config_dir, roster, store)
    return waiting(roster, log, rows, kept_aside, requested, adjusted)


def kept_aside_mail(settings: Settings) -> list[OutboxRow]:
    """Outgoing mail a sender refused for good, or whose sending was cut off: HR must look."""
    with Store.open(settings.paths.data) as store:
        return store.kept_aside()


def status_table(rows: list[StatusRow]) -> str:
    lines = []
    for r in rows:
        late = f" 迟{r.late_workdays}个工作日" if r.late_workdays else ""
        due = r.due.isoformat() if r.due else "待定"
        lines.append(f"{r.unit}\t{item_title(r.item)}\t{r.person or ''}\t截止 {due}\t"
                     f"{STATE_LABELS[r.state]}{late}" + (f"\t{'；'.join(r.warnings)}" if r.warnings else ""))
    return "\n".join(lines)


def log_table(entries: list[LogEntry], outgoing: list[OutboxRow] = (),
              assigned: dict[str, list[adjustments.Adjustment]] | None = None) -> str:
    lines = []
    unshown = dict(assigned or {})
    for e in entries:
        lines.append(f"{e.received_at:%Y-%m-%d %H:%M}\t{e.from_addr or '-'}\t{e.outcome}\t{e.reason}")
        for a in e.attachments:
            what = item_title(a.item, "") if a.item else ""
            lines.append(f"\t{a.filename or '（无名）'}\t{a.outcome}\t{what}\t{a.person or ''}\t{a.reason}")
        for a in unshown.pop(e.ref, ()):  # under the first delivery of that ID: the one whose arrival counts
            lines.append(f"\t→ 人力资源科已归属：{a.unit} {item_title(a.item)} {a.person or ''}（调整表第 {a.row} 行）")
    if outgoing:
        lines.append(f"\n需要人工处理的发出邮件（{len(outgoing)} 封）：")
        for row in outgoing:
            lines.append(f"{row.created_at:%Y-%m-%d %H:%M}\t{OUTGOING_KIND_LABELS.get(row.kind, row.kind)}\t"
                         f"{', '.join(row.recipients)}\t{OUTBOX_STATE_LABELS.get(row.state, row.state)}\t{row.last_error}")
    return "\n".join(lines)
