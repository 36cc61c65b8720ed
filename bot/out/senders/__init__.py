"""Senders deliver the outbox, each queued mail exactly once, behind one small interface.

A sender is a small class with three methods (as Django's mail backends are):

    open()                  connect and log in; raises SendError
    send(row: OutboxRow)    hand one mail to the server; returns only once the server accepted it
    close()

`send` raises SendError(permanent=True) for what retrying cannot fix (5xx, a refused recipient),
SendError(permanent=False) for what may pass later (4xx, connection problems), and
DeliveryUncertain when the mail was handed over but the server's answer never came.

Exactly once. `deliver` marks a row 'sending' (committed) before the server sees a byte of it
and 'sent' right after the server accepted it, so a crash can only leave a row in 'sending',
and a row in 'sending' at the start of a run means exactly that crash (runs hold a lock). Such a
row is never resent blindly: the `found_in_sent` hook (IMAP: search the Sent folder by
Message-ID, useful where the server files SMTP mail in Sent itself, as Exchange and Coremail can)
may prove it went out; otherwise it becomes 'uncertain' for HR to check and release with
`hrbot send --retry-uncertain`. A duplicate confirmation is cheap, but a silent one is not:
HR decides, not the bot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from filelock import FileLock, Timeout

from bot.errors import ConfigError, SendError
from bot.out.outbox import write_files
from bot.settings import SETTINGS_FILE, Settings
from bot.records import FAILED, QUEUED, SENDING, SENT, SPOOLED, UNCERTAIN, OutboxRow
from bot.store import Store

log = logging.getLogger(__name__)

UNCERTAIN_REASON = "发送结果不明（程序在发送过程中中断），请人工核对后用 hrbot send --retry-uncertain 重发"

# Minutes to wait after the 1st, 2nd, … temporary failure; the last value repeats.
BACKOFF_MINUTES = (1, 5, 15, 60, 120)
# A mail still not out this long after it was queued is given up on (a stale reminder helps
# nobody) — but only after a few real attempts, so a bot that was switched off for a weekend
# does not fail its whole queue on the first 4xx.
GIVE_UP_AFTER = timedelta(days=2)
MIN_ATTEMPTS_BEFORE_GIVING_UP = 3

LOCK_FILE = "send.lock"


class DeliveryUncertain(SendError):
    """The whole mail went out but the server's answer did not come back: it may have been accepted."""

    def __init__(self, message: str):
        super().__init__(message, permanent=False)


class Sender(Protocol):
    def open(self) -> None: ...

    def send(self, row: OutboxRow) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Hooks:
    """Where the IMAP side plugs into delivery; both optional, both given the outbox row."""

    # True when the mail is provably on the server (its Message-ID is in the Sent folder).
    found_in_sent: Callable[[OutboxRow], bool] | None = None
    # Called after a row is marked 'sent' (e.g. append a copy to Sent when save_to_sent is on).
    after_sent: Callable[[OutboxRow], None] | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one outgoing mail in this run."""

    outbox_id: int
    message_id: str
    kind: str
    recipients: tuple[str, ...]
    reason: str = ""


@dataclass
class DeliveryReport:
    """One run of `deliver`; the rows kept aside for HR are Store.outbox('failed', 'uncertain')."""

    sent: list[Outcome] = field(default_factory=list)
    deferred: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    uncertain: list[Outcome] = field(default_factory=list)
    spooled: list[Outcome] = field(default_factory=list)
    # What is still queued after the run (deferred now or earlier), and when the first is due again.
    waiting: int = 0
    next_retry: datetime | None = None  # in the season's zone

    def summary(self) -> str:
        """One line for HR, e.g. “已发送 2 封，13 封邮件等待重试，最早于 2026-12-08 09:05 再试”."""
        parts = [(self.sent, "已发送"), (self.spooled, "已写入 outbox 文件夹（未发出）"),
                 (self.failed, "发送失败"), (self.uncertain, "结果不明，需人工核对")]
        texts = [f"{label} {len(rows)} 封" for rows, label in parts if rows]
        if self.waiting:
            when = f"，最早于 {self.next_retry:%Y-%m-%d %H:%M} 再试" if self.next_retry else ""
            texts.append(f"{self.waiting} 封邮件等待重试{when}")
        return "，".join(texts) or "没有需要发送的邮件"

    def settled(self) -> bool:
        """Nothing left to do now: no mail waits, none failed or needs HR's check in this run."""
        return not (self.waiting or self.failed or self.uncertain)


