"""The job a delivery is while it goes through the intake handlers, and the verdict that stops it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.records import AttachmentLog, Document, LogEntry, Mail, Outgoing, Person, RawMessage, Roster
from bot.settings import Settings
from bot.store import Store
from bot.season.workdays import WorkCalendar


class Stop(Exception):
    """A handler's verdict that the message goes no further: the message's outcome and why."""

    def __init__(self, outcome: str, reason: str = ""):
        super().__init__(f"{outcome}: {reason}" if reason else outcome)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class Context:
    """What every handler may read; built once per poll."""

    settings: Settings
    roster: Roster
    store: Store
    calendar: WorkCalendar
    adjustments: tuple = ()  # HR's adjustments (bot.season.adjustments), for the due dates a confirmation names


@dataclass
class Job:
    """One delivery on its way through the handlers."""

    raw: RawMessage
    mail: Mail
    entry: LogEntry
    sender: Person | None = None
    documents: list[tuple[Document, AttachmentLog | None]] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    again: int | None = None  # the store's row of a message examined again (bot.reprocess)


