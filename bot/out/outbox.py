"""Composes outgoing mail as RFC 5322 bytes and writes each queued mail into the outbox folder."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from bot.out import mailtext
from bot.crashpoints import crash_point, sweep_stale_temp_files, sync_folder, write_atomically
from bot.errors import save_failed
from bot.settings import Settings
from bot.records import CONFIRMATION, Outgoing
from bot.store import Store

log = logging.getLogger(__name__)

# Marks every mail hrbot writes, so that one coming back is never taken for a submission.
MARK_HEADER = "X-Hrbot"


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


def compose(
    settings: Settings,
    kind: str,
    to: list[str],
    subject: str,
    text: str,
    *,
    html: str | None = None,
    cc: list[str] = (),
    in_reply_to: str | None = None,
    references: str | None = None,
    attachments: list[FileAttachment] = (),
) -> Outgoing:
    """One outgoing mail from HR's address, in the script the season's [mail] asks for."""
    subject, text = to_script(settings, subject), to_script(settings, text)
    if html is not None:
        html = to_script(settings, html)
    domain = settings.hr.address.rpartition("@")[2] or "hrbot.local"
    # Not email.utils.make_msgid: its random part comes from the `random` module, whose state a caller
    # may have seeded (two mails within its 10 ms tick then got one ID, and the outbox refused the second).
    message_id = f"<{time.time_ns()}.{secrets.token_hex(8)}.hrbot@{domain}>"
    headers = [
        ("From", mailtext.mailbox(to_script(settings, settings.hr.name), settings.hr.address)),
        ("To", ", ".join(to)),
    ]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    headers += [
        ("Subject", mailtext.unstructured(subject)),
        ("Date", format_datetime(datetime.now(timezone.utc).astimezone(settings.season.timezone))),
        ("Message-ID", message_id),
    ]
    replied = mailtext.message_ids(in_reply_to or "")
    if replied:
        headers.append(("In-Reply-To", replied))
        headers.append(("References", mailtext.message_ids(f"{references or ''} {in_reply_to}")))
    # RFC 3834: an answer to a message is auto-replied, everything else auto-generated.
    headers.append(("Auto-Submitted", "auto-replied" if kind == CONFIRMATION else "auto-generated"))
    headers.append(("X-Auto-Response-Suppress", "All"))  # asks Exchange/Outlook not to auto-answer us
    headers.append((MARK_HEADER, kind))
    body = mailtext.Body(text, html, [mailtext.Attachment(a.filename, a.data, a.content_type) for a in attachments])
    return Outgoing(message_id=message_id, kind=kind, recipients=tuple(list(to) + list(cc)),
                    eml=mailtext.render(headers, body))


_converter = None


def to_script(settings: Settings, text: str) -> str:
    """Simplified as written, or Traditional when [mail] script = "traditional" (OpenCC)."""
    if settings.mail.script != "traditional" or not text:
        return text
    global _converter
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("s2t")
    return _converter.convert(text)


def write_files(settings: Settings, store: Store) -> list[Path]:
    """Write every queued mail that has no file yet into the outbox folder (atomically).

    The file name follows from the row alone, so a run killed between the rename and the store
    update writes the same file again rather than a second copy.
    """
    rows = store.outbox_without_file()
    if not rows:
        # Nor a temp file to sweep: one is left only by a write cut short, whose row still has no file.
        # Sending runs this at every poll; the sweep lists the whole folder, a file per mail sent.
        return []
    folder = settings.paths.outbox
    if folder.is_dir():
        sweep_stale_temp_files(folder, ".*.tmp")
    written: list[tuple[int, Path]] = []
    for row in rows:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise save_failed(folder, error) from error
        stamp = row.created_at.astimezone(settings.season.timezone).strftime("%Y%m%d-%H%M%S")
        digest = hashlib.sha256(row.message_id.encode()).hexdigest()[:10]
        name = f"{stamp}-{row.kind}-{row.id:05d}-{digest}.eml"
        path = folder / name
        try:
            # Each file synced; the folder once after the last rename (one sync, not one a mail).
            write_atomically(path, row.eml, crash_at="write_files", sync_parent=False)
        except OSError as error:
            raise save_failed(path, error) from error
        crash_point("write_files_renamed")
        written.append((row.id, path))
    if written:
        sync_folder(folder)
        store.set_outbox_files([(row_id, path.name) for row_id, path in written])
    return [path for _, path in written]
