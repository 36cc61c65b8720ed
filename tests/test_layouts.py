"""Recognition on the layout corpus, family by family, and the held-for-HR path through the real intake."""

from __future__ import annotations

import email
from email import policy

import pytest
from conftest import at, deliver

from bot.season.deadlines import HELD_WARNING
from bot.demo import build_message
from bot.poll import poll_once
from bot.out.reminders import select
from bot.reports.views import log_entries, status_rows
from bot.season.roster import load_roster
from bot.season.workdays import WorkCalendar
from parsers import convert
from tests.layouts.build import OPINION, REPORT_BODY, table, word
from tests.layouts.corpus import (
    CONVERTED,
    FAMILIES,
    HELD,
    PEOPLE,
    RIGHT,
    cases,
    materialise,
    recognise_case,
    verdict,
)

CASES = cases()
HR = "hr@tengfei.example"
HEAD = ("lijianguo@tengfei.example", "李建国")  # 合成车间 主要领导 in the example roster
SECRETARY = ("zhanghaiyan@tengfei.example", "张海燕")  # 合成车间 党支部书记


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory) -> dict[str, bytes]:
    """Every case's bytes, the LibreOffice copies made once per session."""
    return materialise(CASES, tmp_path_factory.mktemp("layouts"))


def test_layouts_corpus_covers_every_family_with_eighty_documents_or_more() -> None:
    assert len(CASES) >= 80
    assert {c.family for c in CASES} == set(FAMILIES)
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("family", FAMILIES)
def test_layouts_family_is_recognised_right_or_held_where_ambiguous(family: str, corpus_files) -> None:
    members = [c for c in CASES if c.family == family]
    if family == CONVERTED and convert.soffice() is None:
        pytest.skip("LibreOffice is not installed: no .doc/.wps/PDF copies to read")
    verdicts = {c.id: verdict(c, recognise_case(c, corpus_files[c.id])) for c in members}
    wrong = {case_id: said for case_id, (outcome, said) in verdicts.items() if outcome not in (RIGHT, HELD)}
    right = sum(outcome in (RIGHT, HELD) for outcome, _ in verdicts.values())
    assert right / len(members) == 1.0, f"{family}: {right}/{len(members)} right; wrong: {wrong}"


# --- through the real intake: a Maildir, the poll, the store, the outbox ------------------------

def _send(settings, when: str, subject: str, attachments, sender=HEAD, message_id: str | None = None) -> None:
    raw = build_message(sender[0], sender[1], HR, subject, "请查收。", attachments, sent=at(when),
                        message_id=message_id)
    deliver(settings, at(when), raw)


def _outbox(settings) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(settings.paths.outbox.glob("*.eml"))]


def test_layouts_intake_reads_the_issue_review_row_and_confirms(settings) -> None:
    form = word("民主评议考核表", table(("被评议人", "李建国", "职务", "主任"), ("评价意见", OPINION, "", "")),
                "评议人：张海燕")
    _send(settings, "2026-12-11T09:00", "评议表", [("附件3 民主评议考核表.docx", form.data())], sender=SECRETARY)
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted"
    [attachment] = entry.attachments
    assert (attachment.item, attachment.unit, attachment.person, attachment.held) == (
        "leader_review", "合成车间", "李建国", False)
    [reply] = _outbox(settings)
    assert reply["To"] == SECRETARY[0] and "（领导评价意见）（李建国）" in reply.get_body().get_content()


