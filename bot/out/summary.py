"""The daily mail to HR: the day's tracker workbook attached, and in the body what needs attention first."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.season import adjustments, deadlines
from bot.evaluation.progress import progress
from bot.out.kickoff import kickoff_sent
from bot.out.outbox import FileAttachment, compose, write_files
from bot.records import EXEMPT, LATE, OVERDUE, PENDING, RECEIVED, SUMMARY, Outgoing, Roster, StatusRow
from bot.season.items import item_title
from bot.out.reminders import hr_person, moot, owers
from bot.reports.views import season_status, write_tracker_for
from bot.season.roster import load_roster
from bot.settings import Settings
from bot.store import Store
from bot.out.templates import render
from bot.reports.todo import waiting
from bot.reports.tracker import STATE_LABELS
from bot.season.workdays import CALENDAR_DIR, WorkCalendar

log = logging.getLogger(__name__)

KIND = SUMMARY
TEXT_TEMPLATE = "summary.txt.j2"
HTML_TEMPLATE = "summary.html.j2"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LAST_DAY_KEY = "summary:last_day"  # the working day whose summary went out last
LAST_AT_KEY = "summary:last_at"  # when: "arrived since" starts there

STATE_ORDER = (OVERDUE, LATE, PENDING, RECEIVED)  # what HR chases first


@dataclass(frozen=True)
class Line:
    """One item as the summary lists it."""

    unit: str
    title: str
    person: str | None
    due: date | None
    state: str  # label, e.g. 逾期未交
    late_workdays: int = 0
    owed_by: str = ""  # who was reminded
    copied: str = ""  # the plant leader copied on escalation
    received_at: datetime | None = None
    note: str = ""


@dataclass
class UnitCount:
    unit: str
    counts: dict[str, int]  # by state label, in STATE_ORDER


@dataclass
class Summary:
    """Everything the summary templates show; built from the store, nothing else."""

    as_of: date
    since: datetime
    counts: dict[str, int]  # by state label, in STATE_ORDER
    units: list[UnitCount]
    escalated: list[Line]
    overdue: list[Line]
    arrived: list[Line]
    attention: list[str]
    unconfirmed_years: list[int]
    calendar_dir: str
    tracker_name: str = ""
    evaluation: list = field(default_factory=list)  # bot.evaluation.progress.UnitProgress, per unit
    escalate_after: int = 0
    total: int = 0
    state_labels: list[str] = field(default_factory=lambda: [STATE_LABELS[s] for s in STATE_ORDER])


def build(settings: Settings, cal: WorkCalendar, roster: Roster, store: Store, as_of: date, since: datetime,
          calendar_note: bool = False) -> Summary:
    """The day's summary as of as_of, listing mail and arrivals after `since`."""
    rows = season_status(settings, cal, roster, store, as_of)
    labels = [STATE_LABELS[s] for s in STATE_ORDER]
    counts = Counter(STATE_LABELS[r.state] for r in rows)
    per_unit: dict[str, Counter] = {unit: Counter() for unit in roster.units}
    for r in rows:
        per_unit[r.unit][STATE_LABELS[r.state]] += 1

    escalate_after = settings.reminders.escalate_after_workdays
    overdue = sorted((r for r in rows if r.state == OVERDUE), key=lambda r: -r.late_workdays)  # stable: roster order
    escalated = [r for r in overdue if 0 < escalate_after <= r.late_workdays and not moot(roster, r)]
    at_top = {id(r) for r in escalated}
    return Summary(
        as_of=as_of,
        since=since,
        counts={label: counts.get(label, 0) for label in labels},
        units=[UnitCount(u, {label: c.get(label, 0) for label in labels}) for u, c in per_unit.items()],
        escalated=[_line(r, roster, settings) for r in escalated],
        overdue=[_line(r, roster, settings) for r in overdue if id(r) not in at_top],
        arrived=_arrived(store, rows, since, settings),
        attention=_attention(settings, roster, store, rows),
        unconfirmed_years=unconfirmed_years(cal, settings, as_of, calendar_note),
        calendar_dir=str(settings.config_dir / CALENDAR_DIR),
        escalate_after=escalate_after,
        total=sum(1 for r in rows if r.state != EXEMPT),  # 免交 is not owed
        evaluation=progress(settings, roster),
    )


def unconfirmed_years(cal: WorkCalendar, settings: Settings, today: date, include_next: bool) -> list[int]:
    """The years the season's dates run through whose official calendar is not known.

    Next year is checked in the first week of December and when the service starts, so HR has
    time to add its file once the State Council publishes the holidays (usually in November).
    """
    years = {settings.season.year, settings.season.final_due.year, today.year}
    if include_next or (today.month == 12 and today.day <= 7):
        years.add(today.year + 1)
    return sorted(y for y in years if not cal.is_known(y))


