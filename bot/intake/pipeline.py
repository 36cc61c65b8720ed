"""The intake runner: one delivery through the ordered handlers, then recorded once in the store.

Each handler is a function `handle(job, ctx)` that reads the job, adds to it, or raises Stop to
say the message goes no further (Mailman 3's pipeline of small handlers). HANDLERS is the order.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bot.crashpoints import crash_point, sweep_stale_temp_files, write_atomically
from bot.errors import environmental, save_failed
from bot.intake import checks, confirm, extract, limits, triage
from bot.intake.decode import decode, decode_head
from bot.mime.charsets import decode_raw
from bot.intake.job import Context, Job, Stop
from bot.records import (
    ACCEPTED,
    IGNORED,
    REJECTED,
    AttachmentLog,
    LogEntry,
    Mail,
    RawMessage,
    Recorded,
    StoredMessage,
)
from bot.settings import Limits

log = logging.getLogger(__name__)


HANDLERS = (
    checks.duplicate,
    limits.message_size,
    checks.own_mail,
    checks.bounce,
    checks.auto_reply,
    checks.sender,
    triage.downloaded,  # nothing after this may meet a message whose body was never downloaded
    checks.authenticated,
    extract.documents,
    confirm.confirmation,
)


def process(raw: RawMessage, ctx: Context, again: StoredMessage | None = None) -> LogEntry | None:
    """Take one delivery through the handlers and record it; None if it was recorded before.

    again: the stored message this delivery is, examined again (bot.reprocess); its entry is then
    updated in place, keeping its arrival time.
    """
    mail = _decode(raw, ctx.settings.limits)
    entry = LogEntry(message_id=mail.message_id, from_addr=mail.from_addr, received_at=raw.received_at,
                     outcome=ACCEPTED, subject=mail.subject)
    job = Job(raw=raw, mail=mail, entry=entry, again=again.id if again is not None else None)
    quarantined_as = None
    try:
        for handler in HANDLERS:
            handler(job, ctx)
    except Stop as stop:
        entry.outcome, entry.reason = stop.outcome, stop.reason
        job.documents, job.outgoing = [], []
    except Exception as error:  # a parser we did not foresee failing must not stop the mailbox
        if environmental(error):
            # The machine's fault, not the mail's: nothing is recorded, the next poll reads it again.
            raise
        log.error("intake: %s failed in a handler: %s: %s", mail.message_id, type(error).__name__, error,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        entry.outcome, entry.reason = REJECTED, f"处理时出错：{_one_line(error)}"
        job.documents, job.outgoing = [], []
    if entry.outcome == REJECTED and raw.complete:  # a header block alone is no copy worth keeping
        quarantined_as = quarantine(ctx.store.data_dir, raw.data)
    if entry.outcome != ACCEPTED or not entry.attachments:
        entry.attachments = entry.attachments or structure_only(mail, entry.outcome)
    _make_storable(entry)
    crash_point("before_record")
    rec = Recorded(raw=raw, entry=entry, content_hash=mail.content_hash, documents=job.documents,
                   outgoing=job.outgoing, quarantined_as=quarantined_as)
    if again is not None:
        now = datetime.now(timezone.utc)
        entry.reason = "；".join(filter(None, [entry.reason, f"重新处理于 {again_stamp(now, ctx)}"]))
        entry.reprocessed_at = now
        ctx.store.update(again.id, rec, now)
        return entry
    recorded = ctx.store.record(rec)
    if recorded is None:
        return None
    crash_point("after_record")
    log.info("intake: %s from %s -> %s%s", mail.message_id, mail.from_addr, entry.outcome,
             f" ({entry.reason})" if entry.reason else "")
    return entry


def again_stamp(moment: datetime, ctx: Context) -> str:
    """When a message was examined again, as its log entry's note says it (the season's zone)."""
    return f"{moment.astimezone(ctx.settings.season.timezone):%Y-%m-%d %H:%M}"


def _decode(raw: RawMessage, caps: Limits) -> Mail:
    """The decoded message; of one over the size limit only its header block, so its body is never parsed.

    Its content hash is then the raw bytes' own, since the body never entered the decoded one.
    A message the source read header-only (not complete) is decoded from that and its structure.
    """
    if not raw.complete:
        return decode_head(raw.data, raw.structure, raw.fingerprint, raw.charset)
    if not limits.oversized(raw.data, caps):
        return decode(raw.data)
    mail = decode(limits.header_block(raw.data))
    return replace(mail, content_hash=hashlib.sha256(raw.data).hexdigest())


def structure_only(mail: Mail, outcome: str) -> list[AttachmentLog]:
    """The parts as the message's structure shows them, for a message nobody's documents came in."""
    reason = "" if outcome == ACCEPTED else f"邮件未处理（{outcome}）"
    return [AttachmentLog(filename=p.filename, outcome=IGNORED, reason=reason) for p in mail.parts]


def quarantine(data_dir: Path, data: bytes) -> str:
    """Keep the raw bytes of a message that could not be processed, for HR to look at (0600, in 0700).

    Written atomically, so a run killed mid-write never leaves a truncated copy that a rerun
    would take for the kept one.
    """
    folder = data_dir / "quarantine"
    name = hashlib.sha256(data).hexdigest() + ".eml"
    path = folder / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            sweep_stale_temp_files(folder, ".*.tmp")
            write_atomically(path, data)
    except OSError as error:
        raise save_failed(path, error) from error
    return f"quarantine/{name}"


def _make_storable(entry: LogEntry) -> None:
    """Replace what SQLite cannot store as text: lone surrogates (raw 8-bit header bytes kept as escapes).

    decode() means to hand over clean text; should one such escape slip through, the store would
    raise and stop the whole poll on one message, so this is the last line of defence.
    """
    entry.message_id = _storable(entry.message_id)
    entry.from_addr = _storable(entry.from_addr)
    entry.subject = _storable(entry.subject) or ""
    entry.reason = _storable(entry.reason) or ""
    for a in entry.attachments:
        a.filename, a.reason = _storable(a.filename), _storable(a.reason) or ""


def _storable(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return decode_raw(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that is no escaped byte: nothing to recover
        return text.encode("utf-8", "replace").decode("utf-8")


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]
