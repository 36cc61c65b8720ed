"""`hrbot demo`: a sample season made in a folder from the example config, run, and summarised."""

from __future__ import annotations

import base64
import hashlib
import shutil
import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import format_datetime
from pathlib import Path

from bot.errors import UsageError
from bot.records import CADRE, DEPUTY, HEAD, HEADS, STAFF, UNION_CHAIR, Roster

MARKER = ".hrbot-demo"
AS_OF = date(2026, 12, 17)  # a day inside the season when every state shows up
CONFIG_FILES = ("settings.toml", "units.csv", "people.csv")


@dataclass
class DemoResult:
    config: Path
    mailbox: Path
    messages: int
    recorded: dict[str, int]
    tracker: Path
    outbox: Path
    outgoing: int
    results: Path
    waiting: list[str]  # what the tracker's sheet 待处理 tells HR, one line each

    def summary(self) -> str:
        counts = "，".join(f"{k} {v}" for k, v in sorted(self.recorded.items()))
        return "\n".join([
            f"示例考核季已生成并运行（截至 {AS_OF}）。",
            f"配置目录：{self.config}",
            f"示例收件箱：{self.mailbox}（{self.messages} 封邮件；处理结果：{counts}）",
            f"跟踪表：{self.tracker}",
            f"待发邮件（回执）：{self.outbox}（{self.outgoing} 封 .eml）",
            f"民主测评结果：{self.results}（仅供人力资源科，不外发；重新计算：hrbot --config {self.config} results）",
            f"待人力资源科处理 {len(self.waiting)} 项（跟踪表“待处理”工作表），例如：",
            *(f"  {line}" for line in self.waiting[:1]),
            f"查看状态：hrbot --config {self.config} status --as-of {AS_OF}",
        ])


def run_demo(folder: Path) -> DemoResult:
    """Make the sample season in `folder` (replacing an earlier demo there), poll it, write the tracker."""
    from bot.evaluation.results import compute, write_results
    from bot.poll import poll_once
    from bot.reports.views import kept_aside_mail, log_entries, status_rows, waiting_for_hr, write_tracker_for
    from bot.season.roster import load_roster
    from bot.settings import EXAMPLE_CONFIG, load

    folder = Path(folder).resolve()
    _prepare(folder)
    config = folder / "config"
    config.mkdir(parents=True)
    for name in CONFIG_FILES:
        shutil.copy(EXAMPLE_CONFIG / name, config / name)
    _add_systems(config / "people.csv")
    settings = load(config)
    roster = load_roster(config)
    messages = sample_messages(roster, settings.hr.address)
    _deliver(settings.mailbox.path, messages)
    _hr_evaluation_files(config, roster)
    report = poll_once(settings)
    tracker = write_tracker_for(settings, AS_OF)
    outgoing = len(list(settings.paths.outbox.glob("*.eml")))
    results = write_results(settings, compute(settings, roster), AS_OF)
    rows = status_rows(settings, AS_OF, roster)
    waiting = [f"{t.kind}：{t.what}。处理：{t.fix}"
               for t in waiting_for_hr(settings, roster, rows, log_entries(settings), kept_aside_mail(settings))]
    return DemoResult(config=config, mailbox=settings.mailbox.path, messages=len(messages),
                      recorded=report.counts(), tracker=tracker, outbox=settings.paths.outbox, outgoing=outgoing,
                      results=results, waiting=waiting)


def _add_systems(people_csv: Path) -> None:
    """The optional 系统 column: the workshops' cadres in 生产, the offices' in 技术 (ranking is within a system)."""
    import csv
    import io

    from bot.records import REPORTING_ROLES

    rows = list(csv.reader(io.StringIO(people_csv.read_text(encoding="utf-8-sig"))))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*rows[0], "系统"])
    for row in rows[1:]:
        cadre = row[2] in REPORTING_ROLES or row[2] == "党支部副书记"
        writer.writerow([*row, ("生产" if row[0].endswith("车间") else "技术") if cadre else ""])
    people_csv.write_text(out.getvalue(), encoding="utf-8")


