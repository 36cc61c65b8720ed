"""The meeting request: the date a unit asks for its report meeting (申请召开述职大会的时间)."""

from __future__ import annotations

import re
from datetime import date

from bot.records import Document, Mail, Person, Roster
from bot.season.items import MEETING_REQUEST
from parsers.script import to_simplified

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "〇零○Ｏ一二两三四五六七八九十"
_NUM = rf"(?:\d{{1,4}}|[{_CN}]{{1,4}})"

# Written dates, most specific first; each names its groups y (optional), m, d.
_DATES = (
    re.compile(rf"(?P<y>\d{{4}}|[{_CN}]{{4}})\s*年\s*(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]"),
    re.compile(r"(?<!\d)(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})(?![\d.])"),
    re.compile(rf"(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]?"),
    re.compile(r"(?<![\d./-])(?P<m>\d{1,2})\s*[/.]\s*(?P<d>\d{1,2})(?![\d./%])(?!\s*(?:小时|万|元|吨|米|倍))"),
)
# Words of a sentence about the meeting, which make a date in it the one asked for.
_MEETING_WORDS = re.compile(r"述职(?:大)?会|召开|述职")
# The request itself: asking for, proposing or announcing the meeting's date.
_REQUEST = re.compile(
    r"(申请|拟|计划|建议|定于|安排|准备|希望|请求).{0,30}?(召开|举行|进行).{0,12}?述职(大)?会"
    r"|述职(大)?会.{0,6}?(时间|日期)"
    r"|(召开|举行)述职(大)?会的?(申请|请示)"
    r"|(申请|拟|计划|定于|安排).{0,20}?(召开|举行).{0,6}?述职"
)
# Quoted history under a reply: HR's own kickoff mail names 11月25日 and must not count.
_QUOTE_START = re.compile(
    r"^\s*(-{2,}\s*(原始邮件|转发邮件信息|Original(\s+Message)?|Forwarded message)\s*-{2,}"
    r"|发件人[:：]|From:\s|在.{0,60}写道[:：]|On .{0,80}wrote:)",
    re.IGNORECASE | re.MULTILINE,
)
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


def find_date(text: str, year: int) -> date | None:
    """The date a text gives for the meeting: preferably one in a sentence about the meeting, and not a
    deadline ("…前"); a date without a year is in the season's year."""
    text = to_simplified(text)
    best: tuple[int, int, date] | None = None
    for start, end, found in _dates(text, year):
        sentence = _sentence(text, start)
        deadline = re.match(r"\s*(之前|以前|前)", text[end : end + 3]) is not None
        rank = (0 if _MEETING_WORDS.search(sentence) else 1) * 2 + (1 if deadline else 0)
        if best is None or (rank, start) < best[:2]:
            best = (rank, start, found)
    return best[2] if best else None


def find_meeting_request(mail: Mail, sender: Person, roster: Roster, year: int) -> Document | None:
    """A meeting request in the mail's subject and own text (quoted history left out), or None."""
    text = _own_text(f"{mail.subject}\n{mail.text}")
    return request_in(text, sender, year)


def request_in(text: str, sender: Person, year: int) -> Document | None:
    """A meeting request in a text (mail or document), for the sender's unit, or None."""
    text = to_simplified(text)
    if not _REQUEST.search(text):
        return None
    when = find_date(text, year)
    if when is None:
        return None
    return Document(item=MEETING_REQUEST, unit=sender.unit, person=None, meeting_date=when)


def asks_for_meeting(text: str) -> bool:
    """Whether a text asks for (or announces) its report meeting's date, dated or not."""
    return _REQUEST.search(to_simplified(text)) is not None


def _own_text(text: str) -> str:
    quoted = _QUOTE_START.search(text)
    if quoted:
        text = text[: quoted.start()]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def _dates(text: str, year: int) -> list[tuple[int, int, date]]:
    """Every valid date in the text as (start, end, date), each span read by the first pattern that fits."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, date]] = []
    for pattern in _DATES:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            parts = match.groupdict()
            y = _number(parts["y"]) if parts.get("y") else year
            m, d = _number(parts["m"]), _number(parts["d"])
            try:
                when = date(y, m, d)
            except (TypeError, ValueError):
                continue  # 14.30 is a time, 13月 is nothing
            taken.append(match.span())
            found.append((match.start(), match.end(), when))
    return sorted(found)


def _number(text: str) -> int | None:
    """1–4 Arabic digits, or Chinese numerals as dates write them (十二, 十八, 二十一, 二〇二六)."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        digits = [_CN_DIGITS.get(c) for c in text]
        return None if None in digits else int("".join(map(str, digits)))
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    high = _CN_DIGITS.get(tens, -1) if tens else 1
    low = _CN_DIGITS.get(ones, -1) if ones else 0
    return None if high < 0 or low < 0 else high * 10 + low


def _sentence(text: str, at: int) -> str:
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, at)), default=0)
    end = _SENTENCE_END.search(text, at)
    return text[start : end.start() if end else len(text)]
