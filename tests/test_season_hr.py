"""A season with HR in the loop, against the real dovecot: held mail comes back, adjustments move states."""

from __future__ import annotations

import email
import json
from datetime import date

from conftest import at, use_imap

from bot.cli import main
from bot.demo import build_message
from bot.poll import poll_once
from bot.out.reminders import remind
from bot.settings import load
from bot.store import Store
from parsers.forms import fill_personal_report, fill_review

HR = "hr@tengfei.example"
STRANGER = "zhang.san@example.net"


def imap_config(config_dir, dovecot, monkeypatch):
    use_imap(config_dir, dovecot, monkeypatch)
    people = config_dir / "people.csv"
    # 设备动力科 has no head this season (yet): a gap, not a reason to stop.
    people.write_text("".join(line for line in people.read_text(encoding="utf-8").splitlines(keepends=True)
                              if "高建华" not in line), encoding="utf-8")
    return load(config_dir)


def mail(sender: str, name: str, message_id: str, filename: str, data: bytes) -> bytes:
    return build_message(sender, name, HR, "考核材料", "请查收。", [(filename, data)], message_id=message_id)


def hrbot(config_dir, capsys, *args) -> str:
    assert main(["--config", str(config_dir), *args]) == 0
    return capsys.readouterr().out


def states(config_dir, capsys, as_of: str) -> dict:
    rows = json.loads(hrbot(config_dir, capsys, "status", "--as-of", as_of, "--json"))
    return {(r["unit"], r["item"], r["person"]): r for r in rows}


def test_season_hr_corrects_and_held_mail_comes_back(config_dir, dovecot, monkeypatch, capsys):
    settings = imap_config(config_dir, dovecot, monkeypatch)
    dovecot.append(mail(STRANGER, "张三", "<stranger@example.net>", "刘洋述职报告.docx",
                        fill_personal_report("合成车间", "刘洋", "科级干部")), at("2026-12-03T10:00"))
    dovecot.append(mail("lijianguo@tengfei.example", "李建国", "<review@tengfei.example>", "评议表.docx",
                        fill_review("合成车间", "王珺", "副职", "李建国", "主要领导")), at("2026-12-04T09:00"))
    dovecot.append(mail("xuming@tengfei.example", "徐明", "<xuming@tengfei.example>", "徐明述职报告.docx",
                        fill_personal_report("设备动力科", "徐明", "副职")), at("2026-12-04T11:00"))

    # A unit without a head still has every other unit's mail recorded, and its own.
    assert [e.outcome for e in poll_once(settings).recorded] == ["unknown_sender", "accepted", "accepted"]
    assert "设备动力科在名单中没有主要领导" in hrbot(config_dir, capsys, "check")

    # HR adds the private address as 刘洋's second one: the next poll examines the held mail again.
    people = config_dir / "people.csv"
    people.write_text(people.read_text(encoding="utf-8") + f"合成车间,刘洋,科级干部,{STRANGER}\n", encoding="utf-8")
    report = poll_once(settings)
    assert report.recorded == [] and [e.outcome for e in report.reexamined] == ["accepted"]
    assert poll_once(settings).reexamined == []
    with Store.open(settings.paths.data) as store:
        answers = [row for row in store.outbox() if row.kind == "confirmation"]
    assert [row.recipients for row in answers] == [("lijianguo@tengfei.example",), ("xuming@tengfei.example",),
                                                   (STRANGER,)]
    assert email.message_from_bytes(answers[-1].eml)["In-Reply-To"] == "<stranger@example.net>"
    log = json.loads(hrbot(config_dir, capsys, "log", "--json"))
    assert len(log) == 3 and log[0]["received_at"] == "2026-12-03T10:00:00+08:00" and "reprocessed_at" in log[0]
    before = states(config_dir, capsys, "2026-12-09")
    assert before["合成车间", "personal_report", "刘洋"]["received_at"] == "2026-12-03T10:00:00+08:00"
    assert before["合成车间", "personal_report", "刘洋"]["state"] == "received"
    assert before["合成车间", "leader_review", "王珺"]["state"] == "received"
    assert before["聚合车间", "team_report", None]["state"] == "overdue"
    assert before["合成车间", "team_report", None]["state"] == "overdue"

    # The review was 张海燕's, not 王珺's; a paper submission; an exemption; an extension.
    hrbot(config_dir, capsys, "adjust", "assign", "--unit", "合成车间", "--item", "leader_review",
          "--person", "张海燕", "--message", "<review@tengfei.example>")
    hrbot(config_dir, capsys, "adjust", "received", "--unit", "聚合车间", "--item", "班子述职报告",
          "--date", "2026-12-08", "--note", "纸质版")
    hrbot(config_dir, capsys, "adjust", "exempt", "--unit", "聚合车间", "--item", "个人述职报告",
          "--person", "吴国庆", "--note", "病休")
    out = hrbot(config_dir, capsys, "adjust", "extend", "--unit", "合成车间", "--item", "team_report",
                "--date", "2026-12-18", "--note", "考核组同意")
    assert "合成车间 班子述职报告" in out
    after = states(config_dir, capsys, "2026-12-09")
    withdrawn = after["合成车间", "leader_review", "王珺"]
    assert withdrawn["state"] == "pending" and "已改归 合成车间 张海燕" in withdrawn["adjustment"]["note"]
    moved = after["合成车间", "leader_review", "张海燕"]
    assert (moved["state"], moved["received_at"]) == ("received", "2026-12-04T09:00:00+08:00")
    assert moved["adjustment"]["action"] == "归属"
    assert after["聚合车间", "team_report", None]["state"] == "received"
    assert after["聚合车间", "personal_report", "吴国庆"]["state"] == "exempt"
    extended = after["合成车间", "team_report", None]
    assert (extended["due"], extended["state"], extended["late_workdays"]) == ("2026-12-18", "pending", 0)

    # Reminders: none for the exempt, the extended or the received; the headless unit's go to HR.
    remind(settings, date(2026, 12, 9))
    with Store.open(settings.paths.data) as store:
        sent = store.reminders_sent()
    covered = {(recipient, tuple(c)) for _, recipient, covers in sent for c in covers}
    assert not any(c[:3] in (("聚合车间", "personal_report", "吴国庆"), ("合成车间", "team_report", None),
                             ("聚合车间", "team_report", None)) for _, c in covered)
    assert ("zhaozhigang@tengfei.example", ("聚合车间", "personal_report", "周伟")) in covered
    assert any(recipient == HR and c[0] == "设备动力科" for recipient, c in covered)
