"""The item table: a kind added as one entry in bot.season.items is expected, recognised, tracked and reminded."""

from __future__ import annotations

import io
from datetime import date

import pytest
from conftest import at, deliver
from docx import Document as new_docx
from openpyxl import load_workbook

from bot.season import items
from bot.demo import build_message
from bot.season.items import Item
from bot.out.kickoff import kickoff
from bot.poll import poll_once
from bot.out.reminders import remind
from bot.reports.views import status_rows, write_tracker_for

PLEDGE = "safety_pledge"
TITLE = "安全生产承诺书"
AS_OF = date(2026, 12, 21)  # a Monday after union_review_due (2026-12-18), before final_due


@pytest.fixture
def pledge(monkeypatch):
    """A made-up kind: one per unit, due with the union review, told by its title; nothing else added."""
    monkeypatch.setitem(items.TABLE, PLEDGE, Item(PLEDGE, TITLE, due="union_review_due", words=r"安全.{0,4}承诺"))


def _pledge_docx(unit: str) -> bytes:
    doc = new_docx()
    doc.add_paragraph(TITLE)
    doc.add_paragraph(f"单位：{unit}")
    doc.add_paragraph("本单位承诺严格落实安全生产责任制。")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_items_made_up_kind_expected_of_every_unit(settings, pledge):
    rows = [r for r in status_rows(settings, AS_OF) if r.item == PLEDGE]
    assert {r.unit for r in rows} == {"合成车间", "聚合车间", "生产技术科", "设备动力科"}
    assert {(r.due, r.state, r.person) for r in rows} == {(date(2026, 12, 18), "overdue", None)}


def test_items_made_up_kind_recognised_and_received(settings, pledge):
    raw = build_message("gaojianhua@tengfei.example", "高建华", settings.hr.address, "承诺书",
                        "请查收。", [("承诺书.docx", _pledge_docx("设备动力科"))])
    deliver(settings, at("2026-12-17T10:00"), raw)
    assert [e.outcome for e in poll_once(settings).recorded] == ["accepted"]
    states = {r.unit: r.state for r in status_rows(settings, AS_OF) if r.item == PLEDGE}
    assert states == {"合成车间": "overdue", "聚合车间": "overdue", "生产技术科": "overdue", "设备动力科": "received"}


def test_items_made_up_kind_in_tracker(settings, pledge):
    book = load_workbook(write_tracker_for(settings, AS_OF))
    assert TITLE in [c.value for c in book["总览"][2]] + [c.value for c in book["总览"][1]]
    detail = [[c.value for c in row] for row in book["明细"].iter_rows(min_row=2)]
    assert sum(1 for row in detail if TITLE in row) == 4


def test_items_made_up_kind_reminded_to_heads(settings, pledge):
    lines = "\n".join(remind(settings, AS_OF, dry_run=True))
    assert TITLE in lines
    for head in ("李建国", "高建华"):
        digest = lines.split(f"将发送提醒 → {head}")[1].split("将发送提醒")[0]
        assert TITLE in digest


def test_items_made_up_kind_in_kickoff_schedule(settings, pledge):
    text = "\n".join(kickoff(settings, dry_run=True))
    assert text.count(TITLE) == 4  # one schedule per unit head


def test_items_table_order_is_status_order(settings):
    rows = [r for r in status_rows(settings, AS_OF) if r.unit == "合成车间"]
    # reserve_recommendation_due is unset in the example config: that item is not expected this season
    expected = [c for c in items.item_codes() if c != items.RESERVE_RECOMMENDATION]
    assert list(dict.fromkeys(r.item for r in rows)) == expected


@pytest.mark.parametrize(("words", "item"), [
    ("班子述职大会时间申请", items.TEAM_REPORT),  # the team's words are tried before the meeting's
    ("民主评议考核表（述职）", "review"),  # the review's before the bare 述职
    ("科级后备干部述职", items.RESERVE_RECOMMENDATION),
    ("王珺述职报告", items.PERSONAL_REPORT),
    ("关于召开述职大会的申请", items.MEETING_REQUEST),
    ("食堂菜单", None),
])
def test_items_words_tried_most_specific_first(words, item):
    from parsers.classify import item_in_words

    assert item_in_words(words) == item


def test_items_made_up_kind_named_in_a_title(pledge):
    from parsers.classify import item_in_words

    assert item_in_words("2026年安全生产承诺书") == PLEDGE
