"""The blank forms 附件1–4 and their labels (the one place they are defined), and helpers that fill them."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING


from bot.crashpoints import write_atomically
from bot.season.items import (
    LEADER_REVIEW,
    PERSONAL_REPORT,
    RESERVE_RECOMMENDATION,
    TEAM_REPORT,
    UNION_REVIEW,
    form_files,
)
from parsers import samples

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

# --- the forms' words: the recogniser reads documents by these -------------------

TEAM_TITLE = "领导班子述职报告"
PERSONAL_TITLE = "科级干部个人述职报告"
REVIEW_TITLE = "民主评议考核表"
RESERVE_TITLE = "科级后备干部推荐表"

# The forms' file names, by the first item each answers (bot.season.items says which form answers which item).
FORM_FILES = form_files()

TEAM_FIELDS = ("单位", "述职人", "日期")
TEAM_ASPECTS = ("政治素质", "领导能力", "工作业绩", "团结协作", "作风形象")
TEAM_SECTIONS = (
    "一、班子在政治素质、领导能力、工作业绩、团结协作、作风形象等方面的情况",
    "二、本单位采取的主要措施",
    "三、本单位及班子存在的主要问题、薄弱环节和改进措施",
)

PERSONAL_FIELDS = ("单位", "姓名", "职务", "日期")
# The four parts as the plan words them (方案 五(一)2); the short names go into HR's warnings.
PERSONAL_PARTS = {
    1: "一、职务、职责、分管的主要工作及年度KPI目标",
    2: "二、年度KPI目标预计完成情况及采取的主要措施；“四好”班子创建情况；"
    "坚持学习，提高思想政治素质和管理水平方面的情况；团结协作和廉洁自律方面的情况",
    3: "三、存在的主要问题和教训",
    4: "四、今后努力的方向及工作打算",
}
PART_NAMES = {
    1: "职务、职责、分管的主要工作及年度KPI目标",
    2: "年度KPI目标预计完成情况及采取的主要措施",
    3: "存在的主要问题和教训",
    4: "今后努力的方向及工作打算",
}

# 附件3 serves both reviews: the head fields say who reviews and which kind, and the opinion rows
# say whom; a leader's review has one row, the union chair's one for the team and one per member.
REVIEW_FIELDS = ("单位", "日期", "评议人", "评议人职务", "评议类型")
REVIEW_COLUMNS = ("被评议人", "职务", "评价意见")
LEADER_KIND = "领导评价意见"
UNION_KIND = "民主评议意见"
TEAM_ROW = "领导班子"  # the 被评议人 of the union review's row about the team
REVIEW_ROWS = 6

RESERVE_FIELDS = ("单位", "日期")
RESERVE_COLUMNS = ("序号", "姓名", "性别", "出生年月", "现任职务", "推荐理由")
RESERVE_ROWS = 5


def blank_forms() -> dict[str, bytes]:
    """The blank forms 附件1–4, made in memory, by file name in FORM_FILES order."""
    blanks = {
        TEAM_REPORT: lambda: _team_report("", "", None, blank=True),
        PERSONAL_REPORT: lambda: _personal_report("", "", "", None, {n: "" for n in PERSONAL_PARTS}),
        LEADER_REVIEW: lambda: _review("", None, "", "", "", [("", "", "")] * REVIEW_ROWS),
        RESERVE_RECOMMENDATION: lambda: _reserve("", None, [("", "", "", "", "")] * RESERVE_ROWS),
    }
    return {name: _bytes(blanks[item]()) for item, name in FORM_FILES.items()}


def write_forms(folder: Path) -> list[Path]:
    """Write the blank forms 附件1–4 into folder (created if needed); return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in blank_forms().items():
        path = folder / name
        # Written whole: a full disk leaves no half-written form behind.
        write_atomically(path, data, mode=0o644)
        paths.append(path)
    return paths


# --- filled documents, for tests and the demo -----------------------------------


