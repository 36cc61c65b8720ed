"""`hrbot check`: the config, the roster, the calendar, the mailbox and the sender, changing nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Iterator

from bot.evaluation import scores, tallies
from bot.season import adjustments
from bot.errors import HrbotError, StoreError
from bot.out.senders import sender_for
from bot.season.roster import gaps, load_roster
from bot.records import Roster
from bot.settings import Settings
from bot.sources import source_for
from bot.store import STORE_FILE, Store
from bot.season.workdays import WorkCalendar

Line = tuple[str, bool]  # what was checked, and whether it is fine


def check(settings: Settings) -> Iterator[Line]:
    """One line per check; config mistakes still raise ConfigError (exit 2)."""
    yield f"设置文件 {settings.config_dir / 'settings.toml'} 无误", True
    roster = load_roster(settings.config_dir)
    undated = [u.name for u in roster.units.values() if u.meeting is None]
    yield (f"名单：{len(roster.units)} 个单位、{len(roster.people)} 人"
           + (f"；尚未确定述职大会日期：{'、'.join(undated)}" if undated else "")), True
    for unit, what, fix in gaps(roster, undated):  # warnings: everyone's mail is still recorded
        yield f"名单缺项（不影响收取）：{what}；{fix}", True
    adjusted = adjustments.load(settings.config_dir, roster)  # a malformed row raises ConfigError (exit 2)
    if adjusted:
        yield f"调整表：{len(adjusted)} 行无误", True
    yield from _evaluation(settings, roster)
    yield from _calendar(settings)
    yield _store(settings)
    yield from _mailbox(settings)
    yield from _sender(settings)


def _evaluation(settings: Settings, roster: Roster) -> Iterator[Line]:
    """What HR adds by hand for the evaluation: the tally sheets in tallies/ and the scores workbook."""
    counted, problems = tallies.folder_problems(settings.config_dir, roster, settings.season.timezone)
    if counted:
        yield f"{tallies.FOLDER}/：{counted} 份民主测评统计表可计入", True
    for problem in problems:
        yield problem, False
    found = scores.load_scores(settings.config_dir, roster)  # HR's own file: a mistake is a config error (exit 2)
    if found:
        yield f"{scores.FILE}：{len(found)} 人的成绩无误", True


def _calendar(settings: Settings) -> Iterator[Line]:
    calendar = WorkCalendar.load(settings.config_dir)
    year = settings.season.year
    for y in sorted({year, settings.season.final_due.year, datetime.now(settings.season.timezone).year + 1}):
        if calendar.is_known(y):
            yield f"{y} 年工作日安排：已知", True
        else:
            yield (f"{y} 年工作日安排：未知，涉及该年的日期为暂定；国务院公布放假安排后请添加 "
                   f"calendar/{y}.toml（见 config/calendar/README.md）"), y > settings.season.final_due.year


def _store(settings: Settings) -> Line:
    """Always checked here (PRAGMA quick_check), whatever the note of its last change says."""
    path = settings.paths.data / STORE_FILE
    if not path.exists():
        return f"数据库 {path}：尚未建立（首次收取时建立）", True
    try:
        with Store.open(settings.paths.data, verify=True):
            pass
    except StoreError as error:
        return str(error), False
    return f"数据库 {path}：完好（quick_check 通过）", True


def _mailbox(settings: Settings) -> Iterator[Line]:
    box = settings.mailbox
    try:
        source = source_for(settings)
        source.open()
    except HrbotError as error:
        yield f"收件箱（{box.kind}）：{error}", False
        return
    try:
        if box.kind == "imap":
            features = source.capabilities()
            with Store.open(settings.paths.data) as store:
                status = source.folder_status(store)
            names = [name for name, present in
                     (("ID", features.id), ("IDLE", features.idle), ("MOVE", features.move),
                      ("UIDPLUS", features.uidplus)) if present]
            yield (f"收件箱 {box.host}:{box.port} 登录成功；服务器支持 {', '.join(names) or '（无扩展）'}；"
                   f"文件夹 {status.folder} 共 {status.messages} 封；进度 {status.checkpoint or '尚未收取'}"), True
        elif box.kind == "maildir":
            count = sum(1 for sub in ("new", "cur") if (box.path / sub).is_dir()
                        for _ in (box.path / sub).iterdir())
            yield f"收件箱（Maildir）{box.path}：共 {count} 封", True
        else:
            count = source.message_count()
            where = box.service_endpoint or box.server
            yield (f"收件箱（Exchange）{where} 连接成功；文件夹 {box.folder}"
                   + (f" 共 {count} 封" if count is not None else "")), True
    except HrbotError as error:
        yield f"收件箱（{box.kind}）：{error}", False
    finally:
        source.close()


def _sender(settings: Settings) -> Iterator[Line]:
    if settings.sending.kind == "spool":
        yield f"发信方式 spool：邮件只写入 {settings.paths.outbox}，不会发出", True
        return
    try:
        sender = sender_for(settings)
        sender.open()
        sender.close()
    except HrbotError as error:
        yield f"发信服务器（{settings.sending.kind}）：{error}", False
        return
    where = f"{settings.sending.host}:{settings.sending.port}" if settings.sending.kind == "smtp" else "Exchange"
    yield f"发信服务器 {where} 登录成功（未发送任何邮件）", True
