"""HR's adjustments: the file checked row by row, their effect on the states, and `hrbot adjust`."""

from __future__ import annotations

import codecs
import json
from datetime import date

import pytest
from conftest import at, deliver, set_option

from bot.season.adjustments import load
from bot.cli import main
from bot.demo import build_message
from bot.errors import ConfigError
from bot.poll import poll_once
from bot.reports.views import status_rows
from bot.season.roster import load_roster
from parsers.forms import fill_review

HEADER = "单位,材料,人员,处理,日期,说明"


def write(settings, *rows: str, encoding: str = "utf-8-sig") -> None:
    (settings.config_dir / "adjustments.csv").write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))


def row_of(rows, unit, item, person=None):
    return next(r for r in rows if (r.unit, r.item, r.person) == (unit, item, person))


@pytest.mark.parametrize("line, fragment", [
    ("合成车问,个人述职报告,王珺,免交,,", "单位“合成车问”不在名单中"),
    ("合成车间,述职报告,王珺,免交,,", "材料“述职报告”无效"),
    ("合成车间,个人述职报告,王五,免交,,", "合成车间名单中没有“王五”"),
    ("合成车间,班子述职报告,王珺,免交,,", "“人员”应留空"),
    ("合成车间,个人述职报告,王珺,补交,,", "处理“补交”无效"),
    ("合成车间,个人述职报告,王珺,已收到,,纸质", "日期为空"),
    ("合成车间,个人述职报告,王珺,延期,12月18,", "日期“12月18”无效"),
    ("合成车间,个人述职报告,,已收到,2026-12-05,", "请在“人员”中填写"),
    ("合成车间,民主评议考核表（领导评价意见）,王珺,归属,,是王珺的", "Message-ID"),
])
def test_adjustments_malformed_row_names_file_and_row(settings, line, fragment):
    write(settings, "合成车间,个人述职报告,刘洋,免交,,病休", line)
    with pytest.raises(ConfigError) as caught:
        load(settings.config_dir, load_roster(settings.config_dir))
    assert "adjustments.csv 第 3 行: " in str(caught.value) and fragment in str(caught.value)


def test_adjustments_gbk_file_and_json_names_read(settings):
    write(settings, "合成车间,personal_report,刘洋,免交,,病休", "聚合车间,班子述职报告,,延期,2026/12/18,", encoding="gbk")
    adjustments = load(settings.config_dir, load_roster(settings.config_dir))
    assert [(a.item, a.action, a.day) for a in adjustments] == [
        ("personal_report", "免交", None), ("team_report", "延期", date(2026, 12, 18))]


def test_adjustments_change_states_at_once(settings):
    raw = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "评议表", "请查收",
                        [("评议表.docx", fill_review("合成车间", "王珺", "副职", "李建国", "主要领导"))],
                        message_id="<review@tengfei.example>")
    deliver(settings, at("2026-12-14T09:00"), raw)
    poll_once(settings)
    as_of = date(2026, 12, 17)
    before = status_rows(settings, as_of)
    assert row_of(before, "合成车间", "leader_review", "王珺").state == "received"
    assert row_of(before, "合成车间", "personal_report", "刘洋").state == "overdue"
    write(settings,
          "合成车间,个人述职报告,刘洋,免交,,病休",
          "合成车间,个人述职报告,王珺,已收到,2026-12-08,纸质版",
          "聚合车间,班子述职报告,,延期,2026-12-18,考核组同意",
          "合成车间,民主评议考核表（领导评价意见）,张海燕,归属,,<review@tengfei.example> 其实是张海燕的")
    rows = status_rows(settings, as_of)
    exempt = row_of(rows, "合成车间", "personal_report", "刘洋")
    assert (exempt.state, exempt.late_workdays) == ("exempt", 0)
    assert exempt.to_json()["adjustment"] == {"action": "免交", "note": "病休"}
    paper = row_of(rows, "合成车间", "personal_report", "王珺")
    assert (paper.state, paper.late_workdays, paper.received_at.isoformat()) == ("late", 1, "2026-12-08T00:00:00+08:00")
    extended = row_of(rows, "聚合车间", "team_report")
    assert (extended.due, extended.state) == (date(2026, 12, 18), "pending")
    assert row_of(rows, "合成车间", "leader_review", "王珺").state == "overdue"
    moved = row_of(rows, "合成车间", "leader_review", "张海燕")
    assert (moved.state, moved.received_at.isoformat()) == ("received", "2026-12-14T09:00:00+08:00")


