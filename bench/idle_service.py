"""The idle poll as the service pays it: many polls with nothing new in one long-lived process.

    python bench/idle_service.py CONFIG HOST PORT USER REPEAT     # prints one JSON line

`hrbot run` polls with `bot.poll.poll_once` in one process, its modules imported, its source built
once and what its last poll left kept (bot.poll.Quiet). Here the same source and Quiet poll REPEAT
times after one untimed poll; each poll's wall and
CPU time is taken, and so is, alternating with it, a bare imapclient session doing the least an
idle poll must (connect, LOGIN, ID, STATUS, LOGOUT). hrbot's own CPU is the difference of the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(config: Path, host: str, port: int, user: str, repeat: int) -> dict:
    from imapclient import IMAPClient

    from bot.poll import Quiet, poll_once
    from bot.settings import load
    from bot.sources import source_for

    settings = load(config)
    source = source_for(settings)
    quiet = Quiet()

    def bare() -> None:
        client = IMAPClient(host, port, ssl=False, timeout=30)
        client._imap.debug = 0
        client.login(user, os.environ["BENCH_IMAP_PASSWORD"])
        client.id_({"name": "bench", "version": "1"})
        client.folder_status("INBOX", ("MESSAGES", "UIDNEXT", "UIDVALIDITY"))
        client.logout()

    def hrbot() -> None:
        report = poll_once(settings, source=source, quiet=quiet)
        if report.recorded:
            raise SystemExit(f"the idle poll found {len(report.recorded)} new message(s)")

    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "hrbot": []}
    bare()
    hrbot()  # untimed: the first poll of a process reads the roster when the config changed
    for _ in range(repeat):
        for name, call in (("bare", bare), ("hrbot", hrbot)):
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    out = {"repeat": repeat}
    for name, found in runs.items():
        out[f"{name}_wall_ms"] = round(statistics.median(w for w, _ in found) * 1000, 2)
        out[f"{name}_cpu_ms"] = round(statistics.median(c for _, c in found) * 1000, 2)
    out["hrbot_own_cpu_ms"] = round(out["hrbot_cpu_ms"] - out["bare_cpu_ms"], 2)
    out["modules"] = len(sys.modules)
    return out


if __name__ == "__main__":
    config, host, port, user, repeat = sys.argv[1:6]
    print(json.dumps(main(Path(config), host, int(port), user, int(repeat))))