def fill_personal_report(
    unit: str, name: str, post: str, parts: Mapping[int, str | None] | None = None, on: date | None = None
) -> bytes:
    """附件2 filled in. parts=None: all four parts with sample text; otherwise only the parts given
    (a value of None takes the sample text, "" leaves the heading with nothing under it)."""
    chosen = {n: None for n in PERSONAL_PARTS} if parts is None else dict(parts)
    texts = {
        n: "\n".join(samples.PERSONAL_PARTS[n]).format(unit=unit, post=post) if text is None else text
        for n, text in chosen.items()
    }
    return _bytes(_personal_report(unit, name, post, on, texts))


def fill_team_report(unit: str, reporter: str, on: date | None = None) -> bytes:
    """附件1 filled in, presented by reporter (the unit head)."""
    return _bytes(_team_report(unit, reporter, on, blank=False))


def fill_review(
    unit: str,
    reviewed: str,
    post: str,
    reviewer: str,
    reviewer_post: str,
    kind: str = LEADER_KIND,
    opinion: str | None = None,
    on: date | None = None,
) -> bytes:
    """附件3 with one opinion; kind is 领导评价意见 or 民主评议意见 (the item names are accepted too)."""
    kind = {LEADER_REVIEW: LEADER_KIND, UNION_REVIEW: UNION_KIND}.get(kind, kind)
    rows = [(reviewed, post, opinion or samples.LEADER_OPINION)]
    return _bytes(_review(unit, on, reviewer, reviewer_post, kind, rows))


def fill_union_review(
    unit: str, chair: str, opinions: Mapping[str, str], on: date | None = None, chair_post: str = "分会主席"
) -> bytes:
    """附件3 as the union chair fills it: a row for the team first, then one per member in opinions."""
    rows = [(TEAM_ROW, "", opinions.get(TEAM_ROW) or samples.UNION_TEAM_OPINION)]
    rows += [(name, "", text or samples.UNION_MEMBER_OPINION) for name, text in opinions.items() if name != TEAM_ROW]
    return _bytes(_review(unit, on, chair, chair_post, UNION_KIND, rows))


def fill_reserve_recommendation(unit: str, names: Sequence[str], on: date | None = None) -> bytes:
    """附件4 listing the recommended reserve cadres."""
    rows = [
        (name, "男" if i % 2 else "女", f"{1988 + i}.0{i % 9 + 1}", "技术员", samples.RESERVE_REASON)
        for i, name in enumerate(names)
    ]
    return _bytes(_reserve(unit, on, rows))


# --- building the documents -------------------------------------------------------


def _team_report(unit: str, reporter: str, on: date | None, blank: bool) -> DocxDocument:
    doc = titled_document(TEAM_TITLE, above="附件1")
    _label_table(doc, _head(TEAM_FIELDS, (unit, reporter, _date(on)), per_row=3))
    _heading(doc, TEAM_SECTIONS[0])
    for n, aspect in enumerate(TEAM_ASPECTS):
        _heading(doc, f"（{'一二三四五'[n]}）{aspect}", level=2)
        _body(doc, "" if blank else samples.TEAM_ASPECTS[aspect])
    _heading(doc, TEAM_SECTIONS[1])
    _body(doc, "" if blank else "\n".join(samples.TEAM_MEASURES))
    _heading(doc, TEAM_SECTIONS[2])
    _body(doc, "" if blank else "\n".join(samples.TEAM_PROBLEMS))
    return doc


def _personal_report(unit: str, name: str, post: str, on: date | None, parts: Mapping[int, str]) -> DocxDocument:
    doc = titled_document(PERSONAL_TITLE, above="附件2")
    _label_table(doc, _head(PERSONAL_FIELDS, (unit, name, post, _date(on)), per_row=2))
    for n in sorted(parts):
        _heading(doc, PERSONAL_PARTS[n])
        _body(doc, parts[n])
    return doc


