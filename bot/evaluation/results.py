"""`hrbot results`: quorum, shares, ballot scores, the weighted composite and the ranking within each 专业系统."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.crashpoints import write_atomically
from bot.evaluation.channels import cadres, rated_channels
from bot.evaluation.progress import progress
from bot.evaluation.scores import load_scores
from bot.evaluation.tallies import collect
from bot.records import CADRE_LEVELS, CHANNEL_TITLES, CHANNELS, PEERS, STAFF, TEAM_LEVELS, Roster
from bot.season.roster import load_roster
from bot.settings import COMPOSITE_PARTS, Settings

GOOD = "好+较好"
RED = "FFC7CE"
FOLDER = "results"  # under paths.data: private, like everything the store keeps


@dataclass
class Results:
    units: list[dict]
    cadres: list[dict]
    refusals: list[str]  # the tally sheets that did not count, one line each

    def to_json(self) -> dict:
        return {"units": self.units, "cadres": self.cadres}


def compute(settings: Settings, roster: Roster | None = None) -> Results:
    """Every figure of the evaluation from the tallies in and HR's scores; a missing input leaves None, never 0."""
    import pandas as pd

    roster = roster or load_roster(settings.config_dir)
    ev = settings.evaluation
    collected = collect(settings, roster)
    tallies = collected.tallies
    scores = load_scores(settings.config_dir, roster)

    units = []
    for unit in progress(settings, roster, collected):
        staff = tallies.get((STAFF, unit.unit))
        sheet = staff.sheet if staff else None
        units.append({
            "unit": unit.unit, "kind": unit.kind, "headcount": unit.headcount, "attended": unit.attended,
            "quorum_required": unit.quorum_required, "quorum_met": unit.quorum_met,
            "team": _counted(sheet.team.counts, sheet.invalid, TEAM_LEVELS, GOOD) if sheet and sheet.team else None,
        })

    people = [p for unit in roster.units for p in cadres(roster, unit)]
    ratings = _ratings(people, tallies, ev)
    ballots = _ballot_scores(ratings)
    cadre_rows = []
    for person in people:
        who = (person.unit, person.name)
        channels = {}
        for channel in rated_channels(person):
            rating = ratings.loc[(*who, channel)]
            channels[channel] = None if pd.isna(rating["votes"]) else {
                "counts": {level: int(rating[level]) for level in CADRE_LEVELS},
                "invalid": int(rating["invalid"]),
                "shares": {level: _round(_number(rating[f"{level}占比"]), 4) for level in CADRE_LEVELS},
                "score": _round(_number(rating["score"])),
            }
        given = scores.get(who)
        cadre_rows.append({
            "unit": person.unit, "person": person.name, "role": person.role, "system": person.system,
            "channels": channels, "ballot_score": _number(ballots.get(who)),
            "daily_score": given.daily if given else None,
            "performance_score": given.performance if given else None,
        })
    _composite(cadre_rows, ev.composite_weights)
    for row in cadre_rows:  # rounded only once the composite is computed from the exact figure
        row["ballot_score"] = _round(row["ballot_score"])
    _rank(cadre_rows, ev.classes)
    return Results(units, cadre_rows, collected.refusals)


def _ratings(people, tallies, ev):
    """One row per cadre and rating channel (NaN counts where the tally is not in): counts, shares, score, weight."""
    import pandas as pd

    records = []
    for person in people:
        for channel in rated_channels(person):
            tally = tallies.get((channel, person.system if channel == PEERS else person.unit))
            row = next((r for r in tally.sheet.people if (r.unit, r.name) == (person.unit, person.name)),
                       None) if tally else None
            counts = row.counts if row else {}
            records.append({"unit": person.unit, "person": person.name, "channel": channel,
                            "weight": ev.channel_weights[channel], "invalid": tally.sheet.invalid if row else None,
                            **{level: counts.get(level) for level in CADRE_LEVELS}})
    frame = pd.DataFrame(records, columns=["unit", "person", "channel", "weight", "invalid", *CADRE_LEVELS])
    frame = frame.set_index(["unit", "person", "channel"])
    levels = frame[list(CADRE_LEVELS)].astype(float)
    frame["votes"] = levels.sum(axis=1, min_count=1)
    valid = frame["votes"].where(frame["votes"] > 0)
    for level in CADRE_LEVELS:
        frame[f"{level}占比"] = levels[level] / valid
    frame["score"] = (levels * pd.Series(dict(ev.points))).sum(axis=1, min_count=1) / valid
    return frame


def _ballot_scores(ratings) -> dict:
    """(unit, person) -> the weighted mean of the channel scores, the weights rescaled over the channels that
    rate the cadre; NaN when a channel with weight > 0 has no score yet."""
    weighed = ratings[ratings["weight"] > 0]
    if weighed.empty:
        return {}
    groups = (weighed["score"] * weighed["weight"]).groupby(level=["unit", "person"])
    total = groups.sum(min_count=1)
    missing = weighed["score"].isna().groupby(level=["unit", "person"]).any()
    ballot = (total / weighed["weight"].groupby(level=["unit", "person"]).sum()).mask(missing)
    return {key: _number(value) for key, value in ballot.items()}


