"""The figures as a table and the issue's targets as met / missed, from the results dictionary."""

from __future__ import annotations

# The targets of issue 13 (at the full size, 2 cores).
FIRST_POLL_RATIO = {"light": 0.35, "heavy": 0.25}  # hrbot's first poll at most this share of the floor's time
PER_SUBMISSION_RATIO = 1.5  # hrbot's work on a submission over python-docx opening its .docx
IDLE_COMMANDS = 3  # IMAP commands after login, an idle poll of the service
IDLE_CPU_MS = 2.0  # hrbot's own CPU in an idle poll of the service
ONE_OFF_MARGIN_S = 0.100  # a one-off `poll --once` process within this of a bare imapclient process
RSS_MB = 200
STATUS_S = REMIND_S = 2.0
TRACKER_S = 1.0
REMIND_OVERDUE = 500


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def targets(r: dict, corpus: str = "heavy") -> list[dict]:
    """Each target with the measured value and whether it is met."""
    first, floor = r["hrbot_first_poll"], r["floor"]
    idle, bare = r["hrbot_idle_poll"], r["bare_idle"]
    per, service = r.get("per_submission", {}), r.get("idle_service", {})
    out = []

    def add(name, value, limit, met, detail=""):
        out.append({"target": name, "value": value, "limit": limit, "met": bool(met), "detail": detail})

    limit = FIRST_POLL_RATIO.get(corpus, FIRST_POLL_RATIO["heavy"])
    first_ratio = ratio(first["wall_s"], floor["wall_s"])
    add(f"first poll ≤ {limit}× floor ({corpus})", _round(first_ratio), limit,
        first_ratio is not None and first_ratio <= limit, f"{first['wall_s']:.2f} s vs floor {floor['wall_s']:.2f} s")
    add(f"per submission ≤ {PER_SUBMISSION_RATIO}× python-docx opening its .docx", per.get("ratio"),
        PER_SUBMISSION_RATIO, per.get("ratio") is not None and per["ratio"] <= PER_SUBMISSION_RATIO,
        f"{per.get('hrbot_ms')} ms vs {per.get('docx_open_ms')} ms a submission, {per.get('submissions')} "
        f"submissions; CPU {per.get('hrbot_cpu_ms')} vs {per.get('docx_open_cpu_ms')} ms = {per.get('ratio_cpu')}×")
    commands = service.get("commands_max")
    lists = service.get("command_lists") or []
    add("service idle poll ≤ 3 commands after login, no IDLE", commands, IDLE_COMMANDS,
        commands is not None and commands <= IDLE_COMMANDS and not any("IDLE" in c.split() for c in lists),
        " | ".join(lists))
    add("service idle poll fetches no body", service.get("body_count"), 0, service.get("body_count") == 0)
    own = service.get("hrbot_own_cpu_ms")
    add(f"service idle poll ≤ {IDLE_CPU_MS:g} ms of hrbot's own CPU", own, IDLE_CPU_MS,
        own is not None and own <= IDLE_CPU_MS,
        f"median CPU {service.get('hrbot_cpu_ms')} ms vs bare imapclient {service.get('bare_cpu_ms')} ms; "
        f"wall {service.get('hrbot_wall_ms')} vs {service.get('bare_wall_ms')} ms")
    gap = idle["wall_s"] - bare["wall_s"]
    add("one-off poll --once within 100 ms of a bare imapclient process", round(gap * 1000, 1),
        ONE_OFF_MARGIN_S * 1000, gap <= ONE_OFF_MARGIN_S,
        f"median {idle['wall_s'] * 1000:.0f} ms vs {bare['wall_s'] * 1000:.0f} ms (ms)")
    add(f"first poll peak RSS < {RSS_MB} MB", round(first["max_rss_mb"], 1), RSS_MB, first["max_rss_mb"] < RSS_MB)
    add("status --json < 2 s", round(r["status"]["wall_s"], 3), STATUS_S, r["status"]["wall_s"] < STATUS_S)
    add(f"tracker < {TRACKER_S:g} s", round(r["tracker"]["wall_s"], 3), TRACKER_S, r["tracker"]["wall_s"] < TRACKER_S)
    overdue = r["remind"].get("overdue")
    add(f"remind --dry-run, {REMIND_OVERDUE} overdue, < 2 s", round(r["remind"]["wall_s"], 3), REMIND_S,
        r["remind"]["wall_s"] < REMIND_S,
        f"{overdue} overdue on {r['remind']['as_of']}" + ("" if (overdue or 0) >= REMIND_OVERDUE * 0.9
                                                          else " (fewer than the target's 500 at this size)"))
    return out


