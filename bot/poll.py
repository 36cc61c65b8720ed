"""One poll: every new delivery from the mailbox through the intake, then the outbox written."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from bot.records import LogEntry, Roster
from bot.roster import load_roster
from bot.settings import Settings
from bot.sources import Source, source_for
from bot.store import Store
from bot.workdays import WorkCalendar

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    recorded: list[LogEntry] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.recorded:
            counts[entry.outcome] = counts.get(entry.outcome, 0) + 1
        return counts


def poll_once(settings: Settings, source: Source | None = None, stop=None) -> PollReport:
    """Read what is new, record each delivery once, write the confirmations into the outbox.

    `stop` (a threading.Event) lets the service end between two messages. A poll that finds
    nothing new imports none of the intake: the idle poll stays cheap.
    """
    # The roster and calendar are read first, so that a mistake in them is reported even when
    # no mail came; the intake itself (parsers, templates) is imported only for a message.
    roster = load_roster(settings.config_dir)
    calendar = WorkCalendar.load(settings.config_dir)
    source = source or source_for(settings)
    report = PollReport()
    with Store.open(settings.paths.data) as store:
        source.open()
        try:
            for raw in source.messages(store, _body_wanted(roster, settings.hr.address)):
                from bot.intake.job import Context
                from bot.intake.pipeline import process

                ctx = Context(settings=settings, roster=roster, store=store, calendar=calendar)
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
                from bot.outbox import write_files

                write_files(settings, store)
    log.info("poll: %d new message(s) %s", len(report.recorded), report.counts())
    return report


def _body_wanted(roster: Roster, hr_address: str) -> Callable[[bytes], bool]:
    """The source's question "is this body worth downloading?", answered from the roster (bot.intake.triage)."""

    def wants_body(header: bytes) -> bool:
        from bot.intake.triage import body_wanted  # imported at the first message: idle polls skip it

        return body_wanted(header, roster, hr_address)

    return wants_body
