"""parsers.forms: the blank forms 附件1–4, and the round trip from a filled form to what the parsers recognise."""

from __future__ import annotations

import email.message
from datetime import date
from pathlib import Path

import pytest

from bot.records import ACCEPTED, DEPUTY, HEAD, SECRETARY, UNION_CHAIR, Mail, Part, Person, Roster, Unit
from bot.season.items import LEADER_REVIEW, PERSONAL_REPORT, RESERVE_RECOMMENDATION, TEAM_REPORT, UNION_REVIEW
from parsers.recognise import recognise
from parsers.docx_text import read_docx
from parsers.forms import (
    FORM_FILES,
    PERSONAL_FIELDS,
    PERSONAL_PARTS,
    RESERVE_FIELDS,
    REVIEW_COLUMNS,
    REVIEW_FIELDS,
    TEAM_ASPECTS,
    TEAM_FIELDS,
    fill_personal_report,
    fill_reserve_recommendation,
    fill_review,
    fill_team_report,
    fill_union_review,
    write_forms,
)
from parsers.fields import SYNONYMS

HEAD_ = Person("合成车间", "李建国", HEAD, "lijianguo@tengfei.example")
SECRETARY_ = Person("合成车间", "刘芳", SECRETARY, "liufang@tengfei.example")
DEPUTY_ = Person("合成车间", "王珺", DEPUTY, "wangjun@tengfei.example")
CHAIR = Person("合成车间", "赵敏", UNION_CHAIR, "zhaomin@tengfei.example")
ROSTER = Roster({"合成车间": Unit("合成车间", "车间", 120, None)}, (HEAD_, SECRETARY_, DEPUTY_, CHAIR))
ON = date(2026, 12, 4)


def _recognised(data: bytes, filename: str, sender: Person) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    mail = Mail("<m@x>", sender.email, sender.name, "", "", [], email.message.Message(), "0")
    result = recognise(Part(filename, "application/octet-stream", data), mail, sender, ROSTER, 2026)
    assert result.outcome == ACCEPTED, result.reason
    return [(d.item, d.unit, d.person, d.warnings) for d in result.documents]


def test_write_forms_names_and_labels(tmp_path: Path) -> None:
    paths = write_forms(tmp_path / "forms")
    assert [p.name for p in paths] == [
        "附件1 班子述职报告.docx",
        "附件2 科级干部个人述职报告.docx",
        "附件3 民主评议考核表.docx",
        "附件4 科级后备干部推荐表.docx",
    ]
    assert sorted(p.name for p in paths) == sorted(FORM_FILES.values())
    team, personal, review, reserve = (read_docx(p.read_bytes()) for p in paths)
    assert [team.tables[0][0][i] for i in (0, 2, 4)] == ["单位", "述职人", "日期"]
    assert all(aspect in team.text for aspect in TEAM_ASPECTS)
    assert "主要措施" in team.text and "主要问题、薄弱环节和改进措施" in team.text
    assert all(heading in personal.lines for heading in PERSONAL_PARTS.values())
    assert personal.lines[personal.lines.index(PERSONAL_PARTS[1])] == "一、职务、职责、分管的主要工作及年度KPI目标"
    assert {"单位", "姓名", "职务", "日期"} <= set(personal.tables[0][0] + personal.tables[0][1])
    review_cells = {cell for row in review.tables[0] for cell in row}
    assert set(REVIEW_FIELDS) | set(REVIEW_COLUMNS) <= review_cells
    assert reserve.tables[0][0][::2] == list(RESERVE_FIELDS)
    assert "推荐理由" in reserve.tables[1][0]


def test_the_recogniser_reads_every_head_field_the_forms_write() -> None:
    written = {*TEAM_FIELDS, *PERSONAL_FIELDS, *REVIEW_FIELDS, *RESERVE_FIELDS}
    assert written <= set(SYNONYMS)


def test_blank_personal_form_sent_back_warns_every_part(tmp_path: Path) -> None:
    path = next(p for p in write_forms(tmp_path) if p.name == FORM_FILES[PERSONAL_REPORT])
    [(item, unit, person, warnings)] = _recognised(path.read_bytes(), path.name, DEPUTY_)
    assert (item, unit, person) == (PERSONAL_REPORT, "合成车间", "王珺")  # no name filled: the sender's
    assert len(warnings) == 4 and all("没有填写内容" in w for w in warnings)


@pytest.mark.parametrize(
    ("data", "sender", "expected"),
    [
        (fill_team_report("合成车间", "李建国", ON), HEAD_, [(TEAM_REPORT, "合成车间", None, ())]),
        (fill_personal_report("合成车间", "王珺", "副主任", None, ON), HEAD_, [(PERSONAL_REPORT, "合成车间", "王珺", ())]),
        (fill_personal_report("合成车间", "李建国", "主任", None, ON), HEAD_, [(PERSONAL_REPORT, "合成车间", "李建国", ())]),
        (
            fill_review("合成车间", "王珺", "副主任", "李建国", "主任", "领导评价意见", None, ON),
            HEAD_,
            [(LEADER_REVIEW, "合成车间", "王珺", ())],
        ),
        (
            fill_review("合成车间", "李建国", "主任", "刘芳", "党支部书记", LEADER_REVIEW, None, ON),
            SECRETARY_,
            [(LEADER_REVIEW, "合成车间", "李建国", ())],
        ),
        (
            fill_review("合成车间", "刘芳", "党支部书记", "李建国", "主任", "领导评价意见", None, ON),
            HEAD_,  # the head also reviews the secretary
            [(LEADER_REVIEW, "合成车间", "刘芳", ())],
        ),
        (
            fill_union_review("合成车间", "赵敏", {"李建国": "", "刘芳": "", "王珺": "工作扎实。"}, ON),
            HEAD_,  # the head often forwards the chair's form; its fields decide
            [(UNION_REVIEW, "合成车间", None, ())],
        ),
        (
            fill_reserve_recommendation("合成车间", ["钱晓东", "马丽"], ON),
            HEAD_,
            [(RESERVE_RECOMMENDATION, "合成车间", None, ())],
        ),
    ],
    ids=["team", "personal", "personal-of-head", "leader", "secretary-on-head", "head-on-secretary", "union",
         "reserve"],
)
def test_filled_form_round_trip(data: bytes, sender: Person, expected: list) -> None:
    # A neutral file name, so that only the content can have decided.
    assert _recognised(data, "附件.docx", sender) == expected


def test_union_review_as_leader_kind_from_chair_is_union_by_field() -> None:
    data = fill_review("合成车间", "领导班子", "", "赵敏", "分会主席", "民主评议意见", "班子团结。", ON)
    assert _recognised(data, "附件.docx", HEAD_) == [(UNION_REVIEW, "合成车间", None, ())]
