"""What recognising one attachment knows (the mail, its sender, the roster) and the roster look-ups built on it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.records import Mail, Person, Roster
from parsers.script import normalise_name
from parsers.whose import find_person, unit_in_text


@dataclass(frozen=True)
class Context:
    filename: str | None
    mail: Mail
    sender: Person
    roster: Roster
    year: int


class Refused(Exception):
    """The document is recognised but cannot be attributed with confidence: it is held for HR.

    str(error) says why; `person` is the roster person it is most likely about, when there is one.
    """

    def __init__(self, reason: str, person: str | None = None):
        super().__init__(reason)
        self.person = person


def content_unit(ctx: Context, written_unit: str, title: str) -> str | None:
    """The roster unit the document names: its 单位 field, else its title lines."""
    return unit_in_text(written_unit, ctx.roster) or unit_in_text(title, ctx.roster)


def resolve_person(ctx: Context, written: str, named_unit: str | None, what: str) -> tuple[Person, list[str]]:
    """The roster person a document is about, and warnings; raise Refused when the name is not on the list.

    The sender's unit is used unless the document names another unit that the person belongs to.
    `what` says which name it was, for the reason ("报告中的姓名", "被评议人").
    """
    home = ctx.sender.unit
    if named_unit and named_unit != home:
        person = find_person(ctx.roster, named_unit, written)
        if person:
            return person, []
        person = find_person(ctx.roster, home, written)
        if person:
            return person, [f"文件中写的单位是“{named_unit}”，但{person.name}在名单中属于{home}，已按{home}登记"]
    else:
        person = find_person(ctx.roster, home, written)
        if person:
            return person, []
    shown = normalise_name(written)[:20] or written.strip()[:20]
    elsewhere = next((p for p in ctx.roster.people if normalise_name(p.name) == normalise_name(written)), None)
    hint = f"（名单中的{elsewhere.name}属于{elsewhere.unit}）" if elsewhere else ""
    raise Refused(f"{what}“{shown}”不在{home}的名单中{hint}")


def unit_for(ctx: Context, named_unit: str | None, signer: str | None) -> tuple[str, list[str]]:
    """The unit of a unit's document: the sender's, or the unit it names when its signer belongs there."""
    home = ctx.sender.unit
    if not named_unit or named_unit == home:
        return home, []
    if signer and find_person(ctx.roster, named_unit, signer):
        return named_unit, []
    return home, [f"文件中写的单位是“{named_unit}”，与发件人所在的{home}不一致，已按{home}登记"]