def sender_for(settings: Settings) -> Sender | None:
    """The sender [sending] kind names, or None for "spool" (the .eml files are the delivery)."""
    kind = settings.sending.kind
    if kind == "spool":
        return None
    if kind == "smtp":
        from bot.out.senders.smtp import SmtpSender  # its module imports this package

        return SmtpSender(settings)
    if kind == "ews":
        # Written with the EWS mailbox source; same interface, same exactly-once bookkeeping.
        from bot.out.senders.ews import EwsSender

        return EwsSender(settings)
    raise ConfigError(settings.config_dir / SETTINGS_FILE, f"[sending] kind “{kind}” 不受支持")


def retry_uncertain(store: Store) -> int:
    """HR checked the 'uncertain' mails (`hrbot send --retry-uncertain`): queue them for the next run; how many."""
    rows = store.outbox(UNCERTAIN)
    for row in rows:
        store.set_outbox_state(row.id, QUEUED)
        log.info("outbox %s (%s) to %s: queued again by HR", row.message_id, row.kind, ", ".join(row.recipients))
    return len(rows)


def hooks_for(settings: Settings) -> Hooks:
    """With save_to_sent, the Sent folder keeps a copy and tells after a crash whether a mail went out."""
    if not settings.sending.save_to_sent:
        return Hooks()
    if settings.sending.kind == "ews":
        from bot.out.senders.ews import EwsSender

        # Exchange saves the copy itself (SendAndSaveCopy): only the look-up is needed.
        return Hooks(found_in_sent=EwsSender(settings).found_in_sent)
    if settings.mailbox.kind == "imap":
        from bot.out.senders.sent_folder import ImapSentFolder  # its module imports this package

        sent = ImapSentFolder(settings)
        return Hooks(found_in_sent=sent.found_in_sent, after_sent=sent.after_sent)
    return Hooks()


def deliver(settings: Settings, store: Store | None = None, now: datetime | None = None,
            hooks: Hooks | None = None) -> DeliveryReport:
    """Write the outbox files, then send every queued mail that is due, each exactly once.

    `store` defaults to the one under paths.data; `now` (aware; default: the clock) decides which
    deferred mails are due. Raises SendError when the sender cannot be used at all for a reason
    retrying will not fix (login refused, TLS missing): the mails stay queued, untouched, until
    the config is fixed.
    """
    if store is None:
        with Store.open(settings.paths.data) as opened:
            return deliver(settings, opened, now, hooks)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    hooks = hooks if hooks is not None else hooks_for(settings)
    report = DeliveryReport()
    settings.paths.data.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # One delivering process at a time: that is what makes a row in 'sending' mean "crashed".
        lock = FileLock(str(settings.paths.data / LOCK_FILE), timeout=0).acquire()
    except Timeout:
        raise SendError("另一个 hrbot 进程正在发信，本次未发送；稍后会继续") from None
    with lock:
        _deliver_due(settings, store, now, hooks, report)
    waiting = store.outbox(QUEUED)
    report.waiting = len(waiting)
    retries = [row.next_attempt for row in waiting if row.next_attempt is not None]
    report.next_retry = min(retries).astimezone(settings.season.timezone) if retries else None
    return report


def _deliver_due(settings: Settings, store: Store, now: datetime, hooks: Hooks, report: DeliveryReport) -> None:
    """deliver() under its lock: the files written, interrupted rows resolved, the due rows sent."""
    write_files(settings, store)
    _resolve_interrupted(store, hooks, report)
    sender = sender_for(settings)
    if sender is None:
        for row in store.outbox(QUEUED):
            store.set_outbox_state(row.id, SPOOLED)
            _note(report.spooled, row, SPOOLED, f"file {row.file}")
        return
    due = [row for row in store.outbox(QUEUED) if row.next_attempt is None or row.next_attempt <= now]
    if not due:
        return
    try:
        sender.open()
    except SendError as e:
        if e.permanent:
            raise
        for row in due:
            _temporary(store, report, row, row.attempts + 1, str(e), now, count_attempt=True)
        return
    try:
        for row in due:
            _send_one(sender, store, report, row, now, hooks)
    finally:
        sender.close()


