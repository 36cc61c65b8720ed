"""What each unit owes, when it is due, and the state of each item as of a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.season.adjustments import ASSIGN, EXEMPT as EXEMPTED, EXTEND, RECEIVED as ON_PAPER, Adjustment
from bot.records import (
    EXEMPT,
    LATE,
    OVERDUE,
    PENDING,
    RECEIVED,
    Arrival,
    Expected,
    HeldDocument,
    Roster,
    StatusRow,
    Unit,
)
from bot.season.items import AFTER_MEETING, BEFORE_MEETING, TABLE
from bot.settings import Season
from bot.season.workdays import WorkCalendar

HELD_WARNING = "有材料待人力资源科确认归属"


@dataclass(frozen=True)
class MeetingDeadlines:
    """The deadlines that follow from one unit's meeting date (`hrbot calendar due`)."""

    meeting: date
    reports_due: date
    reviews_due: date
    provisional: bool

    def to_json(self) -> dict:
        return {
            "meeting": self.meeting.isoformat(),
            "reports_due": self.reports_due.isoformat(),
            "reviews_due": self.reviews_due.isoformat(),
            "provisional": self.provisional,
        }


def meeting_deadlines(season: Season, cal: WorkCalendar, meeting: date) -> MeetingDeadlines:
    """Reports due N working days before the meeting, reviews M working days after it."""
    reports_due, early = cal.shift(meeting, -season.report_workdays_before_meeting)
    reviews_due, later = cal.shift(meeting, season.review_workdays_after_meeting)
    return MeetingDeadlines(meeting, reports_due, reviews_due, early or later)


def expected_items(season: Season, roster: Roster) -> list[Expected]:
    """Every item the season expects, by unit (roster order), then item (table order), then person (roster order).

    An item due on a [season] date left unset (reserve_recommendation_due) is not expected this season.
    """
    rows: list[Expected] = []
    for unit in roster.units:
        people = roster.people_in(unit)
        for item in TABLE.values():
            if item.due not in (BEFORE_MEETING, AFTER_MEETING) and getattr(season, item.due) is None:
                continue
            rows.extend(Expected(unit, item.code, person) for person in item.owed_by(people))
    return rows


def due_date(season: Season, cal: WorkCalendar, item: str, meeting: date | None) -> tuple[date | None, bool]:
    """An item's due date (None while it hangs on a meeting date nobody fixed) and whether it is provisional."""
    if item not in TABLE:
        raise ValueError(f"unknown item {item!r}")
    rule = TABLE[item].due
    if rule not in (BEFORE_MEETING, AFTER_MEETING):
        return getattr(season, rule), False
    if meeting is None:
        return None, False
    if rule == AFTER_MEETING:
        return cal.shift(meeting, season.review_workdays_after_meeting)
    return cal.shift(meeting, -season.report_workdays_before_meeting)


def unit_meeting(unit: Unit, requested: dict[str, date]) -> date | None:
    """HR's date from units.csv wins; else the date the unit asked for in its meeting request."""
    return unit.meeting if unit.meeting is not None else requested.get(unit.name)


def status(
    season: Season,
    cal: WorkCalendar,
    roster: Roster,
    arrivals: list[Arrival],
    requested_meetings: dict[str, date],
    as_of: date,
    adjustments: list[Adjustment] = (),
    held: Sequence[HeldDocument] = (),
) -> list[StatusRow]:
    """One row per expected item; the first arrival decides the state, later ones only add versions.

    HR's adjustments (bot.season.adjustments) apply here, the one place states are computed: 归属 moves a
    message's document to another item or person, 已收到 adds an arrival outside the mailbox, 延期
    replaces the due date, 免交 makes the item `exempt`. An item not received that a document held
    for HR may be is marked held, with a warning: it is not reminded while HR decides whose it is.
    """
    assignments = [a for a in adjustments if a.action == ASSIGN]
    arrivals, withdrawn, held = reattributed(arrivals, assignments, held)
    versions: dict[tuple[str, str, str | None], list[Arrival]] = {}
    for arrival in sorted(arrivals, key=lambda a: local(a.received_at, season)):
        versions.setdefault((arrival.unit, arrival.item, arrival.person), []).append(arrival)

    rows = []
    for expected in expected_items(season, roster):
        meeting = unit_meeting(roster.units[expected.unit], requested_meetings)
        due, provisional = due_date(season, cal, expected.item, meeting)
        applying = [a for a in adjustments if a.covers(expected.unit, expected.item, expected.person)]
        due, provisional = adjusted_due(due, provisional, applying)
        found = versions.get((expected.unit, expected.item, expected.person), [])
        times = [local(a.received_at, season) for a in found[:1]]
        times += [datetime.combine(a.day, time(0), season.timezone) for a in applying if a.action == ON_PAPER]
        received_at = min(times) if times else None
        arrived = received_at.date() if received_at is not None else None
        state, late_workdays, late_provisional = item_state(cal, due, arrived, as_of)
        waiting = not times and any(h.may_be(expected.unit, expected.item, expected.person) for h in held)
        if any(a.action == EXEMPTED for a in applying):
            state, late_workdays, late_provisional, waiting = EXEMPT, 0, False, False
        rows.append(
            StatusRow(
                unit=expected.unit,
                item=expected.item,
                person=expected.person,
                due=due,
                provisional=provisional or late_provisional,
                state=state,
                received_at=received_at,
                late_workdays=late_workdays,
                versions=len(found) + sum(1 for a in applying if a.action == ON_PAPER),
                warnings=list(found[-1].warnings) if found else [HELD_WARNING] if waiting else [],
                adjustment=_shown_adjustment(applying, withdrawn.get((expected.unit, expected.item, expected.person))),
                held=waiting,
            )
        )
    return rows


