"""Crash safety helpers: atomic file writes, injected kill -9 points for the crash tests, and the sweep of
what a killed run left.

`crash_point(name)` does nothing unless the environment variable HRBOT_CRASH_AT equals `name`;
then the process kills itself with SIGKILL, exactly as an OOM killer or a power cut would stop
it: no finally blocks, no atexit, no flush.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

log = logging.getLogger(__name__)

ENV = "HRBOT_CRASH_AT"
# Temp files carry the writer's pid (".<name>.<pid>.<random>.tmp", from write_atomically),
# so a later run can tell a dead writer's leftover from a live writer's file in progress.
_PID = re.compile(r"\.(\d+)\.(?:[A-Za-z0-9_]+\.)?tmp$")
# No write of ours takes an hour: older temp files are stale whatever their pid says (pid reuse).
STALE_AFTER_SECONDS = 3600


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when HRBOT_CRASH_AT names this point (tests only)."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def write_atomically(path: Path, data: bytes | Callable[[BinaryIO], None], mode: int = 0o600,
                     crash_at: str | None = None, sync_parent: bool = True) -> None:
    """Write `data` (bytes, or a function writing into a binary file) to `path`, all or nothing.

    The temp file beside it has a name unique to this process and call (so two writers of the
    same file never share one), is synced, then renamed over `path`; the folder is synced too
    where the platform allows, so the rename survives a power cut. On any error the temp file is
    removed and the error raised as it came (an OSError for a full disk or a refused permission);
    a killed writer's temp file is removed by the next sweep of its folder. `crash_at` names the
    crash point between the write and the rename (tests). A caller writing many files into one
    folder passes sync_parent=False and calls sync_folder(folder) once after the last rename.
    """
    path = Path(path)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        # Made in memory first: a library writing a zip (docx, xlsx) that meets a full disk halfway
        # would leave its own object broken and complain at exit, past our one-line error.
        buffer = io.BytesIO()
        data(buffer)
        data = buffer.getvalue()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode != 0o600:  # mkstemp makes it 0600
                os.chmod(tmp, mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if crash_at:
            crash_point(crash_at)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_parent:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the renames done in `folder` durable (where the platform can sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows opens no folder this way; its renames are journalled by NTFS
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to sync a folder; the file itself is synced
    finally:
        os.close(fd)


def sweep_stale_temp_files(folder: Path, pattern: str) -> int:
    """Remove temp files matching `pattern` in `folder` whose writer is gone; return how many."""
    removed = 0
    try:
        candidates = list(Path(folder).glob(pattern))
    except OSError:
        return 0
    for path in candidates:
        if _is_stale(path):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass  # another run swept it first
            except OSError as error:
                log.warning("could not remove stale temp file %s: %s", path, error)
    if removed:
        log.info("removed %d temp file(s) a killed run left in %s", removed, folder)
    return removed


def _is_stale(path: Path) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_AFTER_SECONDS:
        return True
    match = _PID.search(path.name)
    if match is None:
        return False  # not named by our convention and recent: leave it alone
    pid = int(match.group(1))
    return pid != os.getpid() and not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