def _resolve_interrupted(store: Store, hooks: Hooks, report: DeliveryReport) -> None:
    """Rows a crashed run left in 'sending': proven sent via the hook, else 'uncertain' — never resent."""
    for row in store.outbox(SENDING):
        found = False
        if hooks.found_in_sent is not None:
            try:
                found = hooks.found_in_sent(row)
            except Exception as e:  # the check is a bonus; failing it must not resend anything
                log.warning("outbox %s: could not search the Sent folder: %s", row.message_id, e)
        if found:
            store.set_outbox_state(row.id, SENT, "程序中断前已发出（在“已发送”中找到）")
            _note(report.sent, row, "sent (found in Sent after an interrupted run)")
        else:
            store.set_outbox_state(row.id, UNCERTAIN, UNCERTAIN_REASON)
            _note(report.uncertain, row, UNCERTAIN, UNCERTAIN_REASON, logging.WARNING)


def _send_one(sender: Sender, store: Store, report: DeliveryReport, row: OutboxRow, now: datetime,
              hooks: Hooks) -> None:
    attempt = row.attempts + 1
    store.set_outbox_state(row.id, SENDING, attempted=True)  # committed before the server hears of it
    try:
        sender.send(row)
    except DeliveryUncertain as e:
        reason = f"{UNCERTAIN_REASON}：{e}"
        store.set_outbox_state(row.id, UNCERTAIN, reason)
        _note(report.uncertain, row, UNCERTAIN, reason, logging.WARNING)
    except SendError as e:
        if e.permanent:
            store.set_outbox_state(row.id, FAILED, str(e))
            _note(report.failed, row, FAILED, str(e), logging.WARNING)
        else:
            _temporary(store, report, row, attempt, str(e), now, count_attempt=False)
    except BaseException as e:
        # Nobody knows how far the mail got, so it must not go out again by itself; the run
        # stops, as the next row would likely meet the same bug.
        reason = f"{UNCERTAIN_REASON}：{type(e).__name__}: {e}"
        store.set_outbox_state(row.id, UNCERTAIN, reason)
        _note(report.uncertain, row, UNCERTAIN, reason, logging.ERROR)
        raise
    else:
        store.set_outbox_state(row.id, SENT)
        _note(report.sent, row, SENT)
        if hooks.after_sent is not None:
            try:
                hooks.after_sent(row)
            except Exception as e:  # the mail is out; a missing copy in Sent is not worth a resend
                log.warning("outbox %s: sent, but the after-send step failed: %s", row.message_id, e)


def _temporary(store: Store, report: DeliveryReport, row: OutboxRow, attempt: int, reason: str,
               now: datetime, count_attempt: bool) -> None:
    """Back to 'queued' with a later next_attempt, or 'failed' once it has waited too long.

    `count_attempt`: the row never reached 'sending' (open() failed), so this attempt is not counted yet.
    """
    if attempt >= MIN_ATTEMPTS_BEFORE_GIVING_UP and now - row.created_at >= GIVE_UP_AFTER:
        reason = f"超过 2 天、尝试 {attempt} 次仍未发出，已放弃：{reason}"
        store.set_outbox_state(row.id, FAILED, reason, attempted=count_attempt)
        _note(report.failed, row, FAILED, reason, logging.WARNING)
        return
    minutes = BACKOFF_MINUTES[min(attempt, len(BACKOFF_MINUTES)) - 1]
    next_attempt = now + timedelta(minutes=minutes)
    store.set_outbox_state(row.id, QUEUED, reason, next_attempt, attempted=count_attempt)
    _note(report.deferred, row, f"deferred until {next_attempt.isoformat(timespec='minutes')}", reason,
          logging.WARNING)


def _note(bucket: list[Outcome], row: OutboxRow, result: str, reason: str = "", level: int = logging.INFO) -> None:
    """One log line per mail: Message-ID, kind, recipients, result (never a secret: none is at hand)."""
    bucket.append(Outcome(row.id, row.message_id, row.kind, row.recipients, reason))
    log.log(level, "outbox %s (%s) to %s: %s%s", row.message_id, row.kind, ", ".join(row.recipients), result,
            f" — {reason}" if reason else "")
