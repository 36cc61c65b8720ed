"""The hrbot benchmark (issue 6): generate a season, load it into a real dovecot, and measure side by side
the floor (bare imapclient + email + python-docx), a peer (imap-tools) and hrbot, in one run.

    python bench/run.py                      # the small default, about a minute
    python bench/run.py --full               # 200 units, 2,000 cadres, 2,000 submissions, 20,000 others
    python bench/run.py --units 50 --cadres 500 --submissions 500 --unrelated 5000

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import mailbox, measure, messages, report, season  # noqa: E402

SMALL = dict(units=20, cadres=200, submissions=200, unrelated=2000)
FULL = dict(units=200, cadres=2000, submissions=2000, unrelated=20000)
PASSWORD_ENV = "HRBOT_BENCH_IMAP_PASSWORD"
# Share of the unrelated mail with a 1–5 MB file, by corpus.
ATTACH_SHARE = {"heavy": 0.03, "light": 0.01}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="the issue's full size (overridden by the options below)")
    p.add_argument("--units", type=int, help=f"units on the roster (small {SMALL['units']}, full {FULL['units']})")
    p.add_argument("--cadres", type=int, help="people owing a personal report, spread over the units")
    p.add_argument("--submissions", type=int, help="messages from roster senders carrying the season's documents")
    p.add_argument("--unrelated", type=int, help="other messages: newsletters, plain mail, notices, large files")
    p.add_argument("--big-mb", type=float, default=25.0, help="the one submission with a large attachment (MB)")
    p.add_argument("--corpus", choices=("both", "heavy", "light"), default="both",
                   help="the unrelated mail: heavy (large files), light (an HR inbox's usual mail), or both in one run")
    p.add_argument("--attach-share", type=float,
                   help=f"share of unrelated mail with a large file (heavy {ATTACH_SHARE['heavy']}, "
                        f"light {ATTACH_SHARE['light']})")
    p.add_argument("--attach-mb", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"),
                   help="size range of those files (MB)")
    p.add_argument("--overdue", type=int, default=report.REMIND_OVERDUE,
                   help="pick the reminder day with about this many overdue items")
    p.add_argument("--repeat", type=int, default=5, help="runs of each short command (status, tracker, remind); median")
    p.add_argument("--idle-repeat", type=int, default=15,
                   help="idle polls of each (hrbot, bare), alternating; median (a run takes ~0.1 s, its noise ~10 ms)")
    p.add_argument("--service-repeat", type=int, default=200,
                   help="idle polls of each (hrbot, bare) in one process (a pair takes ~30 ms; the difference "
                        "measured is ~1 ms of CPU, so it takes many)")
    p.add_argument("--seed", type=int, default=6, help="the generator's seed")
    p.add_argument("--out", type=Path, help="the JSON file (default bench/results/<time>-<size>.json)")
    p.add_argument("--profile", action="store_true",
                   help="then profile one more first poll and an idle poll with cProfile (.prof, .txt beside the JSON)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (config, data, logs)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes building the messages")
    args = p.parse_args(argv)
    base = FULL if args.full else SMALL
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    label = f"u{args.units}-c{args.cadres}-s{args.submissions}-x{args.unrelated}"
    out = args.out or ROOT / "bench" / "results" / f"{datetime.now():%Y%m%d-%H%M%S}-{label}.json"
    # SIGTERM and SIGHUP end the run like Ctrl-C does: through the finally blocks that stop dovecot.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="hrbot-bench-"))
    corpora = ("light", "heavy") if args.corpus == "both" else (args.corpus,)
    results: dict = {}
    try:
        for corpus in corpora:
            size = season.Size(units=args.units, cadres=args.cadres, submissions=args.submissions,
                               unrelated=args.unrelated, big_mb=args.big_mb,
                               attach_share=ATTACH_SHARE[corpus] if args.attach_share is None else args.attach_share,
                               attach_mb=tuple(args.attach_mb), overdue=args.overdue, seed=args.seed, corpus=corpus)
            step(f"=== the {corpus} corpus ===")
            results[corpus] = bench(size, args, tmp / corpus, out.with_name(f"{out.stem}-{corpus}{out.suffix}"))
        for corpus in corpora:
            _print_results(corpus, results[corpus])
    except KeyboardInterrupt:
        print("\ninterrupted; dovecot stopped, temporary files removed", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nJSON: {out}")
    return 0 if all(step.get("exit_code", 0) == 0 for r in results.values() for step in r.values()
                    if isinstance(step, dict)) else 1


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def bench(size: season.Size, args, tmp: Path, out: Path) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, PASSWORD_ENV: mailbox.imap_server.PASSWORD,
           "BENCH_IMAP_PASSWORD": mailbox.imap_server.PASSWORD}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    logs = tmp / "logs"
    results: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "size": size.__dict__,
                     "machine": _machine(), "started": datetime.now().isoformat(timespec="seconds")}
    with mailbox.dovecot(tmp / "dovecot") as server:
        rng = random.Random(size.seed)
        units, people = season.make_roster(size, rng)
        config = season.write_config(tmp / "config", units, people, server.host, server.port, server.user,
                                     PASSWORD_ENV)
        step("planning the season")
        plan = season.plan(size, config, rng)
        step(f"building and loading {len(plan.specs)} messages into dovecot's Maildir")
        results["mailbox"] = load(server, plan, args.workers)
        results["mailbox"].update(units=plan.units, people=plan.people, items_expected=plan.items_expected,
                                  remind_day=plan.remind_day.isoformat(), overdue_planned=plan.overdue_expected)
        step("warming: dovecot indexes the mailbox as its owner's client would have")
        results["mailbox"]["warm"] = server.warm()
        _print_mailbox(results["mailbox"])
        hr = measure.hrbot_command()
        address = [server.host, str(server.port), server.user]
        # A normal (non-editable) install compiles hrbot's modules; an editable one run with
        # PYTHONDONTWRITEBYTECODE set would recompile them in every process and pay ~20 ms per
        # start that the floor's installed libraries do not. Compile once, as an install would.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bot"), str(ROOT / "parsers")],
                       check=False)

        step("floor: bare imapclient + email + python-docx")
        results["floor"] = reader(server, "floor", measure.reader_command("floor") + address, env, logs)
        step("peer: imap-tools + python-docx")
        results["peer"] = reader(server, "peer", measure.reader_command("peer") + address, env, logs)
        step("hrbot: poll --once on the fresh mailbox")
        results["hrbot_first_poll"] = first_poll(server, hr + ["--config", str(config), "poll", "--once"], env, logs)

        step("per submission: hrbot's intake in one process vs python-docx opening the same .docx")
        results["per_submission"] = reader(server, "per-submission", [sys.executable, str(ROOT / "bench" / "per_submission.py"),
                                                                      str(config), str(server.maildir / "cur")], env, logs)
        step(f"idle in the service: {args.service_repeat} polls with nothing new in one process, vs bare imapclient")
        results["idle_service"] = idle_service(server, [sys.executable, str(ROOT / "bench" / "idle_service.py"),
                                                        str(config), *address, str(args.service_repeat)],
                                               env, logs, args.service_repeat)
        step(f"idle: hrbot poll --once with nothing new vs bare ID+STATUS+LOGOUT, {args.idle_repeat} runs each")
        results["bare_idle"], results["hrbot_idle_poll"] = idle(
            server, measure.reader_command("bare_idle") + address, hr + ["--config", str(config), "poll", "--once"],
            env, logs, args.idle_repeat)

        day = plan.remind_day.isoformat()
        step(f"status --json, tracker, remind --dry-run as of {day}")
        results["status"] = short(hr + ["--config", str(config), "status", "--json", "--as-of", day], "status", env,
                                  logs, args.repeat)
        results["status"].update(_states(results["status"].pop("stdout")))
        results["tracker"] = short(hr + ["--config", str(config), "tracker", "--as-of", day], "tracker", env, logs,
                                   args.repeat)
        results["tracker"].pop("stdout")
        results["remind"] = short(hr + ["--config", str(config), "remind", "--dry-run", "--as-of", day], "remind",
                                  env, logs, args.repeat)
        results["remind"].pop("stdout")
        results["remind"].update(as_of=day, overdue=results["status"].get("states", {}).get("overdue"))
        results["dovecot_errors"] = server.log_errors()[:20]
        if args.profile:
            step("profiling one more first poll with cProfile")
            results["profile"] = profile(config, tmp, out, env, logs)

    results["ratios"] = {
        "first_poll_wall_hrbot_over_floor": _r(report.ratio(results["hrbot_first_poll"]["wall_s"],
                                                            results["floor"]["wall_s"])),
        "first_poll_wall_hrbot_over_peer": _r(report.ratio(results["hrbot_first_poll"]["wall_s"],
                                                           results["peer"]["wall_s"])),
        "first_poll_rss_hrbot_over_floor": _r(report.ratio(results["hrbot_first_poll"]["max_rss_mb"],
                                                           results["floor"]["max_rss_mb"])),
        "first_poll_rss_hrbot_over_peer": _r(report.ratio(results["hrbot_first_poll"]["max_rss_mb"],
                                                          results["peer"]["max_rss_mb"])),
        "idle_hrbot_minus_bare_ms": round((results["hrbot_idle_poll"]["wall_s"] - results["bare_idle"]["wall_s"])
                                          * 1000, 1),
    }
    results["targets"] = report.targets(results, size.corpus)
    return results


def _print_results(corpus: str, results: dict) -> None:
    code = results["machine"]
    dirty = f" + uncommitted {', '.join(code['uncommitted'])}" if code["uncommitted"] else ""
    m = results["mailbox"]
    print(f"\n=== {corpus} corpus: {m['messages']} messages, {m['total_mb']} MB ===")
    print(f"hrbot {code['commit']}{dirty}; first poll said: {results['hrbot_first_poll'].get('said', '')}\n")
    print(report.table(results))
    print(f"\ntargets (issue 13, {corpus} corpus; they are set for the full size on 2 cores):")
    print(report.verdicts(results["targets"]))
    failed = report.failures(results)
    if failed:
        print("\nFAILED steps (see their figures with care): " + "; ".join(failed))


def step(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


def load(server: mailbox.Server, plan: season.Plan, workers: int) -> dict:
    """Build every message in worker processes, each written straight into the Maildir."""
    started = time.perf_counter()
    maildir, owner = server.prepare()
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    documents = largest = 0
    jobs = ((maildir, owner, seq, spec) for seq, spec in enumerate(plan.specs))
    pool = ProcessPoolExecutor(max_workers=max(1, workers))
    try:
        for n, (kind, length, docs) in enumerate(pool.map(messages.write, jobs, chunksize=16), 1):
            counts[kind] = counts.get(kind, 0) + 1
            sizes[kind] = sizes.get(kind, 0) + length
            documents += docs
            largest = max(largest, length)
            if n % 2000 == 0:
                print(f"  {n}/{len(plan.specs)}", flush=True)
    finally:
        # Interrupted: drop the queued messages rather than build them all before stopping.
        pool.shutdown(wait=True, cancel_futures=True)
    total = sum(sizes.values())
    return {"messages": len(plan.specs), "total_mb": round(total / 2**20, 1), "largest_mb": round(largest / 2**20, 1),
            "documents": documents, "by_kind": counts, "mb_by_kind": {k: round(v / 2**20, 1) for k, v in sizes.items()},
            "build_seconds": round(time.perf_counter() - started, 1)}


def reader(server: mailbox.Server, name: str, argv: list[str], env: dict, logs: Path) -> dict:
    server.mark()
    run = measure.run(name, argv, env, logs, cwd=ROOT)
    result = {**run.to_json(), **_session(server)}
    if run.exit_code == 0:
        result.update(json.loads(run.stdout.strip().splitlines()[-1]))
    else:
        result["error"] = run.stderr.strip().splitlines()[-1:] or [""]
    return result


def first_poll(server: mailbox.Server, argv: list[str], env: dict, logs: Path) -> dict:
    server.mark()
    run = measure.run("hrbot-first-poll", argv, env, logs, cwd=ROOT)
    said = run.stdout.strip()
    outcomes = {k: int(v) for k, v in re.findall(r"([a-z_]+) (\d+)", said.partition("：")[2])}
    result = {**run.to_json(), **_session(server), "said": said, "outcomes": outcomes}
    if run.exit_code != 0:
        result["error"] = run.stderr.strip().splitlines()[-3:]
    return result


def idle(server: mailbox.Server, bare_argv: list[str], hrbot_argv: list[str], env: dict, logs: Path,
         repeat: int) -> tuple[dict, dict]:
    """Alternate the two so that drift on a shared machine touches both alike; median of each."""
    server.rawlog(True)
    found: dict[str, list] = {"bare": [], "hrbot": []}
    try:
        for n in range(repeat):
            for name, argv in (("bare", bare_argv), ("hrbot", hrbot_argv)):
                server.mark()
                run = measure.run(f"{name}-idle-{n}", argv, env, logs, cwd=ROOT)
                found[name].append((run, _session(server)))
    finally:
        server.rawlog(False)
    out = []
    for name in ("bare", "hrbot"):
        runs = [r for r, _ in found[name]]
        middle = measure.median_run(runs)
        session = next(s for r, s in found[name] if r is middle)
        out.append({**middle.to_json(), **session, **measure.spread(runs),
                    "exit_codes": sorted({r.exit_code for r in runs})})
        if middle.exit_code != 0:
            out[-1]["error"] = middle.stderr.strip().splitlines()[-3:]
    return out[0], out[1]


def idle_service(server: mailbox.Server, argv: list[str], env: dict, logs: Path, repeat: int) -> dict:
    """The in-process idle polls, with the IMAP commands of each of hrbot's sessions (the bare ones send STATUS)."""
    server.rawlog(True)
    try:
        server.mark()
        run = measure.run("idle-service", argv, env, logs, cwd=ROOT)
        sessions = server.sessions(expected=2 * (repeat + 1))
    finally:
        server.rawlog(False)
    result = run.to_json()
    if run.exit_code != 0:
        result["error"] = run.stderr.strip().splitlines()[-3:]
        return result
    result.update(json.loads(run.stdout.strip().splitlines()[-1]))
    ours = [x for x in sessions if "STATUS" not in x.commands]
    result.update(sessions=len(ours), body_count=sum(x.body_count for x in ours),
                  commands_max=max((len(x.commands) for x in ours), default=None),
                  command_lists=sorted({" ".join(x.commands) for x in ours}))
    return result


