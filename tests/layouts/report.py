"""Recognition accuracy on the layout corpus, per family: `python -m tests.layouts.report [-v]`."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.layouts.corpus import FAMILIES, HELD, RIGHT, WRONG, cases, materialise, recognise_case, verdict


def run(verbose: bool = False) -> int:
    all_cases = cases()
    with tempfile.TemporaryDirectory(prefix="hrbot-layouts-") as tmp:
        files = materialise(all_cases, Path(tmp))
        counts = {family: {RIGHT: 0, HELD: 0, WRONG: 0, "skipped": 0} for family in FAMILIES}
        seconds = {False: 0.0, True: 0.0}  # .docx and scans / the LibreOffice-read copies
        for case in all_cases:
            if case.id not in files:
                counts[case.family]["skipped"] += 1
                continue
            start = time.perf_counter()
            result = recognise_case(case, files[case.id])
            seconds[case.convert_to in ("doc", "wps")] += time.perf_counter() - start
            outcome, said = verdict(case, result)
            counts[case.family][outcome] += 1
            if verbose or outcome == WRONG:
                print(f"{outcome:5}  {case.family:15} {case.id}: {said}")
    print()
    print("| family | documents | right | held (as expected) | wrong |")
    print("|---|---:|---:|---:|---:|")
    for family, c in counts.items():
        total = c[RIGHT] + c[HELD] + c[WRONG]
        skipped = f" ({c['skipped']} skipped: no LibreOffice)" if c["skipped"] else ""
        print(f"| {family} | {total}{skipped} | {c[RIGHT]} | {c[HELD]} | {c[WRONG]} |")
    total = sum(c[RIGHT] + c[HELD] + c[WRONG] for c in counts.values())
    wrong = sum(c[WRONG] for c in counts.values())
    legacy = sum(1 for c in all_cases if c.id in files and c.convert_to in ("doc", "wps"))
    print(f"\n{total} documents, {wrong} wrong. Recognition: {seconds[False] / max(total - legacy, 1) * 1000:.0f} ms"
          f" per .docx/PDF, {seconds[True] / max(legacy, 1):.1f} s per .doc/.wps (a LibreOffice conversion)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(run("-v" in sys.argv[1:]))
