"""bot.reports.xlsx: the package Excel and WPS open, read back with openpyxl and checked part by part."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from openpyxl import load_workbook

from bot.reports.xlsx import Workbook, column_letters


def _saved(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_xlsx_column_letters_past_z():
    assert [column_letters(i) for i in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_xlsx_package_parts_are_declared_and_well_formed():
    wb = Workbook()
    wb.add_sheet("总览").write_row(0, [(0, "x", 0)])
    wb.add_sheet("明细")  # an empty sheet is still a valid part
    data = _saved(wb)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        names = package.namelist()
        assert names[0] == "[Content_Types].xml"
        for name in names:
            ElementTree.fromstring(package.read(name))  # raises on malformed XML
        types = package.read("[Content_Types].xml").decode()
    for part in ("/xl/workbook.xml", "/xl/worksheets/sheet1.xml", "/xl/worksheets/sheet2.xml", "/xl/styles.xml",
                 "/xl/sharedStrings.xml"):
        assert f'PartName="{part}"' in types and part.lstrip("/") in names
    assert load_workbook(io.BytesIO(data)).sheetnames == ["总览", "明细"]


def test_xlsx_text_numbers_styles_and_view_read_back():
    wb = Workbook()
    ws = wb.add_sheet("邮件日志")
    ws.set_widths([10, 30.5])
    ws.freeze_rows(1)
    ws.write_row(0, [(0, "<头> & \"引号\"", wb.style(fill="DDEBF7", bold=True)), (1, "  前后空格  ", 0)])
    ws.write_row(1, [(0, 46000.5, wb.style("yyyy-mm-dd hh:mm")), (1, 7, wb.style(fill="FFC7CE"))])
    ws.write_row(3, [(27, "AB 列", 0)])  # a gap of a row and of columns
    ws.autofilter(0, 3, 27)
    sheet = load_workbook(io.BytesIO(_saved(wb)))["邮件日志"]
    assert sheet["A1"].value == "<头> & \"引号\"" and sheet["A1"].font.b
    assert sheet["A1"].fill.fgColor.rgb[-6:] == "DDEBF7"
    assert sheet["B1"].value == "  前后空格  "
    assert sheet["A2"].is_date and sheet["A2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["A2"].value.isoformat() == "2025-12-09T12:00:00"
    assert sheet["B2"].value == 7 and sheet["B2"].fill.fgColor.rgb[-6:] == "FFC7CE"
    assert sheet["AB4"].value == "AB 列" and sheet["A3"].value is None
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:AB4"
    assert 30 <= sheet.column_dimensions["B"].width <= 32