def _review(
    unit: str, on: date | None, reviewer: str, reviewer_post: str, kind: str, rows: Sequence[tuple[str, str, str]]
) -> DocxDocument:
    doc = titled_document(REVIEW_TITLE, above="附件3")
    *head, kind_label = REVIEW_FIELDS
    table = _label_table(doc, _head(head, (unit, _date(on), reviewer, reviewer_post), per_row=2))
    kind_row = table.add_row().cells
    kind_row[0].text = kind_label
    kind_row[1].merge(kind_row[3]).text = kind
    header = table.add_row().cells
    header[0].text, header[1].text = REVIEW_COLUMNS[0], REVIEW_COLUMNS[1]
    header[2].merge(header[3]).text = REVIEW_COLUMNS[2]
    for reviewed, post, opinion in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = reviewed, post
        cells[2].merge(cells[3]).text = opinion
    doc.add_paragraph(
        f"注：评议类型填写“{LEADER_KIND}”或“{UNION_KIND}”。主要领导为其他班子成员、党支部（副）书记为主要领导"
        "撰写评价意见，每人一行；分会主席或指定员工代表撰写评议意见时，第一行评议领导班子，其后逐一评议班子成员。"
    )
    return doc


def _reserve(unit: str, on: date | None, rows: Sequence[tuple[str, str, str, str, str]]) -> DocxDocument:
    doc = titled_document(RESERVE_TITLE, above="附件4")
    _label_table(doc, _head(RESERVE_FIELDS, (unit, _date(on)), per_row=2))
    table = doc.add_table(rows=1, cols=len(RESERVE_COLUMNS))
    table.style = "Table Grid"
    for cell, label in zip(table.rows[0].cells, RESERVE_COLUMNS):
        cell.text = label
    for n, row in enumerate(rows, start=1):
        cells = table.add_row().cells
        cells[0].text = str(n) if any(row) else ""
        for cell, value in zip(cells[1:], row):
            cell.text = value
    return doc


def titled_document(title: str, above: str | None = None) -> DocxDocument:
    """A new document in the forms' style (宋体, 12 pt): `above` (附件N) on a line of its own, then the
    title, bold and centred. The evaluation's ballots are made in the same style."""
    from docx import Document as new_docx  # python-docx only where a form is written (checks need the names)
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = new_docx()
    normal = doc.styles["Normal"]
    normal.font.name = "宋体"
    normal.font.size = Pt(12)
    # python-docx sets only the Latin font; Chinese text follows the eastAsia font.
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    if above is not None:
        doc.add_paragraph(above)
    heading = doc.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(title)
    run.bold = True
    run.font.size = Pt(18)
    return doc


def _head(labels: Sequence[str], values: Sequence[str], per_row: int) -> list[list[tuple[str, str]]]:
    """A form's head fields, label beside value, `per_row` pairs to a table row."""
    pairs = list(zip(labels, values, strict=True))
    return [pairs[i:i + per_row] for i in range(0, len(pairs), per_row)]


def _label_table(doc: DocxDocument, rows: Sequence[Sequence[tuple[str, str]]]):
    table = doc.add_table(rows=0, cols=2 * max(len(r) for r in rows))
    table.style = "Table Grid"
    for pairs in rows:
        cells = table.add_row().cells
        for n, (label, value) in enumerate(pairs):
            cells[2 * n].text = label
            cells[2 * n + 1].text = value
    return table


def _heading(doc: DocxDocument, text: str, level: int = 1) -> None:
    run = doc.add_paragraph().add_run(text)
    run.bold = level == 1


def _body(doc: DocxDocument, text: str) -> None:
    from docx.shared import Pt

    for line in text.split("\n") if text else [""]:
        doc.add_paragraph(line).paragraph_format.first_line_indent = Pt(24)


def _date(on: date | None) -> str:
    return f"{on.year}年{on.month}月{on.day}日" if on else ""


def _bytes(doc: DocxDocument) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
