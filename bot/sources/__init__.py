"""Mailbox sources: each hands over the deliveries the store has not recorded yet, as RawMessages.

A source is a small class with the same four methods (as Django's mail backends are):

    open()                      connect / check the mailbox exists
    messages(store, wants_body=None) -> iterator of RawMessage not yet recorded, oldest first
    done(raw)                   the message was recorded (a source may move it, if configured)
    close()
    fetch_again(source_key, message_id, received_at) -> RawMessage | None   a recorded message again, whole,
                                to re-examine it (bot.reprocess); None when the mailbox no longer has
                                it (IMAP also looks in move_to, by Message-ID and arrival)

It never decides anything about a message: the intake does. `wants_body(header block) -> bool`
is the intake's answer to "can this message's body carry a submission?": a source that can read
a message's header block and structure without its body (IMAP) downloads only the bodies it
wants and hands the others over header-only (RawMessage.complete False, parts in .structure);
the others (Maildir files, EWS MIME) read every message whole and ignore it. The checkpoint a source needs to
resume (IMAP UIDVALIDITY and last UID, an EWS sync state) travels in RawMessage.checkpoint and
is saved by the store in the same transaction that records the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator, Protocol

from bot.errors import ConfigError
from bot.settings import Settings
from bot.sources.imap import ImapSource
from bot.sources.maildir import MaildirSource

if TYPE_CHECKING:
    from datetime import datetime

    from bot.records import RawMessage


class Source(Protocol):
    def open(self) -> None: ...

    def messages(self, store, wants_body: Callable[[bytes], bool] | None = None) -> Iterator[RawMessage]: ...

    def done(self, raw: RawMessage) -> None: ...

    def fetch_again(self, source_key: str, message_id: str | None = None,
                    received_at: datetime | None = None) -> RawMessage | None: ...

    def close(self) -> None: ...


def source_for(settings: Settings) -> Source:
    """The source [mailbox] kind names (Exchange's imported only for it: exchangelib is large)."""
    kind = settings.mailbox.kind
    if kind == "maildir":
        return MaildirSource(settings.mailbox.path)
    if kind == "imap":
        return ImapSource(settings.mailbox, settings.secret(settings.mailbox.password_env))
    if kind == "ews":
        from bot.sources.ews import EwsSource

        return EwsSource(settings.mailbox, settings.secret(settings.mailbox.password_env), address=settings.hr.address)
    raise ConfigError("settings.toml", f"[mailbox] kind “{kind}” 不受支持")