def adjusted_due(due: date | None, provisional: bool, applying: list[Adjustment]) -> tuple[date | None, bool]:
    """The due date after HR's 延期 rows that apply to an item (the last one wins; HR's date is no computed one)."""
    extensions = [a.day for a in applying if a.action == EXTEND]
    return (extensions[-1], False) if extensions else (due, provisional)


def _shown_adjustment(applying: list[Adjustment], withdrawn: Adjustment | None) -> dict | None:
    """The adjustment a status row shows: the last that applies to it, else the 归属 that took its document away."""
    if applying:
        return applying[-1].to_json()
    if withdrawn is not None:
        target = f"{withdrawn.unit} {withdrawn.person or ''}".strip()
        return {"action": withdrawn.action, "note": f"{withdrawn.message_id} 的文件已改归 {target}"}
    return None


def reattributed(arrivals: list[Arrival], assignments: list[Adjustment], held: Sequence[HeldDocument] = ()
                 ) -> tuple[list[Arrival], dict[tuple[str, str, str | None], Adjustment], list[HeldDocument]]:
    """The arrivals after HR's 归属 rows, the rows that withdrew a document (by unit, item, person),
    and the held documents no row has settled yet.

    Each row stands for one document of the message it names, which then counts for the row's unit,
    item and person. While that message still has a document held for HR, the row settles one of
    them (the one that may be what the row says, else the first) and withdraws nothing: the other
    documents hrbot recorded from the same mail stay, and two held files of one mail can go to two
    people. Otherwise the row corrects what hrbot recorded: the one document of the row's item in
    that message (or its only document) is withdrawn. Where several could be meant, none is
    withdrawn, since guessing could take away a right one. A row whose message the store does not
    have (arrived None) changes nothing.
    """
    recorded = list(arrivals)  # hrbot's own readings: what a row may withdraw
    waiting = list(held)
    added: list[Arrival] = []
    withdrawn_from: dict[tuple[str, str, str | None], Adjustment] = {}
    for a in assignments:
        if a.arrived is None:
            continue
        in_message = [h for h in waiting if h.message_id == a.message_id]
        if in_message:
            waiting.remove(next((h for h in in_message if h.may_be(a.unit, a.item, a.person)), in_message[0]))
            withdrawn: list[Arrival] = []
        else:
            of_message = [x for x in recorded if x.message_id == a.message_id]
            candidates = [x for x in of_message if x.item == a.item] or of_message
            withdrawn = candidates if len(candidates) == 1 else []
        recorded = [x for x in recorded if x not in withdrawn]
        withdrawn_from.update({(x.unit, x.item, x.person): a for x in withdrawn})
        warnings = withdrawn[0].warnings if withdrawn else ()
        added.append(Arrival(unit=a.unit, item=a.item, person=a.person, received_at=a.arrived,
                             message_id=a.message_id, warnings=warnings))
    return recorded + added, withdrawn_from, waiting


def item_state(cal: WorkCalendar, due: date | None, arrived: date | None, as_of: date) -> tuple[str, int, bool]:
    """(state, late working days, provisional) of an item that arrived on a local day, or not yet."""
    if arrived is not None:
        # Without a due date yet the item counts as on time (docs/contract.md, "States").
        if due is None or arrived <= due:
            return RECEIVED, 0, False
        return LATE, *cal.workdays_after(due, arrived)
    if due is None or as_of <= due:
        return PENDING, 0, False
    return OVERDUE, *cal.workdays_after(due, as_of)


def local(moment: datetime, season: Season) -> datetime:
    """The moment in the season's zone."""
    # Days are counted in the plant's zone; a naive time (sources never give one) is read as already local.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=season.timezone)
    return moment.astimezone(season.timezone)
