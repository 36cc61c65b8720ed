"""The Maildir source: reads new/ and cur/, never touches or moves a file."""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from bot.errors import MailboxError
from bot.records import RawMessage

log = logging.getLogger(__name__)

# A Maildir file name starts with the delivery time in seconds: "1733212800.M1P2.host:2,S".
_DELIVERED = re.compile(r"^(\d{9,11})(?:\.|$)")


class MaildirSource:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._skipped: set[tuple[str, str]] = set()  # (path, why) already logged by this process

    def open(self) -> None:
        if not (self.path / "new").is_dir() and not (self.path / "cur").is_dir():
            raise MailboxError(f"邮件目录 {self.path} 不是 Maildir（缺少 new/ 和 cur/ 子目录）")

    def messages(self, store, wants_body: Callable[[bytes], bool] | None = None) -> Iterator[RawMessage]:
        """Every file not recorded yet, whole: reading a local file costs nothing worth saving (wants_body unused)."""
        known = store.delivered_keys("maildir:")
        pending = []
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                why = _not_a_message(entry)
                if why:
                    self._skip(entry.path, why)
                    continue
                key = "maildir:" + _unique_name(entry.name)
                if key not in known:
                    pending.append((_arrival(entry), key, entry.path))
        pending.sort()
        for received_at, key, path in pending:
            try:
                data = Path(path).read_bytes()
            except FileNotFoundError:
                # A mail client moved it from new/ to cur/ meanwhile; the next poll finds it.
                log.info("maildir: %s moved while reading, left for the next poll", path)
                continue
            except OSError as error:  # not recorded: read again once it is readable
                self._skip(path, f"unreadable ({error.strerror or error}), left for a later poll")
                continue
            yield RawMessage(source_key=key, data=data, received_at=received_at)

    def fetch_again(self, source_key: str, message_id: str | None = None,
                    received_at: datetime | None = None) -> RawMessage | None:
        """The delivery the store knows as source_key ("maildir:<name>"), whole; None if it is gone."""
        name = source_key.removeprefix("maildir:")
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if entry.is_file() and not entry.name.startswith(".") and _unique_name(entry.name) == name:
                    try:
                        data = Path(entry.path).read_bytes()
                    except FileNotFoundError:
                        continue  # moved from new/ to cur/ meanwhile: found there
                    return RawMessage(source_key=source_key, data=data, received_at=_arrival(entry))
        return None

    def _skip(self, path: str, why: str) -> None:
        if (path, why) not in self._skipped:
            self._skipped.add((path, why))
            log.info("maildir: skipped %s: %s", path, why)

    def done(self, raw: RawMessage) -> None:
        pass

    def close(self) -> None:
        pass


def _not_a_message(entry: os.DirEntry) -> str:
    """Why a Maildir entry is no message to read, or "" when it is one."""
    if entry.name.startswith("."):
        return "a hidden file (a mail program's temporary file)"
    try:
        if entry.is_file():
            return ""
        if entry.is_dir():
            return "a folder, not a message"
        if entry.is_symlink():
            return "a link to a file that does not exist"
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    return "not a regular file"


def _unique_name(name: str) -> str:
    # The part after ":" holds flags that mail clients change; the rest is the message's identity.
    return name.split(":", 1)[0].split("!", 1)[0]


def _arrival(entry: os.DirEntry) -> datetime:
    """Delivery time from the file name's leading seconds, else the file's mtime (docs/contract.md, "Time")."""
    match = _DELIVERED.match(entry.name)
    seconds = int(match.group(1)) if match else entry.stat().st_mtime
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
