"""The season's opening mail: each unit head gets the unit's schedule and the blank forms, once per season."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone

from bot.season import deadlines
from bot.out.forms import blank_form_attachments
from bot.season.items import AFTER_MEETING, BEFORE_MEETING, HEAD_AND_WRITER, REVIEWER, TABLE, UNION_CHAIR, Item
from bot.out.outbox import compose, write_files
from bot.records import KICKOFF, Roster
from bot.season.roster import load_roster
from bot.settings import Settings
from bot.store import Store
from bot.out.templates import render
from bot.season.workdays import WorkCalendar

log = logging.getLogger(__name__)

KIND = KICKOFF
TEMPLATE = "kickoff.txt.j2"
# Kept per unit, so that a unit added to the roster later still gets its kickoff without --force.
SENT_KEY = "kickoff:{year}:{unit}"


@dataclass(frozen=True)
class Step:
    """One line of a unit's schedule."""

    title: str
    who: str  # who sends it, in words
    due: date | None
    provisional: bool = False
    note: str = ""


def kickoff(settings: Settings, dry_run: bool = False, force: bool = False) -> list[str]:
    """Queue the kickoff mail to each unit head not yet sent one this season (all with force)."""
    cal = WorkCalendar.load(settings.config_dir)
    roster = load_roster(settings.config_dir)
    year = settings.season.year
    lines: list[str] = []
    skipped: list[str] = []
    forms = blank_form_attachments()
    with Store.open(settings.paths.data) as store:
        requested = store.requested_meetings()
        for unit in roster.units:
            head = roster.head_of(unit)
            if head is None:
                lines.append(f"{unit}：名单中没有主要领导，未发送启动通知")
                continue
            key = SENT_KEY.format(year=year, unit=unit)
            sent_at = store.get_state(key)
            if sent_at and not force:
                skipped.append(unit)
                continue
            meeting = deadlines.unit_meeting(roster.units[unit], requested)
            subject, text = render(
                settings, TEMPLATE, head=head, unit=roster.units[unit], meeting=meeting,
                steps=schedule_for(settings, cal, roster, unit, meeting), season=settings.season,
                forms=[f.filename for f in forms],
            )
            if dry_run:  # shown from the rendered text: no mail is built only to be dropped
                lines.append(f"将发送启动通知 → {unit} {head.name} <{head.email}>：{subject}")
                lines.extend("  | " + line if line else "  |" for line in text.rstrip().splitlines())
                lines.append("")
                continue
            out = compose(settings, KIND, [head.email], subject, text, attachments=forms)
            store.queue(out, state={key: datetime.now(timezone.utc).isoformat()})
            log.info("kickoff queued to %s (%s)", head.email, unit)
            lines.append(f"已写入启动通知 → {unit} {head.name} <{head.email}>")
        if not dry_run:
            write_files(settings, store)
    if skipped:
        lines.append(f"{year} 年度的启动通知此前已发给 {len(skipped)} 个单位（{'、'.join(skipped)}），"
                     f"未重复发送；确需重发请加 --force")
    if dry_run and any(line.startswith("将发送") for line in lines):
        lines.append(f"（演练：共附空白表格 {len(forms)} 份；以上邮件均未写入发件箱，也未作记录）")
    return lines


def kickoff_sent(store: Store, settings: Settings, roster: Roster) -> bool:
    """Whether every unit with a head has had its kickoff this season (the HR summary asks)."""
    year = settings.season.year
    return all(store.get_state(SENT_KEY.format(year=year, unit=u)) for u in roster.units if roster.head_of(u))


def schedule_for(settings: Settings, cal: WorkCalendar, roster: Roster, unit: str, meeting: date | None) -> list[Step]:
    """Every due date of the unit, in the order of bot.season.items (the order the work happens)."""
    season = settings.season
    expected = [e for e in deadlines.expected_items(season, roster) if e.unit == unit]
    notes = {
        BEFORE_MEETING: f"述职大会日期确定后计算（会前 {season.report_workdays_before_meeting} 个工作日）",
        AFTER_MEETING: f"述职大会日期确定后计算（会后 {season.review_workdays_after_meeting} 个工作日内）",
    }
    forms = {name: n for n, name in enumerate(dict.fromkeys(i.form for i in TABLE.values() if i.form), 1)}
    steps: list[Step] = []
    for item in TABLE.values():
        owed = [e.person for e in expected if e.item == item.code]
        if not item.in_kickoff or not owed:
            continue
        title = f"{item.title}（附件{forms[item.form]}）" if item.form else item.title
        due, provisional = deadlines.due_date(season, cal, item.code, meeting)
        note = item.kickoff_note or (notes.get(item.due, "") if meeting is None else "")
        if item.moot_once_meeting_fixed:
            note = "请回复本邮件，写明拟召开述职大会的日期" if meeting is None else "本单位述职大会日期已确定，可不再申请"
        steps.extend(Step(title, who, due, provisional, note) for who in _senders(roster, unit, item, owed))
    return steps


def _senders(roster: Roster, unit: str, item: Item, owed: list[str | None]) -> list[str]:
    """Who sends an item, in words: one entry per step (the head's own review is written by someone else)."""
    if item.hears == HEAD_AND_WRITER:
        return ["、".join(owed) + "，每人一份"]
    if item.hears == UNION_CHAIR:
        chair = roster.union_chair_of(unit)
        return [chair.name if chair else "分会主席或指定的职工代表"]
    if item.hears == REVIEWER:
        head = roster.head_of(unit)
        by_head = [p for p in owed if head is None or p != head.name]
        steps = [f"主要领导评价{'、'.join(by_head)}"] if by_head else []
        if head is not None and head.name in owed:
            secretary = roster.secretary_of(unit)
            steps.append(f"{secretary.name if secretary else '党支部书记'}评价{head.name}")
        return steps
    return [item.kickoff_who]
