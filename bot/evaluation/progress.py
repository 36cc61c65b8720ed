"""How far the evaluation is, for the tracker and the daily summary: which tallies are in, which meetings missed quorum."""

from __future__ import annotations

from dataclasses import dataclass

from bot.evaluation.tallies import Collected, collect
from bot.records import CHANNEL_TITLES, CHANNELS, STAFF, Roster


@dataclass(frozen=True)
class UnitProgress:
    unit: str
    kind: str
    headcount: int
    channels: tuple[str, ...]  # the titles of the channels whose tally sheet is in
    attended: int | None  # from the staff tally, None until it is in
    quorum_required: float
    quorum_met: bool | None

    @property
    def ratio(self) -> float | None:
        return None if self.attended is None else self.attended / self.headcount


def progress(settings, roster: Roster, collected: Collected | None = None) -> list[UnitProgress]:
    """Per unit, in roster order; counts only tallies that passed their checks."""
    tallies = (collected or collect(settings, roster)).tallies
    out = []
    for name, unit in roster.units.items():
        staff = tallies.get((STAFF, name))
        required = settings.evaluation.quorum[unit.kind]
        attended = staff.sheet.attended if staff else None
        out.append(UnitProgress(
            unit=name, kind=unit.kind, headcount=unit.headcount,
            channels=tuple(CHANNEL_TITLES[c] for c in CHANNELS if (c, name) in tallies),
            attended=attended, quorum_required=required,
            # The tolerance keeps 0.7 × 10 = 7.000000000000001 from failing a meeting of exactly 7.
            quorum_met=None if attended is None else attended >= required * unit.headcount - 1e-9,
        ))
    return out
