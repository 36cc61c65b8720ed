"""The layout corpus: documents as units really send them, each with what a clerk would read from it.

Every case is generated here (python-docx; LibreOffice for the .doc, .wps and PDF copies), on the
example roster in config/. `expect` lists the (item, unit, person) a clerk reads; `held` says the
case is truly ambiguous and must be held for HR, with a word its reason must contain.
"""

from __future__ import annotations

import email.message
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from bot.records import ACCEPTED, Mail, Part, Recognition, Roster
from bot.season.items import LEADER_REVIEW, PERSONAL_REPORT, TEAM_REPORT, UNION_REVIEW
from bot.season.roster import load_roster
from bot.settings import EXAMPLE_CONFIG
from parsers import convert
from parsers.recognise import recognise
from tests.layouts.build import (
    OPINION,
    OPINION_2,
    REPORT_BODY,
    TEAM_BODY,
    TEAM_OPINION,
    Word,
    image_pdf,
    table,
    word,
)

REVIEW_FORM, UNION, PERSONAL, TEAM, CONVERTED, SCAN = (
    "review form", "union review", "personal report", "team report", "doc/wps/pdf", "scan")
FAMILIES = (REVIEW_FORM, UNION, PERSONAL, TEAM, CONVERTED, SCAN)
YEAR = 2026
RIGHT, HELD, WRONG = "right", "held", "wrong"

# The example roster's people by name, for senders.
ROSTER: Roster = load_roster(EXAMPLE_CONFIG)
PEOPLE = {p.name: p for p in ROSTER.people}
HC, JH, SJ, SB = "合成车间", "聚合车间", "生产技术科", "设备动力科"


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    filename: str
    sender: str  # a roster name
    source: Word | bytes  # a .docx to build, or the bytes themselves
    expect: tuple[tuple[str, str, str | None], ...] = ()
    held: str = ""  # truly ambiguous: held for HR, the reason containing this
    subject: str = "考核材料"
    convert_to: str = ""  # "doc", "wps" or "pdf": the .docx converted by LibreOffice first
    warning: str = ""  # a warning HR must see on the (first) document


def _review(unit: str, person: str) -> tuple[tuple[str, str, str | None], ...]:
    return ((LEADER_REVIEW, unit, person),)


def _personal(unit: str, person: str) -> tuple[tuple[str, str, str | None], ...]:
    return ((PERSONAL_REPORT, unit, person),)


def _unit(item: str, unit: str) -> tuple[tuple[str, str, str | None], ...]:
    return ((item, unit, None),)


# --- 附件3 review forms --------------------------------------------------------------

