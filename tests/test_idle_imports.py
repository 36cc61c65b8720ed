"""What a poll with nothing new may import: the one list of the packages an idle poll must not load.

Modules import what they use at the top; only these are imported where they are needed, because
a poll that finds no new mail (every few minutes, all season) has no use for them. A one-off
`hrbot poll --once` process must stay within 100 ms of a bare IMAP client's (bench/README.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import at, deliver

from bot.demo import build_message

ROOT = Path(__file__).resolve().parents[1]

# Heavy third-party packages, each needed only by some commands or some documents.
HEAVY = ("openpyxl", "xlsxwriter", "jinja2", "opencc", "docx", "chinese_calendar", "exchangelib", "pandas",
         "pypdf", "lxml", "extract_msg", "tnefparse", "olefile")
# hrbot's own intake and document readers: imported by the poll at the first new message.
INTAKE = ("bot.intake.pipeline", "parsers.recognise", "bot.reprocess")

_CODE = """
import sys
from bot.cli import main
code = main(["--config", sys.argv[1], "poll", "--once"])
print(" ".join(sorted(sys.modules)))
sys.exit(code)
"""


def _poll_modules(config_dir: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _CODE, str(config_dir)], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    return set(done.stdout.split("\n")[-2].split())


def _top(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


def test_idle_poll_imports_no_heavy_package_nor_the_intake(settings):
    deliver(settings, at("2026-12-04T09:00"), build_message(
        "lijianguo@tengfei.example", "李建国", settings.hr.address, "你好", "周五开会。", (), "utf8"))
    first = _poll_modules(settings.config_dir)  # a new message: the intake and what it reads are imported
    assert "bot.intake.pipeline" in first and "opencc" in first
    idle = _poll_modules(settings.config_dir)
    assert _top(idle, HEAVY) == []
    assert _top(idle, INTAKE) == []
