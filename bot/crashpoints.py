"""Crash safety helpers: injected kill -9 points for the crash tests, and the sweep of what a killed run left.

`crash_point(name)` does nothing unless the environment variable HRBOT_CRASH_AT equals `name`;
then the process kills itself with SIGKILL, exactly as an OOM killer or a power cut would stop
it: no finally blocks, no atexit, no flush.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "HRBOT_CRASH_AT"
# Temp files carry the writer's pid (".<name>.<pid>.tmp", optionally ".<pid>.<random>.tmp"),
# so a later run can tell a dead writer's leftover from a live writer's file in progress.
_PID = re.compile(r"\.(\d+)\.(?:[A-Za-z0-9_]+\.)?tmp$")
# No write of ours takes an hour: older temp files are stale whatever their pid says (pid reuse).
STALE_AFTER_SECONDS = 3600


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when HRBOT_CRASH_AT names this point (tests only)."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def temp_name(final_name: str) -> str:
    """The hidden temp name a file is written under before its rename to `final_name`."""
    return f".{final_name}.{os.getpid()}.tmp"


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