def table(r: dict) -> str:
    floor, peer, first = r["floor"], r["peer"], r["hrbot_first_poll"]
    idle, bare = r["hrbot_idle_poll"], r["bare_idle"]
    rows = [("figure", "floor", "peer", "hrbot", "hrbot/floor", "hrbot/peer")]

    def line(name, key, fmt):
        a, b, c = floor.get(key), peer.get(key), first.get(key)
        rows.append((name, _fmt(a, fmt), _fmt(b, fmt), _fmt(c, fmt), _fmt(ratio(c, a), "{:.2f}"),
                     _fmt(ratio(c, b), "{:.2f}")))

    line("first read: wall s", "wall_s", "{:.2f}")
    line("first read: peak RSS MB", "max_rss_mb", "{:.0f}")
    line("first read: bodies fetched", "body_count", "{:d}")
    line("first read: MB sent by server", "server_out_mb", "{:.1f}")
    line("first read: .docx opened", "docx", "{:d}")
    rows.append(("", "", "", "", "", ""))
    rows.append(("idle poll", "bare", "", "hrbot", "hrbot-bare", ""))
    rows.append(("  wall ms (median)", _fmt(bare["wall_s"] * 1000, "{:.0f}"), "", _fmt(idle["wall_s"] * 1000, "{:.0f}"),
                 _fmt((idle["wall_s"] - bare["wall_s"]) * 1000, "{:+.0f}"), ""))
    rows.append(("  commands after login", str(len(bare.get("commands") or [])), "",
                 str(len(idle.get("commands") or [])), " ".join(idle.get("commands") or []), ""))
    rows.append(("  bodies fetched", _fmt(bare.get("body_count"), "{:d}"), "", _fmt(idle.get("body_count"), "{:d}"),
                 "", ""))
    rows.append(("  peak RSS MB", _fmt(bare["max_rss_mb"], "{:.0f}"), "", _fmt(idle["max_rss_mb"], "{:.0f}"), "", ""))
    service = r.get("idle_service", {})
    rows.append(("  in the service: CPU ms (median)", _fmt(service.get("bare_cpu_ms"), "{:.2f}"), "",
                 _fmt(service.get("hrbot_cpu_ms"), "{:.2f}"), _fmt(service.get("hrbot_own_cpu_ms"), "{:+.2f}"), ""))
    rows.append(("  in the service: wall ms (median)", _fmt(service.get("bare_wall_ms"), "{:.1f}"), "",
                 _fmt(service.get("hrbot_wall_ms"), "{:.1f}"), "", ""))
    rows.append(("", "", "", "", "", ""))
    per = r.get("per_submission", {})
    rows.append(("per submission", "python-docx open", "", "hrbot intake", "hrbot/python-docx", ""))
    rows.append(("  wall ms", _fmt(per.get("docx_open_ms"), "{:.2f}"), "", _fmt(per.get("hrbot_ms"), "{:.2f}"),
                 _fmt(per.get("ratio"), "{:.2f}"), f"{per.get('submissions')} submissions, {per.get('docx')} .docx"))
    rows.append(("  CPU ms", _fmt(per.get("docx_open_cpu_ms"), "{:.2f}"), "", _fmt(per.get("hrbot_cpu_ms"), "{:.2f}"),
                 _fmt(per.get("ratio_cpu"), "{:.2f}"), ""))
    rows.append(("", "", "", "", "", ""))
    for key, name in (("status", "status --json"), ("tracker", "tracker"), ("remind", "remind --dry-run")):
        fig = r[key]
        extra = f"{fig.get('overdue')} overdue" if key == "remind" else f"{fig.get('rows', '')} rows" \
            if key == "status" else ""
        rows.append((f"{name}: wall s", "", "", _fmt(fig["wall_s"], "{:.2f}"), extra, ""))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def verdicts(found: list[dict]) -> str:
    lines = []
    for t in found:
        mark = "met   " if t["met"] else "MISSED"
        detail = f" ({t['detail']})" if t["detail"] else ""
        lines.append(f"  {mark} {t['target']}: {t['value']} (limit {t['limit']}){detail}")
    return "\n".join(lines)


def _fmt(value, fmt: str) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def failures(r: dict) -> list[str]:
    """The measured steps whose process did not exit 0, with their last error line."""
    out = []
    for name, fig in r.items():
        if isinstance(fig, dict) and fig.get("exit_code", 0) != 0:
            out.append(f"{name} exited {fig['exit_code']}: {' | '.join(fig.get('error') or [])}")
    return out
