"""Deadlines and states: domain.md's worked examples, provisional years, and the due-day boundary."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.season.deadlines import MeetingDeadlines, due_date, expected_items, meeting_deadlines, status, unit_meeting
from bot.records import (
    CADRE,
    DEPUTY,
    DEPUTY_SECRETARY,
    HEAD,
    LATE,
    OVERDUE,
    PENDING,
    RECEIVED,
    SECOND_LINE,
    SECRETARY,
    UNION_CHAIR,
    Arrival,
    Expected,
    Person,
    Roster,
    Unit,
)
from bot.season.items import (
    BALLOT_TALLY,
    LEADER_REVIEW,
    MEETING_REQUEST,
    PERSONAL_REPORT,
    RESERVE_RECOMMENDATION,
    TEAM_REPORT,
    UNION_REVIEW,
)
from bot.settings import Season
from bot.season.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEASON = Season(
    year=2026,
    timezone=SHANGHAI,
    meeting_request_due=date(2026, 11, 25),
    union_review_due=date(2026, 12, 18),
    final_due=date(2026, 12, 31),
)
CAL = WorkCalendar()


def person(unit: str, name: str, role: str) -> Person:
    return Person(unit, name, role, f"{name}@tengfei.example")


def make_roster(meeting: date | None = date(2026, 12, 10)) -> Roster:
    units = {
        "合成车间": Unit("合成车间", "车间", 120, meeting),
        "财务科": Unit("财务科", "科室", 12, None),
    }
    people = (
        person("合成车间", "李建国", HEAD),
        person("合成车间", "张红", SECRETARY),
        person("财务科", "赵敏", HEAD),
        person("合成车间", "王珺", DEPUTY),
        person("合成车间", "陈刚", CADRE),
        person("合成车间", "刘老", SECOND_LINE),
        person("合成车间", "孙丽", UNION_CHAIR),
        person("财务科", "钱进", DEPUTY_SECRETARY),
    )
    return Roster(units, people)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def row_for(rows, item, person=None, unit="合成车间"):
    return next(r for r in rows if (r.unit, r.item, r.person) == (unit, item, person))


# --- meeting deadlines ----------------------------------------------------


def test_meeting_deadlines_december_example():
    result = meeting_deadlines(SEASON, CAL, date(2026, 12, 10))
    assert result == MeetingDeadlines(date(2026, 12, 10), date(2026, 12, 7), date(2026, 12, 15), False)
    assert result.to_json() == {
        "meeting": "2026-12-10",
        "reports_due": "2026-12-07",
        "reviews_due": "2026-12-15",
        "provisional": False,
    }


def test_meeting_deadlines_after_national_day_uses_makeup_saturday():
    result = meeting_deadlines(SEASON, CAL, date(2026, 10, 9))
    assert (result.reports_due, result.reviews_due, result.provisional) == (
        date(2026, 9, 29),
        date(2026, 10, 13),
        False,
    )


def test_meeting_deadlines_january_2027_without_override_is_provisional():
    result = meeting_deadlines(SEASON, WorkCalendar(), date(2027, 1, 6))
    assert result.provisional
    # Weekends only, and 2027-01-01 counted as a working day: nothing is known about 2027.
    assert (result.reports_due, result.reviews_due) == (date(2027, 1, 1), date(2027, 1, 11))


def test_meeting_deadlines_january_2027_with_complete_override(tmp_path):
    folder = tmp_path / "calendar"
    folder.mkdir()
    (folder / "2027.toml").write_text(
        "complete = true\nholidays = [2027-01-01, 2027-01-08]\nworkdays = [2027-01-09]\n", encoding="utf-8"
    )
    result = meeting_deadlines(SEASON, WorkCalendar.load(tmp_path), date(2027, 1, 6))
    assert not result.provisional
    # Back: Jan 5, Jan 4, (Jan 1 off, weekend) Dec 31. Forward: Jan 7, (Jan 8 off) Sat Jan 9 make-up, Mon Jan 11.
    assert (result.reports_due, result.reviews_due) == (date(2026, 12, 31), date(2027, 1, 11))
    result = meeting_deadlines(SEASON._replace(review_workdays_after_meeting=2), WorkCalendar.load(tmp_path), date(2027, 1, 6))
    assert result.reviews_due == date(2027, 1, 9)


# --- expected items and due dates -----------------------------------------


def test_expected_items_follow_contract_table_and_order():
    items = expected_items(SEASON, make_roster())
    assert items == [
        Expected("合成车间", MEETING_REQUEST, None),
        Expected("合成车间", TEAM_REPORT, None),
        Expected("合成车间", PERSONAL_REPORT, "李建国"),
        Expected("合成车间", PERSONAL_REPORT, "张红"),
        Expected("合成车间", PERSONAL_REPORT, "王珺"),
        Expected("合成车间", PERSONAL_REPORT, "陈刚"),
        Expected("合成车间", PERSONAL_REPORT, "刘老"),
        Expected("合成车间", LEADER_REVIEW, "李建国"),
        Expected("合成车间", LEADER_REVIEW, "张红"),
        Expected("合成车间", LEADER_REVIEW, "王珺"),
        Expected("合成车间", UNION_REVIEW, None),
        Expected("合成车间", BALLOT_TALLY, None),
        Expected("财务科", MEETING_REQUEST, None),
        Expected("财务科", TEAM_REPORT, None),
        Expected("财务科", PERSONAL_REPORT, "赵敏"),
        Expected("财务科", PERSONAL_REPORT, "钱进"),
        Expected("财务科", LEADER_REVIEW, "赵敏"),
        Expected("财务科", LEADER_REVIEW, "钱进"),
        Expected("财务科", UNION_REVIEW, None),
        Expected("财务科", BALLOT_TALLY, None),
    ]


def test_expected_items_reserve_recommendation_only_when_set():
    season = SEASON._replace(reserve_recommendation_due=date(2026, 12, 18))
    items = expected_items(season, make_roster())
    assert [e.unit for e in items if e.item == RESERVE_RECOMMENDATION] == ["合成车间", "财务科"]
    assert items[11] == Expected("合成车间", RESERVE_RECOMMENDATION, None)


def test_due_date_per_item():
    meeting = date(2026, 12, 10)
    assert due_date(SEASON, CAL, MEETING_REQUEST, meeting) == (date(2026, 11, 25), False)
    assert due_date(SEASON, CAL, TEAM_REPORT, meeting) == (date(2026, 12, 7), False)
    assert due_date(SEASON, CAL, PERSONAL_REPORT, meeting) == (date(2026, 12, 7), False)
    assert due_date(SEASON, CAL, LEADER_REVIEW, meeting) == (date(2026, 12, 15), False)
    assert due_date(SEASON, CAL, BALLOT_TALLY, meeting) == (date(2026, 12, 15), False)
    assert due_date(SEASON, CAL, BALLOT_TALLY, None) == (None, False)
    assert due_date(SEASON, CAL, UNION_REVIEW, meeting) == (date(2026, 12, 18), False)
    assert due_date(SEASON, CAL, RESERVE_RECOMMENDATION, meeting) == (None, False)


def test_due_date_without_meeting_is_none():
    assert due_date(SEASON, CAL, TEAM_REPORT, None) == (None, False)
    assert due_date(SEASON, CAL, LEADER_REVIEW, None) == (None, False)
    assert due_date(SEASON, CAL, MEETING_REQUEST, None) == (date(2026, 11, 25), False)


def test_due_date_unknown_item_raises():
    with pytest.raises(ValueError):
        due_date(SEASON, CAL, "nonsense", None)


def test_unit_meeting_hr_date_wins_over_request():
    fixed = Unit("合成车间", "车间", 120, date(2026, 12, 10))
    open_ = Unit("财务科", "科室", 12, None)
    requested = {"合成车间": date(2026, 12, 1), "财务科": date(2026, 12, 3)}
    assert unit_meeting(fixed, requested) == date(2026, 12, 10)
    assert unit_meeting(open_, requested) == date(2026, 12, 3)
    assert unit_meeting(open_, {}) is None


# --- states ---------------------------------------------------------------


def arrival(item, when, person=None, unit="合成车间", warnings=()) -> Arrival:
    return Arrival(unit, item, person, at(when), f"<{item}-{when}@x>", tuple(warnings))


def test_status_received_on_time():
    rows = status(SEASON, CAL, make_roster(), [arrival(TEAM_REPORT, "2026-12-04T16:00:00+08:00")], {}, date(2026, 12, 20))
    row = row_for(rows, TEAM_REPORT)
    assert (row.state, row.due, row.late_workdays, row.versions, row.provisional) == (
        RECEIVED, date(2026, 12, 7), 0, 1, False
    )
    assert row.to_json()["received_at"] == "2026-12-04T16:00:00+08:00"


def test_status_late_counts_workdays_across_weekend():
    # Due Friday 2026-12-04 (meeting Wed 12-09); arrival Monday 12-07 is 1 working day late.
    roster = make_roster(meeting=date(2026, 12, 9))
    rows = status(SEASON, CAL, roster, [arrival(TEAM_REPORT, "2026-12-07T09:00:00+08:00")], {}, date(2026, 12, 20))
    row = row_for(rows, TEAM_REPORT)
    assert (row.due, row.state, row.late_workdays) == (date(2026, 12, 4), LATE, 1)


def test_status_overdue_counts_to_as_of():
    rows = status(SEASON, CAL, make_roster(), [], {}, date(2026, 12, 11))
    row = row_for(rows, PERSONAL_REPORT, "王珺")
    assert (row.state, row.late_workdays, row.received_at, row.versions) == (OVERDUE, 4, None, 0)
    assert row_for(rows, MEETING_REQUEST).late_workdays == 12  # 11-26 .. 12-11


def test_status_pending_before_and_on_due_day():
    rows = status(SEASON, CAL, make_roster(), [], {}, date(2026, 12, 7))
    assert row_for(rows, TEAM_REPORT).state == PENDING
    assert row_for(rows, LEADER_REVIEW, "李建国").state == PENDING
    assert row_for(rows, MEETING_REQUEST).state == OVERDUE


def test_status_without_meeting_date_due_none_pending_or_received():
    arrivals = [arrival(TEAM_REPORT, "2026-12-30T10:00:00+08:00", unit="财务科")]
    rows = status(SEASON, CAL, make_roster(), arrivals, {}, date(2026, 12, 31))
    team = row_for(rows, TEAM_REPORT, unit="财务科")
    review = row_for(rows, LEADER_REVIEW, "赵敏", unit="财务科")
    assert (team.due, team.state, team.late_workdays) == (None, RECEIVED, 0)
    assert (review.due, review.state, review.late_workdays) == (None, PENDING, 0)


def test_status_uses_requested_meeting_when_hr_has_none():
    rows = status(SEASON, CAL, make_roster(), [], {"财务科": date(2026, 12, 10)}, date(2026, 12, 1))
    assert row_for(rows, TEAM_REPORT, unit="财务科").due == date(2026, 12, 7)


def test_status_resubmission_keeps_first_state_and_latest_warnings():
    arrivals = [
        arrival(PERSONAL_REPORT, "2026-12-09T08:00:00+08:00", "陈刚", warnings=["缺少第三部分"]),
        arrival(PERSONAL_REPORT, "2026-12-03T08:00:00+08:00", "陈刚", warnings=["缺少第四部分"]),
    ]
    rows = status(SEASON, CAL, make_roster(), arrivals, {}, date(2026, 12, 20))
    row = row_for(rows, PERSONAL_REPORT, "陈刚")
    assert (row.state, row.versions, row.warnings) == (RECEIVED, 2, ["缺少第三部分"])
    assert row.received_at == at("2026-12-03T08:00:00+08:00")


def test_status_due_day_boundary_in_plant_timezone():
    just_in = datetime(2026, 12, 7, 15, 59, tzinfo=timezone.utc)  # 23:59 in Shanghai
    just_late = datetime(2026, 12, 7, 11, 1, tzinfo=ZoneInfo("America/New_York"))  # 12-08 00:01 in Shanghai
    arrivals = [
        Arrival("合成车间", PERSONAL_REPORT, "李建国", just_in, "<a@x>"),
        Arrival("合成车间", PERSONAL_REPORT, "张红", just_late, "<b@x>"),
    ]
    rows = status(SEASON, CAL, make_roster(), arrivals, {}, date(2026, 12, 20))
    on_time = row_for(rows, PERSONAL_REPORT, "李建国")
    late = row_for(rows, PERSONAL_REPORT, "张红")
    assert (on_time.state, on_time.late_workdays) == (RECEIVED, 0)
    assert (late.state, late.late_workdays) == (LATE, 1)
    assert late.to_json()["received_at"] == "2026-12-08T00:01:00+08:00"


def test_status_ignores_arrivals_matching_nothing_expected():
    arrivals = [
        arrival(PERSONAL_REPORT, "2026-12-01T10:00:00+08:00", "孙丽"),  # union chair owes no personal report
        arrival(TEAM_REPORT, "2026-12-01T10:00:00+08:00", unit="不存在的科"),
    ]
    rows = status(SEASON, CAL, make_roster(), arrivals, {}, date(2026, 12, 1))
    assert len(rows) == len(expected_items(SEASON, make_roster()))
    assert all(r.versions == 0 for r in rows)


def test_status_late_count_into_unknown_year_is_provisional():
    rows = status(SEASON, CAL, make_roster(), [], {}, date(2027, 1, 5))
    row = row_for(rows, UNION_REVIEW)
    assert (row.state, row.provisional) == (OVERDUE, True)
    assert row_for(rows, TEAM_REPORT).provisional is True


def test_status_one_row_per_expected_item_in_order():
    roster = make_roster()
    rows = status(SEASON, CAL, roster, [], {}, date(2026, 12, 1))
    assert [(r.unit, r.item, r.person) for r in rows] == [
        (e.unit, e.item, e.person) for e in expected_items(SEASON, roster)
    ]