def _hr_evaluation_files(config: Path, roster: Roster) -> None:
    """What HR adds by hand: the plant leaders' and the 生产 peers' tallies (tallies/) and 日常考核.xlsx."""
    from openpyxl import Workbook

    from bot.evaluation.channels import cadres
    from bot.evaluation.scores import DAILY, FILE, NAME, PERFORMANCE, UNIT
    from bot.evaluation.tallies import FOLDER
    from bot.records import PEERS, PLANT

    unit = next(iter(roster.units))
    (config / FOLDER).mkdir()
    for channel, scope, attended in ((PLANT, unit, 6), (PEERS, "生产", 8)):
        name, data = sample_tally(roster, scope, channel, attended)
        (config / FOLDER / name).write_bytes(data)
    book = Workbook()
    book.active.append([UNIT, NAME, DAILY, PERFORMANCE])
    for n, person in enumerate(cadres(roster, unit)):
        # The last one's performance score is not in yet: shown as missing, never as 0.
        book.active.append([unit, person.name, 92 - 3 * n, 90 - 2 * n if n < len(cadres(roster, unit)) - 1 else None])
    book.save(config / FILE)


def sample_tally(roster: Roster, scope: str, channel: str, attended: int, invalid: int = 0) -> tuple[str, bytes]:
    """A tally sheet of a unit's (or, for peers, a system's) channel filled in as a counting team would:
    (file name, bytes)."""
    from bot.evaluation.channels import sheets
    from bot.evaluation.sheets import file_name, fill_tally, tally_sheet
    from parsers.tally import TEAM_NAME

    sheet = next(s for s in sheets(roster) if s.channel == channel and scope in (s.unit, s.system))
    valid = attended - invalid
    counts = {TEAM_NAME: _spread(valid, 0)} if sheet.team else {}
    counts.update({p.name: _spread(valid, n + 1) for n, p in enumerate(sheet.people)})
    return file_name(sheet), fill_tally(tally_sheet(sheet, AS_OF.year), attended, counts, invalid)


