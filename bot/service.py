"""`hrbot run`: continuous polling beside the daily jobs, holding the data folder's writer lock, stopping cleanly."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from logging.handlers import RotatingFileHandler

import schedule

from bot.out import summary
from bot.errors import SendError
from bot.lock import WriterLock
from bot.backup import daily_backup
from bot.poll import Quiet, poll_once
from bot.out.reminders import reminders_due, withdraw_answered
from bot.out.senders import deliver
from bot.settings import ServiceOptions, Settings
from bot.sources import Source, source_for
from bot.store import Store, StoreDamaged
from bot.season.workdays import CALENDAR_DIR, WorkCalendar

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # returns an aware moment

# How often schedule asks each job whether something is due. The jobs themselves compare the
# season-zone time with [schedule] and the store, so the tick only bounds how late they notice.
TICK_SECONDS = 30
# After a job fails, leave it alone this long: one log line per failure, not one per tick.
RETRY_AFTER = timedelta(minutes=5)
# IMAP IDLE is re-issued within 29 minutes (RFC 2177); the source's wait returns by then.
IDLE_SECONDS = 25 * 60
# On a signal the poll thread finishes its current message; this is how long we wait for it.
STOP_GRACE_SECONDS = 5.0
# The main loop sleeps in slices this short, so Ctrl-C is seen promptly on Windows too.
SLICE_SECONDS = 1.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --- logging ------------------------------------------------------------------------


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def service_logging(settings: Settings) -> Iterator[ServiceOptions]:
    """A service logs each event (INFO) by default, DEBUG with --verbose, and to a rotating file if asked."""
    options = settings.service
    root, ours = logging.getLogger(), logging.getLogger("bot")
    previous_level = ours.level
    # The CLI sets WARNING for one-shot commands and INFO for --verbose; a service's log is its record.
    if root.level > logging.INFO:
        ours.setLevel(logging.INFO)
    elif root.level == logging.INFO:
        ours.setLevel(logging.DEBUG)
    handler = None
    if options.log_file is not None:
        options.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(options.log_file, maxBytes=options.log_max_mb * 1024 * 1024,
                                      backupCount=options.log_backups, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    try:
        yield options
    finally:
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
        ours.setLevel(previous_level)


# --- the jobs ------------------------------------------------------------------


@dataclass
class Job:
    """A "do whatever is due at this moment" function; its truth is the store, so a restart catches up."""

    name: str
    run: Callable[[datetime], object]  # returns something to log when it did anything, else None
    retry_at: datetime | None = None


class Service:
    """The jobs, the poller and the sending, around an injectable clock; `run_service` adds threads and signals."""

    def __init__(self, settings: Settings, clock: Clock = utc_now, source: Source | None = None,
                 stop: threading.Event | None = None):
        self.settings = settings
        self.clock = clock
        self.source = source
        self.stop = stop or threading.Event()
        # On start the next summary checks next year's calendar too (the issue: "on start").
        self.calendar_note = True
        self._send_lock = threading.Lock()  # the poller and the jobs both send; one at a time
        self.fatal: StoreDamaged | None = None  # set when the service must stop: the store is damaged
        self.quiet = Quiet()  # what the last poll left: an idle poll need not open the store
        self.jobs = [Job("tracker", self._tracker), Job("reminders", self._reminders), Job("backup", self._backup)]
        self.scheduler = schedule.Scheduler()
        for job in self.jobs:
            self.scheduler.every(TICK_SECONDS).seconds.do(self.run_job, job)

    def tick(self) -> None:
        """Run every job now (on start, and in tests at each simulated moment)."""
        self.scheduler.run_all()

    def run_job(self, job: Job) -> None:
        """Run one job, log what it did or why it failed; never raise (schedule would stop the loop)."""
        now = self.clock()
        if job.retry_at is not None and now < job.retry_at:
            return
        try:
            result = job.run(now)
        except StoreDamaged as error:
            self.give_up(error)
            return
        except Exception as error:
            job.retry_at = now + RETRY_AFTER
            log.error("job %s failed: %s: %s (retrying after %s)", job.name, type(error).__name__, error,
                      job.retry_at.astimezone(self.settings.season.timezone).strftime("%H:%M"),
                      exc_info=log.isEnabledFor(logging.DEBUG))
            return
        job.retry_at = None
        if result is not None:
            log.info("job %s: %s", job.name, result if not isinstance(result, list) else "; ".join(result))

    def _tracker(self, now: datetime):
        path = summary.summary_due(self.settings, now, calendar_note=self.calendar_note)
        if path is None:
            return None
        self.calendar_note = False
        self.send(now)
        return f"tracker {path.name} written and mailed to {self.settings.hr.address}"

    def give_up(self, error: StoreDamaged) -> None:
        """Stop the whole service: nothing may be written into a damaged store."""
        log.error("%s", error)
        self.fatal = error
        self.stop.set()

    def _backup(self, now: datetime):
        """Once a day: the store checked (quick_check) and copied beside itself, the last seven kept."""
        path = daily_backup(self.settings, now)
        return None if path is None else f"store checked and copied to {path}"

    def _reminders(self, now: datetime):
        lines = reminders_due(self.settings, now)
        if lines is None:
            return None
        self.send(now)
        return lines

    # --- mail in and out ---------------------------------------------------------

    def send(self, now: datetime | None = None) -> None:
        """Withdraw reminders answered meanwhile, then deliver the outbox; a sending problem is logged."""
        with self._send_lock, Store.open(self.settings.paths.data) as store:
            try:
                now = now or self.clock()
                withdraw_answered(self.settings, store, now.astimezone(self.settings.season.timezone).date())
                deliver(self.settings, store, now=now)
            except SendError as error:
                # The mails stay queued; the next poll or job tries again.
                log.warning("sending: %s", error)

    def poll(self, source: Source, send: bool = True) -> None:
        """One poll, then sending what it produced (confirmations) or what still waits.

        With nothing waiting the store is not opened a second time: that is the idle poll's usual case.
        """
        report = poll_once(self.settings, source=source, stop=self.stop, quiet=self.quiet)
        if send and report.mail_waiting and not self.stop.is_set():
            self.send()

    def poll_loop(self, send: bool = True) -> None:
        """Poll until stopped: IDLE where the source can wait for mail, else every poll_interval seconds."""
        source = self.source or source_for(self.settings)
        interval = max(1, self.settings.mailbox.poll_interval)
        failures = 0
        while not self.stop.is_set():
            try:
                self.poll(source, send)
                failures = 0
            except StoreDamaged as error:
                self.give_up(error)
                return
            except Exception as error:
                failures += 1
                # Mailbox down: back off up to 4 intervals, so the log is not flooded.
                wait = interval * min(failures, 4)
                log.error("poll failed: %s: %s (next try in %d s)", type(error).__name__, error, wait,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                self.stop.wait(wait)
                continue
            self._wait_for_mail(source, interval)

    def _wait_for_mail(self, source: Source, interval: int) -> None:
        wait = getattr(source, "wait_for_mail", None)
        if wait is None:
            self.stop.wait(interval)
            return
        try:
            wait(IDLE_SECONDS, self.stop)
        except Exception as error:
            log.warning("waiting for new mail failed (%s); polling again in %d s", error, interval)
            self.stop.wait(interval)

    def run_timed_jobs(self) -> None:
        """The main loop: catch up once, then let schedule ask the jobs until stopped."""
        self.tick()
        while not self.stop.is_set():
            self.scheduler.run_pending()
            self.stop.wait(SLICE_SECONDS)


# --- entry points -------------------------------------------------------------------


def run_service(settings: Settings, clock: Clock = utc_now, source: Source | None = None,
                stop: threading.Event | None = None) -> None:
    """`hrbot run`: poll and send continuously, write and mail the tracker, remind; until a signal."""
    Store.open(settings.paths.data, verify=True).close()  # a damaged store: one line, before anything starts
    with service_logging(settings) as options, WriterLock(settings), \
            _stopping_on_signals(stop or threading.Event()) as stop_event:
        service = Service(settings, clock, source, stop_event)
        _announce(settings, options, "run")
        poller = threading.Thread(target=_guarded(service.poll_loop), name="hrbot-poll", daemon=True)
        poller.start()
        service.run_timed_jobs()
        _join(poller)
        log.info("hrbot stopped")
    if service.fatal is not None:
        raise service.fatal


def poll_forever(settings: Settings, source: Source | None = None, stop: threading.Event | None = None) -> None:
    """`hrbot poll` without --once: record new mail until a signal; sending is left to `hrbot send` / `run`."""
    Store.open(settings.paths.data, verify=True).close()
    with service_logging(settings) as options, WriterLock(settings), \
            _stopping_on_signals(stop or threading.Event()) as stop_event:
        _announce(settings, options, "poll")
        service = Service(settings, source=source, stop=stop_event)
        service.poll_loop(send=False)
        log.info("hrbot stopped")
    if service.fatal is not None:
        raise service.fatal


def _announce(settings: Settings, options: ServiceOptions, what: str) -> None:
    log.info("hrbot %s started: pid %d, config %s, mailbox %s, sending %s%s", what, os.getpid(),
             settings.config_dir, settings.mailbox.kind, settings.sending.kind,
             f", log file {options.log_file}" if options.log_file else "")
    today = utc_now().astimezone(settings.season.timezone).date()
    years = summary.unconfirmed_years(WorkCalendar.load(settings.config_dir), settings, today, include_next=True)
    if years:
        # Said on start as the issue asks; the next daily summary tells HR how to fix it.
        log.warning("the working-day calendar of %s is not known yet: add %s/<year>.toml once the holidays are "
                    "published", ", ".join(map(str, years)), settings.config_dir / CALENDAR_DIR)


def _guarded(target: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            target()
        except Exception as error:  # the poller's own bug must not go unseen in a thread
            log.error("the poll thread stopped on an unexpected error: %s: %s", type(error).__name__, error,
                      exc_info=log.isEnabledFor(logging.DEBUG))

    return run


def _join(thread: threading.Thread) -> None:
    thread.join(STOP_GRACE_SECONDS)
    if thread.is_alive():
        # It is inside a network call; each message is recorded in one transaction, so leaving is safe.
        log.warning("the poll thread did not finish within %.0f s; exiting without it", STOP_GRACE_SECONDS)


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """SIGTERM, Ctrl-C (and Ctrl-Break on Windows) set `stop`; a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals can only be caught in the main thread; the caller stops us via `stop`
        return

    def handle(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("%s received: finishing the current message, then stopping", signal.Signals(signum).name)
        stop.set()

    names = ["SIGINT", "SIGTERM"] + (["SIGBREAK"] if sys.platform == "win32" else [])
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handle)
    try:
        yield stop
    finally:
        stop.set()
        for number, handler in previous.items():
            signal.signal(number, handler)
