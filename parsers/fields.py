"""Labelled values in a document, read as a clerk reads a form: across a row, down a column, under a header row, in lines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from parsers.docx_text import DocxText
from parsers.script import compact, normalise_name, to_simplified

# The words forms use for each value hrbot reads, by the name the recogniser asks for.
SYNONYMS = {
    "单位": ("单位", "所在单位", "单位名称", "部门", "所在部门", "车间科室"),
    "姓名": ("姓名",),
    "述职人": ("述职人", "报告人", "述职干部"),
    "职务": ("职务", "现任职务", "岗位", "职位"),
    "日期": ("日期", "时间", "填表日期", "评议日期", "述职日期"),
    "被评议人": ("被评议人", "评议对象", "被考核人", "考核对象", "被评价人", "评价对象", "被考评人", "被评议人姓名"),
    "评议人": ("评议人", "考核人", "评价人", "填表人", "评议人签名", "评议人签字", "签名", "签字", "评议人姓名"),
    "评议人职务": ("评议人职务",),
    "评议类型": ("评议类型", "评议类别"),
    "评价意见": ("评价意见", "评议意见", "意见", "领导评价意见", "民主评议意见", "考核意见", "评语"),
}
# Column heads and field names a form has besides those: labels too, so never read as a value.
OTHER_LABELS = (
    "序号", "备注", "性别", "年龄", "出生年月", "民族", "学历", "政治面貌", "分管工作", "得分", "等次", "评议等次",
    "评价等次", "盖章", "单位盖章", "推荐理由", "任职时间", "参加工作时间", "联系电话",
)
_CANONICAL = {word: key for key, words in SYNONYMS.items() for word in words} | {w: w for w in OTHER_LABELS}
# A hint after a label is common in forms: "评议类型（领导评价意见/民主评议意见）", "评议人（签字）".
_HINT = re.compile(r"[（(].*?[）)]")
_LABEL_MAX = max(map(len, _CANONICAL))
_STRIP = " \t\u3000，,；;。"
# 评议类型's values are the names of the two opinions, which other forms use as column heads.
_NAMED_BY_LABELS = {"评议类型"}
_HEADING = re.compile(r"^[\u4e00-\u9fff]{2,8}$")  # what an unknown column head looks like


def _padded(words: Iterable[str]) -> str:
    # Longest first, so 评议人职务 wins over 评议人; spaces allowed inside a padded label (被 评 议 人).
    return "|".join(r"[\s\u3000]*".join(map(re.escape, w)) for w in sorted(words, key=len, reverse=True))


_ALTERNATIVES = _padded(_CANONICAL)
_HINTED = rf"(?:{_ALTERNATIVES})[\s\u3000]*(?:[（(][^）)]{{0,12}}[）)])?"
# "被评议人：王珺  职务：副主任" — several pairs on a line, each ending where the next label starts.
_PAIRS = re.compile(rf"(?<![^\s\u3000，,；;。])({_HINTED})[\s\u3000]*[：:][\s\u3000]*(.*?)(?=(?:{_HINTED})[\s\u3000]*[：:]|$)")
# "姓名 王珺" — a label, whitespace, a value: only where a line or cell starts with the label.
_SPACED = re.compile(rf"^[\s\u3000]*({_HINTED})[\s\u3000]+(\S.*)$")


@dataclass
class Fields:
    """Every value read for each label, in reading order (a header row's records row by row)."""

    values: dict[str, list[str]] = field(default_factory=dict)
    # Further cells right of a label's value before the next label (被评议人 | 王珺 | 张海燕): maybe
    # more values of it, maybe an unlabelled post; the caller decides with the roster.
    beside: dict[str, list[str]] = field(default_factory=dict)

    def get(self, label: str, default: str | None = None) -> str | None:
        found = self.values.get(label)
        return found[0] if found else default

    def all(self, label: str) -> list[str]:
        return list(self.values.get(label, ()))

    def __contains__(self, label: object) -> bool:
        return label in self.values

    def add(self, label: str, value: str) -> None:
        value = value.strip(_STRIP)
        if not value or (label not in _NAMED_BY_LABELS and (label_of(value) or _PAIRS.match(value))):
            return  # a label's value is never another label
        known = self.values.setdefault(label, [])
        if all(normalise_name(v) != normalise_name(value) for v in known):
            known.append(value)


@lru_cache(maxsize=8192)
def label_of(cell: str) -> str | None:
    """The label a cell holds ("姓　名：" → 姓名, "评议对象" → 被评议人), or None when it holds something else."""
    if len(cell) > 3 * _LABEL_MAX + 12:
        return None  # a sentence, not a label; spared the script conversion
    key = _HINT.sub("", compact(cell)).strip("：:")
    return _CANONICAL.get(key)


_PADDED_LABEL = re.compile(_ALTERNATIVES)
_BLANKS = re.compile(r"[\s\u3000]+")


def join_padded_labels(text: str) -> str:
    """Text with every padded label written solid (被 评 议 人 → 被评议人), for text whose spaces separate cells."""
    return _PADDED_LABEL.sub(lambda m: _BLANKS.sub("", m.group(0)), text)


def fields(doc: DocxText) -> Fields:
    """The labelled values of a document: its tables first, then its lines outside them."""
    found = Fields()
    for table in doc.tables:
        _from_table(table, found)
    for line in doc.paragraphs:
        _from_line(line, found)
    return found


def _from_line(line: str, found: Fields) -> None:
    text = to_simplified(line)
    pairs = list(_PAIRS.finditer(text))
    for match in pairs:
        found.add(label_of(match.group(1)) or "", match.group(2))
    if not pairs and (spaced := _SPACED.match(text)):
        found.add(label_of(spaced.group(1)) or "", spaced.group(2))


# --- tables --------------------------------------------------------------------

EMPTY, LABEL, PAIR, VALUE = range(4)


def _kind(cell: str) -> tuple[int, str, str]:
    """(kind, label, value) of one cell: empty, a label alone, a label with its value, or a value."""
    if not cell.strip():
        return EMPTY, "", ""
    label = label_of(cell)
    if label:
        return LABEL, label, ""
    text = to_simplified(cell)
    match = _PAIRS.match(text.strip()) or _SPACED.match(text)
    if match and (label := label_of(match.group(1))):
        return PAIR, label, match.group(2)
    return VALUE, "", cell.strip()


def _from_table(table: list[list[str]], found: Fields) -> None:
    kinds = [[_kind(cell) for cell in row] for row in table]
    r = 0
    while r < len(table):
        if _is_header(table, kinds, r):
            r = _records_below(table, kinds, r, found)
            continue
        row = kinds[r]
        for i, (kind, label, value) in enumerate(row):
            if kind == PAIR:
                _from_line(table[r][i], found)  # a cell may hold several: 被评议人：王珺 职务：副主任
            elif kind == LABEL and (value := _across(table[r], row, i) or _down(kinds, r, i)):
                found.add(label, value)
                found.beside.setdefault(label, []).extend(_further(table[r], row, i))
        r += 1


def _is_header(table: list[list[str]], kinds: list[list[tuple[int, str, str]]], r: int) -> bool:
    """A header row: two labels or more, any other cell a short word (a column head hrbot does not
    know, 所在岗位) and then not every label has its value beside it, and the row below holds values
    under the labels and no label of its own."""
    row = kinds[r]
    labels = {label for kind, label, _ in row if kind == LABEL}
    if len(labels) < 2 or any(kind == PAIR for kind, _, _ in row) or r + 1 >= len(kinds):
        return False
    others = [value for kind, _, value in row if kind == VALUE]
    if others:
        if not all(_HEADING.match(compact(value)) for value in others):
            return False
        if all(_across(table[r], row, i) for i, (kind, _, _) in enumerate(row) if kind == LABEL):
            return False  # 被评议人 | 王珺 | 职务 | 副主任: each label has its value, a row of pairs
    below = kinds[r + 1]
    if any(kind in (LABEL, PAIR) for kind, _, _ in below):
        return False
    return any(kind == LABEL and i < len(below) and below[i][0] == VALUE for i, (kind, _, _) in enumerate(row))


def _records_below(table: list[list[str]], kinds: list[list[tuple[int, str, str]]], r: int, found: Fields) -> int:
    """Read the rows under the header row r as records; return the first row after them."""
    columns: dict[int, str] = {}
    for i, (kind, label, _) in enumerate(kinds[r]):
        if kind == LABEL and label not in columns.values():
            columns[i] = label
    r += 1
    while r < len(table) and not any(kind in (LABEL, PAIR) for kind, _, _ in kinds[r]):
        for i, label in columns.items():
            if i < len(kinds[r]) and kinds[r][i][0] == VALUE:
                found.add(label, kinds[r][i][2])
        r += 1
    return r


def _across(cells: list[str], row: list[tuple[int, str, str]], i: int) -> str | None:
    """The value right of a label: the next cell that is not empty and not the label's own merged copy."""
    for cell, (kind, _, value) in zip(cells[i + 1 :], row[i + 1 :]):
        if kind == EMPTY or cell == cells[i]:
            continue
        if kind == VALUE:
            return value
        return cell.strip() if row[i][1] in _NAMED_BY_LABELS and kind == LABEL else None
    return None


def _further(cells: list[str], row: list[tuple[int, str, str]], i: int) -> list[str]:
    """The distinct values after a label's first value, up to the next label."""
    out: list[str] = []
    for cell, (kind, _, value) in zip(cells[i + 1 :], row[i + 1 :]):
        if kind in (LABEL, PAIR):
            break
        if kind == VALUE and cell != cells[i] and value not in out:
            out.append(value)
    return out[1:]


def _down(kinds: list[list[tuple[int, str, str]]], r: int, i: int) -> str | None:
    """The value under a label with nothing right of it (评价意见 on a row of its own, the opinion below)."""
    if r + 1 < len(kinds) and i < len(kinds[r + 1]):
        kind, _, value = kinds[r + 1][i]
        if kind == VALUE and not any(k in (LABEL, PAIR) for k, _, _ in kinds[r + 1]):
            return value
    return None
