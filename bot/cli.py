"""The `hrbot` command: each subcommand builds its inputs, calls one library function, prints."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path

from bot.errors import HrbotError
from bot.lock import WriterLock
from bot.settings import load
from bot.store import STORE_FILE, DatabaseError, store_error

log = logging.getLogger("hrbot")

EXAMPLES = {
    "demo": "hrbot demo --dir /tmp/hrbot-demo",
    "poll": "hrbot --config ./config poll --once",
    "status": "hrbot status --as-of 2026-12-08 --json",
    "log": "hrbot log --json",
    "tracker": "hrbot tracker --as-of 2026-12-08",
    "remind": "hrbot remind --as-of 2026-12-08 --dry-run",
    "calendar": "hrbot calendar due --meeting 2026-12-10 --json",
    "forms": "hrbot forms --dir ./空白表格",
    "kickoff": "hrbot kickoff --dry-run",
    "send": "hrbot send",
    "check": "hrbot check",
    "run": "hrbot run --verbose",
    "adjust": "hrbot adjust exempt --unit 合成车间 --item personal_report --person 刘洋 --note 病休",
    "reprocess": "hrbot reprocess --all-held",
    "ballots": "hrbot ballots --dir ./测评票",
    "tally-sheets": "hrbot tally-sheets --dir ./统计表",
    "results": "hrbot results --json",
    "backup": "hrbot backup --to /mnt/usb/hrbot-2026-12-08.sqlite3",
}

# The commands that write the store, the outbox or the data folder. Each holds the data folder's
# writer lock (bot.lock) for as long as it runs: a second one waits up to [service]
# lock_wait_seconds, then exits 1 naming the holder. A new writing command opts in by adding its
# name here; with --dry-run a command writes nothing and takes no lock. Read-only commands
# (status, log, tracker, check, calendar, forms, backup) never wait, and neither does `adjust`: it
# only appends to adjustments.csv in the config folder, and HR must be able to correct while
# `hrbot run` holds the lock for its whole life.
WRITERS = {"poll", "send", "remind", "kickoff", "run", "reprocess"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The shared options may stand before or after the command; unset ones take their defaults here
    # (argparse's set_defaults would leak into the subcommands, which share the option objects).
    for name, default in (("config", Path("config")), ("debug", False), ("verbose", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    _logging(args)
    try:
        with _writer_lock(args):
            return args.handler(args) or 0
    except HrbotError as error:
        if args.debug:
            log.exception("failed")
        print(f"hrbot: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (head, less) went away: not a failure; keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, DatabaseError) as error:  # the machine's failure, said in one line
        if args.debug:
            raise
        print(f"hrbot: {_environment_line(args, error)}", file=sys.stderr)
        return 1
    except Exception as error:  # one plain line, the traceback only when asked for
        if args.debug:
            raise
        print(f"hrbot: 意外错误：{type(error).__name__}: {error}（加 --debug 查看详情）", file=sys.stderr)
        return 1


def _environment_line(args, error: Exception) -> str:
    if isinstance(error, DatabaseError):
        settings = getattr(args, "loaded_settings", None)
        path = settings.paths.data / STORE_FILE if settings else STORE_FILE
        return str(store_error(path, error))
    where = f"{error.filename}：" if getattr(error, "filename", None) else ""
    return f"{where}{error.strerror or error}（请检查磁盘空间与文件夹权限）"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 with one line, as argparse does, in our voice
        self.print_usage(sys.stderr)
        print(f"hrbot: 命令行有误：{message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="the config folder (default ./config)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="log more")

    parser = _Parser(prog="hrbot", description="The HR inbox that runs a season of document collection by itself.",
                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name, handler, help_text):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text,
                           epilog=f"example: {EXAMPLES[name]}")
        p.set_defaults(handler=handler)
        return p

    p = command("demo", cmd_demo, "make a sample season in a folder, run it, print where the results are")
    p.add_argument("--dir", type=Path, default=Path("demo"), help="where to make it (default ./demo)")

    p = command("poll", cmd_poll, "read new mail from the mailbox and record it")
    p.add_argument("--once", action="store_true", help="one poll, then exit (default: keep polling)")

    p = command("status", cmd_status, "the expected items and their states")
    _as_of(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("log", cmd_log, "one entry per delivered message, in arrival order")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("tracker", cmd_tracker, "write the tracker workbook and print its path")
    _as_of(p)

    p = command("remind", cmd_remind, "write the reminders that are due")
    _as_of(p)
    p.add_argument("--dry-run", action="store_true", help="print what would go out; send and record nothing")

    p = command("calendar", cmd_calendar, "working-day deadlines")
    p.add_argument("action", choices=["due"], help="due: the deadlines that follow from a meeting date")
    p.add_argument("--meeting", type=_date, required=True, help="the meeting date, YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("forms", cmd_forms, "write the blank forms 附件1-4 as .docx")
    p.add_argument("--dir", type=Path, default=Path("forms"), help="where to write them (default ./forms)")

    p = command("kickoff", cmd_kickoff, "mail each unit head the season's schedule with the blank forms")
    p.add_argument("--dry-run", action="store_true", help="print what would go out; send and record nothing")
    p.add_argument("--force", action="store_true", help="send again although the kickoff went out before")

    p = command("send", cmd_send, "deliver what waits in the outbox (smtp / ews)")
    p.add_argument("--retry-uncertain", action="store_true",
                   help="queue again the mails whose sending was interrupted (check first they did not arrive)")

    command("check", cmd_check, "validate the config and reach the mailbox and the sender, changing nothing")
    command("run", cmd_run, "the long-running service: polls, sends, reminds, mails the daily tracker")

    p = command("adjust", cmd_adjust, "append HR's correction to adjustments.csv and show what it changed")
    p.add_argument("action", choices=["received", "exempt", "extend", "assign"],
                   help="received: came outside the mailbox on --date; exempt: not owed this season; "
                        "extend: due on --date; assign: the document of --message counts for this unit/item/person")
    p.add_argument("--unit", required=True, help="单位")
    p.add_argument("--item", required=True, help="材料: its title as the tracker shows it, or its JSON name")
    p.add_argument("--person", default="", help="人员 (empty for a unit's items)")
    p.add_argument("--date", type=_date, default=None, help="日期, YYYY-MM-DD (received, extend)")
    p.add_argument("--message", default="", help="the Message-ID, with its angle brackets (assign)")
    p.add_argument("--note", default="", help="说明")

    p = command("reprocess", cmd_reprocess, "examine held mail again (unknown sender, nothing recognised, not downloaded)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--message", help="the Message-ID of one message, with its angle brackets")
    which.add_argument("--all-held", action="store_true", help="every held message")

    p = command("ballots", cmd_ballots, "write each unit's anonymous 测评票 (.docx, and PDF with LibreOffice)")
    p.add_argument("--dir", type=Path, default=Path("ballots"), help="where to write them (default ./ballots)")

    p = command("tally-sheets", cmd_tally_sheets, "write the .xlsx tally sheets the counting teams fill in")
    p.add_argument("--dir", type=Path, default=Path("tally-sheets"), help="where to write them (default ./tally-sheets)")

    p = command("results", cmd_results, "quorum, ballot shares and scores, the composite and the ranking")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("backup", cmd_backup, "check the store and write a consistent copy of it")
    p.add_argument("--to", type=Path, default=None,
                   help="the copy's file (default: data/backups/hrbot-<date>-<time>.sqlite3 beside the store)")
    return parser


def _as_of(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_date, default=None, help="the day to compute states for (default: today)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期“{text}”无效，应写成 2026-12-08 这样的格式") from None


def _logging(args) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _settings(args):
    """The config's settings, read once per command (the writer lock needs them before the command)."""
    if getattr(args, "loaded_settings", None) is None:
        args.loaded_settings = load(args.config)
    return args.loaded_settings


