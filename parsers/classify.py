"""Which season item a document is, from its title and form fields, else its file name or the mail subject."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from bot.season.items import MEETING_REQUEST, PERSONAL_REPORT, TABLE, TEAM_REPORT
from parsers.docx_text import DocxText
from parsers.fields import Fields
from parsers.meeting_request import asks_for_meeting
from parsers.script import compact

REVIEW = "review"  # 附件3, either review: which one is decided from the form's fields (parsers.reviews)

TITLE_LINES = 6  # the title is among the first lines (after "附件2", a date line, a logo's caption)
TITLE_MAX = 40  # a longer line is a sentence, not a title
_SENTENCE_MARKS = re.compile(r"[，。；！？,;!?]")  # a title has none of these
# A meeting request is a short note; a long document that mentions the meeting is something else.
MEETING_NOTE_MAX = 800

_BARE_TITLE = re.compile(r"^(\d{4}年度?)?(工作)?述职报告$")
_TEAM_SUBTITLE = re.compile(r"^[（(—\-]*(\S{0,12}?)(领导)?班子[）)]?$")
# Words only the season's documents use together: a document with them is not someone's menu.
_SEASON_WORDS = re.compile(r"述职|评议|考核|评价意见|后备干部|班子")
SEASON_SCAN_CHARS = 3000


def item_in_words(text: str | None) -> str | None:
    """The item a title, file name or subject names (REVIEW for either review), or None.

    Each item's words are in bot.season.items, tried by their words_rank, then in the table's order.
    """
    flat = compact(text or "")
    if not flat:
        return None
    for item in sorted(TABLE.values(), key=lambda i: -i.words_rank):
        if item.words and re.search(item.words, flat):
            return REVIEW if item.review else item.code
    return None


def item_of_content(doc: DocxText, found: Fields) -> str | None:
    """The item a document's own content says it is: its title first, then its form fields."""
    for line in title_lines(doc):
        if len(compact(line)) <= TITLE_MAX and (item := item_in_words(line)):
            if _BARE_TITLE.match(compact(line)) and any(_TEAM_SUBTITLE.match(compact(t)) for t in title_lines(doc)):
                return TEAM_REPORT  # a bare 述职报告 over a line of its own that says whose: （领导班子）
            return item
    if any(label in found for label in ("被评议人", "评议类型", "评价意见")):
        return REVIEW
    text = compact(doc.text)
    if len(text) <= MEETING_NOTE_MAX and asks_for_meeting(text):
        return MEETING_REQUEST
    if ("姓名" in found or "述职人" in found) and "述职" in text:
        return PERSONAL_REPORT
    return None


def title_lines(doc: DocxText) -> list[str]:
    return doc.lines[:TITLE_LINES]


def heading(doc: DocxText) -> str:
    """The short lines among the title lines: where a document says whose it is, not its sentences
    (本人在李建国主任的领导下… names someone else than the writer; a short one still has its commas)."""
    return "\n".join(line for line in title_lines(doc)
                     if len(compact(line)) <= TITLE_MAX and not _SENTENCE_MARKS.search(line))


def stem(filename: str | None) -> str:
    """A file name without folders (a container's prefix included) and without its extension."""
    return PurePosixPath((filename or "").replace("\\", "/")).stem


def looks_seasonal(doc: DocxText, found: Fields) -> bool:
    """Whether a document no rule could place still reads as season material (then HR decides)."""
    if "被评议人" in found or "述职人" in found:
        return True
    return bool(_SEASON_WORDS.search(compact(doc.text[:SEASON_SCAN_CHARS])))
