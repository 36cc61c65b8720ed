"""A workbook's cells as a DocxText (each sheet a table), so a form sent as a sheet is read like a .docx."""

from __future__ import annotations

import io
from datetime import date, datetime

from parsers.caps import check_workbook_sizes
from parsers.docx_text import DocxText
from parsers.errors import UnreadableDocument

# A review form is a few dozen rows; a sheet of data is not a form, and reading it all costs memory.
MAX_SHEETS = 10
MAX_ROWS = 500
MAX_COLUMNS = 30


def read_xlsx(data: bytes) -> DocxText:
    """Every sheet's rows (cells as text) as a table, each non-empty cell a line; UnreadableDocument when broken."""
    check_workbook_sizes(data)
    import openpyxl  # only for a workbook (tests/test_idle_imports.py)

    try:
        # read_only streams the sheets; openpyxl parses through defusedxml when it is installed.
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises assorted errors on broken files
        raise UnreadableDocument("Excel 文件已损坏，无法读取") from error
    out = DocxText()
    try:
        for sheet in book.worksheets[:MAX_SHEETS]:
            table: list[list[str]] = []
            for values in sheet.iter_rows(max_row=MAX_ROWS, max_col=MAX_COLUMNS, values_only=True):
                row = [_text(value) for value in values]
                while row and not row[-1]:
                    row.pop()
                if not row:
                    continue
                table.append(row)
                out.lines.extend(cell for cell in row if cell)
            if table:
                out.tables.append(table)
    except Exception as error:  # noqa: BLE001
        raise UnreadableDocument("Excel 文件已损坏，无法读取") from error
    finally:
        book.close()
    return out


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float: 120, not 120.0
    return str(value).strip()
