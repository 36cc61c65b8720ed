"""Labelled values in a document: "姓名：王珺" in a line, 姓名 | 王珺 in a table row, or a header row over records."""

from __future__ import annotations

import re
from collections.abc import Sequence

from parsers.docx_text import DocxText
from parsers.script import compact, to_simplified

# A hint after a label is common in forms: "评议类型（领导评价意见/民主评议意见）".
_HINT = re.compile(r"[（(].*?[）)]")


def label_of(cell: str, labels: Sequence[str]) -> str | None:
    """The label a cell holds ("姓  名：" → 姓名), or None when it holds something else."""
    key = _HINT.sub("", compact(cell)).rstrip("：:")
    return key if key in labels else None


def fields(doc: DocxText, labels: Sequence[str]) -> dict[str, str]:
    """The first non-empty value of each label, from the tables first, then from "label：value" lines."""
    found: dict[str, str] = {}
    for table in doc.tables:
        _from_table(table, labels, found)
    pattern = _line_pattern(labels)
    for line in doc.lines:
        for match in pattern.finditer(to_simplified(line)):
            key = compact(match.group(1))
            value = match.group(2).strip(" \t\u3000，,；;")
            if value and key not in found:
                found[key] = value
    return found


def records(doc: DocxText, columns: Sequence[str], required: Sequence[str]) -> list[dict[str, str]]:
    """Rows under a header row naming every label in `required`, as {label: cell}; empty rows skipped."""
    out: list[dict[str, str]] = []
    for table in doc.tables:
        header: dict[int, str] | None = None
        for row in table:
            labels = {i: label_of(cell, columns) for i, cell in enumerate(row)}
            labels = {i: key for i, key in labels.items() if key}
            if set(required) <= set(labels.values()):
                header = labels
                continue
            if header is None:
                continue
            record = {key: row[i].strip() for i, key in header.items() if i < len(row)}
            if any(record.values()):
                out.append(record)
    return out


def _from_table(table: list[list[str]], labels: Sequence[str], found: dict[str, str]) -> None:
    for r, row in enumerate(table):
        keys = [label_of(cell, labels) for cell in row]
        filled = [k for k, cell in zip(keys, row) if cell.strip()]
        if len(filled) >= 2 and all(filled):
            # A row of labels only: the values stand in the row below, column by column.
            below = table[r + 1] if r + 1 < len(table) else []
            for i, key in enumerate(keys):
                if key and i < len(below) and below[i].strip() and label_of(below[i], labels) is None:
                    found.setdefault(key, below[i].strip())
            continue
        for i, key in enumerate(keys):
            if key is None or key in found:
                continue
            for cell, next_key in zip(row[i + 1 :], keys[i + 1 :]):
                if not cell.strip() or cell == row[i]:
                    continue  # an empty cell, or a merged cell repeated
                if next_key is None:
                    found[key] = cell.strip()
                break


def _line_pattern(labels: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so 评议人职务 wins over 评议人; spaces allowed inside a padded label (姓  名：).
    alternatives = "|".join(r"\s*".join(map(re.escape, label)) for label in sorted(labels, key=len, reverse=True))
    return re.compile(rf"({alternatives})\s*[：:]\s*(.*?)(?=(?:{alternatives})\s*[：:]|$)")
