"""The review form 附件3: a leader's opinion on one team member, or the union chair's review of the team."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.records import HEAD, UNION_CHAIR, Document, Person
from bot.season.items import LEADER_REVIEW, UNION_REVIEW
from parsers.classify import heading, stem, title_lines
from parsers.context import Context, Refused, content_unit, resolve_person, unit_for
from parsers.docx_text import DocxText
from parsers.fields import Fields
from parsers.forms import LEADER_KIND, UNION_KIND
from parsers.script import compact, normalise_name
from parsers.whose import filename_disagrees, find_person, name_from_filename, people_in_text, same_person, signers

OPENING_LINES = 10  # a review written as paragraphs names whom it is about in its first lines


def review_documents(doc: DocxText, found: Fields, ctx: Context) -> list[Document]:
    """The documents a review form records; raise Refused when it cannot be attributed with confidence."""
    label = "被评议人" if "被评议人" in found else "姓名"
    unit_named = content_unit(ctx, found.get("单位", ""), "\n".join(title_lines(doc)))
    home = unit_named or ctx.sender.unit
    named = found.all(label) + _more_reviewed(found.beside.get(label, ()), ctx.roster.people_in(home))
    reviewer = find_person(ctx.roster, home, found.get("评议人", ""))
    if reviewer is None:
        signed = signers(doc, ctx.roster.people_in(home))
        reviewer = signed[-1] if len(signed) == 1 and not named else None
    if _kind(doc, found, named, reviewer, ctx) == UNION_REVIEW:
        unit, warnings = unit_for(ctx, unit_named, found.get("评议人"))
        if reviewer and reviewer.on_team:
            warnings.append(f"按方案，民主评议意见应由分会主席或指定员工代表（非班子成员）撰写，本表评议人{reviewer.name}是班子成员")
        return [Document(item=UNION_REVIEW, unit=unit, person=None, warnings=tuple(warnings))]
    return _leader_reviews(doc, [n for n in named if not _is_team(n)], unit_named, reviewer, ctx)


def _more_reviewed(beside: Iterable[str], people: list[Person]) -> list[str]:
    """Cells beside the first reviewed that are team members too (one column per person reviewed);
    anything else there (an unlabelled post) is not a name."""
    return [value for value in beside if (p := _exact(value, people)) and p.on_team]


def _exact(written: str, people: list[Person]) -> Person | None:
    key = normalise_name(written)
    return next((p for p in people if normalise_name(p.name) == key), None)


def _kind(doc: DocxText, found: Fields, named: list[str], reviewer: Person | None, ctx: Context) -> str:
    """Leader or union review: the form's 评议类型, its title, the reviewer's role, the rows, the sender's
    role, the text."""
    kind = compact(found.get("评议类型", ""))
    if "民主评议" in kind:
        return UNION_REVIEW
    if "领导" in kind or "评价意见" in kind:
        return LEADER_REVIEW
    title = compact(heading(doc))
    union, leader = UNION_KIND in title, LEADER_KIND in title
    if union != leader:  # the title names one kind: 民主评议意见, whoever sends it
        return UNION_REVIEW if union else LEADER_REVIEW
    if reviewer and reviewer.role == UNION_CHAIR:
        return UNION_REVIEW
    if reviewer and (reviewer.role == HEAD or reviewer.is_secretary):
        return LEADER_REVIEW
    if any(_is_team(n) for n in named):
        return UNION_REVIEW  # only the union's review has a row about the team as a whole
    if ctx.sender.role == UNION_CHAIR:
        return UNION_REVIEW
    if ctx.sender.role == HEAD or ctx.sender.is_secretary:
        return LEADER_REVIEW
    # The blank form's note names both kinds; the text decides only when it names one.
    text = compact(doc.text)
    union, leader = UNION_KIND in text, LEADER_KIND in text
    if union != leader:
        return UNION_REVIEW if union else LEADER_REVIEW
    return UNION_REVIEW if len(named) > 1 else LEADER_REVIEW


def _leader_reviews(
    doc: DocxText, named: list[str], unit_named: str | None, reviewer: Person | None, ctx: Context
) -> list[Document]:
    in_content = bool(named)
    if not named:
        named, in_content = _reviewed_elsewhere(doc, unit_named, reviewer, ctx)
    if not named:
        raise Refused("民主评议考核表中没有写明被评议人")
    documents: list[Document] = []
    for written in named:
        person, warnings = resolve_person(ctx, written, unit_named, "被评议人")
        if not person.on_team:
            raise Refused(f"被评议人“{person.name}”不是{person.unit}的班子成员，领导评价意见只针对主要领导、党支部书记和副职",
                          person.name)
        if any(d.person == person.name for d in documents):
            continue
        warnings += _reviewer_warnings(person, reviewer)
        if in_content and len(named) == 1:
            warnings += filename_disagrees(ctx.filename, ctx.roster, person, besides=reviewer)
        documents.append(Document(item=LEADER_REVIEW, unit=person.unit, person=person.name, warnings=tuple(warnings)))
    return documents


def _reviewed_elsewhere(
    doc: DocxText, unit_named: str | None, reviewer: Person | None, ctx: Context
) -> tuple[list[str], bool]:
    """Who is reviewed when no field says (and whether the content said it): the one team member its
    title or opening names, else the file name, the subject; a secretary's unlabeled form is the review
    of the unit head (the plan: 书记给主要领导撰写). Whoever signs at the end is the reviewer, not reviewed."""
    unit = unit_named or ctx.sender.unit
    signed = signers(doc, ctx.roster.people_in(unit))
    team = [p for p in ctx.roster.people_in(unit)
            if p.on_team and not same_person(p, reviewer) and p not in signed]
    for text in (heading(doc), "\n".join(doc.lines[:OPENING_LINES])):
        hits = people_in_text(text, team)
        addressed = [p for p in hits if _addressed(text, p)] if len(hits) > 1 else hits
        if len(addressed) == 1:
            return [addressed[0].name], True
        if hits:
            raise Refused(f"未能确定被评议人：文中提到{'、'.join(p.name for p in hits)}")
    hits = people_in_text(stem(ctx.filename), team)
    if hits:
        return [hits[0].name], False
    from_name = name_from_filename(ctx.filename, ctx.roster)
    if from_name:
        return [from_name], False
    hits = people_in_text(ctx.mail.subject, team)
    if len(hits) == 1:
        return [hits[0].name], False
    if ctx.sender.is_secretary:
        head = ctx.roster.head_of(ctx.sender.unit)
        return ([head.name] if head else []), False
    return [], False


def _addressed(text: str, person: Person) -> bool:
    """Whether the text speaks of the person as the one reviewed: 对王珺同志的评价, 王珺同志：…"""
    name = re.escape(normalise_name(person.name))
    return re.search(rf"对{name}|{name}(同志)?[：:]|{name}同志(的|20\d\d|本年|年度|在|任)", compact(text)) is not None


def _reviewer_warnings(person: Person, reviewer: Person | None) -> list[str]:
    """The plan: the head reviews the other team members, the party secretary reviews the head."""
    if reviewer is None:
        return []
    if person.role == HEAD and not reviewer.is_secretary:
        return [f"按方案，主要领导的评价意见应由党支部书记撰写，本表评议人为{reviewer.name}"]
    if person.role != HEAD and reviewer.role != HEAD:
        return [f"按方案，{person.name}的评价意见应由主要领导撰写，本表评议人为{reviewer.name}"]
    return []


def _is_team(written: str) -> bool:
    return "班子" in compact(written)
