"""The benchmark's dovecot: started as the tests start theirs, filled by writing its Maildir, and watched.

Writing files straight into Maildir/cur is much faster than APPEND: dovecot takes each message's
INTERNALDATE from the file's mtime, its RFC822.SIZE from the S=/W= fields of the name, and assigns
UIDs in name order (the names start with the arrival time) at the first SELECT.
"""

from __future__ import annotations

import contextlib
import imaplib
import importlib.util
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent


def _imap_server():
    """tests/imap_server.py, the one place that knows how to run a throwaway dovecot (imported by path)."""
    spec = importlib.util.spec_from_file_location("hrbot_tests_imap_server", ROOT / "tests" / "imap_server.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


imap_server = _imap_server()


@contextlib.contextmanager
def dovecot(root: Path) -> Iterator["Server"]:
    """A dovecot on 127.0.0.1 with its own config under root; stopped and its spool removed after."""
    with imap_server.run_dovecot(root) as dv:
        server = Server(dv)
        server.rawlog(False)
        yield server


@dataclass
class Session:
    """One IMAP session as dovecot's logout line reports it (imap_logout_format of tests/imap_server.py)."""

    bytes_in: int
    bytes_out: int
    hdr_count: int
    hdr_bytes: int
    body_count: int
    body_bytes: int
    commands: list[str] = field(default_factory=list)  # what the client sent after login, from the rawlog

    def to_json(self) -> dict:
        return dict(self.__dict__)


_LOGOUT = re.compile(r"in=(\d+) out=(\d+) .*?hdr_count=(\d+) hdr_bytes=(\d+) body_count=(\d+) body_bytes=(\d+)")


class Server:
    def __init__(self, dv):
        self.dv = dv
        self.host, self.port, self.user, self.password = dv.host, dv.port, dv.user, dv.password
        self.maildir: Path = dv.maildir
        self._rawlog_on = dv.rawlog_dir
        self._rawlog_off = dv.rawlog_dir.with_name("rawlog.off")
        self._owner = (self.maildir.stat().st_uid, self.maildir.stat().st_gid)
        self._log_at = 0

    # --- filling ------------------------------------------------------------

    def prepare(self) -> tuple[Path, tuple[int, int]]:
        """The Maildir's cur/new/tmp made, owned by the mail user; (Maildir, (uid, gid)) for deliver()."""
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(exist_ok=True)
            os.chown(self.maildir / sub, *self._owner)
        return self.maildir, self._owner

    def warm(self) -> dict:
        """Open the mailbox as its owner's mail client has: dovecot indexes it and caches envelopes and
        structures, and the files are in the page cache, so no reader measured later pays for that."""
        started = time.perf_counter()
        imap = imaplib.IMAP4(self.host, self.port)
        try:
            imap.login(self.user, self.password)
            typ, data = imap.select("INBOX", readonly=True)
            exists = int(data[0])
            if exists:
                typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
                if typ != "OK":
                    raise RuntimeError(f"warming FETCH failed: {data!r:.200}")
            imap.logout()
        finally:
            with contextlib.suppress(Exception):
                imap.shutdown()
        return {"messages": exists, "seconds": round(time.perf_counter() - started, 2)}

    # --- watching -------------------------------------------------------------

    def rawlog(self, on: bool) -> None:
        """Record what clients send (dovecot writes rawlogs only while the folder exists).

        Off for the big reads: dovecot would also write every byte it sends to disk.
        """
        have, want = (self._rawlog_off, self._rawlog_on) if on else (self._rawlog_on, self._rawlog_off)
        if have.exists() and not want.exists():
            have.rename(want)
        if on:
            for p in self._rawlog_on.iterdir():
                p.unlink()

    def mark(self) -> None:
        """Start a window: sessions() reports the sessions that end after this."""
        self._log_at = self.dv.log_path.stat().st_size if self.dv.log_path.exists() else 0
        if self._rawlog_on.exists():
            for p in self._rawlog_on.iterdir():
                p.unlink()

    def sessions(self, expected: int = 1, wait_s: float = 5.0) -> list[Session]:
        """The sessions that ended since mark(), waiting briefly for dovecot to log the last logout."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.dv.log_path.open("rb") as f:
                f.seek(self._log_at)
                text = f.read().decode("utf-8", "replace")
            found = [m for m in _LOGOUT.finditer(text)]
            if len(found) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        sessions = [Session(*(int(g) for g in m.groups())) for m in found]
        if self._rawlog_on.exists() and sessions:
            logs = sorted(self._rawlog_on.glob("*.in"), key=lambda p: p.stat().st_mtime)
            for session, path in zip(sessions, logs):
                session.commands = commands(path.read_text(errors="replace"))
        return sessions

    def log_errors(self) -> list[str]:
        with self.dv.log_path.open("rb") as f:
            f.seek(self._log_at)
            text = f.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if "Error" in line or "Panic" in line or "Fatal" in line]


def deliver(maildir: Path, owner: tuple[int, int], seq: int, when: float, data: bytes, flags: str = "") -> None:
    """Write one message as dovecot would have stored it on arrival at `when` (epoch seconds)."""
    # W= is the size with CRLF line ends (what RFC822.SIZE reports); our messages have them already.
    virtual = len(data) + data.count(b"\n") - data.count(b"\r\n")
    seconds = int(when)
    path = maildir / "cur" / f"{seconds}.M{seq:06d}P1.bench,S={len(data)},W={virtual}:2,{flags}"
    path.write_bytes(data)
    os.chown(path, *owner)
    os.utime(path, (seconds, seconds))


def commands(rawlog: str) -> list[str]:
    """The IMAP commands in a rawlog of what the client sent ("<time> <tag> <COMMAND> ..." per line)."""
    out = []
    for line in rawlog.splitlines():
        parts = line.split()
        if parts and re.fullmatch(r"\d+\.\d+", parts[0]):
            parts = parts[1:]
        if len(parts) >= 2 and re.fullmatch(r"[A-Za-z]+", parts[1]):
            name = parts[1].upper()
            if name == "UID" and len(parts) >= 3:
                name = f"UID {parts[2].upper()}"
            out.append(name)
    return out
