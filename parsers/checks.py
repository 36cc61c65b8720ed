"""Checks on a recognised document's content; what they find are HR-facing warnings, never rejections."""

from __future__ import annotations

import re

from parsers.forms import PART_NAMES
from parsers.script import compact

_PART_ORDINALS = {1: "一", 2: "二", 3: "三", 4: "四"}

# Heading words of each part, as the plan words them and as people usually do (一、基本情况 …
# 三、存在的不足 … 四、下一步工作打算). A heading is given to the part whose word comes first in it:
# "职务、职责、分管的主要工作" is part one although 主要工作 alone would mean part two.
_HEADING_WORDS = {
    1: ("职务", "职责", "分管", "岗位", "基本情况", "任职"),
    2: ("完成情况", "主要措施", "采取的", "四好", "业绩", "主要工作", "工作成绩", "履职", "工作成效"),
    3: ("问题", "教训", "不足", "差距"),
    4: ("今后", "努力", "打算", "下一步", "明年", "工作计划", "工作思路", "展望", "改进方向"),
}
# Without headings, a part still counts as present when its substance shows anywhere in the text.
_BODY_WORDS = {
    1: ("分管", "职责", "本人现任", "担任"),
    2: ("完成情况", "主要措施", "采取", "完成了"),
    3: ("存在的主要问题", "存在的问题", "存在问题", "不足之处", "问题和不足", "教训"),
    4: ("今后", "明年", "下一步", "打算", "努力方向"),
}
# 一、 （一） 第一部分 1、 1. (1): how a heading is numbered; 一是 opens a sentence, not a section.
_NUMBERED = re.compile(r"^(第[一二三四五六七八九十\d]+部分|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[）)]|\d+[、.．)）])")


def personal_report_warnings(lines: list[str]) -> list[str]:
    """Warnings for a personal report: each of the four parts missing, or a heading with nothing under it."""
    flat = [compact(line) for line in lines]
    marks = [(i, part) for i, line in enumerate(flat) if (part := _heading_part(line))]
    headings: dict[int, int] = {}  # part → line index of its first heading
    for i, part in marks:
        headings.setdefault(part, i)
    whole = "".join(flat)
    warnings = []
    for part, name in PART_NAMES.items():
        label = f"第{_PART_ORDINALS[part]}部分（{name}）"
        if part in headings:
            if not _has_body(headings[part], part, marks, len(flat)):
                warnings.append(f"个人述职报告{label}没有填写内容")
        elif not any(word in whole for word in _BODY_WORDS[part]):
            warnings.append(f"个人述职报告缺少{label}")
    return warnings


def _heading_part(line: str) -> int | None:
    numbered = _NUMBERED.match(line) is not None
    # The plan's own part-two heading runs to some 75 characters; a numbered line that long is still one.
    # Unnumbered, a heading is a short phrase without closing punctuation, and not a bare form label
    # such as 职务; "明年重点抓好以下工作：" opens a list inside a part.
    closing = ("。", "；", ";", "，") if numbered else ("。", "；", ";", "，", "：", ":", "！", "？")
    if line.endswith(closing) or not (1 if numbered else 4) <= len(line) <= (90 if numbered else 24):
        return None
    firsts = {}
    for part, words in _HEADING_WORDS.items():
        positions = [line.find(w) for w in words if w in line]
        if positions:
            firsts[part] = min(positions)
    return min(firsts, key=firsts.__getitem__) if firsts else None


def _has_body(start: int, part: int, marks: list[tuple[int, int]], end: int) -> bool:
    """Whether any line stands between a part's heading and the next heading of another part."""
    following = next((i for i, other in marks if i > start and other != part), end)
    return following > start + 1
