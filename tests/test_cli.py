"""The `hrbot` command as users run it: exit codes, one-line errors, JSON shapes, help, the demo."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time

import pytest
from openpyxl import load_workbook

from bot.cli import EXAMPLES, build_parser, main


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_every_command_has_help_with_an_example():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == set(EXAMPLES)
    for name, sub in commands.items():
        assert sub.description and "example: hrbot" in sub.format_help(), name


def test_calendar_due_json_matches_the_contract(config_dir, capsys):
    assert main(["--config", str(config_dir), "calendar", "due", "--meeting", "2026-12-10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "meeting": "2026-12-10", "reports_due": "2026-12-07", "reviews_due": "2026-12-15", "provisional": False}


def test_config_option_after_the_command_is_honoured(config_dir, capsys):
    assert main(["calendar", "due", "--meeting", "2026-10-09", "--json", "--config", str(config_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["reports_due"] == "2026-09-29"


@pytest.mark.parametrize("file, edit, expected", [
    ("people.csv", lambda t: t.replace("副职", "副主任", 1), "people.csv"),
    ("units.csv", lambda t: t.replace("2026-12-10", "2026-13-40"), "units.csv"),
    ("people.csv", lambda t: t.replace("zhanghaiyan@", "lijianguo@"), "people.csv"),
    ("people.csv", lambda t: t.replace("单位,姓名,角色,邮箱", "单位,姓名,邮箱"), "people.csv"),
    ("settings.toml", lambda t: t.replace("year = 2026", "year = 2026 2027"), "settings.toml"),
])
def test_config_mistake_exits_2_with_one_line_naming_the_file(config_dir, file, edit, expected):
    path = config_dir / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    result = run("--config", config_dir, "status")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_bad_usage_exits_2(config_dir):
    result = run("--config", config_dir, "calendar", "due", "--meeting", "12月10日")
    assert result.returncode == 2


def test_status_and_log_json_shapes(settings, capsys):
    from conftest import at, deliver

    from bot.demo import build_message
    from parsers.forms import fill_personal_report

    raw = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "述职报告", "请查收",
                        [("王珺述职报告.docx", fill_personal_report("合成车间", "王珺", "副职"))],
                        message_id="<a@b.example>")
    deliver(settings, at("2026-12-04T16:00"), raw)
    cfg = str(settings.config_dir)
    assert main(["--config", cfg, "poll", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", cfg, "status", "--as-of", "2026-12-08", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["person"] == "王珺" and r["item"] == "personal_report")
    assert row == {"unit": "合成车间", "item": "personal_report", "person": "王珺", "due": "2026-12-07",
                   "provisional": False, "state": "received", "received_at": "2026-12-04T16:00:00+08:00",
                   "late_workdays": 0, "versions": 1, "warnings": [], "adjustment": None}
    assert main(["--config", cfg, "log", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry == {"message_id": "<a@b.example>", "from": "lijianguo@tengfei.example",
                     "received_at": "2026-12-04T16:00:00+08:00", "outcome": "accepted", "reason": "",
                     "attachments": [{"filename": "王珺述职报告.docx", "item": "personal_report", "unit": "合成车间",
                                      "person": "王珺", "outcome": "accepted", "reason": ""}]}


def test_forms_command_writes_four_forms(tmp_path, capsys):
    assert main(["forms", "--dir", str(tmp_path / "forms")]) == 0
    written = sorted(p.name for p in (tmp_path / "forms").glob("*.docx"))
    assert len(written) == 4 and all(name.startswith("附件") for name in written)


def test_demo_runs_quickly_and_its_tracker_opens(tmp_path):
    started = time.monotonic()
    result = run("demo", "--dir", tmp_path / "demo")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 30
    tracker = next((tmp_path / "demo" / "config" / "tracker").glob("*.xlsx"))
    assert str(tracker) in result.stdout
    book = load_workbook(tracker)
    assert book.sheetnames == ["总览", "明细", "邮件日志", "发信问题", "待处理", "测评"]
    # Two units' tallies came in by mail; one meeting missed its quorum; the results are where the demo says.
    results = next((tmp_path / "demo" / "config" / "data" / "results").glob("*.xlsx"))
    assert str(results) in result.stdout and stat.S_IMODE(results.stat().st_mode) == 0o600
    figures = json.loads(run("--config", tmp_path / "demo" / "config", "results", "--json").stdout)
    quorum = {u["unit"]: u["quorum_met"] for u in figures["units"]}
    assert quorum == {"合成车间": True, "聚合车间": False, "生产技术科": None, "设备动力科": None}
    assert any(c["composite"] is not None and c["rank_in_system"] == 1 for c in figures["cadres"])
    held = next(row for row in book["待处理"].iter_rows(values_only=True) if row[2] == "zhang.san@example.net")
    assert "末尾加上 ;zhang.san@example.net" in held[4] and "待处理" in result.stdout
    log = json.loads(run("--config", tmp_path / "demo" / "config", "log", "--json").stdout)
    outcomes = {e["outcome"] for e in log}
    assert {"accepted", "duplicate", "auto_reply", "bounce", "unknown_sender", "no_documents"} <= outcomes
    assert len(log) >= 15
    confirmations = list((tmp_path / "demo" / "config" / "outbox").glob("*.eml"))
    assert len(confirmations) == sum(e["outcome"] == "accepted" for e in log)


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    result = run("demo", "--dir", tmp_path)
    assert result.returncode == 2 and (tmp_path / "mine.txt").exists()