def test_layouts_intake_holds_an_unattributable_report_acknowledges_once_and_reminds_nothing_of_it(settings) -> None:
    nameless = word("述职报告", *REPORT_BODY).data()  # the head sends it: his mail says nothing of whose it is
    _send(settings, "2026-12-03T09:00", "述职报告", [("述职报告.docx", nameless)], message_id="<held@tengfei.example>")
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "no_documents"
    [attachment] = entry.attachments
    assert attachment.held and attachment.outcome == "ignored"
    assert attachment.reason.startswith("待人力资源科确认：")
    assert (attachment.item, attachment.unit, attachment.person) == ("personal_report", "合成车间", None)
    assert attachment.sha256 and attachment.saved_as
    assert (settings.paths.data / attachment.saved_as).read_bytes() == nameless

    [ack] = _outbox(settings)
    assert ack["To"] == HEAD[0] and ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<held@tengfei.example>" and "<held@tengfei.example>" in ack["References"]
    body = ack.get_body().get_content()
    assert "述职报告.docx" in body and "人力资源科核对" in body
    assert poll_once(settings).recorded == [] and len(_outbox(settings)) == 1  # once per message

    as_of = at("2026-12-09T10:00").date()  # the reports were due 12-07: overdue now
    rows = [r for r in status_rows(settings, as_of) if r.unit == "合成车间"]
    reports = [r for r in rows if r.item == "personal_report"]
    assert reports and all(r.held and HELD_WARNING in r.warnings for r in reports)
    team = next(r for r in rows if r.item == "team_report")
    assert not team.held and team.state == "overdue"
    digests = select(settings, WorkCalendar.load(settings.config_dir), load_roster(settings.config_dir),
                     status_rows(settings, as_of), [], as_of)
    asked = {(m.unit, m.item) for d in digests for m in d.items}
    assert ("合成车间", "team_report") in asked
    assert ("合成车间", "personal_report") not in asked


def test_layouts_intake_held_beside_an_accepted_document_is_named_in_the_confirmation(settings) -> None:
    named = word("述职报告", "姓名：刘洋", *REPORT_BODY).data()
    nameless = word("述职报告", *REPORT_BODY).data()
    _send(settings, "2026-12-03T09:00", "述职报告", [("刘洋.docx", named), ("另一份.docx", nameless)])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted"
    assert [a.held for a in entry.attachments] == [False, True]
    [reply] = _outbox(settings)
    body = reply.get_body().get_content()
    assert "个人述职报告（刘洋）" in body and "另一份.docx" in body and "人力资源科核对" in body


def test_layouts_intake_held_acknowledgements_count_against_the_daily_cap(settings) -> None:
    settings = settings._replace(sending=settings.sending._replace(max_replies_per_sender_per_day=2))
    for i in range(3):  # three messages, each with a different nameless report
        nameless = word("述职报告", f"（第{i + 1}稿）", *REPORT_BODY).data()
        _send(settings, f"2026-12-03T09:0{i}", f"述职报告{i}", [(f"报告{i}.docx", nameless)])
    poll_once(settings)
    assert [e.outcome for e in log_entries(settings)] == ["no_documents"] * 3
    assert all(e.attachments[0].held for e in log_entries(settings))
    assert len(_outbox(settings)) == 2


@pytest.mark.parametrize("case_id", ["several-rows", "union-rows", "name-in-header", "team-领导班子述职报告-罗斌",
                                     "synonym-考核对象", "traditional-paragraphs"])
def test_layouts_intake_records_every_document_of_a_corpus_file(settings, corpus_files, case_id: str) -> None:
    case = next(c for c in CASES if c.id == case_id)
    sender = PEOPLE[case.sender]
    _send(settings, "2026-12-03T09:00", case.subject, [(case.filename, corpus_files[case.id])],
          sender=(sender.email, sender.name))
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted", entry.reason
    received = {(r.item, r.unit, r.person) for r in status_rows(settings, at("2026-12-03T12:00").date())
                if r.state == "received"}
    assert received == set(case.expect)
    assert len(_outbox(settings)) == 1


def test_layouts_intake_held_beside_a_refused_file_is_no_documents_and_the_ack_names_both(settings) -> None:
    nameless = word("述职报告", *REPORT_BODY).data()
    _send(settings, "2026-12-03T09:00", "述职报告", [("述职报告.docx", nameless), ("王珺述职报告.docx", b"PK\x03\x04broken")])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "no_documents"
    assert [(a.outcome, a.held) for a in entry.attachments] == [("ignored", True), ("rejected", False)]
    [ack] = _outbox(settings)
    body = ack.get_body().get_content()
    assert "述职报告.docx" in body and "王珺述职报告.docx：文件已损坏" in body
