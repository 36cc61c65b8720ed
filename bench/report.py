"""The figures as a table and the issue's targets as met / missed, from the results dictionary."""

from __future__ import annotations

# The targets of issue 6 (at the full size, 2 cores).
FIRST_POLL_RATIO = 0.5  # hrbot's first poll at most this share of the floor's time
IDLE_COMMANDS = 3  # IMAP commands after login
IDLE_MARGIN_S = 0.050  # the idle poll within this of the bare script
RSS_MB = 250
STATUS_S = TRACKER_S = REMIND_S = 2.0
REMIND_OVERDUE = 500


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def targets(r: dict) -> list[dict]:
    """Each target with the measured value and whether it is met."""
    first, floor = r["hrbot_first_poll"], r["floor"]
    idle, bare = r["hrbot_idle_poll"], r["bare_idle"]
    out = []

    def add(name, value, limit, met, detail=""):
        out.append({"target": name, "value": value, "limit": limit, "met": bool(met), "detail": detail})

    first_ratio = ratio(first["wall_s"], floor["wall_s"])
    add("first poll ≤ 0.5× floor", _round(first_ratio), FIRST_POLL_RATIO,
        first_ratio is not None and first_ratio <= FIRST_POLL_RATIO,
        f"{first['wall_s']:.2f} s vs floor {floor['wall_s']:.2f} s")
    commands = idle.get("commands")
    add("idle poll ≤ 3 commands after login", len(commands) if commands is not None else None, IDLE_COMMANDS,
        commands is not None and len(commands) <= IDLE_COMMANDS, " ".join(commands or []))
    bodies = idle.get("body_count")
    add("idle poll fetches no body", bodies, 0, bodies == 0)
    gap = idle["wall_s"] - bare["wall_s"]
    add("idle poll within 50 ms of bare ID+STATUS+LOGOUT", round(gap * 1000, 1), IDLE_MARGIN_S * 1000,
        gap <= IDLE_MARGIN_S, f"median {idle['wall_s'] * 1000:.0f} ms vs {bare['wall_s'] * 1000:.0f} ms (ms)")
    add("first poll peak RSS < 250 MB", round(first["max_rss_mb"], 1), RSS_MB, first["max_rss_mb"] < RSS_MB)
    add("status --json < 2 s", round(r["status"]["wall_s"], 3), STATUS_S, r["status"]["wall_s"] < STATUS_S)
    add("tracker < 2 s", round(r["tracker"]["wall_s"], 3), TRACKER_S, r["tracker"]["wall_s"] < TRACKER_S)
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
