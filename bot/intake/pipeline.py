"""The intake runner: one delivery through the ordered handlers, then recorded once in the store.

Each handler is a function `handle(job, ctx)` that reads the job, adds to it, or raises Stop to
say the message goes no further (Mailman 3's pipeline of small handlers). HANDLERS is the order.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import datetime
from pathlib import Path

from bot.intake import checks, confirm, extract
from bot.intake.decode import decode
from bot.intake.job import Context, Job, Stop
from bot.records import ACCEPTED, IGNORED, REJECTED, AttachmentLog, LogEntry, Mail, RawMessage
from bot.settings import Settings
from bot.store import Recorded

log = logging.getLogger(__name__)


HANDLERS = (
    checks.duplicate,
    checks.own_mail,
    checks.bounce,
    checks.auto_reply,
    checks.sender,
    checks.authenticated,
    extract.documents,
    confirm.confirmation,
)


def process(raw: RawMessage, ctx: Context) -> LogEntry | None:
    """Take one delivery through the handlers and record it; None if it was recorded before."""
    mail = decode(raw.data)
    entry = LogEntry(message_id=mail.message_id, from_addr=mail.from_addr, received_at=raw.received_at,
                     outcome=ACCEPTED, subject=mail.subject)
    job = Job(raw=raw, mail=mail, entry=entry)
    quarantined_as = None
    try:
        for handler in HANDLERS:
            handler(job, ctx)
    except Stop as stop:
        entry.outcome, entry.reason = stop.outcome, stop.reason
        job.documents, job.outgoing = [], []
    except Exception as error:  # a parser we did not foresee failing must not stop the mailbox
        log.exception("intake: %s failed in a handler", mail.message_id)
        entry.outcome, entry.reason = REJECTED, f"处理时出错：{_one_line(error)}"
        job.documents, job.outgoing = [], []
    if entry.outcome == REJECTED:
        quarantined_as = quarantine(ctx.store.data_dir, raw.data)
    if entry.outcome != ACCEPTED or not entry.attachments:
        entry.attachments = entry.attachments or structure_only(mail, entry.outcome)
    recorded = ctx.store.record(Recorded(raw=raw, entry=entry, content_hash=mail.content_hash,
                                         documents=job.documents, outgoing=job.outgoing,
                                         quarantined_as=quarantined_as))
    if recorded is None:
        return None
    log.info("intake: %s from %s -> %s%s", mail.message_id, mail.from_addr, entry.outcome,
             f" ({entry.reason})" if entry.reason else "")
    return entry


def structure_only(mail: Mail, outcome: str) -> list[AttachmentLog]:
    """The parts as the message's structure shows them, for a message nobody's documents came in."""
    reason = "" if outcome == ACCEPTED else f"邮件未处理（{outcome}）"
    return [AttachmentLog(filename=p.filename, outcome=IGNORED, reason=reason) for p in mail.parts]


def quarantine(data_dir: Path, data: bytes) -> str:
    """Keep the raw bytes of a message that could not be processed, for HR to look at."""
    folder = data_dir / "quarantine"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = hashlib.sha256(data).hexdigest() + ".eml"
    path = folder / name
    if not path.exists():
        with open(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
    return f"quarantine/{name}"


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


def now_in(settings: Settings) -> datetime:
    return datetime.now(settings.season.timezone)
