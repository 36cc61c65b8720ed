"""Held mail examined again: after the roster changed (by the poll itself), or with `hrbot reprocess`."""

from __future__ import annotations

import email
import json
from datetime import date

from conftest import at, deliver

from bot.cli import main
from bot.demo import build_message
from bot.poll import poll_once
from bot.settings import load
from bot.store import Store
from parsers.forms import fill_personal_report

STRANGER = "zhang.san@example.net"


def report_from(address: str, message_id: str, person: str = "刘洋", role: str = "科级干部") -> bytes:
    return build_message(address, "张三", "hr@tengfei.example", "述职报告", "请查收",
                         [(f"{person}述职报告.docx", fill_personal_report("合成车间", person, role))],
                         message_id=message_id)


def add_address(settings, name: str, address: str) -> None:
    people = settings.config_dir / "people.csv"
    lines = people.read_text(encoding="utf-8").splitlines()
    lines = [f"{line};{address}" if f",{name}," in line else line for line in lines]
    people.write_text("\n".join(lines) + "\n", encoding="utf-8")


def confirmations(settings) -> list:
    with Store.open(settings.paths.data) as store:
        return [row for row in store.outbox() if row.kind == "confirmation"]


def test_reprocess_poll_takes_a_strangers_mail_once_the_address_is_added(settings, capsys):
    deliver(settings, at("2026-12-04T09:30"), report_from(STRANGER, "<s1@example.net>"))
    assert poll_once(settings).counts() == {"unknown_sender": 1}
    assert poll_once(settings).reexamined == []  # nothing changed: nothing examined again
    add_address(settings, "刘洋", STRANGER)
    report = poll_once(settings)
    assert report.recorded == [] and [e.outcome for e in report.reexamined] == ["accepted"]
    [confirmation] = confirmations(settings)
    assert confirmation.recipients == (STRANGER,)
    mail = email.message_from_bytes(confirmation.eml)
    assert mail["In-Reply-To"] == "<s1@example.net>"
    assert poll_once(settings).reexamined == [] and len(confirmations(settings)) == 1
    main(["--config", str(settings.config_dir), "log", "--json"])
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["outcome"] == "accepted" and entry["received_at"] == "2026-12-04T09:30:00+08:00"
    assert "重新处理于" in entry["reason"] and entry["reprocessed_at"]
    main(["--config", str(settings.config_dir), "status", "--as-of", "2026-12-08", "--json"])
    row = next(r for r in json.loads(capsys.readouterr().out) if r["person"] == "刘洋" and r["item"] == "personal_report")
    assert (row["state"], row["received_at"]) == ("received", "2026-12-04T09:30:00+08:00")


def test_reprocess_command_says_gone_and_leaves_hostile_mail(config_dir, capsys):
    with open(config_dir / "settings.toml", "a", encoding="utf-8") as f:
        f.write("\n[limits]\nmessage_bytes = 200000\n")
    settings = load(config_dir)
    path = deliver(settings, at("2026-12-04T09:30"), report_from(STRANGER, "<gone@example.net>"))
    huge = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "大附件", "请查收",
                         [("大.docx", b"x" * 300_000)], message_id="<big@x>")
    deliver(settings, at("2026-12-04T10:00"), huge)
    assert poll_once(settings).counts() == {"unknown_sender": 1, "rejected": 1}
    cfg = str(settings.config_dir)
    assert main(["--config", cfg, "reprocess", "--message", "<big@x>"]) == 0
    assert "重新处理不会改变结果" in capsys.readouterr().out
    assert main(["--config", cfg, "reprocess", "--all-held"]) == 0
    assert "1 封陌生发件人的邮件未重新处理：发件地址仍不在名单中" in capsys.readouterr().out
    path.unlink()
    assert main(["--config", cfg, "reprocess", "--message", "<gone@example.net>"]) == 0
    assert "邮箱中已找不到此邮件" in capsys.readouterr().out
    main(["--config", cfg, "log", "--json"])
    gone, big = json.loads(capsys.readouterr().out)
    assert gone["outcome"] == "unknown_sender" and "邮箱中已找不到此邮件" in gone["reason"]
    assert big["outcome"] == "rejected" and "reprocessed_at" not in big
    assert main(["--config", cfg, "reprocess", "--message", "<never@x>"]) == 2


def test_resubmission_of_the_same_file_in_a_new_mail_is_answered_once(settings):
    report = fill_personal_report("合成车间", "王珺", "副职")

    def mail(message_id: str) -> bytes:
        return build_message("wangjun@tengfei.example", "王珺", "hr@tengfei.example", "述职报告", "请查收",
                             [("王珺述职报告.docx", report)], message_id=message_id)

    deliver(settings, at("2026-12-03T10:00"), mail("<first@x>"))
    deliver(settings, at("2026-12-05T10:00"), mail("<again@x>"))
    deliver(settings, at("2026-12-05T11:00"), mail("<again@x>"))  # the same mail delivered twice
    # A new mail with the same file is no duplicate delivery (its file is); the same mail again is.
    recorded = poll_once(settings).recorded
    assert [e.outcome for e in recorded] == ["accepted", "accepted", "duplicate"]
    assert [a.outcome for a in recorded[1].attachments] == ["duplicate"]
    first, again = confirmations(settings)
    text = email.message_from_bytes(again.eml).get_payload(decode=True).decode("utf-8")
    assert "此前已收到，内容完全相同，登记不变" in text and "首次收到于 2026年12月3日 10:00" in text
    assert email.message_from_bytes(again.eml)["In-Reply-To"] == "<again@x>"


def test_waiting_for_hr_sheet_and_summary_say_what_to_do(settings):
    from openpyxl import load_workbook

    from bot.reports.views import write_tracker_for
    from bot.season.roster import load_roster
    from bot.out.summary import build
    from bot.season.workdays import WorkCalendar

    people = settings.config_dir / "people.csv"
    people.write_text("".join(line for line in people.read_text(encoding="utf-8").splitlines(keepends=True)
                              if "梁红" not in line), encoding="utf-8")
    deliver(settings, at("2026-12-04T09:30"), report_from(STRANGER, "<s1@example.net>"))
    poll_once(settings)
    book = load_workbook(write_tracker_for(settings, date(2026, 12, 8)), read_only=True)
    rows = list(book["待处理"].iter_rows(values_only=True))
    assert rows[0] == ("类别", "收到时间", "涉及", "情况", "处理方法")
    stranger = next(r for r in rows if r[2] == STRANGER)
    assert stranger[0] == "待确认的邮件" and "刘洋述职报告.docx" in stranger[3]
    assert f"people.csv 此人的“邮箱”格末尾加上 ;{STRANGER}" in stranger[4]
    assert "hrbot reprocess --message <s1@example.net>" in stranger[4]
    gap = next(r for r in rows if r[2] == "设备动力科" and r[0] == "名单缺项")
    assert "没有分会主席" in gap[3] and "设备动力科,姓名,分会主席,邮箱" in gap[4]
    with Store.open(settings.paths.data) as store:
        summary = build(settings, WorkCalendar.load(settings.config_dir), load_roster(settings.config_dir), store,
                        date(2026, 12, 8), at("2026-12-07T00:00"))
    assert any(note.startswith("【待确认的邮件】12-04 09:30 zhang.san@example.net") for note in summary.attention)
    assert any(note.startswith("【名单缺项】设备动力科") for note in summary.attention)