def test_adjust_command_appends_keeping_the_encoding_and_prints_the_change(settings, capsys):
    write(settings, "合成车间,个人述职报告,刘洋,免交,,病休", encoding="gbk")
    cfg = str(settings.config_dir)
    assert main(["--config", cfg, "adjust", "extend", "--unit", "聚合车间", "--item", "班子述职报告",
                 "--date", "2099-12-31", "--note", "考核组同意"]) == 0
    out = capsys.readouterr().out
    assert "聚合车间 班子述职报告：" in out and "→ 待提交（截止 2099-12-31）" in out
    raw = (settings.config_dir / "adjustments.csv").read_bytes()
    assert not raw.startswith(codecs.BOM_UTF8)
    assert raw.decode("gbk").endswith("聚合车间,班子述职报告,,延期,2099-12-31,考核组同意\r\n")
    assert main(["--config", cfg, "adjust", "exempt", "--unit", "合成车间", "--item", "个人述职报告",
                 "--person", "王五"]) == 2
    assert "合成车间名单中没有“王五”" in capsys.readouterr().err
    assert main(["--config", cfg, "adjust", "assign", "--unit", "合成车间", "--item", "personal_report",
                 "--person", "王珺", "--message", "<nothing@here>"]) == 2
    assert main(["--config", cfg, "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert next(r for r in rows if r["unit"] == "聚合车间" and r["item"] == "team_report")["due"] == "2099-12-31"


def test_adjust_command_creates_an_excel_friendly_file(settings, capsys):
    assert main(["--config", str(settings.config_dir), "adjust", "received", "--unit", "合成车间", "--item",
                 "personal_report", "--person", "王珺", "--date", "2026-12-01", "--note", "U盘"]) == 0
    raw = (settings.config_dir / "adjustments.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    assert raw.decode("utf-8-sig") == f"{HEADER}\r\n合成车间,个人述职报告,王珺,已收到,2026-12-01,U盘\r\n"
    assert "已按时提交" in capsys.readouterr().out


def test_adjustments_assign_a_held_document(settings):
    from bot.records import AttachmentLog, LogEntry, RawMessage, Recorded
    from bot.reports.views import kept_aside_mail, log_entries, waiting_for_hr
    from bot.store import Store

    held = AttachmentLog("评议表.docx", "ignored", "待人力资源科确认：无法确定评议对象", item="leader_review",
                         unit="合成车间", person=None, sha256="ab" * 32, saved_as="files/ab/x", held=True)
    entry = LogEntry("<held@x>", "lijianguo@tengfei.example", at("2026-12-14T09:00"), "no_documents",
                     attachments=[held])
    with Store.open(settings.paths.data) as store:
        store.record(Recorded(RawMessage("maildir:held", b"", at("2026-12-14T09:00")), entry, "h", [], []))
    roster = load_roster(settings.config_dir)

    def waiting():
        rows = status_rows(settings, date(2026, 12, 15), roster)
        return waiting_for_hr(settings, roster, rows, log_entries(settings), kept_aside_mail(settings))

    [todo] = [t for t in waiting() if t.kind == "待确认归属的文件"]
    assert "合成车间,民主评议考核表（领导评价意见）,人员,归属,,<held@x>" in todo.fix
    write(settings, "合成车间,民主评议考核表（领导评价意见）,王珺,归属,,<held@x>")
    row = row_of(status_rows(settings, date(2026, 12, 15), roster), "合成车间", "leader_review", "王珺")
    assert (row.state, row.received_at.isoformat()) == ("received", "2026-12-14T09:00:00+08:00")
    assert not [t for t in waiting() if t.kind == "待确认归属的文件"]


def test_adjustments_held_file_of_a_mail_without_message_id_is_assigned_by_its_reference(settings, capsys):
    """A mail without Message-ID is named by the reference hrbot makes from its row: 待处理's fix, the 归属 row,
    `hrbot log` and `hrbot reprocess --message` all take it."""
    from bot.records import AttachmentLog, LogEntry, RawMessage, Recorded
    from bot.reports.views import kept_aside_mail, log_entries, waiting_for_hr
    from bot.store import Store

    held = AttachmentLog("评议表.docx", "ignored", "待人力资源科确认：无法确定评议对象", item="leader_review",
                         unit="合成车间", person=None, sha256="ab" * 32, saved_as="files/ab/x", held=True)
    for key in ("maildir:first", "maildir:nomid"):
        entry = LogEntry(None, "lijianguo@tengfei.example", at("2026-12-14T09:00"), "no_documents",
                         attachments=[held])
        with Store.open(settings.paths.data) as store:
            store.record(Recorded(RawMessage(key, b"", at("2026-12-14T09:00")), entry, key, [], []))
    roster = load_roster(settings.config_dir)

    def waiting():
        rows = status_rows(settings, date(2026, 12, 15), roster)
        return [t for t in waiting_for_hr(settings, roster, rows, log_entries(settings), kept_aside_mail(settings))
                if t.kind == "待确认归属的文件"]

    first, second = waiting()
    ref = "<no-message-id.2@hrbot>"
    assert f"合成车间,民主评议考核表（领导评价意见）,人员,归属,,{ref}" in second.fix and ref not in first.fix
    cfg = str(settings.config_dir)
    assert main(["--config", cfg, "adjust", "assign", "--unit", "合成车间", "--item", "leader_review",
                 "--person", "王珺", "--message", ref]) == 0
    [left] = waiting()
    assert left.fix == first.fix  # the other mail still waits, with its own reference
    row = row_of(status_rows(settings, date(2026, 12, 15), roster), "合成车间", "leader_review", "王珺")
    assert (row.state, row.received_at.isoformat()) == ("received", "2026-12-14T09:00:00+08:00")
    capsys.readouterr()
    assert main(["--config", cfg, "log", "--json"]) == 0
    logged = json.loads(capsys.readouterr().out)
    assert [e["message_id"] for e in logged] == [None, None]  # the log still says there is none
    assert "assigned" not in logged[0] and logged[1]["assigned"][0]["person"] == "王珺"
    assert main(["--config", cfg, "reprocess", "--message", ref]) == 0
    assert "没有收到过" not in capsys.readouterr().out


def test_adjustments_assign_shows_in_the_mail_log(settings, capsys):
    """`hrbot log` says where HR attributed a held message's file; the JSON adds `assigned`."""
    from bot.records import AttachmentLog, LogEntry, RawMessage, Recorded
    from bot.store import Store

    held = AttachmentLog("评议表.docx", "ignored", "待人力资源科确认：无法确定评议对象", item="leader_review",
                         unit="合成车间", person=None, sha256="ab" * 32, saved_as="files/ab/x", held=True)
    for mid in ("<held@x>", "<other@x>"):
        entry = LogEntry(mid, "lijianguo@tengfei.example", at("2026-12-14T09:00"), "no_documents", attachments=[held])
        with Store.open(settings.paths.data) as store:
            store.record(Recorded(RawMessage(f"maildir:{mid}", b"", at("2026-12-14T09:00")), entry, mid, [], []))
    write(settings, "合成车间,民主评议考核表（领导评价意见）,王珺,归属,,<held@x>")
    cfg = str(settings.config_dir)
    assert main(["--config", cfg, "log", "--json"]) == 0
    held_entry, other = json.loads(capsys.readouterr().out)
    assert held_entry["assigned"] == [{"unit": "合成车间", "item": "leader_review", "person": "王珺", "row": 2}]
    assert "assigned" not in other
    assert main(["--config", cfg, "log"]) == 0
    out = capsys.readouterr().out
    assert out.count("人力资源科已归属") == 1
    assert "→ 人力资源科已归属：合成车间 民主评议考核表（领导评价意见） 王珺（调整表第 2 行）" in out


def test_adjustments_assign_settles_held_files_and_keeps_what_the_mail_had_right(settings):
    """One mail: 王珺's report recognised, two nameless reports held. Two 归属 rows give the held files
    to two people; 王珺's report stays hers, and neither row undoes the other."""
    from bot.records import AttachmentLog, Document, LogEntry, RawMessage, Recorded
    from bot.reports.views import kept_aside_mail, log_entries, waiting_for_hr
    from bot.store import Store

    when = at("2026-12-04T09:00")
    right = AttachmentLog("王珺述职报告.docx", "accepted", item="personal_report", unit="合成车间", person="王珺",
                          sha256="aa" * 32)
    nameless = [AttachmentLog(f"述职报告{n}.docx", "ignored", "待人力资源科确认：未能确定这是谁的述职报告",
                              item="personal_report", unit="合成车间", sha256=f"{n}b" * 32, saved_as=f"files/{n}",
                              held=True) for n in (1, 2)]
    entry = LogEntry("<three@x>", "lijianguo@tengfei.example", when, "accepted", attachments=[right, *nameless])
    document = Document("personal_report", "合成车间", "王珺")
    with Store.open(settings.paths.data) as store:
        store.record(Recorded(RawMessage("maildir:three", b"", when), entry, "h3", [(document, right)], []))
    roster = load_roster(settings.config_dir)
    as_of = date(2026, 12, 8)

    def states():
        rows = status_rows(settings, as_of, roster)
        return {p: row_of(rows, "合成车间", "personal_report", p).state for p in ("王珺", "刘洋", "李建国")}, rows

    before, rows = states()
    assert before == {"王珺": "received", "刘洋": "overdue", "李建国": "overdue"}
    assert row_of(rows, "合成车间", "personal_report", "刘洋").held  # not reminded while HR decides
    write(settings, "合成车间,个人述职报告,刘洋,归属,,<three@x>")
    after, rows = states()
    assert after == {"王珺": "received", "刘洋": "received", "李建国": "overdue"}
    assert row_of(rows, "合成车间", "personal_report", "李建国").held  # one held file is still undecided
    waiting = waiting_for_hr(settings, roster, rows, log_entries(settings), kept_aside_mail(settings))
    assert [t.what for t in waiting if t.kind == "待确认归属的文件"] == [
        "「无主题」中的“述职报告2.docx”：待人力资源科确认：未能确定这是谁的述职报告"]
    write(settings, "合成车间,个人述职报告,刘洋,归属,,<three@x>", "合成车间,个人述职报告,李建国,归属,,<three@x>")
    final, rows = states()
    assert final == {"王珺": "received", "刘洋": "received", "李建国": "received"}
    assert not any(r.held for r in rows)
    waiting = waiting_for_hr(settings, roster, rows, log_entries(settings), kept_aside_mail(settings))
    assert not [t for t in waiting if t.kind == "待确认归属的文件"]


def test_adjust_does_not_wait_for_the_running_service(settings, capsys):
    """HR corrects while another process (`hrbot run`) holds the writer lock: adjust only appends a row."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom bot.lock import WriterLock\nfrom bot.settings import load\n"
         "with WriterLock(load(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(60)",
         str(settings.config_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        set_option(settings, "service", "lock_wait_seconds = 0")
        assert main(["--config", str(settings.config_dir), "adjust", "exempt", "--unit", "合成车间",
                     "--item", "个人述职报告", "--person", "刘洋", "--note", "病休"]) == 0
        assert main(["--config", str(settings.config_dir), "remind", "--as-of", "2026-12-17"]) == 1  # a writer waits
    finally:
        holder.kill()
        holder.wait()
    assert "合成车间,个人述职报告,刘洋,免交,,病休" in (settings.config_dir / "adjustments.csv").read_text("utf-8-sig")


def test_adjustments_extension_is_what_the_confirmation_says(settings):
    import email as email_module

    from bot.store import Store
    from parsers.forms import fill_personal_report

    write(settings, "合成车间,个人述职报告,王珺,延期,2026-12-18,出差")
    raw = build_message("wangjun@tengfei.example", "王珺", "hr@tengfei.example", "述职报告", "请查收",
                        [("王珺述职报告.docx", fill_personal_report("合成车间", "王珺", "副职"))], message_id="<late@x>")
    deliver(settings, at("2026-12-10T09:00"), raw)  # after the computed 12-07, before the extended 12-18
    assert poll_once(settings).counts() == {"accepted": 1}
    with Store.open(settings.paths.data) as store:
        [confirmation] = store.outbox()
    text = email_module.message_from_bytes(confirmation.eml).get_payload(decode=True).decode("utf-8")
    assert "按时收到" in text and "2026年12月18日" in text


def test_adjustments_malformed_row_stops_the_poll_like_the_roster(settings):
    write(settings, "合成车间,个人述职报告,王珺,延期,明天,")
    with pytest.raises(ConfigError):
        poll_once(settings)


def test_check_lists_roster_gaps_and_checks_the_adjustments(settings, capsys):
    people = settings.config_dir / "people.csv"
    people.write_text("".join(line for line in people.read_text(encoding="utf-8").splitlines(keepends=True)
                              if "高建华" not in line), encoding="utf-8")
    write(settings, "合成车间,个人述职报告,刘洋,免交,,病休")
    assert main(["--config", str(settings.config_dir), "check"]) == 0
    out = capsys.readouterr().out
    assert "名单缺项（不影响收取）：设备动力科在名单中没有主要领导" in out and "调整表：1 行无误" in out
    write(settings, "合成车间,个人述职报告,刘洋,免除,,病休")
    assert main(["--config", str(settings.config_dir), "check"]) == 2
    assert "adjustments.csv 第 2 行: 处理“免除”无效" in capsys.readouterr().err