def _spread(votes: int, n: int) -> tuple[int, int, int, int]:
    """Votes over the four levels, mostly the top two, a little different for each person."""
    best = max(0, votes * (60 - 7 * (n % 4)) // 100)
    good = min(votes - best, votes * (30 + 4 * (n % 3)) // 100)
    fair = (votes - best - good) * 2 // 3
    return best, good, fair, votes - best - good - fair


def _prepare(folder: Path) -> None:
    # Only a folder an earlier demo made is ever removed: never a folder of the user's.
    if folder.exists():
        if not (folder / MARKER).exists() and any(folder.iterdir()):
            raise UsageError(f"{folder} 已存在且不是示例目录，请换一个 --dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by hrbot demo; safe to delete\n")


# --- the sample mail --------------------------------------------------------


def _at(text: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))


def sample_messages(roster: Roster, hr: str) -> list[tuple[datetime, bytes]]:
    """About twenty deliveries of a realistic season, each (arrival time, raw bytes)."""
    from opencc import OpenCC

    from parsers import forms, samples

    units = list(roster.units)
    a, b, c, d = units[:4]

    def who(unit, role):
        return next(p for p in roster.people_in(unit) if p.role == role or (role == "secretary" and p.is_secretary))

    def personal(unit, role, **kw):
        p = who(unit, role)
        return f"{p.name}个人述职报告.docx", forms.fill_personal_report(unit, p.name, p.role, **kw)

    def team(unit):
        return f"{unit}班子述职报告.docx", forms.fill_team_report(unit, who(unit, HEAD).name)

    def review(unit, reviewed_role, reviewer_role):
        reviewed, reviewer = who(unit, reviewed_role), who(unit, reviewer_role)
        return (f"民主评议考核表-{reviewed.name}.docx",
                forms.fill_review(unit, reviewed.name, reviewed.role, reviewer.name, reviewer.role))

    to_trad = OpenCC("s2t").convert
    lin = next(p for p in roster.people_in(c) if p.role not in (HEAD, UNION_CHAIR) and not p.is_secretary)
    traditional = forms.fill_personal_report(
        to_trad(c), to_trad(lin.name), to_trad(lin.role),
        parts={n: to_trad("\n".join(samples.PERSONAL_PARTS[n])) for n in (1, 2, 3, 4)},
    )
    logo = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    head = {u: who(u, HEAD) for u in units}
    second = next(p for p in roster.people_in(b) if p.role not in (HEAD, UNION_CHAIR) and not p.is_secretary
                  and p.role != DEPUTY)
    m = []

    def mail(when, sender, subject, text, attachments=(), style="utf8", **headers):
        address = getattr(sender, "email", sender)
        stamp = when.replace(":", "").replace("-", "")
        raw = build_message(address, getattr(sender, "name", ""), hr, subject, text, attachments, style,
                            sent=_at(when), message_id=f"<{stamp}.{len(m)}@{address.split('@')[1]}>",
                            headers={k.replace("_", "-"): v for k, v in headers.items()})
        m.append((_at(when), raw))

    mail("2026-11-20T09:12", head[d], f"{d}申请召开述职大会时间",
         f"人力资源科：\n\n经单位研究，{d}申请于2026年12月17日召开述职大会，请予安排。\n\n{head[d].name}")
    mail("2026-11-24T15:30", head[a], "述职大会时间", f"我单位拟于12月10日召开述职大会。\n{head[a].name}")
    mail("2026-12-03T10:00", head[a], f"{a}述职材料", "附件是班子述职报告和个人述职报告，请查收。",
         [team(a), personal(a, HEAD), personal(a, DEPUTY), ("logo.png", logo)], style="outlook")
    mail("2026-12-04T16:00", who(a, "secretary"), "个人述职报告", "请查收。",
         [personal(a, "secretary")], style="foxmail")
    mail("2026-12-05T08:00", head[b], "自动回复：述职材料", "您好，我正在外地出差，12月8日返回。",
         style="utf8", **{"Auto-Submitted": "auto-replied"})
    # A cadre's report from a private address not on the roster: held until HR adds the address.
    cadre = who(a, CADRE)
    mail("2026-12-06T20:40", "zhang.san@example.net", "述职报告", "请查收我的述职报告。",
         [(f"{cadre.name}述职报告.docx", forms.fill_personal_report(a, cadre.name, cadre.role))])
    mail("2026-12-07T03:10", "MAILER-DAEMON@tengfei.example", "Undelivered Mail Returned to Sender",
         "This is the mail system at host mail.tengfei.example.", **{"Return-Path": "<>"})
    mail("2026-12-08T09:30", head[b], f"{b}班子及个人述职报告", "请查收。",
         [team(b), personal(b, HEAD)], style="rfc2231")
    mail("2026-12-09T11:00", head[b], "补报述职报告", "补报副职述职报告。", [personal(b, DEPUTY)], style="outlook")
    mail("2026-12-09T14:00", head[b], "二线干部述职报告", "请查收。",
         [(f"{second.name}述职报告.docx",
           forms.fill_personal_report(b, second.name, second.role, parts={1: None, 2: None, 4: None}))])
    mail("2026-12-10T08:50", head[c], f"{c}述职材料", "班子述职报告、个人述职报告各一份，另附林涛的报告（繁体）。",
         [team(c), personal(c, HEAD), (f"{to_trad(lin.name)}述職報告.docx", traditional)], style="foxmail")
    mail("2026-12-11T10:00", head[a], "述职报告（修改稿）", "王珺的述职报告有修改，以此版为准。",
         [(f"{who(a, DEPUTY).name}个人述职报告（修改稿）.docx",
           forms.fill_personal_report(a, who(a, DEPUTY).name, DEPUTY, on=date(2026, 12, 11)))])
    mail("2026-12-12T09:05", head[d], "请问", "请问述职报告模板在哪里下载？谢谢。")
    mail("2026-12-14T17:20", head[a], "民主评议考核表", "对班子成员的评价意见，请查收。",
         [review(a, "secretary", HEAD), review(a, DEPUTY, HEAD)], style="outlook")
    mail("2026-12-15T10:00", who(b, UNION_CHAIR), f"{b}民主评议意见", "请查收。",
         [(f"{b}民主评议意见.docx", forms.fill_union_review(
             b, who(b, UNION_CHAIR).name, {p.name: "" for p in roster.people_in(b) if p.on_team}))])
    # The counting teams' tallies: 合成车间's meeting reached its quorum, 聚合车间's did not (52 of 98 < 60%).
    mail("2026-12-14T18:00", head[a], f"{a}民主测评统计表", "员工测评和副职测评的统计表，请查收。",
         [sample_tally(roster, a, STAFF, 80, invalid=2), sample_tally(roster, a, HEADS, 2)], style="outlook")
    mail("2026-12-15T11:30", head[b], f"{b}民主测评统计表", "请查收。", [sample_tally(roster, b, STAFF, 52, invalid=1)])
    mail("2026-12-16T09:00", who(a, "secretary"), "对主要领导的评价意见", "请查收。",
         [review(a, HEAD, "secretary")], style="foxmail")
    mail("2026-12-16T15:45", head[d], f"{d}述职材料", "请查收。", [team(d), personal(d, HEAD)], style="rfc2231")
    # The same message delivered twice (a client that resends, a forwarding rule).
    m.append((_at("2026-12-16T15:46"), m[-1][1]))
    return m


def build_message(address: str, name: str, to: str, subject: str, text: str, attachments=(), style: str = "utf8",
                  sent: datetime | None = None, message_id: str | None = None, headers: dict | None = None) -> bytes:
    """A raw message written the way a unit head's client writes it.

    style: "outlook" (GB2312-labelled RFC 2047 words inside quoted names, GBK text), "foxmail"
    (the same labelled GBK), "rfc2231" (filename*=utf-8''…) or "utf8" (UTF-8 RFC 2047 words).
    Built by hand because the email package re-folds such headers into something no client writes.
    """
    charset = {"outlook": "gb2312", "foxmail": "GBK"}.get(style, "utf-8")
    lines = [f"From: {_words(name, charset)} <{address}>" if name else f"From: {address}", f"To: {to}",
             f"Subject: {_words(subject, charset)}"]
    if sent is not None:
        lines.append(f"Date: {format_datetime(sent)}")
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    boundary = "----=_NextPart_hrbot_" + hashlib.sha1(subject.encode() + address.encode()).hexdigest()[:16]
    lines += ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
              "This is a multi-part message in MIME format.", f"--{boundary}",
              f'Content-Type: text/plain; charset="{charset}"', "Content-Transfer-Encoding: base64", "",
              _base64(text.encode("gb18030" if charset != "utf-8" else "utf-8"))]
    for filename, data in attachments:
        kind = "image/png" if filename.endswith(".png") else (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if filename.endswith(".xlsx")
            else "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        if style == "rfc2231":
            quoted = urllib.parse.quote(filename, safe="")
            type_name, disposition = f'name="{_words(filename, "utf-8")}"', f"filename*=utf-8''{quoted}"
        else:
            encoded = _words(filename, charset)
            type_name, disposition = f'name="{encoded}"', f'filename="{encoded}"'
        lines += [f"--{boundary}", f"Content-Type: {kind};\r\n\t{type_name}", "Content-Transfer-Encoding: base64",
                  f"Content-Disposition: attachment;\r\n\t{disposition}", "", _base64(data)]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _words(text: str, charset: str) -> str:
    """RFC 2047 B-words of at most ~60 encoded characters, split between characters."""
    if text.isascii():
        return text
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk") else charset
    words, chunk = [], ""
    for char in text:
        if len((chunk + char).encode(codec)) > 42:
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return "\r\n ".join(f"=?{charset}?B?{base64.b64encode(w.encode(codec)).decode()}?=" for w in words)


def _base64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


def _deliver(maildir: Path, messages: list[tuple[datetime, bytes]]) -> None:
    """Write each message as a Maildir delivery whose name carries its arrival time."""
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for n, (when, data) in enumerate(messages):
        seconds = int(when.timestamp())
        sub, flags = ("cur", ":2,S") if n % 3 == 0 else ("new", "")
        (maildir / sub / f"{seconds}.M{n}P1.demo{flags}").write_bytes(data)
