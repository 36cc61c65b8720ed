"""parsers.meeting_request: the requested meeting date, however the unit writes it."""

from __future__ import annotations

import email.message
from datetime import date

import pytest

from bot.records import HEAD, Mail, Person, Roster, Unit
from bot.season.items import MEETING_REQUEST
from parsers.meeting_request import find_date, find_meeting_request

HEAD_OF_SYNTHESIS = Person("合成车间", "李建国", HEAD, "lijianguo@tengfei.example")
ROSTER = Roster({"合成车间": Unit("合成车间", "车间", 120, None)}, (HEAD_OF_SYNTHESIS,))


def _mail(subject: str, text: str) -> Mail:
    return Mail("<m@x>", HEAD_OF_SYNTHESIS.email, "李建国", subject, text, [], email.message.Message(), "0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("述职大会时间：2026-12-08", date(2026, 12, 8)),
        ("拟于2026/12/8召开述职大会", date(2026, 12, 8)),
        ("我车间申请于2026年12月8日召开述职大会", date(2026, 12, 8)),
        ("拟定12月8日召开述职大会", date(2026, 12, 8)),
        ("申请十二月八日召开述职会", date(2026, 12, 8)),
        ("述职大会定于十二月十八日上午", date(2026, 12, 18)),
        ("述职大会定在12.8下午14:30", date(2026, 12, 8)),
        ("二〇二六年十二月九日召开述职大会", date(2026, 12, 9)),
        ("我们想在12月10号开述职会", date(2026, 12, 10)),
        ("述职大会：2026.12.11（周五）", date(2026, 12, 11)),
        ("申請於12月8日召開述職大會", date(2026, 12, 8)),  # Traditional script
    ],
)
def test_find_date_forms(text: str, expected: date) -> None:
    assert find_date(text, 2026) == expected


def test_find_date_prefers_the_meeting_sentence_over_a_deadline() -> None:
    text = "按照通知要求，11月25日前上报。我车间计划12月9日（周三）召开述职大会。"
    assert find_date(text, 2026) == date(2026, 12, 9)


def test_find_date_year_defaults_to_season() -> None:
    assert find_date("12月8日召开述职大会", 2027) == date(2027, 12, 8)


def test_find_date_ignores_times_and_quantities() -> None:
    assert find_date("会议约2.5小时，14:30开始", 2026) is None


def test_find_meeting_request_in_subject_and_text() -> None:
    mail = _mail("合成车间申请召开述职大会的时间", "吴老师：\n我车间拟于12月8日下午召开述职大会，请审批。\n李建国")
    found = find_meeting_request(mail, HEAD_OF_SYNTHESIS, ROSTER, 2026)
    assert found is not None
    assert (found.item, found.unit, found.person) == (MEETING_REQUEST, "合成车间", None)
    assert found.meeting_date == date(2026, 12, 8)


def test_find_meeting_request_skips_quoted_kickoff() -> None:
    # A reply that quotes HR's kickoff must not turn the kickoff's deadline into a meeting date.
    text = "收到。\n\n-----原始邮件-----\n发件人：人力资源科\n11月25日前，各单位要将申请召开述职大会的时间报人力资源科。"
    assert find_meeting_request(_mail("回复：年度考核通知", text), HEAD_OF_SYNTHESIS, ROSTER, 2026) is None


def test_find_meeting_request_needs_a_request() -> None:
    mail = _mail("述职报告", "附件是王珺的述职报告，12月3日写完。")
    assert find_meeting_request(mail, HEAD_OF_SYNTHESIS, ROSTER, 2026) is None
