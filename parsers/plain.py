"""A DocxText from plain text (PDF text, antiword/catdoc output), table rows found by their separators."""

from __future__ import annotations

import re

from parsers.docx_text import DocxText

# How each source separates table cells: antiword draws "|cell |cell |", catdoc writes tabs,
# PDF text keeps only the gap between the cells of a form's row.
PIPES = re.compile(r"\|")
TABS = re.compile(r"\t")
SPACES = re.compile(r"[ \t\u3000]+")


def from_text(text: str, cells: re.Pattern[str]) -> DocxText:
    """Each non-empty line a line; runs of lines with two or more cells become a table, as a form's rows."""
    out = DocxText()
    table: list[list[str]] | None = None
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        row = [cell.strip() for cell in cells.split(raw.strip().strip("|"))]
        line = " ".join(cell for cell in row if cell)
        if not line:
            continue  # a blank line does not end a table: antiword puts one between some rows
        out.lines.append(line)
        if len([cell for cell in row if cell]) >= 2:
            if table is None:
                table = []
                out.tables.append(table)
            table.append(row)
        else:
            table = None
            out.paragraphs.append(line)
    return out
