"""A DocxText from plain text (PDF text, antiword/catdoc output), table rows found by their separators."""

from __future__ import annotations

import re

from parsers.docx_text import DocxText
from parsers.fields import join_padded_labels

# How each source separates table cells: antiword draws "|cell |cell |", catdoc writes tabs,
# PDF text keeps only the gap between the cells of a form's row.
PIPES = re.compile(r"\|")
TABS = re.compile(r"\t")
SPACES = re.compile(r"[ \t\u3000]+")
# Single characters each followed by one space: a name or a word padded out (王 珺), not cells.
_SPACED_HAN = re.compile(r"(?<![\u4e00-\u9fff])[\u4e00-\u9fff](?: [\u4e00-\u9fff])+(?![\u4e00-\u9fff])")


def from_text(text: str, cells: re.Pattern[str]) -> DocxText:
    """Each non-empty line a line; lines with two or more cells become a table's rows, as a form's rows
    (one table per text: the lines between them are a wrapped cell's rest as often as a paragraph)."""
    out = DocxText()
    table: list[list[str]] | None = None
    if cells is SPACES:
        # Or the spaces inside 被 评 议 人 and 王 珺 would split them into cells.
        text = _SPACED_HAN.sub(lambda m: m.group(0).replace(" ", ""), join_padded_labels(text))
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
            # One cell alone is most often a long cell wrapped onto the next line: the table goes on.
            out.paragraphs.append(line)
    return out