def short(argv: list[str], name: str, env: dict, logs: Path, repeat: int) -> dict:
    runs = [measure.run(f"{name}-{n}", argv, env, logs, cwd=ROOT) for n in range(repeat)]
    middle = measure.median_run(runs)
    result = {**middle.to_json(), **measure.spread(runs), "stdout": middle.stdout}
    if middle.exit_code != 0:
        result["error"] = middle.stderr.strip().splitlines()[-3:]
    return result


def profile(config: Path, tmp: Path, out: Path, env: dict, logs: Path) -> dict:
    """One more first poll under cProfile, on a copy of the config with an empty data folder, then an
    idle poll on it (where the idle time goes: mostly imports). Kept beside the JSON as .prof and .txt."""
    copy = tmp / "config-profile"
    shutil.copytree(config, copy, ignore=shutil.ignore_patterns("data", "outbox", "tracker"))
    found = {}
    for name in ("first", "idle"):
        prof = out.with_name(f"{out.stem}.profile-{name}.prof")
        prof.parent.mkdir(parents=True, exist_ok=True)
        run = measure.run(f"profile-{name}", [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "bot.cli",
                                              "--config", str(copy), "poll", "--once"], env, logs, cwd=ROOT)
        found[name] = {**run.to_json(), "prof": str(prof), "summary": str(_profile_text(prof))}
    return found