def _writer_lock(args):
    if args.command not in WRITERS or getattr(args, "dry_run", False):
        return nullcontext()

    return WriterLock(_settings(args))


def _today(settings) -> date:
    return datetime.now(settings.season.timezone).date()


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


# --- commands ---------------------------------------------------------------


def cmd_demo(args) -> int:
    from bot.demo import run_demo

    result = run_demo(args.dir)
    print(result.summary())
    return 0


def cmd_poll(args) -> int:
    settings = _settings(args)
    if args.once:
        from bot.poll import poll_once

        report = poll_once(settings)
        counts = "，".join(f"{k} {v}" for k, v in report.counts().items()) or "无新邮件"
        print(f"本次收取 {len(report.recorded)} 封：{counts}")
        if report.reexamined:
            again = "，".join(f"{e.message_id or '（无 Message-ID）'} → {e.outcome}" for e in report.reexamined)
            print(f"名单或调整有变，重新处理 {len(report.reexamined)} 封：{again}")
        return 0
    from bot.service import poll_forever

    poll_forever(settings)
    return 0


def cmd_status(args) -> int:
    from bot.reports.views import status_rows

    settings = _settings(args)
    rows = status_rows(settings, args.as_of or _today(settings))
    if args.json:
        _print_json([row.to_json() for row in rows])
    else:
        from bot.reports.views import status_table

        print(status_table(rows))
    return 0


