"""Who is rated on which ballot and tally sheet: one per unit and channel, the peer review per 专业系统."""

from __future__ import annotations

from dataclasses import dataclass

from bot.records import DEPUTY, HEADS, PEERS, PLANT, REPORTING_ROLES, STAFF, Person, Roster


@dataclass(frozen=True)
class Sheet:
    """One tally sheet's scope: a unit's channel, or a system's peer review."""

    channel: str
    unit: str | None  # None for the peer review, which spans units
    system: str | None
    people: tuple[Person, ...]  # the cadres rated, in roster order
    team: bool  # the staff also rate the unit's team
    expected: int | None  # 应到人数 written in advance: the unit's headcount for the staff; else left to the counters

    @property
    def label(self) -> str:
        return self.unit or f"{self.system}系统"


def cadres(roster: Roster, unit: str) -> tuple[Person, ...]:
    """The unit's cadres rated in the evaluation: everyone who owes a personal report."""
    return tuple(p for p in roster.people_in(unit) if p.role in REPORTING_ROLES or p.is_secretary)


def rated_channels(person: Person) -> tuple[str, ...]:
    """The channels that rate a cadre: heads rate only deputies, peers only cadres with a system."""
    channels = [STAFF]
    if person.role == DEPUTY:
        channels.append(HEADS)
    channels.append(PLANT)
    if person.system:
        channels.append(PEERS)
    return tuple(channels)


def sheets(roster: Roster) -> list[Sheet]:
    """Every tally sheet of the season: per unit staff, heads (when it has deputies) and plant; per system peers."""
    out: list[Sheet] = []
    for name, unit in roster.units.items():
        rated = cadres(roster, name)
        out.append(Sheet(STAFF, name, None, rated, True, unit.headcount))
        deputies = tuple(p for p in rated if p.role == DEPUTY)
        if deputies:
            out.append(Sheet(HEADS, name, None, deputies, False, None))
        out.append(Sheet(PLANT, name, None, rated, False, None))
    systems: dict[str, list[Person]] = {}
    for unit in roster.units:
        for person in cadres(roster, unit):
            if person.system:
                systems.setdefault(person.system, []).append(person)
    out.extend(Sheet(PEERS, None, system, tuple(people), False, None) for system, people in systems.items())
    return out
