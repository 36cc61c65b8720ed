"""hrbot's own work on each submission, in one process, against python-docx just opening the same .docx files.

    python bench/per_submission.py CONFIG MAILDIR     # prints one JSON line

A copy of CONFIG (its data, outbox and tracker folders left out) is the season; every message of
MAILDIR (dovecot's cur/, the bench's inbox) that hrbot would download (a roster sender: triage)
goes through the intake (`bot.intake.pipeline.process`: decode, checks, recognise, record,
confirmation composed) and is timed, wall and CPU. Then each .docx that hrbot accepted and saved
is opened with `docx.Document`, timed the same way. The ratio is hrbot's total over python-docx's
total on the same submissions. The first message is processed untimed (imports, first reads).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(config: Path, maildir: Path) -> dict:
    import docx

    from bot.intake.job import Context
    from bot.intake.limits import header_block
    from bot.intake.pipeline import process
    from bot.intake.triage import body_wanted
    from bot.poll import SeasonFiles
    from bot.records import ACCEPTED, RawMessage
    from bot.settings import load
    from bot.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="hrbot-per-submission-"))
    try:
        copy = tmp / "config"
        shutil.copytree(config, copy, ignore=shutil.ignore_patterns("data", "outbox", "tracker"))
        settings = load(copy)
        season = SeasonFiles(copy)
        entries = sorted(os.scandir(maildir), key=lambda e: e.name)
        hrbot_wall = hrbot_cpu = 0.0
        files: list[bytes] = []
        submissions = 0
        with Store.open(settings.paths.data) as store:
            ctx = Context(settings=settings, roster=season.roster, store=store, calendar=season.calendar,
                          adjustments=season.adjustments)
            warmed = False
            for entry in entries:
                data = Path(entry.path).read_bytes()
                if not body_wanted(header_block(data), season.roster, settings.hr.address):
                    continue
                arrived = datetime.fromtimestamp(entry.stat().st_mtime, tz=timezone.utc)  # dovecot's INTERNALDATE
                raw = RawMessage(source_key="bench:" + entry.name, data=data, received_at=arrived)
                wall, cpu = time.perf_counter(), time.process_time()
                log = process(raw, ctx)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if not warmed:
                    warmed = True
                    continue
                saved = [a.saved_as for a in (log.attachments if log else ())
                         if a.outcome == ACCEPTED and a.saved_as and (a.filename or "").lower().endswith(".docx")]
                if not saved:
                    continue  # a meeting request in the mail text, a reply: no .docx to compare with
                submissions += 1
                hrbot_wall += wall
                hrbot_cpu += cpu
                files += [(settings.paths.data / name).read_bytes() for name in saved]
        docx_wall = docx_cpu = 0.0
        docx.Document(io.BytesIO(files[0]))  # python-docx's own first use, untimed as hrbot's was
        for data in files:
            wall, cpu = time.perf_counter(), time.process_time()
            docx.Document(io.BytesIO(data))
            docx_wall += time.perf_counter() - wall
            docx_cpu += time.process_time() - cpu
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    per = max(submissions, 1)
    return {"submissions": submissions, "docx": len(files),
            "hrbot_ms": round(hrbot_wall / per * 1000, 2), "hrbot_cpu_ms": round(hrbot_cpu / per * 1000, 2),
            "docx_open_ms": round(docx_wall / per * 1000, 2), "docx_open_cpu_ms": round(docx_cpu / per * 1000, 2),
            "ratio": round(hrbot_wall / docx_wall, 3) if docx_wall else None,
            "ratio_cpu": round(hrbot_cpu / docx_cpu, 3) if docx_cpu else None}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
