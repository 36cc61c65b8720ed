"""Tests for bot.season.roster: the example roster, every hand-made mistake, encodings and roster.xlsx."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.records import (
    CADRE,
    DEPUTY_SECRETARY,
    HEAD,
    ROLES,
    SECRETARY,
    UNION_CHAIR,
    Person,
    Roster,
    Unit,
)
from bot.season.roster import PEOPLE_FILE, UNITS_FILE, WORKBOOK_FILE, gaps, load_roster
from bot.settings import EXAMPLE_CONFIG

REPO = Path(__file__).resolve().parent.parent
UNITS = (EXAMPLE_CONFIG / UNITS_FILE).read_text(encoding="utf-8").splitlines()
PEOPLE = (EXAMPLE_CONFIG / PEOPLE_FILE).read_text(encoding="utf-8").splitlines()


def write(folder: Path, file: str, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = folder / file
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode(encoding))
    return path


def roster_dir(folder: Path, units: list[str] = UNITS, people: list[str] = PEOPLE, **kw) -> Path:
    write(folder, UNITS_FILE, list(units), **kw)
    write(folder, PEOPLE_FILE, list(people), **kw)
    return folder


def replaced(lines: list[str], row: int, text: str) -> list[str]:
    """The lines with spreadsheet row `row` (header = 1) replaced."""
    lines = list(lines)
    lines[row - 1] = text
    return lines


def test_roster_example_loads():
    roster = load_roster(EXAMPLE_CONFIG)
    assert list(roster.units) == ["合成车间", "聚合车间", "生产技术科", "设备动力科"]
    assert isinstance(roster.people, tuple) and len(roster.people) == 18
    assert {p.role for p in roster.people} == set(ROLES)
    assert roster.units["合成车间"].meeting == date(2026, 12, 10)
    assert roster.units["设备动力科"].meeting is None
    assert roster.units["生产技术科"].kind == "科室" and roster.units["生产技术科"].headcount == 24
    assert roster.head_of("合成车间").email == "lijianguo@tengfei.example"
    assert roster.by_email("LiJianGuo@Tengfei.Example").name == "李建国"
    # 党支部副书记 is kept as written and still counts as the secretary.
    assert roster.secretary_of("生产技术科").role == DEPUTY_SECRETARY
    assert all(roster.head_of(unit) for unit in roster.units)


def test_roster_import_does_not_load_openpyxl():
    code = "import sys, bot.season.roster; sys.exit('openpyxl' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


# --- mistakes -------------------------------------------------------------

PEOPLE_MISTAKES = [
    # (id, row, replacement line, fragments the message must contain)
    ("unknown_role", 3, "合成车间,张海燕,副主任,zhanghaiyan@tengfei.example",
     ["未知角色“副主任”", "可选：主要领导、党支部书记、党支部副书记"]),
    ("empty_role", 3, "合成车间,张海燕,,zhanghaiyan@tengfei.example", ["角色为空"]),
    ("unknown_unit", 4, "合成车问,王珺,副职,wangjun@tengfei.example", ["单位“合成车问”不在 units.csv 中"]),
    ("empty_unit", 4, ",王珺,副职,wangjun@tengfei.example", ["单位为空"]),
    ("two_heads", 4, "合成车间,王珺,主要领导,wangjun@tengfei.example", ["已有主要领导 李建国（第 2 行）"]),
    ("duplicate_address", 7, "聚合车间,赵志刚,主要领导,LiJianGuo@tengfei.example",
     ["邮箱“lijianguo@tengfei.example”已在第 2 行", "一个地址只能对应一人"]),
    ("same_person_twice", 7, "合成车间,李建国,党支部书记,lijianguo@tengfei.example", ["已有“李建国”（第 2 行）", "兼任"]),
    ("same_name_two_addresses", 5, "合成车间,王 珺,科级干部,wangjun2@tengfei.example", ["已有“王珺”（第 4 行）"]),
    ("empty_name", 4, "合成车间, ,副职,wangjun@tengfei.example", ["姓名为空"]),
    ("empty_email", 4, "合成车间,王珺,副职,", ["邮箱为空"]),
    ("email_without_at", 4, "合成车间,王珺,副职,wangjun.tengfei.example", ["缺少 @"]),
    ("email_chinese_dot", 4, "合成车间,王珺,副职,wangjun@tengfei。example", ["全角"]),
    ("email_comma_separated", 4, '合成车间,王珺,副职,"wangjun@tengfei.example, wj@qq.com"', ["用分号隔开"]),
    ("address_of_two_people", 5, "合成车间,刘洋,科级干部,liuyang@tengfei.example;wangjun@tengfei.example",
     ["邮箱“wangjun@tengfei.example”已在第 4 行（合成车间 王珺）", "一个地址只能对应一人"]),
    ("email_display_name", 4, '合成车间,王珺,副职,"王珺 <wangjun@tengfei.example>"', ["只能填一个地址"]),
    ("email_no_domain_dot", 4, "合成车间,王珺,副职,wangjun@qq", ["不是有效地址"]),
    ("missing_column", 1, "单位,姓名,职务,邮箱", ["缺少列“角色”"]),
]


@pytest.mark.parametrize(
    "row, line, fragments", [case[1:] for case in PEOPLE_MISTAKES], ids=[case[0] for case in PEOPLE_MISTAKES]
)
def test_roster_people_mistake(tmp_path, row, line, fragments):
    folder = roster_dir(tmp_path, people=replaced(PEOPLE, row, line))
    with pytest.raises(ConfigError) as caught:
        load_roster(folder)
    message = str(caught.value)
    assert f"people.csv 第 {row} 行: " in message
    assert caught.value.row == row
    for fragment in fragments:
        assert fragment in message


UNIT_MISTAKES = [
    ("bad_date", 2, "合成车间,车间,126,2026-13-01", ["述职大会日期“2026-13-01”无效"]),
    ("us_date", 2, "合成车间,车间,126,12/10/2026", ["述职大会日期“12/10/2026”无效"]),
    ("feb_30", 2, "合成车间,车间,126,2026/2/30", ["2026/2/30"]),
    ("zero_headcount", 3, "聚合车间,车间,0,2026-12-11", ["人数“0”无效", "正整数"]),
    ("text_headcount", 3, "聚合车间,车间,约一百,2026-12-11", ["人数“约一百”无效"]),
    ("fraction_headcount", 3, "聚合车间,车间,98.5,2026-12-11", ["人数“98.5”无效"]),
    ("negative_headcount", 3, "聚合车间,车间,-98,2026-12-11", ["人数“-98”无效"]),
    ("empty_headcount", 3, "聚合车间,车间,,2026-12-11", ["人数为空"]),
    ("unknown_kind", 4, "生产技术科,处室,24,2026-12-15", ["类型“处室”无效，可选：车间、科室"]),
    ("empty_kind", 4, "生产技术科,,24,2026-12-15", ["类型为空"]),
    ("duplicate_unit", 3, "合成车间,车间,98,2026-12-11", ["单位“合成车间”重复，第 2 行"]),
    ("empty_unit_name", 3, ",车间,98,2026-12-11", ["单位名称为空"]),
    ("missing_column", 1, "单位,类型,人数", ["缺少列“述职大会日期”"]),
]


@pytest.mark.parametrize(
    "row, line, fragments", [case[1:] for case in UNIT_MISTAKES], ids=[case[0] for case in UNIT_MISTAKES]
)
def test_roster_units_mistake(tmp_path, row, line, fragments):
    folder = roster_dir(tmp_path, units=replaced(UNITS, row, line))
    with pytest.raises(ConfigError) as caught:
        load_roster(folder)
    message = str(caught.value)
    assert f"units.csv 第 {row} 行: " in message
    for fragment in fragments:
        assert fragment in message


def test_roster_unit_without_head_is_a_gap_not_an_error(tmp_path):
    people = [line for line in PEOPLE if "高建华" not in line and "何丹" not in line]
    roster = load_roster(roster_dir(tmp_path, people=people))
    assert roster.head_of("设备动力科") is None
    found = [what for _, what, _ in gaps(roster)]
    assert any(g.startswith("设备动力科在名单中没有主要领导") for g in found)
    assert any(g.startswith("生产技术科在名单中没有分会主席") for g in found)
    assert any(g.startswith("设备动力科的述职大会日期未定") for g in found)
    assert not any("设备动力科的述职大会日期" in what for _, what, _ in gaps(roster, ["设备动力科"]))
    assert not any(g.startswith("合成车间") for g in found)


def test_roster_several_addresses_per_person(tmp_path):
    people = replaced(PEOPLE, 5, "合成车间,刘洋,科级干部,liuyang@tengfei.example； Zhang.San@Example.net")
    people.append("合成车间,刘洋,科级干部,ly@qq.com")
    roster = load_roster(roster_dir(tmp_path, people=people))
    liu = roster.by_email("zhang.san@example.net")
    assert liu.name == "刘洋" and liu.email == "liuyang@tengfei.example"
    assert liu.emails == ("liuyang@tengfei.example", "zhang.san@example.net", "ly@qq.com")
    assert roster.by_email("LY@qq.com") is liu
    assert [p.name for p in roster.people_in("合成车间")].count("刘洋") == 1


def test_roster_empty_units_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"units\.csv: 没有任何单位"):
        load_roster(roster_dir(tmp_path, units=UNITS[:1], people=PEOPLE[:1]))


def test_roster_empty_people_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"people\.csv: 没有任何人员"):
        load_roster(roster_dir(tmp_path, people=PEOPLE[:1]))


def test_roster_empty_file_is_an_error(tmp_path):
    roster_dir(tmp_path)
    (tmp_path / PEOPLE_FILE).write_bytes(b"")
    with pytest.raises(ConfigError, match=r"people\.csv: 文件是空的"):
        load_roster(tmp_path)


def test_roster_missing_one_file_names_it(tmp_path):
    write(tmp_path, UNITS_FILE, UNITS)
    with pytest.raises(ConfigError, match=r"people\.csv: 找不到文件"):
        load_roster(tmp_path)


def test_roster_missing_everything_names_both_choices(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_roster(tmp_path)
    assert "units.csv" in str(caught.value) and "roster.xlsx" in str(caught.value)


def test_roster_undecodable_file_is_an_error(tmp_path):
    roster_dir(tmp_path)
    (tmp_path / UNITS_FILE).write_bytes("单位,类型,人数,述职大会日期\n".encode() + b"\xff\x80\n")
    with pytest.raises(ConfigError, match=r"units\.csv: 无法识别文件编码"):
        load_roster(tmp_path)


# --- what is read, not rejected --------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_roster_encodings_read_the_same(tmp_path, encoding):
    # Excel on Chinese Windows saves "CSV（逗号分隔）" as GBK with CRLF; "CSV UTF-8" adds a BOM.
    folder = roster_dir(tmp_path, encoding=encoding, newline="\r\n")
    assert load_roster(folder) == load_roster(EXAMPLE_CONFIG)


def test_roster_utf16_tab_separated(tmp_path):
    # Excel's "Unicode 文本" export: UTF-16 with a BOM, tab-separated.
    tabbed = lambda lines: [line.replace(",", "\t") for line in lines]  # noqa: E731
    folder = roster_dir(tmp_path, units=tabbed(UNITS), people=tabbed(PEOPLE), encoding="utf-16")
    assert load_roster(folder) == load_roster(EXAMPLE_CONFIG)


def test_roster_gbk_error_message_shows_the_text(tmp_path):
    people = replaced(PEOPLE, 3, "合成车间,张海燕,副主任,zhanghaiyan@tengfei.example")
    roster_dir(tmp_path, people=people, encoding="gbk")
    with pytest.raises(ConfigError, match="未知角色“副主任”"):
        load_roster(tmp_path)


def test_roster_names_lose_their_spaces(tmp_path):
    people = replaced(PEOPLE, 4, "合成车间,王  珺,副职,wangjun@tengfei.example")
    people = replaced(people, 5, " 合成车间 ,刘\u3000洋, 科级干部 , liuyang@tengfei.example ")
    roster = load_roster(roster_dir(tmp_path, people=people))
    assert [p.name for p in roster.people_in("合成车间")] == ["李建国", "张海燕", "王珺", "刘洋", "陈静"]
    assert roster.by_email("liuyang@tengfei.example").role == "科级干部"


def test_roster_invisible_characters_from_copy_paste_are_dropped(tmp_path):
    # Web pages and WeChat bring zero-width spaces and joiners along; Excel shows nothing of them.
    people = replaced(PEOPLE, 4, "合成车间\u200b,王\u200d珺,副职\u2060,\ufeffwangjun@tengfei.example\u200b")
    units = replaced(UNITS, 2, "合成车间\u200c,车间,126,2026-12-10\u200b")
    roster = load_roster(roster_dir(tmp_path, units=units, people=people))
    assert roster == load_roster(EXAMPLE_CONFIG)


def test_roster_xlsx_invisible_characters_are_dropped(tmp_path):
    units, people = example_cells()
    people[3] = ["合成车间\u200b", "王\u200d珺", "副职", "wangjun@tengfei.example\u2060"]
    save_workbook(tmp_path / WORKBOOK_FILE, units, people)
    assert load_roster(tmp_path) == load_roster(EXAMPLE_CONFIG)


def test_roster_lookups_by_address_and_unit():
    units = {"甲车间": Unit("甲车间", "车间", 10, None), "乙科": Unit("乙科", "科室", 5, None)}
    people = (
        Person("甲车间", "张一", CADRE, "zhang@x.example"),
        Person("甲车间", "李二", HEAD, "li@x.example"),
        Person("乙科", "王三", HEAD, "wang@x.example"),
        Person("甲车间", "赵四", DEPUTY_SECRETARY, "zhao@x.example"),
        Person("甲车间", "孙五", SECRETARY, "sun@x.example"),
        Person("乙科", "张一", UNION_CHAIR, "zhang@x.example"),  # a hand-built roster may repeat an address
    )
    roster = Roster(units, people)
    assert roster.by_email(" ZHANG@x.example ") is people[0]  # the first entry wins, as in the file
    assert roster.by_email("nobody@x.example") is None and roster.by_email(None) is None
    assert [p.name for p in roster.people_in("甲车间")] == ["张一", "李二", "赵四", "孙五"]  # file order
    assert roster.head_of("乙科") is people[2] and roster.union_chair_of("乙科") is people[5]
    assert roster.secretary_of("甲车间") is people[3]  # the first of 书记 and 副书记 in the file
    assert roster.people_in("丙车间") == [] and roster.head_of("丙车间") is None
    roster.people_in("甲车间").clear()  # callers get their own list
    assert len(roster.people_in("甲车间")) == 4
    # The indexes follow the people, also through dataclasses.replace, and take no part in equality.
    fewer = dataclasses.replace(roster, people=people[:2])
    assert fewer.people_in("乙科") == [] and fewer.by_email("wang@x.example") is None
    assert roster == Roster(dict(units), tuple(people)) and "_by_unit" not in repr(roster)


def test_roster_emails_are_normalised(tmp_path):
    people = replaced(PEOPLE, 4, "合成车间,王珺,副职,WangJun＠Tengfei.Example;")  # full-width @ from an IME
    roster = load_roster(roster_dir(tmp_path, people=people))
    assert roster.by_email("wangjun@tengfei.example").name == "王珺"


@pytest.mark.parametrize("written", ["2026/12/10", "2026-12-10", "2026年12月10日", "2026/12/10 0:00", "２０２６/１２/１０"])
def test_roster_meeting_date_forms(tmp_path, written):
    units = replaced(UNITS, 2, f"合成车间,车间,126,{written}")
    assert load_roster(roster_dir(tmp_path, units=units)).units["合成车间"].meeting == date(2026, 12, 10)


@pytest.mark.parametrize("written, count", [('"1,200"', 1200), ("１２６", 126), ("126人", 126), (" 126 ", 126)])
def test_roster_headcount_forms(tmp_path, written, count):
    units = replaced(UNITS, 2, f"合成车间,车间,{written},2026-12-10")
    assert load_roster(roster_dir(tmp_path, units=units)).units["合成车间"].headcount == count


def test_roster_blank_rows_extra_columns_and_column_order(tmp_path):
    units = ["", "述职大会日期,单位,人数,类型,备注"] + [
        f"{d},{u},{n},{k},"
        for u, k, n, d in (line.split(",") for line in UNITS[1:])
    ] + [",,,,", ",,,,仅备注"]
    people = PEOPLE[:3] + [" , , , "] + PEOPLE[3:]
    roster = load_roster(roster_dir(tmp_path, units=units, people=people))
    assert roster == load_roster(EXAMPLE_CONFIG)


def test_roster_row_numbers_count_blank_rows(tmp_path):
    people = PEOPLE[:3] + ["", ""] + [PEOPLE[3].replace("副职", "副主任")] + PEOPLE[4:]
    with pytest.raises(ConfigError, match=r"people\.csv 第 6 行: 未知角色"):
        load_roster(roster_dir(tmp_path, people=people))


# --- roster.xlsx ------------------------------------------------------------


def save_workbook(path: Path, units: list[list], people: list[list], titles=("单位", "人员")) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = titles[0]
    for row in units:
        book.active.append(row)
    sheet = book.create_sheet(titles[1])
    for row in people:
        sheet.append(row)
    book.save(path)
    return path


def example_cells() -> tuple[list[list], list[list]]:
    """The example roster as Excel would hold it: numbers as numbers, dates as date cells."""
    units = [UNITS[0].split(",")]
    for line in UNITS[1:]:
        name, kind, count, meeting = line.split(",")
        units.append([name, kind, int(count), datetime.fromisoformat(meeting) if meeting else None])
    return units, [line.split(",") for line in PEOPLE]


def test_roster_xlsx_loads_the_same(tmp_path):
    save_workbook(tmp_path / WORKBOOK_FILE, *example_cells())
    assert load_roster(tmp_path) == load_roster(EXAMPLE_CONFIG)


def test_roster_xlsx_float_headcount_and_text_date(tmp_path):
    units, people = example_cells()
    units[1][2], units[1][3] = 126.0, "2026/12/10"
    save_workbook(tmp_path / WORKBOOK_FILE, units, people)
    unit = load_roster(tmp_path).units["合成车间"]
    assert (unit.headcount, unit.meeting) == (126, date(2026, 12, 10))


def test_roster_xlsx_error_names_sheet_and_row(tmp_path):
    units, people = example_cells()
    people[6][2] = "副主任"
    save_workbook(tmp_path / WORKBOOK_FILE, units, [[], *people])  # header on row 2
    with pytest.raises(ConfigError) as caught:
        load_roster(tmp_path)
    assert "roster.xlsx 工作表“人员” 第 8 行: 未知角色“副主任”" in str(caught.value)


def test_roster_xlsx_unknown_unit_names_the_units_sheet(tmp_path):
    units, people = example_cells()
    people[1][0] = "合成车问"
    save_workbook(tmp_path / WORKBOOK_FILE, units, people)
    with pytest.raises(ConfigError, match="不在 工作表“单位” 中"):
        load_roster(tmp_path)


def test_roster_xlsx_missing_sheet(tmp_path):
    save_workbook(tmp_path / WORKBOOK_FILE, *example_cells(), titles=("单位", "Sheet2"))
    with pytest.raises(ConfigError, match=r"roster\.xlsx: 缺少工作表“人员”（现有：单位、Sheet2）"):
        load_roster(tmp_path)


def test_roster_xlsx_not_a_workbook(tmp_path):
    (tmp_path / WORKBOOK_FILE).write_bytes(b"this is not a zip")
    with pytest.raises(ConfigError, match=r"roster\.xlsx: 无法打开工作簿"):
        load_roster(tmp_path)


def test_roster_csv_wins_over_xlsx(tmp_path):
    units, people = example_cells()
    people[1][1] = "别人"
    save_workbook(tmp_path / WORKBOOK_FILE, units, people)
    roster_dir(tmp_path)
    assert load_roster(tmp_path).head_of("合成车间").name == "李建国"