def cmd_log(args) -> int:
    from bot.reports.views import assigned_json, assignments_by_message, kept_aside_mail, log_entries, log_table

    settings = _settings(args)
    entries = log_entries(settings)
    assigned = assignments_by_message(settings)
    if args.json:  # docs/contract.md, "Outcomes": one entry per delivered message, nothing else
        # Under the first delivery of an ID only (entries come in arrival order): the one whose arrival counts.
        _print_json([entry.to_json() | assigned_json(assigned.pop(entry.ref, [])) for entry in entries])
    else:
        print(log_table(entries, kept_aside_mail(settings), assigned))
    return 0


def cmd_tracker(args) -> int:
    from bot.reports.views import write_tracker_for

    settings = _settings(args)
    print(write_tracker_for(settings, args.as_of or _today(settings)))
    return 0


def cmd_remind(args) -> int:
    from bot.out.reminders import remind

    settings = _settings(args)
    for line in remind(settings, args.as_of or _today(settings), dry_run=args.dry_run):
        print(line)
    return 0


def cmd_calendar(args) -> int:
    from bot.season.deadlines import meeting_deadlines
    from bot.season.workdays import WorkCalendar

    settings = _settings(args)
    result = meeting_deadlines(settings.season, WorkCalendar.load(settings.config_dir), args.meeting)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        note = "（日期暂定：涉及尚未公布节假日安排的年份）" if result.provisional else ""
        print(f"述职大会 {result.meeting}：述职报告截止 {result.reports_due}，评议表截止 {result.reviews_due}{note}")
    return 0


def cmd_forms(args) -> int:
    from parsers.forms import write_forms

    for path in write_forms(args.dir):
        print(path)
    return 0


def cmd_kickoff(args) -> int:
    from bot.out.kickoff import kickoff

    settings = _settings(args)
    for line in kickoff(settings, dry_run=args.dry_run, force=args.force):
        print(line)
    return 0


def cmd_send(args) -> int:
    from bot.out.reminders import withdraw_answered
    from bot.out.senders import deliver, retry_uncertain
    from bot.store import Store

    settings = _settings(args)
    with Store.open(settings.paths.data) as store:
        if args.retry_uncertain:
            print(f"重新排队 {retry_uncertain(store)} 封")
        withdrawn = withdraw_answered(settings, store, _today(settings))
        if withdrawn:
            print(f"撤回 {withdrawn} 封提醒：所列材料在发出前已收到或已无需提交")
        report = deliver(settings, store)
    print(report.summary())
    return 0 if report.settled() else 1  # cron and scripts see when mail still waits


def cmd_check(args) -> int:
    from bot.check import check

    ok = True
    for line, passed in check(_settings(args)):
        print(("✓ " if passed else "✗ ") + line)
        ok = ok and passed
    return 0 if ok else 1


def cmd_run(args) -> int:
    from bot.service import run_service

    run_service(_settings(args))
    return 0


def cmd_adjust(args) -> int:
    from bot.adjust import adjust

    settings = _settings(args)
    for line in adjust(settings, args.action, unit=args.unit, item=args.item, person=args.person, day=args.date,
                       message=args.message, note=args.note, today=_today(settings)):
        print(line)
    return 0


def cmd_reprocess(args) -> int:
    from bot.reprocess import reprocess_command

    for line in reprocess_command(_settings(args), message_id=args.message):
        print(line)
    return 0


def cmd_ballots(args) -> int:
    from bot.evaluation.ballots import write_ballots
    from bot.season.roster import load_roster

    settings = _settings(args)
    for path in write_ballots(load_roster(settings.config_dir), settings.season.year, args.dir):
        print(path)
    return 0


def cmd_tally_sheets(args) -> int:
    from bot.evaluation.sheets import write_tally_sheets
    from bot.season.roster import load_roster

    settings = _settings(args)
    for path in write_tally_sheets(load_roster(settings.config_dir), settings.season.year, args.dir):
        print(path)
    return 0


def cmd_results(args) -> int:
    from bot.evaluation.results import compute, write_results

    settings = _settings(args)
    results = compute(settings)
    path = write_results(settings, results, _today(settings))
    for line in results.refusals:
        print(f"未计入：{line}", file=sys.stderr)
    if args.json:
        _print_json(results.to_json())
    else:
        print(path)
    return 0


def cmd_backup(args) -> int:
    from bot.backup import backup

    print(backup(_settings(args), args.to))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
