"""Held mail examined again, through the same intake, after HR changed the roster or the adjustments, or on demand.

Held mail is what HR's changes may turn into a submission: unknown senders, roster mail with
nothing recognised, and refusals that said nothing about the mail itself (a body never downloaded,
a handler that failed). Refusals of hostile or broken input (size limits, zip bombs, encrypted or
damaged files, failed authentication) stay as they are: running them again would change nothing.
The message is fetched again from the mailbox by the identity the store kept (its source key),
or read from the quarantine copy of a refused one; it keeps its first arrival time and its one
log entry, which is updated in place.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bot.season import adjustments
from bot.errors import ConfigError
from bot.intake.job import Context
from bot.intake.pipeline import process
from bot.out.outbox import write_files
from bot.records import (NO_DOCUMENTS, REJECTED, RETRYABLE_REJECTIONS, UNKNOWN_SENDER, LogEntry, RawMessage, Roster,
                         StoredMessage)
from bot.season.roster import load_roster
from bot.settings import Settings
from bot.sources import source_for
from bot.store import Store
from bot.season.workdays import WorkCalendar

log = logging.getLogger(__name__)

GONE_NOTE = "重新处理时邮箱中已找不到此邮件（已删除或移走），请在邮箱中查找后转发给本邮箱"


def reexaminable(message: StoredMessage) -> bool:
    if message.outcome in (UNKNOWN_SENDER, NO_DOCUMENTS):
        return True
    return message.outcome == REJECTED and message.reason.startswith(RETRYABLE_REJECTIONS)


def worth_fetching(message: StoredMessage, roster: Roster) -> bool:
    """Held mail whose examination may now end otherwise: a stranger's only once the address is on the
    roster (fetching every stranger's mail again after each roster edit would only repeat the answer)."""
    if not reexaminable(message) or message.gone:
        return False
    return message.outcome != UNKNOWN_SENDER or roster.by_email(message.from_addr) is not None


def reexamine(settings: Settings, store: Store, source, roster: Roster, calendar: WorkCalendar,
              messages: list[StoredMessage], adjustments: tuple = ()) -> list[tuple[StoredMessage, LogEntry | None]]:
    """Each message through the intake again; (message, its updated entry, or None when it is gone)."""
    ctx = Context(settings=settings, roster=roster, store=store, calendar=calendar, adjustments=adjustments)
    done = []
    for message in messages:
        raw = _fetch(source, store.data_dir, message)
        if raw is None:
            if not message.gone:
                reason = "；".join(filter(None, [message.reason, GONE_NOTE]))
                store.mark_gone(message.id, reason, datetime.now(timezone.utc))
            log.warning("reprocess: %s (%s) is no longer in the mailbox", message.message_id, message.source_key)
            done.append((message, None))
            continue
        # The first arrival decides lateness, whatever the mailbox says now; the checkpoint is not moved.
        raw = replace(raw, received_at=message.received_at, checkpoint={})
        entry = process(raw, ctx, again=message)
        log.info("reprocess: %s %s -> %s", message.message_id, message.outcome, entry.outcome)
        done.append((message, entry))
    return done


def _fetch(source, data_dir: Path, message: StoredMessage) -> RawMessage | None:
    raw = source.fetch_again(message.source_key, message.message_id, message.received_at)
    if raw is None and message.quarantined_as:
        try:
            data = (data_dir / message.quarantined_as).read_bytes()
        except OSError:
            return None
        raw = RawMessage(source_key=message.source_key, data=data, received_at=message.received_at)
    return raw


def held_for_poll(store: Store, roster: Roster) -> list[StoredMessage]:
    """The held mail a poll examines again once the config folder changed (bot.poll: its stamp covers the
    roster, the adjustments and hrbot's version). Mail already found gone is left for `hrbot reprocess`."""
    return [m for m in store.held() if worth_fetching(m, roster)]


def reprocess_command(settings: Settings, message_id: str | None = None) -> list[str]:
    """`hrbot reprocess [--message ID | --all-held]`: lines for the terminal."""
    roster = load_roster(settings.config_dir)
    calendar = WorkCalendar.load(settings.config_dir)
    lines: list[str] = []
    with Store.open(settings.paths.data) as store:
        if message_id is not None:
            found = store.held(message_id.strip())
            if not found:
                raise ConfigError("--message", f"没有收到过 Message-ID 为 {message_id.strip()} 的邮件（见 hrbot log）")
            todo = []
            for message in found:
                if reexaminable(message):
                    todo.append(message)
                elif message.outcome == REJECTED:
                    lines.append(f"{_name(message)}：已拒收（{message.reason}）——超限、不安全、加密、损坏或未通过"
                                 "身份验证的邮件，重新处理不会改变结果")
                else:
                    lines.append(f"{_name(message)}：结果为 {message.outcome}，无需重新处理")
        else:
            held = [m for m in store.held() if reexaminable(m)]
            todo = [m for m in held if m.gone or worth_fetching(m, roster)]
            strangers = len(held) - len(todo)
            if strangers:
                lines.append(f"{strangers} 封陌生发件人的邮件未重新处理：发件地址仍不在名单中"
                             f"（如是某人的地址，请先在 people.csv 中加上）")
        if todo:
            source = source_for(settings)
            source.open()
            try:
                done = reexamine(settings, store, source, roster, calendar, todo,
                                 tuple(adjustments.load(settings.config_dir, roster)))
            finally:
                source.close()
            lines.extend(_line(message, entry) for message, entry in done)
            if store.outbox_without_file():
                write_files(settings, store)
    if not lines:
        lines.append("没有需要重新处理的邮件")
    return lines


def _name(message: StoredMessage) -> str:
    return message.message_id or message.source_key


def _line(message: StoredMessage, entry: LogEntry | None) -> str:
    if entry is None:
        return f"{_name(message)}：{message.outcome}，{GONE_NOTE}"
    reason = f"（{entry.reason}）" if entry.reason else ""
    return f"{_name(message)}：{message.outcome} → {entry.outcome}{reason}"
