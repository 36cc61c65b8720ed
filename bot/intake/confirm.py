"""The handler that writes the confirmation answering an accepted message, in its thread."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.season import deadlines
from bot.intake.job import Context, Job
from bot.out.outbox import compose
from bot.records import CONFIRMATION, DUPLICATE, REJECTED
from bot.season.items import item_title
from bot.season.items import MEETING_REQUEST
from bot.out.templates import render

log = logging.getLogger(__name__)

TEMPLATE = "confirmation.txt.j2"
HELD_TEMPLATE = "held.txt.j2"  # every document of the message waits for HR to say what and whose it is
HELD_NOTE = "已收到，需人力资源科核对后登记，无需重新发送"


def confirmation(job: Job, ctx: Context) -> None:
    """One confirmation per message with documents, to the sender's roster address only: what was
    recorded; for a new mail whose files were all received before, that nothing changed; when every
    document waits for HR's attribution, that the files arrived."""
    settings, sender = ctx.settings, job.sender
    already = _already(job, ctx)
    held = [a for a in job.entry.attachments if a.held]
    if sender is None or not (job.documents or already or held):
        return
    # The address the submission came from (one of the sender's roster addresses, as checks.sender found it).
    address = job.mail.from_addr if job.mail.from_addr in sender.emails else sender.email
    arrived = deadlines.local(job.raw.received_at, settings.season)
    day_start = arrived.replace(hour=0, minute=0, second=0, microsecond=0)
    answered = ctx.store.replies_for_arrivals(address, day_start, day_start + timedelta(days=1))
    if answered >= settings.sending.max_replies_per_sender_per_day:
        # A loop with a misbehaving client would otherwise mail this person all day.
        log.warning("confirm: %s already answered %d times today, no confirmation", address, answered)
        return
    if job.documents or already:
        subject, text = render(
            settings, TEMPLATE, sender=sender, subject=job.mail.subject or "(无主题)", received_at=arrived,
            items=_items(job, ctx, arrived), problems=_problems(job), already=already,
        )
    else:
        subject, text = render(settings, HELD_TEMPLATE, sender=sender, subject=job.mail.subject or "(无主题)",
                               received_at=arrived, files=[a.filename or "（无文件名的附件）" for a in held],
                               problems=[p for p in _problems(job) if p["reason"] != HELD_NOTE])
    job.outgoing.append(compose(
        settings, CONFIRMATION, [address], subject, text,
        in_reply_to=job.mail.message_id, references=job.mail.references,
    ))


def _items(job: Job, ctx: Context, arrived) -> list[dict]:
    season, cal = ctx.settings.season, ctx.calendar
    requested = ctx.store.requested_meetings()
    requested.update({d.unit: d.meeting_date for d, _ in job.documents if d.meeting_date})
    items = []
    for document, _ in job.documents:
        meeting = deadlines.unit_meeting(ctx.roster.units[document.unit], requested)
        due, provisional = deadlines.due_date(season, cal, document.item, meeting)
        applying = [a for a in ctx.adjustments if a.covers(document.unit, document.item, document.person)]
        due, provisional = deadlines.adjusted_due(due, provisional, applying)
        earlier = ctx.store.arrival_times(document.unit, document.item, document.person)
        # The first arrival decides on-time or late; a later version keeps that state.
        first = deadlines.local(earlier[0], season).date() if earlier else arrived.date()
        state, late_workdays, late_provisional = deadlines.item_state(cal, due, first, arrived.date())
        items.append({
            "title": item_title(document.item), "person": document.person, "due": due,
            "provisional": provisional or late_provisional, "state": state, "late_workdays": late_workdays,
            "version": len(earlier) + 1, "warnings": list(document.warnings),
            "meeting_date": document.meeting_date if document.item == MEETING_REQUEST else None,
        })
    return items


def _problems(job: Job) -> list[dict]:
    return [{"filename": a.filename, "reason": HELD_NOTE if a.held else a.reason} for a in job.entry.attachments
            if a.held or a.outcome == REJECTED]


def _already(job: Job, ctx: Context) -> list[dict]:
    """The files of this mail recorded before with the same bytes, and when they first came."""
    found = []
    for a in job.entry.attachments:
        if a.outcome != DUPLICATE or a.sha256 is None:
            continue
        first = ctx.store.first_received(a.sha256)
        found.append({"filename": a.filename, "title": item_title(a.item, ""), "person": a.person,
                      "first": deadlines.local(first, ctx.settings.season) if first else None})
    return found
