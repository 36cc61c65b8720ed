"""One poll: every new delivery from the mailbox through the intake, then the outbox written."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bot import __version__
from bot.season.adjustments import load
from bot.out.outbox import write_files
from bot.season.roster import load_roster
from bot.settings import Settings
from bot.sources import Source, source_for
from bot.store import Store, unchanged_since
from bot.season.workdays import CALENDAR_DIR, WorkCalendar

if TYPE_CHECKING:
    from bot.records import LogEntry, Roster

log = logging.getLogger(__name__)

# The store's note of the roster and calendar files as they were when last read without a mistake.
CHECKED_STATE = "poll:config_checked"
# The same note as when held mail was last examined again (bot.reprocess).
EXAMINED_STATE = "poll:held_examined"


@dataclass
class PollReport:
    """What one poll recorded, in order."""

    recorded: list[LogEntry] = field(default_factory=list)
    reexamined: list[LogEntry] = field(default_factory=list)  # held mail examined again (bot.reprocess)
    mail_waiting: bool = False  # the outbox holds mail to send, or mail interrupted while sending

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.recorded:
            counts[entry.outcome] = counts.get(entry.outcome, 0) + 1
        return counts


@dataclass
class Quiet:
    """What a process's last poll left, so that its next poll can see that nothing changed without
    opening the store (the service polls all season, mostly finding nothing).

    Set after each poll: the store file as that poll left it if the poll changed nothing in it (else
    None), the config folder's stamp it checked, and whether mail was waiting to be sent.
    """

    store: tuple[int, int, int] | None = None
    config: str = ""
    mail_waiting: bool = False


def poll_once(settings: Settings, source: Source | None = None, stop=None, quiet: Quiet | None = None) -> PollReport:
    """Read what is new, record each delivery once, write the confirmations into the outbox.

    `stop` (a threading.Event) lets the service end between two messages. A poll that finds
    nothing new reads neither roster nor calendar (unless they changed) and imports none of the
    intake, which is imported at the first new message (tests/test_idle_imports.py lists what an
    idle poll must not import). With `quiet` (kept by the caller between its polls), a poll finding
    the store, the config folder and the mailbox as the last one left them does not open the store.
    """
    season = SeasonFiles(settings.config_dir)
    source = source or source_for(settings)
    if quiet is not None:
        if _nothing_changed(quiet, season, settings, source):
            log.info("poll: nothing new")
            return PollReport(mail_waiting=quiet.mail_waiting)
        quiet.store = None
    report = PollReport()
    with Store.open(settings.paths.data) as store:
        stamp = season.check(store)
        source.open()
        try:
            _reexamine_held(settings, store, source, season, stamp, report)
            for raw in source.messages(store, _body_wanted(season, settings.hr.address)):
                from bot.intake.job import Context
                from bot.intake.pipeline import process

                ctx = Context(settings=settings, roster=season.roster, store=store, calendar=season.calendar,
                              adjustments=season.adjustments)
                entry = process(raw, ctx)
                if entry is not None:
                    report.recorded.append(entry)
                source.done(raw)
                del raw  # not held while the source reads the next one
                if stop is not None and stop.is_set():
                    break
        finally:
            source.close()
            if store.outbox_without_file():
                write_files(settings, store)
            report.mail_waiting = store.mail_waiting()
    if quiet is not None:
        quiet.store, quiet.config, quiet.mail_waiting = store.untouched, stamp, report.mail_waiting
    log.info("poll: %d new message(s) %s", len(report.recorded), report.counts())
    return report


def _nothing_changed(quiet: Quiet, season: SeasonFiles, settings: Settings, source: Source) -> bool:
    """Whether the store is as the last poll left it, the config folder's files too, and the source has
    nothing new (only a source that can tell cheaply, bot.sources.imap: one EXAMINE). Then the store's
    notes, checkpoint and outbox are as that poll found them, and this poll would change nothing.

    The store is looked at first: what others write after that moment is for the next poll.
    """
    nothing_new = getattr(source, "nothing_new", None)
    if nothing_new is None or not unchanged_since(settings.paths.data, quiet.store) or season.stamp() != quiet.config:
        return False
    source.open()
    try:
        if not nothing_new():
            return False  # the connection stays open for the poll that follows
    except BaseException:
        source.close()
        raise
    source.close()
    return True


class SeasonFiles:
    """The roster, the calendar and the adjustments HR keeps in the config folder, each read at most once a poll.

    A mistake in them must stop the poll even when no mail comes, so check() reads them whenever
    the config folder's files differ from the last time they were read without a mistake (the
    store keeps that note). Unchanged, they are read only for the first message: 2,000 people take
    ~15 ms to read and check, most of an idle poll's own cost.
    """

    def __init__(self, config_dir: Path):
        self.config_dir = config_dir

    @cached_property
    def roster(self) -> Roster:
        return load_roster(self.config_dir)

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar.load(self.config_dir)

    @cached_property
    def adjustments(self) -> tuple:
        return tuple(load(self.config_dir, self.roster))

    def check(self, store: Store) -> str:
        """Raise ConfigError for a mistake in a roster, calendar or adjustments file changed since the last good read.

        Returns the folder's stamp.
        """
        stamp = self.stamp()
        if store.get_state(CHECKED_STATE) != stamp:
            self.roster, self.calendar, self.adjustments  # noqa: B018 - reading them is the check
            store.set_state(CHECKED_STATE, stamp)
        return stamp

    def stamp(self) -> str:
        """Name, size, time, inode and mode of each file at the top of the config folder and of each entry
        in its calendar/ (not deeper, nor the top's folders: the data, outbox and tracker folders change
        at every poll). A newer hrbot may check more, so its version too."""
        parts = [__version__]
        for folder, files_only in ((self.config_dir, True), (self.config_dir / CALENDAR_DIR, False)):
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except (FileNotFoundError, NotADirectoryError):
                continue  # no calendar overrides (WorkCalendar ignores a file of that name too)
            for entry in entries:
                if files_only and not entry.is_file():
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:  # a broken link, or gone since the listing (an editor's temp file)
                    parts.append(f"{entry.path} -")
                else:
                    parts.append(f"{entry.path} {st.st_size} {st.st_mtime_ns} {st.st_ino} {st.st_mode}")
        return "\n".join(parts)


def _reexamine_held(settings: Settings, store: Store, source: Source, season: SeasonFiles, stamp: str,
                    report: PollReport) -> None:
    """After the roster, the adjustments or hrbot changed, held mail goes through the intake again.

    Unchanged (the idle poll's usual case), this costs one comparison with the store's note.
    """
    if store.get_state(EXAMINED_STATE) == stamp:
        return
    from bot.reprocess import held_for_poll, reexamine

    held = held_for_poll(store, season.roster)
    if held:
        log.info("poll: the config folder changed: examining %d held message(s) again", len(held))
        done = reexamine(settings, store, source, season.roster, season.calendar, held, season.adjustments)
        report.reexamined.extend(entry for _, entry in done if entry is not None)
    store.set_state(EXAMINED_STATE, stamp)


def _body_wanted(season: SeasonFiles, hr_address: str) -> Callable[[bytes], bool]:
    """The source's question "is this body worth downloading?", answered from the roster (bot.intake.triage)."""

    def wants_body(header: bytes) -> bool:
        from bot.intake.triage import body_wanted  # the intake: at the first message (see poll_once)

        return body_wanted(header, season.roster, hr_address)

    return wants_body