def _review_forms() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    # The issue's own example: label, value, label, value across the row.
    for unit, reviewed, post, reviewer in ((HC, "李建国", "主任", "张海燕"), (JH, "周伟", "副主任", "赵志刚"),
                                          (SB, "罗斌", "党支部书记", "高建华")):
        add(Case(f"across-{reviewed}", REVIEW_FORM, "附件3 民主评议考核表.docx", reviewer, word(
            "民主评议考核表",
            table(("单位", unit, "日期", "2026年12月12日"),
                  ("被评议人", reviewed, "职务", post),
                  ("评价意见", OPINION, OPINION, OPINION),
                  ("评议人", reviewer, "评议人职务", "主任"), across=[(2, 1, 3)])), _review(unit, reviewed)))
    # Labels in one column, values in the next.
    for unit, reviewed, reviewer in ((HC, "王珺", "李建国"), (SJ, "马俊峰", "胡雪梅")):
        add(Case(f"column-{reviewed}", REVIEW_FORM, "民主评议考核表.docx", reviewer, word(
            "民主评议考核表",
            table(("单位", unit), ("被评议人", reviewed), ("职务", "副主任"), ("评价意见", OPINION),
                  ("评议人", reviewer), ("日期", "2026-12-12"))), _review(unit, reviewed)))
    # Labels padded with spaces or full-width spaces, full-width or ASCII colons.
    for i, (label, name_label, colon) in enumerate((("被 评 议 人", "姓　名", "："), ("被评议人", "姓  名", ":"),
                                                   ("被　评　议　人", "评 议 人", "："))):
        add(Case(f"padded-{i}", REVIEW_FORM, "考核表.docx", "李建国", word(
            "民 主 评 议 考 核 表",
            table((f"单　位{colon}", HC, "", ""),
                  (f"{label}{colon}", "王珺", f"职　务{colon}", "副主任"),
                  (f"评价意见{colon}", OPINION_2, "", "")),
            f"评议人{colon}李建国"), _review(HC, "王珺")))
    # Label and value in one cell.
    add(Case("one-cell", REVIEW_FORM, "评议表.docx", "赵志刚", word(
        "民主评议考核表",
        table(("单位：聚合车间", "日期：2026年12月15日"), ("被评议人：孙丽娟", "职务：党支部书记"),
              ("评价意见：" + OPINION, "评价意见：" + OPINION), across=[(2, 0, 1)])), _review(JH, "孙丽娟")))
    add(Case("one-cell-two-lines", REVIEW_FORM, "评议表.docx", "高建华", word(
        "民主评议考核表",
        table(("被评议人：徐明\n职务：副科长",), ("评价意见：" + OPINION_2,), ("评议人：高建华  2026年12月16日",))),
        _review(SB, "徐明")))
    # A value cell merged across several columns; a label merged down over two rows.
    add(Case("merged-value", REVIEW_FORM, "民主评议考核表.docx", "李建国", word(
        "民主评议考核表",
        table(("被评议人", "王珺", "王珺", "王珺"), ("职务", "副主任", "评议人", "李建国"),
              ("评价意见", OPINION, OPINION, OPINION), across=[(0, 1, 3), (2, 1, 3)])), _review(HC, "王珺")))
    add(Case("merged-label-down", REVIEW_FORM, "民主评议考核表.docx", "马俊峰", word(
        "民主评议考核表",
        table(("单位", SJ, "被评议人", "胡雪梅"), ("评价意见", OPINION, OPINION, OPINION),
              ("评价意见", OPINION_2, OPINION_2, OPINION_2), across=[(1, 1, 3), (2, 1, 3)], down=[(0, 1, 2)])),
        _review(SJ, "胡雪梅")))
    # The opinion under its label, on rows of their own.
    add(Case("opinion-below", REVIEW_FORM, "民主评议考核表.docx", "赵志刚", word(
        "民主评议考核表",
        table(("被评议人", "周伟", "职务", "副主任"), ("评价意见", "评价意见", "评价意见", "评价意见"),
              (OPINION, OPINION, OPINION, OPINION), across=[(1, 0, 3), (2, 0, 3)])), _review(JH, "周伟")))
    # No table: paragraphs.
    for unit, reviewed, reviewer in ((HC, "张海燕", "李建国"), (SB, "高建华", "罗斌")):
        add(Case(f"paragraphs-{reviewed}", REVIEW_FORM, "评价意见.docx", reviewer, word(
            "民主评议考核表", f"单位：{unit}", f"被评议人：{reviewed}        职务：班子成员", f"评价意见：{OPINION}",
            f"评议人：{reviewer}", "2026年12月12日"), _review(unit, reviewed)))
    # The words real forms use for the one reviewed.
    for synonym, unit, reviewed, reviewer in (("评议对象", HC, "王珺", "李建国"), ("姓名", JH, "周伟", "赵志刚"),
                                              ("被考核人", SB, "徐明", "高建华"), ("考核对象", SJ, "胡雪梅", "马俊峰")):
        add(Case(f"synonym-{synonym}", REVIEW_FORM, "附件3.docx", reviewer, word(
            "民主评议考核表",
            table((synonym, reviewed, "职务", "副职"), ("评议意见", OPINION, "", ""), ("评议人签字", reviewer, "", ""))),
            _review(unit, reviewed)))
    # A name written with a space inside.
    add(Case("inner-space", REVIEW_FORM, "民主评议考核表.docx", "李建国", word(
        "民主评议考核表", table(("被评议人", "王 珺", "职务", "副主任"), ("评价意见", OPINION, "", ""))),
        _review(HC, "王珺")))
    add(Case("inner-fullwidth-space", REVIEW_FORM, "民主评议考核表.docx", "赵志刚", word(
        "民主评议考核表", table(("姓　　名", "周　伟"), ("评价意见", OPINION))), _review(JH, "周伟")))
    # One document reviewing several team members, one row each: one leader review per person.
    add(Case("several-rows", REVIEW_FORM, "民主评议考核表（班子成员）.docx", "李建国", word(
        "民主评议考核表", "单位：合成车间",
        table(("序号", "被评议人", "职务", "评价意见"), ("1", "张海燕", "党支部书记", OPINION),
              ("2", "王珺", "副主任", OPINION_2)), "评议人：李建国"),
        ((LEADER_REVIEW, HC, "张海燕"), (LEADER_REVIEW, HC, "王珺"))))
    add(Case("several-blocks", REVIEW_FORM, "评议表.docx", "高建华", word(
        "民主评议考核表",
        table(("被评议人", "罗斌", "职务", "党支部书记"), ("评价意见", OPINION, "", ""),
              ("被评议人", "徐明", "职务", "副科长"), ("评价意见", OPINION_2, "", "")), "评议人：高建华"),
        ((LEADER_REVIEW, SB, "罗斌"), (LEADER_REVIEW, SB, "徐明"))))
    # The reviewer signs at the bottom: the signer is not the one reviewed.
    add(Case("signed-bottom", REVIEW_FORM, "民主评议考核表.docx", "李建国", word(
        "民主评议考核表", f"对王珺同志的评价意见：{OPINION}", "李建国", "2026年12月12日"), _review(HC, "王珺")))
    add(Case("signed-bottom-table", REVIEW_FORM, "民主评议考核表.docx", "张海燕", word(
        "民主评议考核表", table(("被评议人", "李建国"), ("评价意见", OPINION)), "签名：张海燕    2026年12月12日"),
        _review(HC, "李建国")))
    add(Case("signed-bottom-only-names", REVIEW_FORM, "领导评价意见.docx", "赵志刚", word(
        "领导评价意见", f"孙丽娟同志：{OPINION_2}", "评议人：赵志刚", "2026年12月15日"), _review(JH, "孙丽娟")))
    # Traditional script.
    add(Case("traditional-across", REVIEW_FORM, "民主評議考核表.docx", "李建国", word(
        "民主评议考核表", table(("被评议人", "王珺", "职务", "副主任"), ("评价意见", OPINION, "", ""),
                               ("评议人", "李建国", "日期", "2026年12月12日")), traditional=True), _review(HC, "王珺")))
    add(Case("traditional-paragraphs", REVIEW_FORM, "評議表.docx", "罗斌", word(
        "民主评议考核表", "被评议人：高建华", f"评价意见：{OPINION}", "评议人：罗斌", traditional=True),
        _review(SB, "高建华")))
    # The title only in the file name.
    add(Case("title-in-filename", REVIEW_FORM, "王珺民主评议考核表.docx", "李建国", word(
        table(("姓名", "王珺", "职务", "副主任")), OPINION, "李建国  2026年12月12日"), _review(HC, "王珺")))
    add(Case("title-in-filename-2", REVIEW_FORM, "民主评议考核表-周伟.docx", "赵志刚", word(
        table(("单位", JH), ("姓名", "周伟")), OPINION_2), _review(JH, "周伟")))
    # The file name says one person, the content another: the content wins, HR is told.
    add(Case("filename-disagrees", REVIEW_FORM, "王珺民主评议考核表.docx", "张海燕", word(
        "民主评议考核表", table(("被评议人", "李建国", "职务", "主任"), ("评价意见", OPINION, "", ""))),
        _review(HC, "李建国"), warning="文件名中的姓名“王珺”"))
    # A column head hrbot does not know (所在岗位, 分管) beside the ones it does; hints after labels.
    add(Case("unknown-column-head", REVIEW_FORM, "考核表.docx", "李建国", word(
        "民主评议考核表", table(("被评议人", "所在岗位", "评价意见"), ("王珺", "副主任", OPINION))), _review(HC, "王珺")))
    add(Case("unknown-column-heads-rows", REVIEW_FORM, "考核表.docx", "李建国", word(
        "民主评议考核表", table(("序号", "姓名", "分管", "评价意见", "备注"), ("1", "王珺", "生产", OPINION, ""),
                               ("2", "张海燕", "党务", OPINION_2, ""))),
        ((LEADER_REVIEW, HC, "王珺"), (LEADER_REVIEW, HC, "张海燕"))))
    add(Case("hinted-labels", REVIEW_FORM, "a.docx", "李建国", word(
        "民主评议考核表", table(("被评议人（姓名）", "王珺", "职务（岗位）", "副主任"), ("评价意见（不少于200字）", OPINION, "", ""),
                               ("评议人（签字）", "李建国", "", ""))), _review(HC, "王珺")))
    add(Case("two-row-head", REVIEW_FORM, "评议.docx", "赵志刚", word(
        "民主评议考核表", table(("被评议人", "职务"), ("周伟", "副主任")), table(("评价意见",), (OPINION,))),
        _review(JH, "周伟")))
    add(Case("name-with-post", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", "评议对象：王珺同志（副主任）", "意见：" + OPINION), _review(HC, "王珺")))
    add(Case("tab-separated-lines", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", "被评议人\t王珺", "评价意见\t" + OPINION), _review(HC, "王珺")))
    add(Case("spaced-name-cell", REVIEW_FORM, "评议.docx", "赵志刚", word(
        "民 主 评 议 考 核 表", table(("姓　　名", "孙 丽 娟", "职　　务", "党支部书记"), ("评 价 意 见", OPINION, "", ""))),
        _review(JH, "孙丽娟")))
    add(Case("secretary-on-head-paragraphs", REVIEW_FORM, "评议.docx", "张海燕", word(
        "对李建国同志的评价意见", OPINION, "张海燕", "2026年12月12日"), _review(HC, "李建国")))
    add(Case("reviewer-in-filename", REVIEW_FORM, "张海燕.docx", "张海燕", word(
        "民主评议考核表", table(("被评议人", "李建国"), ("评价意见", OPINION), ("评议人", "张海燕"))), _review(HC, "李建国")))
    # One column per person reviewed; a post written beside the name without its label.
    add(Case("column-per-person", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", table(("被评议人", "王珺", "张海燕"), ("职务", "副主任", "党支部书记"),
                               ("评价意见", OPINION, OPINION_2))),
        ((LEADER_REVIEW, HC, "王珺"), (LEADER_REVIEW, HC, "张海燕"))))
    add(Case("unlabelled-post", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", table(("被评议人", "王珺", "副主任"), ("评价意见", OPINION, ""))), _review(HC, "王珺")))
    # Prose that names others besides the one reviewed; a label run into its value.
    add(Case("prose-mentions-head", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", "对王珺同志的评价意见：该同志在李建国主任的领导下，工作认真。", "李建国", "2026年12月12日"),
        _review(HC, "王珺")))
    add(Case("prose-mentions-secretary", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", "王珺同志2026年度在张海燕书记支持下，完成了各项任务。"), _review(HC, "王珺")))
    add(Case("label-run-into-value", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", "被评议人王珺", "评价意见" + OPINION), _review(HC, "王珺")))
    add(Case("one-cell-padded", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", table(("被 评 议 人：王 珺", "职务：副主任"), ("评价意见：" + OPINION, ""))), _review(HC, "王珺")))
    add(Case("traditional-one-cell", REVIEW_FORM, "评议.docx", "赵志刚", word(
        "民主评议考核表", table(("被评议人：周伟",), ("评价意见：" + OPINION,)), traditional=True), _review(JH, "周伟")))
    add(Case("name-merged-down", REVIEW_FORM, "评议.docx", "赵志刚", word(
        "民主评议考核表", table(("被评议人", "周伟", "评价意见", OPINION), ("", "周伟", "", OPINION_2),
                               down=[(1, 0, 1), (0, 0, 1)])), _review(JH, "周伟")))
    # Truly ambiguous: the head's form names nobody; a form whose opening names two team members.
    add(Case("names-nobody", REVIEW_FORM, "民主评议考核表.docx", "李建国", word(
        "民主评议考核表", f"评价意见：{OPINION}", "2026年12月12日"), held="被评议人"))
    add(Case("names-two", REVIEW_FORM, "评议.docx", "赵志刚", word(
        "民主评议考核表", f"孙丽娟、周伟两位同志：{OPINION}"), held="被评议人"))
    add(Case("reviewed-not-on-roster", REVIEW_FORM, "评议.docx", "李建国", word(
        "民主评议考核表", table(("被评议人", "张三", "职务", "副主任"), ("评价意见", OPINION, "", ""))),
        held="张三"))
    return cases


# --- 民主评议意见 union reviews --------------------------------------------------------

def _union_reviews() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    add(Case("union-rows", UNION, "民主评议意见.docx", "陈静", word(
        "民主评议意见", "单位：合成车间",
        table(("被评议人", "评议意见"), ("领导班子", TEAM_OPINION), ("李建国", OPINION), ("张海燕", OPINION),
              ("王珺", OPINION_2)), "评议人：陈静"), _unit(UNION_REVIEW, HC)))
    add(Case("union-rows-synonym", UNION, "附件3 民主评议意见（聚合车间）.docx", "郑晓燕", word(
        "民主评议考核表", table(("序号", "评议对象", "民主评议意见"), ("1", "班子", TEAM_OPINION), ("2", "赵志刚", OPINION),
                              ("3", "孙丽娟", OPINION), ("4", "周伟", OPINION_2))), _unit(UNION_REVIEW, JH)))
    add(Case("union-by-head", UNION, "民主评议意见.docx", "马俊峰", word(
        "民主评议意见", table(("评议对象", "意见"), ("领导班子", TEAM_OPINION), ("马俊峰", OPINION),
                            ("胡雪梅", OPINION_2))), _unit(UNION_REVIEW, SJ)))
    add(Case("union-paragraphs", UNION, "民主评议.docx", "梁红", word(
        "民主评议意见", "一、对领导班子的评议", TEAM_OPINION, "二、对班子成员的评议", f"高建华同志：{OPINION}",
        f"罗斌同志：{OPINION}", f"徐明同志：{OPINION_2}", "分会主席：梁红", "2026年12月18日"), _unit(UNION_REVIEW, SB)))
    add(Case("union-paragraphs-2", UNION, "2026年民主评议意见.docx", "陈静", word(
        "合成车间民主评议意见", f"对领导班子：{TEAM_OPINION}", f"对李建国同志：{OPINION}", f"对王珺同志：{OPINION_2}"),
        _unit(UNION_REVIEW, HC)))
    add(Case("union-kind-field", UNION, "附件3 民主评议考核表.docx", "郑晓燕", word(
        "民主评议考核表", table(("单位", JH, "评议类型", "民主评议意见"), ("评议人", "郑晓燕", "日期", "2026年12月18日")),
        table(("被评议人", "职务", "评价意见"), ("领导班子", "", TEAM_OPINION), ("赵志刚", "主任", OPINION))),
        _unit(UNION_REVIEW, JH)))
    add(Case("union-kind-field-only", UNION, "附件3.docx", "李建国", word(
        "民主评议考核表", "评议类型：民主评议意见",
        table(("被评议人", "评价意见"), ("王珺", OPINION), ("张海燕", OPINION_2))), _unit(UNION_REVIEW, HC)))
    add(Case("leader-kind-field-only", REVIEW_FORM, "附件3.docx", "陈静", word(
        "民主评议考核表", table(("评议类型", "领导评价意见", "被评议人", "王珺"), ("评价意见", OPINION, "", ""))),
        _review(HC, "王珺")))
    add(Case("union-traditional", UNION, "民主評議意見.docx", "何丹", word(
        "民主评议意见", table(("被评议人", "评议意见"), ("领导班子", TEAM_OPINION), ("马俊峰", OPINION)),
        traditional=True), _unit(UNION_REVIEW, SJ)))
    add(Case("union-short-heads", UNION, "意见.docx", "陈静", word(
        "评议意见", table(("对象", "意见"), ("班子", TEAM_OPINION), ("李建国", OPINION))), _unit(UNION_REVIEW, HC)))
    add(Case("union-members-only-by-chair", UNION, "评议.docx", "陈静", word(
        "民主评议考核表", table(("被评议人", "评价意见"), ("李建国", OPINION), ("王珺", OPINION))), _unit(UNION_REVIEW, HC)))
    add(Case("union-sent-by-head", UNION, "民主评议意见.docx", "李建国", word(
        "民主评议意见", "对领导班子的意见：" + TEAM_OPINION, "对李建国同志的意见：" + OPINION, "分会主席：陈静"),
        _unit(UNION_REVIEW, HC)))
    add(Case("union-title-sent-by-head", UNION, "评议.docx", "赵志刚", word(
        "民主评议意见", table(("被评议人", "意见"), ("赵志刚", OPINION), ("周伟", OPINION_2))), _unit(UNION_REVIEW, JH)))
    add(Case("union-no-title", UNION, "设备动力科民主评议意见.docx", "梁红", word(
        table(("对象", "意见"), ("领导班子", TEAM_OPINION), ("高建华", OPINION), ("徐明", OPINION_2))),
        _unit(UNION_REVIEW, SB)))
    return cases


# --- 附件2 personal reports ------------------------------------------------------------

def _head_table(unit: str, name: str, post: str = "副主任") -> object:
    return table(("单位", unit, "姓名", name), ("职务", post, "日期", "2026年12月1日"))


def _personal_reports() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    for title, unit, name, sender in (("述职报告", HC, "刘洋", "李建国"), ("2026年度述职报告", JH, "吴国庆", "赵志刚"),
                                      ("述 职 报 告", SJ, "林涛", "林涛"), ("个人述职报告（科级干部）", HC, "王珺", "王珺"),
                                      ("科级干部个人述职报告", SB, "徐明", "高建华")):
        add(Case(f"title-{title}", PERSONAL, "附件2.docx", sender, word(title, _head_table(unit, name), *REPORT_BODY),
                 _personal(unit, name)))
    add(Case("reporter-line", PERSONAL, "述职报告.docx", "李建国", word(
        "2026年度述职报告", "述职人：刘洋", *REPORT_BODY), _personal(HC, "刘洋")))
    add(Case("reporter-line-padded", PERSONAL, "述职报告.docx", "马俊峰", word(
        "述职报告", "姓　　名：林涛　　职务：工艺主管", *REPORT_BODY), _personal(SJ, "林涛")))
    add(Case("name-under-title", PERSONAL, "述职报告.docx", "赵志刚", word(
        "述职报告", "聚合车间  周伟", *REPORT_BODY), _personal(JH, "周伟")))
    add(Case("name-in-header", PERSONAL, "述职报告.docx", "李建国", word(
        "述职报告", *REPORT_BODY, header="合成车间 刘洋 2026年度述职"), _personal(HC, "刘洋")))
    add(Case("name-in-footer", PERSONAL, "附件2 个人述职报告.docx", "赵志刚", word(
        "个人述职报告", *REPORT_BODY, footer="述职人：孙丽娟"), _personal(JH, "孙丽娟")))
    add(Case("name-in-filename", PERSONAL, "刘洋述职报告.docx", "李建国", word("述职报告", *REPORT_BODY),
             _personal(HC, "刘洋")))
    add(Case("name-in-filename-noisy", PERSONAL, "附件2-林涛-2026年度个人述职报告（定稿）.docx", "马俊峰", word(
        "2026年度个人述职报告", *REPORT_BODY), _personal(SJ, "林涛")))
    add(Case("name-beside-date", PERSONAL, "述职报告.docx", "李建国", word(
        "述职报告", *REPORT_BODY, "刘洋  2026年12月1日"), _personal(HC, "刘洋")))
    add(Case("name-above-date", PERSONAL, "个人述职.docx", "高建华", word(
        "述职报告", *REPORT_BODY, "述职人：", "徐明", "2026年12月2日"), _personal(SB, "徐明")))
    # Several people's reports in one mail from the unit head: each names its own person.
    for name in ("张海燕", "王珺", "刘洋", "李建国"):
        add(Case(f"from-head-{name}", PERSONAL, f"{name}.docx", "李建国", word(
            "科级干部个人述职报告", _head_table(HC, name), *REPORT_BODY), _personal(HC, name)))
    add(Case("traditional", PERSONAL, "述職報告.docx", "赵志刚", word(
        "述职报告", _head_table(JH, "周伟"), *REPORT_BODY, traditional=True), _personal(JH, "周伟")))
    add(Case("traditional-filename", PERSONAL, "吳國慶述職報告.docx", "赵志刚", word(
        "述职报告", *REPORT_BODY, traditional=True), _personal(JH, "吴国庆")))
    add(Case("inner-space-name", PERSONAL, "述职报告.docx", "李建国", word(
        "述职报告", "姓名：刘 洋", *REPORT_BODY), _personal(HC, "刘洋")))
    add(Case("report-filename-disagrees", PERSONAL, "王珺述职报告.docx", "李建国", word(
        "述职报告", _head_table(HC, "刘洋", "工艺员"), *REPORT_BODY), _personal(HC, "刘洋"),
        warning="文件名中的姓名“王珺”"))
    add(Case("head-row-over-values", PERSONAL, "述职报告.docx", "李建国", word(
        "述职报告", table(("单位", "姓名", "职务"), (HC, "刘洋", "工艺员")), *REPORT_BODY), _personal(HC, "刘洋")))
    add(Case("signed-with-unit", PERSONAL, "述职报告.docx", "赵志刚", word(
        "2026年度述职报告", *REPORT_BODY, "聚合车间 吴国庆", "二〇二六年十二月一日"), _personal(JH, "吴国庆")))
    add(Case("traditional-footer", PERSONAL, "述職報告.docx", "李建国", word(
        "述职报告", *REPORT_BODY, footer="合成车间  王珺", traditional=True), _personal(HC, "王珺")))
    add(Case("name-in-subject", PERSONAL, "述职报告.docx", "李建国", word("述职报告", *REPORT_BODY),
             _personal(HC, "王珺"), subject="王珺的述职报告"))
    add(Case("body-names-the-head", PERSONAL, "王珺述职报告.docx", "李建国", word(
        "述职报告", "本人在车间主任李建国同志的领导下，认真履行副主任职责，团结班子成员，完成了全年任务。", *REPORT_BODY),
        _personal(HC, "王珺")))
    add(Case("name-in-subtitle", PERSONAL, "附件2.docx", "李建国", word("述职报告", "——合成车间副主任 王珺", *REPORT_BODY),
             _personal(HC, "王珺")))
    add(Case("name-in-brackets-of-filename", PERSONAL, "2026年述职报告（王珺）.docx", "李建国", word(
        "述职报告", *REPORT_BODY), _personal(HC, "王珺")))
    add(Case("reporter-and-date-at-end", PERSONAL, "述职报告.docx", "李建国", word(
        "述职报告", *REPORT_BODY, "述职人：王珺 2026.12.1"), _personal(HC, "王珺")))
    add(Case("own-report-by-cadre", PERSONAL, "述职报告.docx", "林涛", word("述职报告", *REPORT_BODY),
             _personal(SJ, "林涛")))
    # Truly ambiguous: the head sends a report that names nobody; a name not on the roster.
    add(Case("report-names-nobody-filename-words", PERSONAL, "科级干部述职报告-修改.docx", "李建国", word(
        "述职报告", *REPORT_BODY), held="谁的述职报告"))
    add(Case("report-names-nobody", PERSONAL, "述职报告.docx", "李建国", word("述职报告", *REPORT_BODY), held="谁的述职报告"))
    # A short sentence naming the head under the title is no title line: the sender's own name proves nothing.
    add(Case("report-short-sentence-names-the-head", PERSONAL, "述职报告(1).docx", "李建国",
             word("述职报告", "在李建国主任的领导下，我认真完成了全年工作。"), held="谁的述职报告"))
    add(Case("not-on-roster", PERSONAL, "述职报告.docx", "赵志刚", word(
        "述职报告", _head_table(JH, "张三"), *REPORT_BODY), held="张三"))
    return cases


# --- 附件1 team reports ----------------------------------------------------------------

def _team_reports() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    for title, unit, sender in (("领导班子述职报告", HC, "李建国"), ("班子2026年度工作述职", JH, "赵志刚"),
                                ("领导班子述职报告", SB, "罗斌"), ("合成车间领导班子2026年度述职报告", HC, "张海燕"),
                                ("生产技术科班子述职报告", SJ, "胡雪梅")):
        add(Case(f"team-{title}-{sender}", TEAM, "附件1.docx", sender, word(title, *TEAM_BODY), _unit(TEAM_REPORT, unit)))
    add(Case("team-fields", TEAM, "班子述职报告.docx", "赵志刚", word(
        "领导班子述职报告", table(("单位", JH, "述职人", "赵志刚"), ("日期", "2026-12-08", "", "")), *TEAM_BODY),
        _unit(TEAM_REPORT, JH)))
    add(Case("team-title-in-filename", TEAM, "设备动力科领导班子述职报告.docx", "高建华", word(*TEAM_BODY),
             _unit(TEAM_REPORT, SB)))
    add(Case("team-traditional", TEAM, "班子述職.docx", "马俊峰", word("领导班子述职报告", *TEAM_BODY, traditional=True),
             _unit(TEAM_REPORT, SJ)))
    add(Case("team-by-secretary-reporter-line", TEAM, "附件1.docx", "张海燕", word(
        "合成车间领导班子述职报告", "述职人：李建国", *TEAM_BODY), _unit(TEAM_REPORT, HC)))
    add(Case("team-subtitle", TEAM, "附件1.docx", "李建国", word("述职报告", "（领导班子）", *TEAM_BODY),
             _unit(TEAM_REPORT, HC)))
    add(Case("team-padded-title", TEAM, "附件1.docx", "李建国", word("领 导 班 子 述 职 报 告", *TEAM_BODY),
             _unit(TEAM_REPORT, HC)))
    return cases


# --- the same documents as .doc, .wps and PDF; a scan ------------------------------------

def _converted(by_id: dict[str, Case]) -> list[Case]:
    picks = (("across-李建国", "doc"), ("several-rows", "doc"), ("title-述职报告", "doc"), ("name-in-header", "doc"),
             ("team-班子2026年度工作述职-赵志刚", "doc"), ("union-rows", "wps"), ("padded-0", "wps"),
             ("reporter-line", "wps"), ("traditional-across", "wps"), ("column-王珺", "pdf"),
             ("paragraphs-张海燕", "pdf"), ("title-2026年度述职报告", "pdf"), ("union-paragraphs", "pdf"),
             ("team-fields", "pdf"), ("padded-1", "pdf"), ("several-rows", "pdf"), ("one-cell", "doc"),
             ("name-in-footer", "wps"), ("inner-space", "pdf"), ("spaced-name-cell", "pdf"))
    out = []
    for case_id, target in picks:
        case = by_id[case_id]
        stem = case.filename.rsplit(".", 1)[0]
        out.append(replace(case, id=f"{case_id}.{target}", family=CONVERTED, filename=f"{stem}.{target}",
                           convert_to=target))
    return out


def _scans() -> list[Case]:
    return [
        # Nothing says what or whose: HR looks at the image.
        Case("scan-unnamed", SCAN, "扫描件001.pdf", "李建国", image_pdf(), held="扫描件", subject="材料"),
        Case("scan-item-only", SCAN, "民主评议考核表.pdf", "赵志刚", image_pdf(), held="扫描件", subject="评议表"),
        # The file name says both: taken by it, with the warning that nobody could read the content.
        Case("scan-named", SCAN, "王珺述职报告.pdf", "李建国", image_pdf(), _personal(HC, "王珺"), warning="扫描件"),
        Case("scan-review-named", SCAN, "周伟-民主评议考核表.pdf", "赵志刚", image_pdf(), _review(JH, "周伟"),
             warning="扫描件"),
        # A unit's own document needs no person: the union chair's scan is the union review.
        Case("scan-union", SCAN, "民主评议意见.pdf", "陈静", image_pdf(), _unit(UNION_REVIEW, HC), warning="扫描件"),
        # The secretary's review is of the head by rule, but a scan nobody can read is not attributed by a rule.
        Case("scan-secretary-unnamed", SCAN, "评议表.pdf", "张海燕", image_pdf(), held="扫描件"),
    ]


def cases() -> list[Case]:
    base = _review_forms() + _union_reviews() + _personal_reports() + _team_reports()
    by_id = {c.id: c for c in base}
    assert len(by_id) == len(base), "case ids must be unique"
    return base + _converted(by_id) + _scans()


# --- running a case ------------------------------------------------------------------------

def recognise_case(case: Case, data: bytes) -> Recognition:
    sender = PEOPLE[case.sender]
    mail = Mail("<layout@corpus>", sender.email, sender.name, case.subject, "", [], email.message.Message(), "0")
    return recognise(Part(case.filename, "application/octet-stream", data), mail, sender, ROSTER, YEAR)


def verdict(case: Case, result: Recognition) -> tuple[str, str]:
    """(RIGHT | HELD | WRONG, what was made of it): HELD counts as right only where the case says so."""
    got = tuple((d.item, d.unit, d.person) for d in result.documents)
    if result.held:
        said = f"held: {result.reason}"
        return (HELD if case.held and case.held in result.reason else WRONG), said
    said = f"{result.outcome} {got} {result.reason}".strip()
    if case.held or result.outcome != ACCEPTED or sorted(got, key=str) != sorted(case.expect, key=str):
        return WRONG, said
    if case.warning and not any(case.warning in w for w in result.documents[0].warnings):
        return WRONG, f"{said}; missing warning {case.warning!r}"
    return RIGHT, said


def materialise(all_cases: list[Case], folder: Path) -> dict[str, bytes]:
    """Each case's file bytes by id; the .doc/.wps/PDF copies made by one LibreOffice run per format
    (left out when LibreOffice is not installed: their tests skip)."""
    files: dict[str, bytes] = {}
    wanted: dict[str, list[tuple[int, Case]]] = {}
    for n, case in enumerate(all_cases):
        data = case.source if isinstance(case.source, bytes) else case.source.data()
        if case.convert_to:
            # Kingsoft WPS 文字 saves .wps as a Word 97-2003 file, which LibreOffice cannot name .wps itself.
            target = "doc" if case.convert_to == "wps" else case.convert_to
            wanted.setdefault(target, []).append((n, case))
            (folder / f"{n}.docx").write_bytes(data)
        else:
            files[case.id] = data
    program = convert.soffice()
    if program is None:
        return files
    for target, batch in wanted.items():
        out = folder / target
        sources = [str(folder / f"{n}.docx") for n, _ in batch]
        subprocess.run([program, "--headless", "--norestore", f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                        "--convert-to", target, "--outdir", str(out), *sources],
                       check=True, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
        for n, case in batch:
            files[case.id] = (out / f"{n}.{target}").read_bytes()
    return files
