"""Script normalisation: Traditional → Simplified, and the forms of a name that should compare equal."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# Whitespace of every width: forms pad two-character names ("王  珺") and titles ("述 职 报 告").
_SPACE = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
# Middle dots as different input methods type them, for names such as 阿依古丽·买买提.
_DOTS = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·", "∙": "·"})
# An explanatory bracket after a name: 王珺（副主任）, 陈静(生产技术科).
_BRACKET = re.compile(r"[（(\[【].*?[）)\]】]")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    # Building the converter loads its dictionaries (tens of milliseconds); do it once, on first use.
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """The text in Simplified characters (考覈 → 考核, 陳靜 → 陈静); Simplified text is unchanged."""
    if not text:
        return ""
    if len(text) <= _LINE_CHARS:
        return _simplified_line(text)
    return _converter().convert(text)


# A document's lines are converted by more than one reader (its fields, then the checks of its
# headings): a line is converted once. Longer texts (a mail's) are not kept.
_LINE_CHARS = 500


@lru_cache(maxsize=2048)
def _simplified_line(text: str) -> str:
    return _converter().convert(text)


def compact(text: str) -> str:
    """Simplified and without any whitespace: the form keywords are matched against."""
    return _SPACE.sub("", to_simplified(text))


@lru_cache(maxsize=4096)
def normalise_name(name: str) -> str:
    """A person's or unit's name in the form used for comparison (no spaces, Simplified, one dot)."""
    name = _BRACKET.sub("", name or "")
    return compact(name).translate(_DOTS).strip("：:，,。.;；")
