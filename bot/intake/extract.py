"""The handler that finds the season's documents in a roster member's mail and keeps their bytes."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from parsers import meeting_request, recognise
from bot.crashpoints import sweep_stale_temp_files, write_atomically
from bot.errors import environmental, save_failed
from bot.intake import limits, unpack
from bot.intake.job import Context, Job, Stop
from bot.records import ACCEPTED, DUPLICATE, IGNORED, NO_DOCUMENTS, REJECTED, AttachmentLog, Part, Recognition

log = logging.getLogger(__name__)


def documents(job: Job, ctx: Context) -> None:
    """Recognise every part; one that fails is logged with its reason and the rest go on."""
    year = ctx.settings.season.year
    duplicates = 0
    # Containers (zip, forwarded mail, .msg, winmail.dat) are opened here, after the sender check:
    # only a roster member's mail is unpacked (docs/contract.md, "Containers").
    for listed in (item for top in job.mail.parts for item in unpack.expand(top, ctx.settings.limits)):
        part = listed.part
        if listed.unpacked:
            recognition = Recognition(IGNORED, unpack.UNPACKED)
        elif listed.refused:
            recognition = Recognition(REJECTED, listed.refused)
        else:
            recognition = _recognise(part, job, ctx)
        sha = hashlib.sha256(part.data).hexdigest()
        entry = AttachmentLog(filename=part.filename, outcome=recognition.outcome, reason=recognition.reason,
                              sha256=sha)
        job.entry.attachments.append(entry)
        if recognition.held:  # kept for HR to attribute: bytes saved, what is known recorded
            entry.held = True
            entry.item, entry.unit, entry.person = recognition.item, recognition.unit, recognition.person
            entry.saved_as = save(ctx.store.data_dir, part.data, sha)
            continue
        if recognition.outcome != ACCEPTED or not recognition.documents:
            continue
        first = recognition.documents[0]
        entry.item, entry.unit, entry.person = first.item, first.unit, first.person
        if all(ctx.store.has_document(d.unit, d.item, d.person, sha) for d in recognition.documents):
            entry.outcome, entry.reason = DUPLICATE, "内容与此前收到的文件相同"
            duplicates += 1
            continue
        entry.saved_as = save(ctx.store.data_dir, part.data, sha)
        job.documents.extend((d, entry) for d in recognition.documents)
    request = meeting_request.find_meeting_request(job.mail, job.sender, ctx.roster, year)
    if request is not None and not any(d.item == request.item for d, _ in job.documents):
        job.documents.append((request, None))
    if job.documents:
        return
    held = [a for a in job.entry.attachments if a.held]
    if held:
        # Not a Stop: the sender is still told the file arrived (confirm.confirmation).
        job.entry.outcome = NO_DOCUMENTS
        job.entry.reason = "；".join(f"{a.filename or '附件'}：{a.reason}" for a in held)
        return
    rejected = [a for a in job.entry.attachments if a.outcome == REJECTED]
    if rejected:
        raise Stop(REJECTED, "；".join(f"{a.filename or '附件'}：{a.reason}" for a in rejected))
    if duplicates:
        # A new mail, so no `duplicate` delivery (docs/contract.md): its files are, each marked so, and
        # the sender is answered that they were already received (confirm.confirmation).
        job.entry.outcome, job.entry.reason = ACCEPTED, "附件此前均已收到，登记不变"
        return
    raise Stop(NO_DOCUMENTS, "未识别到考核材料")


def _recognise(part: Part, job: Job, ctx: Context) -> Recognition:
    inflated: dict[str, bytes] = {}  # a .docx's XML, inflated once by the check and read by the parser
    over_limit = limits.part_verdict(part, ctx.settings.limits, inflated)
    if over_limit:  # checked before any parser opens it: a zip bomb must never reach them
        return Recognition(outcome=REJECTED, reason=over_limit)
    try:
        return recognise.recognise(part, job.mail, job.sender, ctx.roster, ctx.settings.season.year, inflated)
    except Exception as error:  # one unreadable attachment must not block the mail
        if environmental(error):  # but a full disk under a parser is no verdict on the attachment
            raise
        log.warning("intake: %s: attachment %r unreadable: %s", job.mail.message_id, part.filename, error)
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        return Recognition(outcome=REJECTED, reason=f"无法读取：{reason}")


def save(data_dir: Path, data: bytes, sha: str) -> str:
    """Keep an accepted file under a name of our own (its sha256, given), never the sender's."""
    folder = data_dir / "files" / sha[:2]
    # mkdir(parents=True) would make "files" with the umask's mode: each level is made 0700 itself.
    try:
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as error:
        raise save_failed(folder, error) from error
    path = folder / sha
    if not path.exists():
        # One pattern for every file (pathlib compiles each new pattern): a live writer's temp file is kept.
        sweep_stale_temp_files(folder, ".*.tmp")
        try:
            write_atomically(path, data)
        except OSError as error:
            raise save_failed(path, error) from error
    return f"files/{sha[:2]}/{sha}"
