"""The opt-in copy of each sent mail in the mailbox's Sent folder, which also proves a mail went out."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from bot.errors import MailboxError
from bot.records import OutboxRow
from bot.settings import Settings
from bot.sources.imap_connect import close, connect, mailbox_errors

log = logging.getLogger(__name__)


class ImapSentFolder:
    """[sending] save_to_sent with an IMAP mailbox: APPEND after sending, SEARCH by Message-ID after a crash."""

    def __init__(self, settings: Settings):
        self.mailbox = settings.mailbox
        self.folder = settings.sending.sent_folder
        self.password = settings.secret(settings.mailbox.password_env)

    def found_in_sent(self, row: OutboxRow) -> bool:
        client = connect(self.mailbox, self.password)
        try:
            with mailbox_errors(self.mailbox, self.folder):
                if not client.folder_exists(self.folder):
                    return False
                client.select_folder(self.folder, readonly=True)
                return bool(client.search(["HEADER", "Message-ID", row.message_id]))
        finally:
            close(client)

    def after_sent(self, row: OutboxRow) -> None:
        try:
            client = connect(self.mailbox, self.password)
            try:
                with mailbox_errors(self.mailbox, self.folder):
                    if not client.folder_exists(self.folder):
                        client.create_folder(self.folder)
                    client.append(self.folder, row.eml, flags=[b"\\Seen"], msg_time=datetime.now(timezone.utc))
            finally:
                close(client)
        except MailboxError as error:
            # The mail went out; a missing copy in Sent must not make it look unsent.
            log.warning("sent copy of %s not saved in %s: %s", row.message_id, self.folder, error)
