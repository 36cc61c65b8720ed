"""Running one measured process: wall time and its own peak RSS (wait4), output kept in files."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

READERS = Path(__file__).resolve().parent / "readers"
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None  # GNU time, for peak RSS


@dataclass
class Run:
    name: str
    wall_s: float
    max_rss_mb: float
    exit_code: int
    stdout: str
    stderr: str

    def to_json(self) -> dict:
        return {"wall_s": round(self.wall_s, 4), "max_rss_mb": round(self.max_rss_mb, 1), "exit_code": self.exit_code}


def hrbot_command() -> list[str]:
    """The `hrbot` of this interpreter's environment; `python -m bot.cli` where it is not installed."""
    script = Path(sys.executable).parent / "hrbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def reader_command(name: str) -> list[str]:
    return [sys.executable, str(READERS / f"{name}.py")]


def run(name: str, argv: list[str], env: dict, logs: Path, cwd: Path | None = None) -> Run:
    """Start argv, wait for it, and time it; its peak RSS from GNU time where installed, else from wait4.

    wait4 alone would do but for a Linux detail: a child's ru_maxrss starts at its parent's peak RSS
    (exec records the high-water mark of the memory it replaces), so a small process measured from a
    bigger parent reads too high. GNU time is a small parent.
    """
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path, rss_path = logs / f"{name}.out", logs / f"{name}.err", logs / f"{name}.rss"
    if TIME is not None:
        argv = [TIME, "-f", "%M", "-o", str(rss_path), *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        # A process group of its own, so that stopping it reaches the child GNU time runs, and nothing else.
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM: never leave it behind
            _kill(proc)
            raise
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    # Both report kilobytes; GNU time's last line is %M (before it: "Command exited with non-zero status").
    rss_kb = usage.ru_maxrss
    if TIME is not None and rss_path.exists():
        lines = rss_path.read_text().split()
        rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else rss_kb
    return Run(name, wall, rss_kb / 1024, proc.returncode,
               out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


def _kill(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            os.waitpid(proc.pid, 0) if wait is None else _wait(proc.pid, wait)
            return
        except (ChildProcessError, TimeoutError):
            continue


def _wait(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.05)
    raise TimeoutError


def median_run(runs: list[Run]) -> Run:
    """The run with the median wall time (of an odd count; the lower middle of an even one)."""
    ordered = sorted(runs, key=lambda r: r.wall_s)
    return ordered[(len(ordered) - 1) // 2]


def spread(runs: list[Run]) -> dict:
    walls = [r.wall_s for r in runs]
    return {"runs": len(walls), "min_s": round(min(walls), 4), "median_s": round(statistics.median(walls), 4),
            "max_s": round(max(walls), 4)}