def _composite(rows: list[dict], weights) -> None:
    """The weighted sum of the ballot, daily and performance scores; a part with weight 0 is not needed,
    a needed part missing leaves None."""
    import pandas as pd

    parts = [part for part in COMPOSITE_PARTS if weights[part] > 0]
    frame = pd.DataFrame([[r[f"{part}_score"] for part in parts] for r in rows], columns=parts, dtype=float)
    composite = (frame * pd.Series({part: weights[part] for part in parts})).sum(axis=1, skipna=False)
    for row, value in zip(rows, composite):
        row["composite"] = _round(_number(value))


def _counted(counts: dict[str, int], invalid: int, levels: tuple[str, ...], good: str | None) -> dict:
    """Counts and shares of the valid votes (the four levels), with the invalid ballots beside them."""
    total = sum(counts[level] for level in levels)
    shares = {level: _round(counts[level] / total, 4) if total else None for level in levels}
    if good:
        shares[good] = _round((counts[levels[0]] + counts[levels[1]]) / total, 4) if total else None
    return {"counts": {level: counts[level] for level in levels}, "invalid": invalid, "shares": shares}


def _rank(rows: list[dict], classes) -> None:
    """Rank within each 专业系统 by composite (best 1, ties share a rank); class by the configured thresholds."""
    import pandas as pd

    frame = pd.DataFrame([(r["system"], r["composite"]) for r in rows], columns=["system", "composite"])
    ranked = frame[frame["system"].notna() & frame["composite"].notna()]
    ranks = ranked.groupby("system")["composite"].rank(method="min", ascending=False)
    sizes = ranked.groupby("system")["composite"].transform("size")
    for i, row in enumerate(rows):
        row["rank_in_system"] = int(ranks[i]) if i in ranks.index else None
        row["class"] = None
        if row["rank_in_system"] is None:
            continue
        for name, rule, threshold in classes:
            if (rule == "min_score" and row["composite"] >= threshold) or \
                    (rule == "top_share" and row["rank_in_system"] <= math.ceil(threshold * int(sizes[i]))):
                row["class"] = name
                break


def _number(value) -> float | None:
    """A float, or None for a missing value (None or NaN, the only value unequal to itself)."""
    return None if value is None or value != value else float(value)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# --- the workbook -------------------------------------------------------------------


def write_results(settings: Settings, results: Results, on: date) -> Path:
    """The results workbook, readable by its owner only (0600); never mailed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    red = PatternFill("solid", fgColor=RED)
    sheet = book.active
    sheet.title = "到会与法定人数"
    sheet.append(["单位", "类型", "人数", "实到人数", "到会比例", "要求比例", "是否达到"])
    for u in results.units:
        ratio = _round(u["attended"] / u["headcount"], 4) if u["attended"] is not None else None
        met = {True: "达到", False: "未达到", None: "统计表未收到"}[u["quorum_met"]]
        sheet.append([u["unit"], u["kind"], u["headcount"], u["attended"], ratio, u["quorum_required"], met])
        if u["quorum_met"] is False:
            for cell in sheet[sheet.max_row]:
                cell.fill = red

    sheet = book.create_sheet("班子测评")
    sheet.append(["单位", *TEAM_LEVELS, "废票", *(f"{level}占比" for level in (*TEAM_LEVELS, GOOD))])
    for u in results.units:
        team = u["team"]
        if team is None:
            sheet.append([u["unit"], "未收到"])
            continue
        sheet.append([u["unit"], *team["counts"].values(), team["invalid"], *team["shares"].values()])

    sheet = book.create_sheet("干部测评")
    sheet.append(["单位", "姓名", "职务", "测评渠道", *CADRE_LEVELS, "废票",
                  *(f"{level}占比" for level in CADRE_LEVELS), "渠道得分"])
    for c in results.cadres:
        for channel, got in c["channels"].items():
            head = [c["unit"], c["person"], c["role"], CHANNEL_TITLES[channel]]
            if got is None:
                sheet.append([*head, "未收到"])
            else:
                sheet.append([*head, *got["counts"].values(), got["invalid"], *got["shares"].values(), got["score"]])

    sheet = book.create_sheet("综合评价")
    sheet.append(["单位", "姓名", "职务", "专业系统", "测评得分", "日常考核成绩", "业绩指标成绩", "综合得分",
                  "系统内排名", "分类"])
    ev = settings.evaluation
    for c in results.cadres:
        # Rank and class need a system and a composite; a class only where thresholds are configured.
        rank = c["rank_in_system"] if c["system"] else ""
        klass = c["class"] if ev.classes else ""
        sheet.append([c["unit"], c["person"], c["role"], c["system"], *(_shown(c[k]) for k in (
            "ballot_score", "daily_score", "performance_score", "composite")), _shown(rank), _shown(klass)])
    sheet.append([])
    sheet.append(["权重：测评 {ballot:g}，日常考核 {daily:g}，业绩指标 {performance:g}".format(**ev.composite_weights)])
    sheet.append(["测评渠道权重：" + "，".join(f"{CHANNEL_TITLES[c]} {ev.channel_weights[c]:g}" for c in CHANNELS)])
    sheet.append(["“缺”表示尚无数据（统计表未收到或成绩未提供），不按 0 分计算。"])

    if results.refusals:
        sheet = book.create_sheet("未计入的统计表")
        sheet.append(["文件与问题"])
        for line in results.refusals:
            sheet.append([line])
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)

    folder = settings.paths.data / FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"测评结果-{on.isoformat()}.xlsx"
    write_atomically(path, book.save)
    return path


def _shown(value):
    return "缺" if value is None else value
