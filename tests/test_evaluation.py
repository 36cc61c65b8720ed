"""The evaluation: ballots, tally sheets, returned tallies (mail through dovecot, or the tallies/ folder) and results."""

from __future__ import annotations

import email
import io
import json
import stat
from datetime import date
from email import policy

import pytest
from docx import Document as read_docx
from openpyxl import Workbook, load_workbook

from conftest import at, use_imap

from bot.cli import main
from bot.demo import build_message
from bot.evaluation.ballots import write_ballots
from bot.evaluation.sheets import fill_tally, write_tally_sheets
from bot.poll import poll_once
from bot.records import CADRE_LEVELS, Roster
from bot.season.items import BALLOT_TALLY
from bot.reports.views import status_rows
from bot.season.roster import load_roster
from bot.settings import load
from bot.store import Store
from bot.out.summary import send_summary

PEOPLE_WITH_SYSTEMS = """单位,姓名,角色,邮箱,系统
合成车间,李建国,主要领导,lijianguo@tengfei.example,生产
合成车间,张海燕,党支部书记,zhanghaiyan@tengfei.example,
合成车间,王珺,副职,wangjun@tengfei.example,生产
合成车间,刘洋,科级干部,liuyang@tengfei.example,生产
合成车间,陈静,分会主席,chenjing@tengfei.example,
聚合车间,赵志刚,主要领导,zhaozhigang@tengfei.example,
聚合车间,孙丽娟,党支部书记,sunlijuan@tengfei.example,
聚合车间,周伟,副职,zhouwei@tengfei.example,
聚合车间,吴国庆,二线干部,wuguoqing@tengfei.example,
聚合车间,郑晓燕,分会主席,zhengxiaoyan@tengfei.example,
生产技术科,马俊峰,主要领导,majunfeng@tengfei.example,
生产技术科,胡雪梅,党支部副书记,huxuemei@tengfei.example,
生产技术科,林涛,科级干部,lintao@tengfei.example,生产
生产技术科,何丹,分会主席,hedan@tengfei.example,
设备动力科,高建华,主要领导,gaojianhua@tengfei.example,
设备动力科,罗斌,党支部书记,luobin@tengfei.example,
设备动力科,徐明,副职,xuming@tengfei.example,
设备动力科,梁红,分会主席,lianghong@tengfei.example,
"""

HC_STAFF = {"领导班子": (50, 20, 8, 2), "李建国": (40, 30, 8, 2), "张海燕": (30, 40, 8, 2),
            "王珺": (40, 35, 4, 1), "刘洋": (20, 40, 15, 5)}
HC_HEADS = {"王珺": (1, 1, 0, 0)}
HC_PLANT = {"李建国": (3, 2, 0, 0), "张海燕": (2, 3, 0, 0), "王珺": (4, 1, 0, 0), "刘洋": (1, 3, 1, 0)}
SJ_STAFF = {"领导班子": (10, 5, 2, 1), "马俊峰": (9, 6, 2, 1), "胡雪梅": (8, 8, 2, 0), "林涛": (5, 10, 3, 0)}
PEERS_PRODUCTION = {"李建国": (2, 2, 0, 0), "王珺": (3, 1, 0, 0), "刘洋": (1, 2, 1, 0), "林涛": (2, 2, 0, 0)}
SCORES = [("合成车间", "李建国", 90, 85), ("合成车间", "王珺", 92, 88), ("合成车间", "刘洋", 80, None),
          ("生产技术科", "林涛", 85, 90)]


@pytest.fixture
def season(config_dir):
    (config_dir / "people.csv").write_text(PEOPLE_WITH_SYSTEMS, encoding="utf-8")
    return config_dir





def sheets_by_name(config_dir, folder) -> dict[str, bytes]:
    paths = write_tally_sheets(load_roster(config_dir), 2026, folder)
    return {p.name: p.read_bytes() for p in paths}


