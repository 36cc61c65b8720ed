"""The returned tally sheets that count: the mailed ones the store kept, and those HR put into `tallies/`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.records import Arrival, Roster
from bot.season.items import BALLOT_TALLY
from bot.store import Store
from parsers.errors import UnreadableDocument
from parsers.tally import TallyRefused, TallySheet, read_tally

log = logging.getLogger(__name__)

FOLDER = "tallies"  # in the config folder: sheets HR received on paper or by hand


@dataclass
class Tally:
    sheet: TallySheet
    source: str  # the file name as received, or the path in tallies/
    received_at: datetime


@dataclass
class Collected:
    tallies: dict[tuple[str, str], Tally]  # (channel, unit or system) -> the latest sheet that counts
    refusals: list[str]  # one line per sheet that does not count: file, row, problem


def collect(settings, roster: Roster) -> Collected:
    """Every tally sheet that counts, the latest per unit (or system) and channel, and why others do not."""
    found: list[tuple[str, datetime, bytes]] = []
    refusals: list[str] = []
    with Store.open(settings.paths.data) as store:
        kept = store.accepted_files(BALLOT_TALLY)
    for filename, saved_as, received_at in kept:
        try:
            data = (settings.paths.data / saved_as).read_bytes()
        except OSError as error:  # a kept file removed by hand: say so, count the rest
            refusals.append(f"{filename or saved_as}：保存的文件无法读取（{error.strerror}）")
            continue
        found.append((filename or saved_as, received_at, data))
    found += [(str(path), moment, path.read_bytes())
              for path, moment in _folder_files(settings.config_dir, settings.season.timezone)]
    tallies: dict[tuple[str, str], Tally] = {}
    for source, moment, data in sorted(found, key=lambda f: f[1]):
        sheet, problem = _read(data, roster)
        if sheet is None:
            refusals.append(f"{source} {problem}")
            continue
        tallies[(sheet.channel, sheet.unit or sheet.system)] = Tally(sheet, source, moment)
    return Collected(tallies, refusals)


def folder_arrivals(config_dir: Path, roster: Roster, zone: ZoneInfo) -> list[Arrival]:
    """The units' tally sheets in `tallies/` that pass the checks, as arrivals (the status counts them)."""
    arrivals = []
    for path, moment in _folder_files(config_dir, zone):
        sheet, problem = _read(path.read_bytes(), roster)
        if sheet is None:
            log.warning("tallies: %s does not count: %s", path, problem)
        elif sheet.unit is not None:
            arrivals.append(Arrival(sheet.unit, BALLOT_TALLY, None, moment, None))
    return arrivals


def folder_problems(config_dir: Path, roster: Roster, zone: ZoneInfo) -> tuple[int, list[str]]:
    """For `hrbot check`: how many sheets in `tallies/` count, and a line for each that does not."""
    counted, problems = 0, []
    for path, _ in _folder_files(config_dir, zone):
        try:
            sheet, problem = _read(path.read_bytes(), roster)
        except OSError as error:
            sheet, problem = None, f"无法读取（{error.strerror}）"
        if sheet is None:
            problems.append(f"{FOLDER}/{path.name} 不计入：{problem}")
        else:
            counted += 1
    return counted, problems


def _folder_files(config_dir: Path, zone: ZoneInfo) -> list[tuple[Path, datetime]]:
    folder = Path(config_dir) / FOLDER
    if not folder.is_dir():  # the usual case: no openpyxl import, no cost for status and reminders
        return []
    return [(path, datetime.fromtimestamp(path.stat().st_mtime, zone))
            for path in sorted(folder.glob("*.xlsx")) if not path.name.startswith("~$") and path.is_file()]


def _read(data: bytes, roster: Roster):
    """(sheet, None) when the sheet counts, else (None, the problem in HR's words)."""
    try:
        sheet = read_tally(data, roster)
    except (TallyRefused, UnreadableDocument) as error:
        return None, str(error)
    if sheet is None:
        return None, "不是 hrbot 生成的民主测评统计表"
    return sheet, None
