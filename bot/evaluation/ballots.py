"""`hrbot ballots`: the printable, anonymous 测评票 per unit — the staff's and the heads' — as .docx and PDF."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from bot.crashpoints import write_atomically
from bot.evaluation.channels import Sheet, sheets
from bot.records import CADRE_LEVELS, HEADS, STAFF, TEAM_LEVELS, Roster

log = logging.getLogger(__name__)

TITLES = {STAFF: "民主测评票", HEADS: "党政主要领导测评副职测评票"}
TICK = "请在每一行选定的等次栏内划“√”，每行只能选一项；多选或不选的，该行无效。本票不记名，请勿署名。"


def write_ballots(roster: Roster, year: int, folder: Path, pdf: bool = True) -> list[Path]:
    """Write the staff ballot of every unit and the heads' ballot where a unit has deputies; PDF too when
    LibreOffice is installed (and `pdf`). Return the paths written."""
    from parsers.convert import ConversionFailed, convert_to, soffice

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    pdf = pdf and soffice() is not None
    for sheet in sheets(roster):
        if sheet.channel not in (STAFF, HEADS):
            continue
        data = ballot(sheet, year)
        path = folder / f"{sheet.label}-{TITLES[sheet.channel]}.docx"
        write_atomically(path, data, mode=0o644)
        paths.append(path)
        if pdf:
            try:
                write_atomically(path.with_suffix(".pdf"), convert_to(data, ".docx", "pdf"), mode=0o644)
                paths.append(path.with_suffix(".pdf"))
            except ConversionFailed as error:
                log.warning("ballots: no PDF of %s: %s", path.name, error)
    return paths


def ballot(sheet: Sheet, year: int) -> bytes:
    """One ballot: the team (staff ballot only) and each cadre with the four levels to tick; no voter field."""
    from parsers.forms import titled_document

    doc = titled_document(f"{year}年度{sheet.label}{TITLES[sheet.channel]}")
    doc.add_paragraph(TICK)
    if sheet.team:
        doc.add_paragraph().add_run("一、对领导班子的评价").bold = True
        _table(doc, ("评价对象", *TEAM_LEVELS), [(f"{sheet.unit}领导班子",)])
        doc.add_paragraph().add_run("二、对班子成员及科级干部的评价").bold = True
    _table(doc, ("姓名", "职务", *CADRE_LEVELS), [(p.name, p.role) for p in sheet.people])
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _table(doc, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header):
        cell.text = text
    for values in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, values):
            cell.text = text