def _profile_text(prof: Path) -> Path:
    import pstats

    text = prof.with_suffix(".txt")
    with text.open("w") as f:
        stats = pstats.Stats(str(prof), stream=f)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
    return text


def _session(server: mailbox.Server) -> dict:
    sessions = server.sessions()
    if not sessions:
        return {"sessions": 0}
    return {"sessions": len(sessions), "body_count": sum(s.body_count for s in sessions),
            "hdr_count": sum(s.hdr_count for s in sessions),
            "server_out_mb": round(sum(s.bytes_out for s in sessions) / 2**20, 2),
            "commands": [c for s in sessions for c in s.commands] if any(s.commands for s in sessions) else None}


def _states(stdout: str) -> dict:
    try:
        rows = json.loads(stdout)
    except ValueError:
        return {"rows": None}
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    return {"rows": len(rows), "states": states}


def _print_mailbox(m: dict) -> None:
    print(f"  {m['messages']} messages, {m['total_mb']} MB (largest {m['largest_mb']} MB), {m['documents']} documents;"
          f" {m['units']} units, {m['people']} people, {m['items_expected']} expected items;"
          f" built in {m['build_seconds']} s, warmed in {m['warm']['seconds']} s")
    print(f"  by kind: {m['by_kind']}")


def _machine() -> dict:
    dovecot = subprocess.run([mailbox.imap_server.DOVECOT, "--version"], capture_output=True, text=True).stdout.strip()
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    # Which hrbot was measured: the commit, and the files of the code that differ from it.
    status = subprocess.run(["git", "status", "--porcelain", "--", "bot", "parsers"], cwd=ROOT, capture_output=True,
                            text=True).stdout  # not stripped: each line starts with its two status columns
    changed = [line[3:] for line in status.splitlines()]
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "dovecot": dovecot, "commit": git("rev-parse", "--short", "HEAD"), "uncommitted": changed}


def _r(value):
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    raise SystemExit(main())
