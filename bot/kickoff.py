"""The season's opening mail: each unit head gets the unit's schedule and the blank forms, once per season."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone

from bot import deadlines
from bot.outbox import compose, write_files
from bot.records import (
    ITEM_TITLES,
    LEADER_REVIEW,
    MEETING_REQUEST,
    PERSONAL_REPORT,
    RESERVE_RECOMMENDATION,
    TEAM_REPORT,
    UNION_REVIEW,
    Roster,
)
from bot.reminders import blank_forms
from bot.roster import load_roster
from bot.settings import Settings
from bot.store import Store
from bot.templates import render
from bot.workdays import WorkCalendar

log = logging.getLogger(__name__)

KIND = "kickoff"
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
    forms = list(blank_forms().values())
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
    """Every due date of the unit, in the order the work happens."""
    season = settings.season

    def due(item: str) -> tuple[date | None, bool]:
        return deadlines.due_date(season, cal, item, meeting)

    head = roster.head_of(unit)
    secretary = roster.secretary_of(unit)
    chair = roster.union_chair_of(unit)
    expected = [e for e in deadlines.expected_items(season, roster) if e.unit == unit]
    reporters = [e.person for e in expected if e.item == PERSONAL_REPORT]
    reviewed = [e.person for e in expected if e.item == LEADER_REVIEW]
    by_head = [p for p in reviewed if head is None or p != head.name]
    pending_meeting = (f"述职大会日期确定后计算（会前 {season.report_workdays_before_meeting} 个工作日）"
                       if meeting is None else "")

    steps = [Step(ITEM_TITLES[MEETING_REQUEST], "主要领导", *due(MEETING_REQUEST),
                  note="请回复本邮件，写明拟召开述职大会的日期" if meeting is None else "本单位述职大会日期已确定，可不再申请")]
    steps.append(Step(f"{ITEM_TITLES[TEAM_REPORT]}（附件1）", "主要领导代表班子", *due(TEAM_REPORT), note=pending_meeting))
    steps.append(Step(f"{ITEM_TITLES[PERSONAL_REPORT]}（附件2）", "、".join(reporters) + "，每人一份",
                      *due(PERSONAL_REPORT), note=pending_meeting))
    review_note = ("" if meeting is not None
                   else f"述职大会日期确定后计算（会后 {season.review_workdays_after_meeting} 个工作日内）")
    if by_head:
        steps.append(Step(f"{ITEM_TITLES[LEADER_REVIEW]}（附件3）",
                          f"主要领导评价{'、'.join(by_head)}", *due(LEADER_REVIEW), note=review_note))
    if head is not None and head.name in reviewed:
        writer = secretary.name if secretary else "党支部书记"
        steps.append(Step(f"{ITEM_TITLES[LEADER_REVIEW]}（附件3）", f"{writer}评价{head.name}",
                          *due(LEADER_REVIEW), note=review_note))
    steps.append(Step(f"{ITEM_TITLES[UNION_REVIEW]}（附件3）", chair.name if chair else "分会主席或指定的职工代表",
                      *due(UNION_REVIEW), note="对班子及每位班子成员分别评议"))
    if season.reserve_recommendation_due is not None:
        steps.append(Step(f"{ITEM_TITLES[RESERVE_RECOMMENDATION]}（附件4）", "本单位",
                          *due(RESERVE_RECOMMENDATION)))
    return steps