def write_scores(config_dir, rows=SCORES) -> None:
    book = Workbook()
    book.active.append(["单位", "姓名", "日常考核成绩", "业绩指标成绩"])
    for row in rows:
        book.active.append(list(row))
    book.save(config_dir / "日常考核.xlsx")


def mail(dovecot, sender, name, filename, data, when, message_id):
    raw = build_message(sender, name, "hr@tengfei.example", "民主测评统计表", "请查收。", [(filename, data)],
                        style="outlook", message_id=message_id)
    dovecot.append(raw, at(when))


def results_json(config_dir, capsys) -> dict:
    capsys.readouterr()
    assert main(["--config", str(config_dir), "results", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def score(counts) -> float:
    points = (100, 80, 60, 0)
    return sum(p * c for p, c in zip(points, counts)) / sum(counts)


# --- the round trip ---------------------------------------------------------------------


def test_evaluation_round_trip_through_dovecot(season, dovecot, monkeypatch, tmp_path, capsys):
    settings = use_imap(season, dovecot, monkeypatch)
    blank = sheets_by_name(season, tmp_path / "sheets")
    hc_staff = "合成车间-员工民主测评统计表.xlsx"

    # A first count with a slip (王珺's votes add up to 81 of 80 present) is refused and stays owed.
    slip = fill_tally(blank[hc_staff], 80, {**HC_STAFF, "王珺": (40, 35, 4, 2)}, invalid=2)
    mail(dovecot, "lijianguo@tengfei.example", "李建国", hc_staff, slip, "2026-12-11T09:00", "<t1@tengfei.example>")
    [entry] = poll_once(settings).recorded
    assert entry.outcome == "rejected"
    [part] = entry.attachments
    assert part.outcome == "rejected"
    assert hc_staff in part.reason and "第 12 行" in part.reason and "王珺的票数合计 81 多于实到人数 80" in part.reason
    owed = {(r.unit, r.state) for r in status_rows(settings, date(2026, 12, 11)) if r.item == BALLOT_TALLY}
    assert ("合成车间", "pending") in owed

    sent = [
        ("lijianguo@tengfei.example", "李建国", hc_staff, fill_tally(blank[hc_staff], 80, HC_STAFF, invalid=2)),
        ("lijianguo@tengfei.example", "李建国", "合成车间-党政主要领导测评副职统计表.xlsx",
         fill_tally(blank["合成车间-党政主要领导测评副职统计表.xlsx"], 2, HC_HEADS)),
        ("lijianguo@tengfei.example", "李建国", "合成车间-厂领导测评统计表.xlsx",
         fill_tally(blank["合成车间-厂领导测评统计表.xlsx"], 5, HC_PLANT)),
        ("majunfeng@tengfei.example", "马俊峰", "生产技术科-员工民主测评统计表.xlsx",
         fill_tally(blank["生产技术科-员工民主测评统计表.xlsx"], 18, SJ_STAFF, invalid=1)),
    ]
    for n, (sender, name, filename, data) in enumerate(sent):
        mail(dovecot, sender, name, filename, data, f"2026-12-1{1 + n % 2}T1{n}:00", f"<t{n + 2}@tengfei.example>")
    assert [e.outcome for e in poll_once(settings).recorded] == ["accepted"] * 4
    # The peer review of a system is counted by HR, who drops it into tallies/.
    (season / "tallies").mkdir()
    (season / "tallies" / "生产系统-科级干部互评统计表.xlsx").write_bytes(
        fill_tally(blank["生产系统-科级干部互评统计表.xlsx"], 4, PEERS_PRODUCTION))
    write_scores(season)

    states = {r.unit: r.state for r in status_rows(settings, date(2026, 12, 17)) if r.item == BALLOT_TALLY}
    assert states == {"合成车间": "received", "聚合车间": "overdue", "生产技术科": "received",
                      "设备动力科": "pending"}

    got = results_json(season, capsys)
    units = {u["unit"]: u for u in got["units"]}
    hc, sj = units["合成车间"], units["生产技术科"]
    assert (hc["headcount"], hc["attended"], hc["quorum_required"], hc["quorum_met"]) == (126, 80, 0.6, True)
    assert (sj["headcount"], sj["attended"], sj["quorum_required"], sj["quorum_met"]) == (24, 18, 0.8, False)
    assert units["聚合车间"]["attended"] is None and units["聚合车间"]["quorum_met"] is None
    assert hc["team"]["counts"] == {"好": 50, "较好": 20, "一般": 8, "较差": 2} and hc["team"]["invalid"] == 2
    assert hc["team"]["shares"]["好"] == pytest.approx(50 / 80, abs=1e-4)
    assert hc["team"]["shares"]["好+较好"] == pytest.approx(70 / 80, abs=1e-4)

    cadres = {c["person"]: c for c in got["cadres"]}
    wang = cadres["王珺"]
    assert wang["channels"]["staff"]["counts"] == dict(zip(CADRE_LEVELS, HC_STAFF["王珺"]))
    assert wang["channels"]["heads"]["score"] == pytest.approx(90.0)
    # By hand: staff 88, heads 90, plant 96, peers 95; weights 0.4/0.2/0.2/0.2.
    wang_ballot = 0.4 * 88 + 0.2 * 90 + 0.2 * 96 + 0.2 * 95
    assert wang["ballot_score"] == pytest.approx(wang_ballot, abs=0.01)
    assert wang["composite"] == pytest.approx(0.4 * wang_ballot + 0.3 * 92 + 0.3 * 88, abs=0.01)
    # The head is not rated by the heads: the other three channels, their weights rescaled.
    li = cadres["李建国"]
    assert "heads" not in li["channels"]
    li_ballot = (0.4 * score(HC_STAFF["李建国"]) + 0.2 * score(HC_PLANT["李建国"])
                 + 0.2 * score(PEERS_PRODUCTION["李建国"])) / 0.8
    assert li["ballot_score"] == pytest.approx(li_ballot, abs=0.01)
    assert li["composite"] == pytest.approx(0.4 * li_ballot + 0.3 * 90 + 0.3 * 85, abs=0.01)
    # Missing is never 0: no performance score, no plant tally, no scores at all.
    assert cadres["刘洋"]["performance_score"] is None and cadres["刘洋"]["composite"] is None
    assert cadres["刘洋"]["ballot_score"] is not None
    assert cadres["林涛"]["channels"]["plant"] is None and cadres["林涛"]["ballot_score"] is None
    assert cadres["林涛"]["composite"] is None
    assert cadres["张海燕"]["daily_score"] is None and cadres["张海燕"]["composite"] is None
    # Ranked within 生产 among those with a composite; the default gives no class.
    assert (wang["rank_in_system"], li["rank_in_system"], cadres["刘洋"]["rank_in_system"]) == (1, 2, None)
    assert wang["class"] is None

    [workbook] = (settings.paths.data / "results").glob("*.xlsx")
    assert stat.S_IMODE(workbook.stat().st_mode) == 0o600
    quorum = load_workbook(workbook)["到会与法定人数"]
    rows = {row[0].value: row for row in quorum.iter_rows(min_row=2)}
    assert rows["生产技术科"][6].value == "未达到" and rows["生产技术科"][0].fill.fgColor.rgb.endswith("FFC7CE")
    assert rows["合成车间"][6].value == "达到" and not rows["合成车间"][0].fill.fgColor.rgb.endswith("FFC7CE")

    # The tracker's 测评 sheet and the daily summary: which tallies are in, which meeting missed quorum.
    tracker = send_summary(settings, date(2026, 12, 17), at("2026-12-17T08:00"))
    evaluation = {row[0].value: row for row in load_workbook(tracker)["测评"].iter_rows(min_row=2)}
    assert evaluation["合成车间"][3].value == "员工民主测评、党政主要领导测评副职、厂领导测评"
    assert evaluation["合成车间"][8].value == "达到" and evaluation["聚合车间"][2].value == "逾期未交"
    assert evaluation["生产技术科"][8].value == "未达到" and evaluation["生产技术科"][8].fill.fgColor.rgb.endswith("FFC7CE")
    with Store.open(settings.paths.data) as store:
        [summary] = [r for r in store.outbox() if r.kind == "summary"]
    text = email.message_from_bytes(summary.eml, policy=policy.default).get_body(("plain",)).get_content()
    assert "- 生产技术科：员工民主测评；述职大会未达到法定人数（实到 18 人，单位 24 人，科室要求不低于 80%）" in text
    assert "- 合成车间：员工民主测评、党政主要领导测评副职、厂领导测评\n" in text


# --- refusals ------------------------------------------------------------------------------

REFUSALS = {
    "over_attended": ({**HC_STAFF, "王珺": (40, 35, 4, 2)}, 80, ..., "第 12 行：王珺的票数合计 81 多于实到人数 80"),
    "not_on_roster": ({**HC_STAFF, "张三": (1, 0, 0, 0)}, 80, ..., "第 14 行：“合成车间 张三”不在名单中"),
    "attended_over_expected": (HC_STAFF, 130, 126, "第 3 行：实到人数 130 多于应到人数 126"),
    "negative": ({**HC_STAFF, "刘洋": (20, 40, -1, 5)}, 80, ..., "第 13 行：刘洋的“基本称职”票数“-1”是负数"),
    "fractional": ({**HC_STAFF, "刘洋": (20, 40, 2.5, 5)}, 80, ..., "第 13 行：刘洋的“基本称职”票数“2.5”不是整数"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_tally_refusal_names_file_row_and_problem_and_stays_owed(season, tmp_path, capsys, case):
    counts, attended, expected, problem = REFUSALS[case]
    blank = sheets_by_name(season, tmp_path / "sheets")["合成车间-员工民主测评统计表.xlsx"]
    (season / "tallies").mkdir()
    path = season / "tallies" / "合成车间统计.xlsx"
    path.write_bytes(fill_tally(blank, attended, counts, expected=expected))

    got = results_json(season, capsys)
    assert got["units"][0]["attended"] is None
    capsys.readouterr()
    assert main(["--config", str(season), "results"]) == 0
    [line] = capsys.readouterr().err.strip().splitlines()
    assert str(path) in line and problem in line
    settings = load(season)
    [row] = [r for r in status_rows(settings, date(2026, 12, 16)) if r.item == BALLOT_TALLY and r.unit == "合成车间"]
    assert row.state == "overdue"


def test_tally_mailed_with_a_problem_is_rejected_naming_file_and_row(season, tmp_path):
    from bot.records import Mail, Part
    from parsers.recognise import recognise

    blank = sheets_by_name(season, tmp_path / "sheets")["合成车间-员工民主测评统计表.xlsx"]
    data = fill_tally(blank, 130, HC_STAFF, expected=126)
    roster = load_roster(season)
    sender = roster.by_email("lijianguo@tengfei.example")
    mail = Mail(None, sender.email, "", "统计表", "", [], None, "")
    result = recognise(Part("统计表.xlsx", "application/octet-stream", data), mail, sender, roster, 2026)
    assert result.outcome == "rejected"
    assert result.reason.startswith("统计表.xlsx 第 3 行：实到人数 130 多于应到人数 126")


# --- what is written ------------------------------------------------------------------------


def test_tally_sheets_validate_whole_numbers_and_carry_a_hidden_marker(season, tmp_path):
    blank = sheets_by_name(season, tmp_path / "sheets")
    assert "生产系统-科级干部互评统计表.xlsx" in blank and "聚合车间-党政主要领导测评副职统计表.xlsx" in blank
    assert "生产技术科-党政主要领导测评副职统计表.xlsx" not in blank  # no deputies there
    book = load_workbook(io.BytesIO(blank["合成车间-员工民主测评统计表.xlsx"]))
    [rule] = book["测评统计"].data_validations.dataValidation
    assert (rule.type, rule.operator, rule.formula1, rule.showErrorMessage) == ("whole", "greaterThanOrEqual", "0", True)
    covered = str(rule.sqref)
    assert "D3" in covered and "D7:G7" in covered and "D13:G13" in covered
    marker = book["hrbot"]
    assert marker.sheet_state == "hidden"
    assert {r[0].value: r[1].value for r in marker.iter_rows()}["unit"] == "合成车间"


def test_ballots_list_team_and_members_without_a_voter_field(season, tmp_path):
    roster = load_roster(season)
    one = Roster(units={"合成车间": roster.units["合成车间"]}, people=tuple(roster.people_in("合成车间")))
    paths = write_ballots(one, 2026, tmp_path / "ballots")
    names = sorted(p.name for p in paths)
    assert names[:2] == ["合成车间-党政主要领导测评副职测评票.docx", "合成车间-党政主要领导测评副职测评票.pdf"] or \
        not any(n.endswith(".pdf") for n in names)
    staff = read_docx(tmp_path / "ballots" / "合成车间-民主测评票.docx")
    text = "\n".join(c.text for t in staff.tables for row in t.rows for c in row.cells)
    for word in ("合成车间领导班子", "好", "较好", "一般", "较差", "李建国", "张海燕", "王珺", "刘洋", *CADRE_LEVELS):
        assert word in text
    assert "陈静" not in text  # the union chair is not rated
    everything = text + "\n".join(p.text for p in staff.paragraphs)
    assert "不记名" in everything and "投票人" not in everything and "签名" not in everything
    heads = read_docx(tmp_path / "ballots" / "合成车间-党政主要领导测评副职测评票.docx")
    rated = [row.cells[0].text for row in heads.tables[0].rows[1:]]
    assert rated == ["王珺"]


def test_results_scores_file_with_an_unknown_name_exits_2(season, capsys):
    write_scores(season, [("合成车间", "张三", 90, 80)])
    assert main(["--config", str(season), "results"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "日常考核.xlsx 第 2 行" in err and "张三" in err


def test_results_classes_by_top_share(season, tmp_path, capsys):
    with open(season / "settings.toml", "a", encoding="utf-8") as f:
        f.write('\n[evaluation]\nchannel_weights = { staff = 1.0, heads = 0.0, plant = 0.0, peers = 0.0 }\n'
                'classes = [{ name = "A", top_share = 0.5 }, { name = "B", min_score = 0 }]\n')
    blank = sheets_by_name(season, tmp_path / "sheets")
    (season / "tallies").mkdir()
    (season / "tallies" / "a.xlsx").write_bytes(fill_tally(blank["合成车间-员工民主测评统计表.xlsx"], 80, HC_STAFF))
    write_scores(season)
    cadres = {c["person"]: c for c in results_json(season, capsys)["cadres"]}
    # 生产: 王珺 and 李建国 have composites (刘洋 lacks a performance score): the top half is A.
    assert (cadres["王珺"]["class"], cadres["李建国"]["class"], cadres["刘洋"]["class"]) == ("A", "B", None)
    # A sheet HR put into tallies/ counts for the unit's item like a mailed one.
    [row] = [r for r in status_rows(load(season), date(2026, 12, 16)) if r.item == BALLOT_TALLY and r.unit == "合成车间"]
    assert row.state == "received"


def test_tally_copied_out_of_its_workbook_is_rejected_with_what_to_do(season):
    from bot.records import Mail, Part
    from parsers.recognise import recognise

    book = Workbook()
    book.active.append(["单位", "姓名", "优秀", "称职", "基本称职", "不称职"])
    book.active.append(["合成车间", "王珺", 40, 35, 4, 1])
    buffer = io.BytesIO()
    book.save(buffer)
    roster = load_roster(season)
    sender = roster.by_email("lijianguo@tengfei.example")
    mail = Mail(None, sender.email, "", "统计", "", [], None, "")
    part = Part("合成车间民主测评统计表.xlsx", "application/octet-stream", buffer.getvalue())
    result = recognise(part, mail, sender, roster, 2026)
    assert result.outcome == "rejected" and "人力资源科下发的 Excel 统计表" in result.reason


def test_results_not_importing_pandas_in_the_idle_poll():
    import subprocess
    import sys

    code = "import sys, bot.poll, bot.service, bot.reports.views; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_results_quorum_of_exactly_the_share_is_met(season, tmp_path, capsys):
    with open(season / "settings.toml", "a", encoding="utf-8") as f:
        f.write('\n[evaluation]\nquorum = { "车间" = 0.7, "科室" = 0.8 }\n')
    units = (season / "units.csv").read_text(encoding="utf-8").replace("合成车间,车间,126,", "合成车间,车间,10,")
    (season / "units.csv").write_text(units, encoding="utf-8")
    blank = sheets_by_name(season, tmp_path / "sheets")["合成车间-员工民主测评统计表.xlsx"]
    (season / "tallies").mkdir()
    (season / "tallies" / "a.xlsx").write_bytes(fill_tally(blank, 7, {"领导班子": (5, 2, 0, 0)}))
    [unit, *_] = results_json(season, capsys)["units"]
    assert (unit["headcount"], unit["attended"], unit["quorum_required"], unit["quorum_met"]) == (10, 7, 0.7, True)


def test_roster_reads_the_optional_system_column_from_csv_and_xlsx(season, tmp_path):
    people = {p.name: p.system for p in load_roster(season).people}
    assert people["王珺"] == "生产" and people["张海燕"] is None
    book = Workbook()
    units = book.active
    units.title = "单位"
    units.append(["单位", "类型", "人数", "述职大会日期"])
    units.append(["合成车间", "车间", 126, None])
    staff = book.create_sheet("人员")
    staff.append(["单位", "姓名", "角色", "邮箱", "系统"])
    staff.append(["合成车间", "李建国", "主要领导", "lijianguo@tengfei.example", " 生 产 "])
    folder = tmp_path / "xlsx-roster"
    folder.mkdir()
    book.save(folder / "roster.xlsx")
    [head] = load_roster(folder).people
    assert head.system == "生产"


def test_check_names_each_tally_that_does_not_count_and_stops_at_a_scores_mistake(season, tmp_path, capsys):
    """`hrbot check` reads what HR put in tallies/ (each sheet that does not count is one ✗ line) and
    日常考核.xlsx (HR's own file: a mistake is a config error, exit 2, as in adjustments.csv)."""
    blank = sheets_by_name(season, tmp_path / "sheets")["合成车间-员工民主测评统计表.xlsx"]
    (season / "tallies").mkdir()
    (season / "tallies" / "合成车间统计.xlsx").write_bytes(fill_tally(blank, 80, HC_STAFF))
    (season / "tallies" / "错放的表.xlsx").write_bytes(fill_tally(blank, 80, {**HC_STAFF, "张三": (1, 0, 0, 0)}))
    assert main(["--config", str(season), "check"]) == 1
    out = capsys.readouterr().out
    assert "✓ tallies/：1 份民主测评统计表可计入" in out
    assert "✗ tallies/错放的表.xlsx 不计入：" in out and "张三" in out
    assert "工作日安排" in out  # the checks after these still ran

    write_scores(season, [("合成车间", "张三", 90, 80)])
    assert main(["--config", str(season), "check"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "日常考核.xlsx 第 2 行" in line and "张三" in line

    write_scores(season, SCORES)
    (season / "tallies" / "错放的表.xlsx").unlink()
    main(["--config", str(season), "check"])
    out = capsys.readouterr().out
    assert "✓ 日常考核.xlsx：4 人的成绩无误" in out and "✗" not in out.split("工作日安排")[0]
