"""Whose document it is: roster people and units named in a text, a form field or a file name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from bot.records import Person, Roster
from parsers.docx_text import DocxText
from parsers.script import compact, normalise_name

# Words a file name wraps around a person's name: 附件2-王珺-2026年度个人述职报告（定稿）.docx
_FILENAME_NOISE = re.compile(
    r"附件\s*\d*|科级干部|二线干部|个人|年度|述职报告|述职|报告|民主评议|考核表|评议表|评价意见|领导|同志|意见|评议|评价|考核|材料|扫描件|扫描|文件|班子|表|"
    r"的|定稿|终稿|最终版|修改稿|修改版|副本|草稿|新版|修改|最终|正式版|电子版|打印版|盖章版|签字版|\d+|[A-Za-z]+|[\W_]+"
)
_HAN_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,5}$")


def find_person(roster: Roster, unit: str, written: str) -> Person | None:
    """The person of `unit` a written name means: exactly, else the longest roster name inside it
    (a name written with its post, 王珺副主任)."""
    key = normalise_name(written)
    if not key:
        return None
    people = roster.people_in(unit)
    exact = next((p for p in people if normalise_name(p.name) == key), None)
    if exact:
        return exact
    inside = [p for p in people if normalise_name(p.name) in key]
    return max(inside, key=lambda p: len(p.name)) if inside else None


def people_in_text(text: str, people: Iterable[Person]) -> list[Person]:
    """The given people whose names occur in text, in the order they first occur."""
    flat = compact(text)
    hits = []
    for person in people:
        at = flat.find(normalise_name(person.name))
        if at >= 0:
            hits.append((at, -len(person.name), person))
    return [person for _, _, person in sorted(hits, key=lambda h: h[:2])]


def unit_in_text(text: str, roster: Roster) -> str | None:
    """The roster unit named in a text (the longest one, so 合成一车间 is not read as 合成车间), or None."""
    flat = compact(text)
    named = [u for u in roster.units if normalise_name(u) in flat]
    return max(named, key=len) if named else None


def name_from_filename(filename: str | None, roster: Roster) -> str | None:
    """The person's name a file name gives, whether on the roster or not (王珺述职报告.docx → 王珺)."""
    if not filename:
        return None
    stem = compact(PurePosixPath(filename.replace("\\", "/")).stem)
    for unit in sorted(roster.units, key=len, reverse=True):
        stem = stem.replace(normalise_name(unit), "")
    rest = _FILENAME_NOISE.sub(" ", stem).split()
    # Exactly one word left, shaped like a Chinese name; anything else is not a name we can trust.
    return rest[0] if len(rest) == 1 and _HAN_NAME.match(rest[0]) else None


def same_person(a: Person | None, b: Person | None) -> bool:
    return a is not None and b is not None and (a.unit, a.name) == (b.unit, b.name)


# A signature line is short: a name, perhaps a label and the date (述职人：王珺  2026年12月1日).
SIGNATURE_LINES = 4
SIGNATURE_MAX = 30
SIGNATURE_REST = 8  # what a signature line may hold besides names, labels and the date (a unit's name)
_SIGNATURE_WORDS = re.compile(r"[\d〇零一二三四五六七八九十年月日号./\-:：()（）、,，]|(?<!被)评议人|述职人|报告人|签名|签字|日期|同志")


def signers(doc: DocxText, people: Iterable[Person]) -> list[Person]:
    """The given people who sign the document: named on one of its last short lines outside a table."""
    own = set(doc.paragraphs)  # a name in a form's last row is a value, not a signature
    # Never the title and the line under it, which in a short document are also among the last.
    tail = [line for line in doc.lines[2:][-SIGNATURE_LINES:] if line in own and len(compact(line)) <= SIGNATURE_MAX]
    found: list[Person] = []
    for line in tail:
        named = people_in_text(line, people)
        rest = _SIGNATURE_WORDS.sub("", compact(line))
        for person in named:
            rest = rest.replace(normalise_name(person.name), "")
        if len(rest) <= SIGNATURE_REST:  # a name with a label, a date, a unit: not a sentence naming someone
            found += [p for p in named if p not in found]
    return found


def filename_disagrees(
    filename: str | None, roster: Roster, person: Person, besides: Person | None = None
) -> list[str]:
    """A warning when the file name names someone else than the content does (the content was taken).
    `besides` may be named too without a warning (a review's file name often carries its reviewer's)."""
    stem = PurePosixPath((filename or "").replace("\\", "/")).stem
    named = [p for p in people_in_text(stem, roster.people_in(person.unit)) if not same_person(p, besides)]
    if named:
        if person in named:
            return []
        other = named[0].name
    else:
        other = name_from_filename(filename, roster)
        if not other or normalise_name(other) == normalise_name(person.name):
            return []
    return [f"文件名中的姓名“{other}”与文件内容中的“{person.name}”不一致，已按文件内容登记为{person.name}"]
