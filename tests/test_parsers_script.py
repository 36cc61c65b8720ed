"""parsers.script: Traditional script and padded names compare equal to the Simplified roster."""

from __future__ import annotations

import pytest

from parsers.script import compact, normalise_name, to_simplified


@pytest.mark.parametrize(
    ("written", "roster"),
    [("陳靜", "陈静"), ("生產技術科", "生产技术科"), ("王　珺", "王珺"), ("李 建 國", "李建国"), ("王珺（副主任）", "王珺"),
     ("阿依古丽•买买提", "阿依古丽·买买提"), ("陈静", "陈静")],
)
def test_normalise_name_matches_roster(written: str, roster: str) -> None:
    assert normalise_name(written) == normalise_name(roster) == roster


def test_to_simplified_assessment_words() -> None:
    assert to_simplified("民主評議考覈表") == "民主评议考核表"
    assert to_simplified("考覈") == "考核"
    assert to_simplified("科級後備幹部推薦表") == "科级后备干部推荐表"


def test_compact_drops_every_kind_of_space() -> None:
    assert compact("述 职\u3000报\u00a0告\n") == "述职报告"
