"""The season's expected items, each defined once: what HR calls it, who owes it, when, who hears of it, its form."""

from __future__ import annotations

from dataclasses import dataclass

from bot.records import REPORTING_ROLES, Person

MEETING_REQUEST = "meeting_request"
TEAM_REPORT = "team_report"
PERSONAL_REPORT = "personal_report"
LEADER_REVIEW = "leader_review"
UNION_REVIEW = "union_review"
RESERVE_RECOMMENDATION = "reserve_recommendation"
BALLOT_TALLY = "ballot_tally"  # the counted 民主测评 ballots of a unit's meeting (bot.evaluation)

# Who owes an item: the unit once, or each person of the unit the rule picks (docs/contract.md, "Expected items").
UNIT, REPORTERS, TEAM = "unit", "reporters", "team"
# When it is due: a date of [season] (named by its key), or counted in working days from the unit's meeting.
BEFORE_MEETING, AFTER_MEETING = "before_meeting", "after_meeting"
# Who hears of it when it is missing (bot.out.reminders.owers): the unit head; the one who writes the
# review (the secretary for the head's, the head for everyone else's); the union chair; the head and,
# if [reminders] remind_cadres, the cadre whose report it is.
HEAD, REVIEWER, UNION_CHAIR, HEAD_AND_WRITER = "head", "reviewer", "union_chair", "head_and_writer"


@dataclass(frozen=True)
class Item:
    """One expected item of the season."""

    code: str  # as the store, `hrbot status --json` and templates name it
    title: str  # how HR names it, in mail and in the tracker
    owed: str = UNIT  # UNIT | REPORTERS | TEAM
    # A [season] key naming a fixed date (an unset optional date: the item is not expected this
    # season), or BEFORE_MEETING (report_workdays_before_meeting) / AFTER_MEETING (review_workdays_after_meeting).
    due: str = AFTER_MEETING
    hears: str = HEAD  # HEAD | REVIEWER | UNION_CHAIR | HEAD_AND_WRITER
    form: str | None = None  # the blank form's file name (parsers.forms builds it), mailed with kickoff and reminders
    # Words a title, file name or subject uses for it (a regular expression over text without spaces).
    # Items are tried highest words_rank first, then in table order: the more specific words before
    # the broader ones they may contain (述职 alone is a personal report, tried last).
    words: str | None = None
    words_rank: int = 0
    review: bool = False  # decided from 附件3's fields, which say which review it is (parsers.reviews)
    # How a reminder says whose it is ({} is the person); "（您本人）" when it is the recipient's own.
    person_note: str = "（{}）"
    kickoff_who: str = "主要领导"  # who sends it, as the kickoff's schedule says (for an item HEAD hears of)
    kickoff_note: str = ""
    in_kickoff: bool = True  # listed in the kickoff's schedule
    moot_once_meeting_fixed: bool = False  # not asked for once HR fixed the unit's meeting in units.csv

    def owed_by(self, people: list[Person]) -> list[str | None]:
        """Whose this item is in a unit: [None] for the unit's own, else the names, each once, in roster order."""
        if self.owed == REPORTERS:  # is_secretary lets 党支部副书记 count as the secretary in both lists
            names = [p.name for p in people if p.role in REPORTING_ROLES or p.is_secretary]
        elif self.owed == TEAM:
            names = [p.name for p in people if p.on_team]
        else:
            names = [None]
        return list(dict.fromkeys(names))  # a name listed twice in one unit would otherwise give twin rows

    @property
    def personal(self) -> bool:
        return self.owed != UNIT


_REVIEW_WORDS = r"民主评议|评议表|评议考核|评价意见"

# In the order HR reads them: the tracker's columns, status rows and the kickoff's schedule follow it.
TABLE: dict[str, Item] = {
    i.code: i
    for i in (
        Item(MEETING_REQUEST, "述职大会时间申请", due="meeting_request_due", moot_once_meeting_fixed=True,
             words=r"(?=.*述职大?会)(?=.*(申请|请示|时间|日期|安排))"),
        Item(TEAM_REPORT, "班子述职报告", due=BEFORE_MEETING, form="附件1 班子述职报告.docx",
             kickoff_who="主要领导代表班子", words_rank=1,
             # 领导班子述职报告, 合成车间班子2026年度述职报告 — but not 班子成员王珺述职报告.
             words=r"^(?!.*个人).*(班子(?!成员).{0,10}?述职|班子工作报告)"),
        Item(PERSONAL_REPORT, "个人述职报告", owed=REPORTERS, due=BEFORE_MEETING, hears=HEAD_AND_WRITER,
             form="附件2 科级干部个人述职报告.docx", words="述职", words_rank=-1),
        Item(LEADER_REVIEW, "民主评议考核表（领导评价意见）", owed=TEAM, hears=REVIEWER,
             form="附件3 民主评议考核表.docx", words=_REVIEW_WORDS, words_rank=4, review=True,
             person_note="（评议对象：{}）"),
        Item(UNION_REVIEW, "民主评议意见", due="union_review_due", hears=UNION_CHAIR,
             form="附件3 民主评议考核表.docx", words=_REVIEW_WORDS, words_rank=4, review=True,
             kickoff_note="对班子及每位班子成员分别评议"),
        Item(RESERVE_RECOMMENDATION, "科级后备干部推荐", due="reserve_recommendation_due",
             form="附件4 科级后备干部推荐表.docx", kickoff_who="本单位", words=r"后备干部|后备人选", words_rank=3),
        # Counted from the workbook HR sends out with the evaluation (bot.evaluation), not announced by kickoff.
        Item(BALLOT_TALLY, "民主测评统计表", in_kickoff=False,
             words=r"测评.{0,6}统计", words_rank=2),  # 民主测评统计表, 测评票统计
    )
}


def item_codes() -> tuple[str, ...]:
    return tuple(TABLE)


def item_title(code: str, unknown: str | None = None) -> str:
    """How HR names an item; an unknown code (a store written by a newer hrbot) shows as `unknown`, else itself."""
    found = TABLE.get(code)
    return found.title if found else code if unknown is None else unknown


def item_titles() -> dict[str, str]:
    return {code: i.title for code, i in TABLE.items()}


def form_files() -> dict[str, str]:
    """The blank forms' file names, each once, in table order, by the first item each answers."""
    names: dict[str, str] = {}
    for i in TABLE.values():
        if i.form and i.form not in names.values():
            names[i.code] = i.form
    return names