def _line(r: StatusRow, roster: Roster, settings: Settings) -> Line:
    if moot(roster, r):
        return Line(r.unit, item_title(r.item), r.person, r.due, STATE_LABELS[r.state], r.late_workdays,
                    note="述职大会日期已在 units.csv 中确定，不再催交")
    people = owers(roster, r, remind_cadres=False, hr=hr_person(settings, r.unit))
    leaders = settings.reminders.leaders.get(r.unit, ())
    escalated = 0 < settings.reminders.escalate_after_workdays <= r.late_workdays
    return Line(r.unit, item_title(r.item), r.person, r.due, STATE_LABELS[r.state], r.late_workdays,
                owed_by="、".join(p.name for p in people), copied="、".join(leaders) if escalated else "",
                note="截止日期暂定" if r.provisional else "")


def _arrived(store: Store, rows: list[StatusRow], since: datetime, settings: Settings) -> list[Line]:
    by_key = {(r.unit, r.item, r.person): r for r in rows}
    lines = []
    for a in store.arrivals():
        if a.received_at <= since:
            continue
        row = by_key.get((a.unit, a.item, a.person))
        if row is None:  # a person since removed from the roster: the tracker's log still shows it
            continue
        at = deadlines.local(a.received_at, settings.season)
        first = row.received_at is not None and at == row.received_at
        state = STATE_LABELS[row.state] if first else "更新版本"
        if first and row.state == LATE:
            state += f"（迟 {row.late_workdays} 个工作日）"
        lines.append(Line(a.unit, item_title(a.item), a.person, row.due, state, received_at=at,
                          note="；".join(a.warnings)))
    return lines


def _attention(settings: Settings, roster: Roster, store: Store, rows: list[StatusRow]) -> list[str]:
    """Everything waiting for HR (bot.reports.todo, as the tracker's sheet 待处理 lists it), each with its fix."""
    adjusted = adjustments.for_status(settings.config_dir, roster, store)
    notes = []
    for t in waiting(roster, store.log(), rows, store.kept_aside(), store.requested_meetings(), adjusted):
        at = f"{deadlines.local(t.when, settings.season):%m-%d %H:%M} " if t.when else ""
        notes.append(f"【{t.kind}】{at}{t.about}：{t.what}。处理：{t.fix}")
    if not kickoff_sent(store, settings, roster):
        notes.append("尚有单位未收到启动通知（各单位的日程与空白表格）：可运行 hrbot kickoff 发送")
    return notes


def compose_summary(settings: Settings, summary: Summary, tracker: Path | None) -> Outgoing:
    context = dict(s=summary, season=settings.season, STATE_LABELS=STATE_LABELS)
    subject, text = render(settings, TEXT_TEMPLATE, **context)
    _, html = render(settings, HTML_TEMPLATE, subject=subject, **context)
    attachments = [FileAttachment(tracker.name, tracker.read_bytes(), XLSX)] if tracker is not None else []
    return compose(settings, KIND, [settings.hr.address], subject, text, html=html, attachments=attachments)


def send_summary(settings: Settings, as_of: date, now: datetime, calendar_note: bool = False) -> Path:
    """Write the tracker for as_of and queue the summary mail to HR; returns the workbook's path."""
    cal = WorkCalendar.load(settings.config_dir)
    roster = load_roster(settings.config_dir)
    tracker = write_tracker_for(settings, as_of)
    with Store.open(settings.paths.data) as store:
        last_at = store.get_state(LAST_AT_KEY)
        since = datetime.fromisoformat(last_at) if last_at else _start_of_yesterday(settings, as_of)
        summary = build(settings, cal, roster, store, as_of, since, calendar_note)
        summary.tracker_name = tracker.name
        store.queue(compose_summary(settings, summary, tracker),
                    state={LAST_DAY_KEY: as_of.isoformat(), LAST_AT_KEY: now.isoformat()})
        write_files(settings, store)
    if summary.unconfirmed_years:
        log.warning("the working-day calendar of %s is not confirmed: add %s/<year>.toml",
                    ", ".join(map(str, summary.unconfirmed_years)), summary.calendar_dir)
    return tracker


def summary_due(settings: Settings, now: datetime, calendar_note: bool = False) -> Path | None:
    """The service's job: on a working day from [schedule] tracker_time, once; None when not due."""
    local = now.astimezone(settings.season.timezone)
    day = local.date()
    if local.time() < settings.schedule.tracker_time:
        return None
    with Store.open(settings.paths.data) as store:
        if store.get_state(LAST_DAY_KEY) == day.isoformat():
            return None
    if not WorkCalendar.load(settings.config_dir).is_workday(day):
        return None
    return send_summary(settings, day, now, calendar_note)


def _start_of_yesterday(settings: Settings, as_of: date) -> datetime:
    return datetime.combine(as_of - timedelta(days=1), time(0), settings.season.timezone)
