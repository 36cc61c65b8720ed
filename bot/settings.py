"""Reads settings.toml once into an immutable Settings object that is passed to whatever needs it."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from bot.records import CADRE_LEVELS, CHANNELS

# The example config shipped in the repository; `hrbot demo` and the template fallback use it.
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config"

SETTINGS_FILE = "settings.toml"

# The sections are NamedTuples, not frozen dataclasses: as immutable, and defined in a sixth of the
# time (a dataclass compiles each of its methods at import), a cost every `hrbot` command pays and
# most of what an idle poll spends beyond the bare IMAP exchange.


class Season(NamedTuple):
    """[season]: the year, the plant's time zone and the season's fixed dates."""

    year: int
    timezone: ZoneInfo
    meeting_request_due: date
    union_review_due: date
    final_due: date
    report_workdays_before_meeting: int = 3
    review_workdays_after_meeting: int = 3
    reserve_recommendation_due: date | None = None


class Mailbox(NamedTuple):
    """[mailbox]: where submissions are read from (a Maildir folder, IMAP or Exchange)."""

    kind: str  # maildir | imap | ews
    path: Path | None = None  # maildir
    host: str = ""
    port: int = 0
    security: str = "ssl"  # ssl | starttls | none
    username: str = ""
    password_env: str = ""
    folder: str = "INBOX"
    ca_file: Path | None = None  # trust this CA in addition to the system's
    since: date | None = None  # first IMAP run: ignore mail received before this day
    move_to: str = ""  # IMAP: move processed mail to this folder (opt-in)
    timeout: float = 60.0
    poll_interval: int = 300  # seconds between polls where IDLE is not available
    service_endpoint: str = ""  # ews
    server: str = ""  # ews
    auth: str = "ntlm"  # ews: ntlm | basic


class Hr(NamedTuple):
    """[hr]: the HR inbox's address and the name mail is signed with."""

    address: str
    name: str = "人力资源科"


class Sending(NamedTuple):
    """[sending]: how outgoing mail leaves (a spool folder, SMTP or Exchange)."""

    kind: str = "spool"  # spool | smtp | ews
    host: str = ""
    port: int = 0
    security: str = "starttls"
    username: str = ""
    password_env: str = ""
    ca_file: Path | None = None
    timeout: float = 60.0
    save_to_sent: bool = False  # append a copy to the IMAP Sent folder
    sent_folder: str = "Sent"
    max_replies_per_sender_per_day: int = 20


class Paths(NamedTuple):
    """[paths]: the data, outbox and tracker folders, resolved against the config folder."""

    data: Path = Path("data")
    outbox: Path = Path("outbox")
    tracker: Path = Path("tracker")


class Reminders(NamedTuple):
    """[reminders]: when reminders go out and to whom."""

    days_before: int = 2
    on_due_day: bool = True
    overdue_every_workdays: int = 1
    remind_cadres: bool = False
    escalate_after_workdays: int = 2
    attach_forms: bool = True
    # unit name -> addresses of the plant leader in charge, copied on escalation
    leaders: Mapping[str, tuple[str, ...]] = MappingProxyType({})


class Schedule(NamedTuple):
    """[schedule]: the service's daily times."""

    tracker_time: time = time(8, 0)
    reminder_time: time = time(9, 0)


class MailStyle(NamedTuple):
    """[mail]: the script outgoing mail is written in."""

    script: str = "simplified"  # simplified | traditional


class Limits(NamedTuple):
    """[limits]: the largest input hrbot opens; anything bigger is refused with a reason."""

    message_bytes: int = 50 * 1024 * 1024
    attachment_bytes: int = 30 * 1024 * 1024
    archive_total_bytes: int = 100 * 1024 * 1024
    archive_members: int = 200
    xml_bytes: int = 50 * 1024 * 1024
    compression_ratio: int = 200


class ServiceOptions(NamedTuple):
    """[service]: where `hrbot run` also logs, with rotation (stderr always)."""

    log_file: Path | None = None
    log_max_mb: int = 5
    log_backups: int = 5
    lock_wait_seconds: float = 30.0  # how long a command waits for another hrbot writing the same data


class Evaluation(NamedTuple):
    """[evaluation]: level points, the weights of the ballot channels and of the composite, quorum, classes."""

    points: Mapping[str, float] = MappingProxyType({"优秀": 100, "称职": 80, "基本称职": 60, "不称职": 0})
    channel_weights: Mapping[str, float] = MappingProxyType({"staff": 0.4, "heads": 0.2, "plant": 0.2, "peers": 0.2})
    composite_weights: Mapping[str, float] = MappingProxyType({"ballot": 0.4, "daily": 0.3, "performance": 0.3})
    quorum: Mapping[str, float] = MappingProxyType({"车间": 0.6, "科室": 0.8})
    # (class name, "min_score" | "top_share", threshold), best class first; empty: ranking only
    classes: tuple[tuple[str, str, float], ...] = ()


COMPOSITE_PARTS = ("ballot", "daily", "performance")


class Settings(NamedTuple):
    """The whole of settings.toml."""

    config_dir: Path
    season: Season
    mailbox: Mailbox
    hr: Hr
    sending: Sending
    paths: Paths
    reminders: Reminders = Reminders()
    schedule: Schedule = Schedule()
    mail: MailStyle = MailStyle()
    limits: Limits = Limits()
    service: ServiceOptions = ServiceOptions()
    require_authentication: bool = True  # reject roster mail whose SPF/DMARC failed
    evaluation: Evaluation = Evaluation()

    def secret(self, env_name: str) -> str:
        """The secret held by the environment variable the config names."""
        if not env_name:
            return ""
        value = os.environ.get(env_name)
        if value is None:
            raise ConfigError(SETTINGS_FILE, f"环境变量 {env_name} 未设置（密码或授权码应放在该变量中）")
        return value


def load(config_dir: Path | str) -> Settings:
    """Read DIR/settings.toml; any mistake raises ConfigError naming the line."""
    config_dir = Path(config_dir).resolve()
    file = config_dir / SETTINGS_FILE
    if not file.is_file():
        raise ConfigError(file, "找不到设置文件（请先复制 config/ 示例目录并修改）")
    text, doc = read_toml(file)
    reader = _Reader(file, text, config_dir)
    reader.reject_unknown(doc)
    return reader.settings(doc)


# Settings kept at the top of Settings but written in a section of their own in the file.
LOOSE_KEYS = {"security": ("require_authentication",)}


def section_classes() -> dict[str, type]:
    """Each [section] of settings.toml -> the class holding it: the fields of Settings typed with one."""
    sections = {}
    for field, annotation in Settings.__annotations__.items():
        name = getattr(annotation, "__forward_arg__", annotation)  # NamedTuple keeps them as ForwardRef
        kind = globals().get(name)  # "Season" -> Season; "Path", "bool" are no section
        if isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields"):
            sections[field] = kind
    return sections


def known_names() -> dict[str, dict[str, bool]]:
    """Every section settings.toml may have -> its keys -> whether the key is a table of free names.

    Derived from the definitions above (section_classes): a section's keys are its class's fields;
    a field whose default is a mapping (e.g. [reminders.leaders]) is a table whose names HR chooses.
    """
    sections = {name: {key: isinstance(kind._field_defaults.get(key), Mapping) for key in kind._fields}
                for name, kind in section_classes().items()}
    for section, keys in LOOSE_KEYS.items():
        sections.setdefault(section, {}).update(dict.fromkeys(keys, False))
    return sections


def read_toml(file: Path) -> tuple[str, dict]:
    """A TOML file HR edits by hand: (its text, its contents); a mistake names the file and line."""
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(file, "文件不是 UTF-8 编码，请用“UTF-8”另存后再试") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        raise ConfigError(file, f"格式错误（{e}）", int(line.group(1)) if line else None) from None


class _Reader:
    """Turns the parsed TOML into Settings, naming the line of any bad value."""

    def __init__(self, file: Path, text: str, config_dir: Path):
        self.file = file
        self.lines = text.splitlines()
        self.config_dir = config_dir
        self.defaults = {name: kind._field_defaults for name, kind in section_classes().items()}

    def fail(self, section: str, key: str, problem: str):
        raise ConfigError(self.file, f"[{section}] {key}: {problem}", self._line_of(section, key))

    def _line_of(self, section: str, key: str) -> int | None:
        current = ""
        for number, line in enumerate(self.lines, 1):
            stripped = line.strip()
            header = re.match(r"\[\s*([^\]]+?)\s*\]", stripped)
            if header:
                current = header.group(1)
            elif current == section and re.match(rf"[\"']?{re.escape(key)}[\"']?\s*=", stripped):
                return number
        return None

    def reject_unknown(self, doc: dict) -> None:
        """A section or key the definitions do not know is a typo: name its line and the nearest valid name."""
        sections = known_names()
        for section, table in doc.items():
            if section not in sections and not isinstance(table, dict):  # a key above every section
                owners = {key: name for name, keys in sections.items() for key in keys}
                self._unknown(section, owners, self._line_of("", section), lambda key: f"[{owners[key]}] 一节中的 {key}",
                              otherwise="每项设置都应写在某一节（如 [season]）之下")
            if section not in sections:
                self._unknown(f"[{section}]", sections, self._line_of_section(section), lambda name: f"[{name}]")
            if not isinstance(table, dict):
                continue  # table() says what is wrong with it
            keys = sections[section]
            for key, value in table.items():
                if key not in keys:
                    row = self._line_of(section, key) or self._line_of_section(f"{section}.{key}")
                    self._unknown(f"[{section}] {key}", keys, row, str)

    def _unknown(self, what: str, valid, row: int | None, show, otherwise: str = "") -> None:
        near = difflib.get_close_matches(what.rpartition(" ")[2].strip("[]"), list(valid), n=1, cutoff=0.6)
        hint = (f"您是否想写 {show(near[0])}？" if near
                else otherwise or f"可用的名称：{'、'.join(show(name) for name in valid)}")
        raise ConfigError(self.file, f"未知的设置 {what}（拼写错误的设置不会生效）；{hint}", row)

    def _line_of_section(self, section: str) -> int | None:
        for number, line in enumerate(self.lines, 1):
            header = re.match(r"\[\s*([^\]]+?)\s*\]", line.strip())
            if header and header.group(1) == section:
                return number
        return None

    def table(self, doc: dict, section: str, required: bool = True) -> dict:
        value = doc.get(section)
        if value is None:
            if required:
                raise ConfigError(self.file, f"缺少 [{section}] 一节")
            return {}
        if not isinstance(value, dict):
            raise ConfigError(self.file, f"[{section}] 应是一节设置")
        return value

    def get(self, table: dict, section: str, key: str, kind, default=..., choices=None):
        """The value of `key`, checked; when absent, `default`, else the section class's own default
        (written once, in the class, where the file writes a value the same way), else an error."""
        if key not in table:
            if default is ...:
                default = self.defaults.get(section, {}).get(key, ...)
            if default is ...:
                raise ConfigError(self.file, f"[{section}] 缺少 {key}")
            return default
        value = table[key]
        if kind is date:
            if isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError:
                    self.fail(section, key, f"日期“{value}”无效，应写成 2026-12-18 这样的格式")
            if type(value) is not date:
                self.fail(section, key, "应是日期，例如 2026-12-18")
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(section, key, f"应是整数，而不是“{value}”")
        elif kind is float and not isinstance(value, (int, float)):
            self.fail(section, key, f"应是数字，而不是“{value}”")
        elif kind is bool and not isinstance(value, bool):
            self.fail(section, key, "应是 true 或 false")
        elif kind is str and not isinstance(value, str):
            self.fail(section, key, "应是用引号括起的文字")
        if choices and value not in choices:
            self.fail(section, key, f"“{value}”无效，可选值：{' / '.join(choices)}")
        return value

    def path(self, table, section, key, default=...) -> Path | None:
        value = self.get(table, section, key, str, default)
        if value is None:
            return None
        return (self.config_dir / value).resolve()

    def settings(self, doc: dict) -> Settings:
        return Settings(
            config_dir=self.config_dir,
            season=self.season(self.table(doc, "season")),
            mailbox=self.mailbox(self.table(doc, "mailbox")),
            hr=self.hr(self.table(doc, "hr")),
            sending=self.sending(self.table(doc, "sending", required=False)),
            paths=self.paths(self.table(doc, "paths", required=False)),
            reminders=self.reminders(self.table(doc, "reminders", required=False)),
            schedule=self.schedule(self.table(doc, "schedule", required=False)),
            mail=MailStyle(
                script=self.get(
                    self.table(doc, "mail", required=False), "mail", "script", str,
                    choices=("simplified", "traditional"),
                )
            ),
            limits=self.limits(self.table(doc, "limits", required=False)),
            service=self.service(self.table(doc, "service", required=False)),
            require_authentication=self.get(
                self.table(doc, "security", required=False), "security", "require_authentication", bool,
                Settings._field_defaults["require_authentication"],
            ),
            evaluation=self.evaluation(self.table(doc, "evaluation", required=False)),
        )

    def season(self, t: dict) -> Season:
        s = "season"
        zone_name = self.get(t, s, "timezone", str, "Asia/Shanghai")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(s, "timezone", f"未知时区“{zone_name}”，例如 Asia/Shanghai")
        season = Season(
            year=self.get(t, s, "year", int),
            timezone=zone,
            meeting_request_due=self.get(t, s, "meeting_request_due", date),
            union_review_due=self.get(t, s, "union_review_due", date),
            final_due=self.get(t, s, "final_due", date),
            report_workdays_before_meeting=self.get(t, s, "report_workdays_before_meeting", int),
            review_workdays_after_meeting=self.get(t, s, "review_workdays_after_meeting", int),
            reserve_recommendation_due=self.get(t, s, "reserve_recommendation_due", date),
        )
        for key in ("report_workdays_before_meeting", "review_workdays_after_meeting"):
            if getattr(season, key) < 0:
                self.fail(s, key, "不能为负数")
        return season

    def mailbox(self, t: dict) -> Mailbox:
        s = "mailbox"
        kind = self.get(t, s, "kind", str, choices=("maildir", "imap", "ews"))
        security = self.get(t, s, "security", str, choices=("ssl", "starttls", "none"))
        box = Mailbox(
            kind=kind,
            path=self.path(t, s, "path"),
            host=self.get(t, s, "host", str),
            port=self.get(t, s, "port", int, {"ssl": 993, "starttls": 143, "none": 143}[security]),
            security=security,
            username=self.get(t, s, "username", str),
            password_env=self.get(t, s, "password_env", str),
            folder=self.get(t, s, "folder", str),
            ca_file=self.path(t, s, "ca_file"),
            since=self.get(t, s, "since", date),
            move_to=self.get(t, s, "move_to", str),
            timeout=float(self.get(t, s, "timeout", float)),
            poll_interval=self.get(t, s, "poll_interval", int),
            service_endpoint=self.get(t, s, "service_endpoint", str),
            server=self.get(t, s, "server", str),
            auth=self.get(t, s, "auth", str, choices=("ntlm", "basic")),
        )
        if kind == "maildir" and box.path is None:
            raise ConfigError(self.file, "[mailbox] kind = \"maildir\" 时需要 path")
        if kind == "imap" and not box.host:
            raise ConfigError(self.file, "[mailbox] kind = \"imap\" 时需要 host")
        if kind == "ews" and not (box.service_endpoint or box.server):
            raise ConfigError(self.file, "[mailbox] kind = \"ews\" 时需要 service_endpoint 或 server")
        return box

    def hr(self, t: dict) -> Hr:
        address = self.get(t, "hr", "address", str)
        if "@" not in address:
            self.fail("hr", "address", f"“{address}”不是有效的邮箱地址")
        return Hr(address=address.strip().lower(), name=self.get(t, "hr", "name", str))

    def sending(self, t: dict) -> Sending:
        s = "sending"
        kind = self.get(t, s, "kind", str, choices=("spool", "smtp", "ews"))
        security = self.get(t, s, "security", str, choices=("ssl", "starttls", "none"))
        sending = Sending(
            kind=kind,
            host=self.get(t, s, "host", str),
            port=self.get(t, s, "port", int, {"ssl": 465, "starttls": 587, "none": 25}[security]),
            security=security,
            username=self.get(t, s, "username", str),
            password_env=self.get(t, s, "password_env", str),
            ca_file=self.path(t, s, "ca_file"),
            timeout=float(self.get(t, s, "timeout", float)),
            save_to_sent=self.get(t, s, "save_to_sent", bool),
            sent_folder=self.get(t, s, "sent_folder", str),
            max_replies_per_sender_per_day=self.get(t, s, "max_replies_per_sender_per_day", int),
        )
        if kind == "smtp" and not sending.host:
            raise ConfigError(self.file, "[sending] kind = \"smtp\" 时需要 host")
        return sending

    def paths(self, t: dict) -> Paths:
        return Paths(
            data=self.path(t, "paths", "data"),
            outbox=self.path(t, "paths", "outbox"),
            tracker=self.path(t, "paths", "tracker"),
        )

    def reminders(self, t: dict) -> Reminders:
        s = "reminders"
        leaders_table = t.get("leaders", {})
        if not isinstance(leaders_table, dict):
            self.fail(s, "leaders", "应写成 [reminders.leaders] 一节：单位名 = [\"地址\", ...]")
        leaders = {}
        for unit, addresses in leaders_table.items():
            if isinstance(addresses, str):
                addresses = [addresses]
            if not all(isinstance(a, str) and "@" in a for a in addresses):
                self.fail("reminders.leaders", unit, "应是邮箱地址的列表")
            leaders[unit] = tuple(a.strip().lower() for a in addresses)
        return Reminders(
            days_before=self.get(t, s, "days_before", int),
            on_due_day=self.get(t, s, "on_due_day", bool),
            overdue_every_workdays=max(1, self.get(t, s, "overdue_every_workdays", int)),
            remind_cadres=self.get(t, s, "remind_cadres", bool),
            escalate_after_workdays=self.get(t, s, "escalate_after_workdays", int),
            attach_forms=self.get(t, s, "attach_forms", bool),
            leaders=leaders,
        )

    def schedule(self, t: dict) -> Schedule:
        def clock(key):
            value = self.get(t, "schedule", key, str)
            if isinstance(value, time):  # the class's default
                return value
            try:
                return time.fromisoformat(value)
            except ValueError:
                self.fail("schedule", key, f"时间“{value}”无效，应写成 08:00 这样的格式")

        return Schedule(tracker_time=clock("tracker_time"), reminder_time=clock("reminder_time"))

    def service(self, t: dict) -> ServiceOptions:
        s = "service"
        numbers = {}
        for key in ("log_max_mb", "log_backups"):
            numbers[key] = self.get(t, s, key, int)
            if numbers[key] < 1:
                self.fail(s, key, f"应是正整数，而不是“{numbers[key]}”")
        log_file = self.get(t, s, "log_file", str, "")
        wait = float(self.get(t, s, "lock_wait_seconds", float))
        if wait < 0:
            self.fail(s, "lock_wait_seconds", "不能为负数")
        return ServiceOptions(log_file=(self.config_dir / log_file).resolve() if log_file.strip() else None,
                              lock_wait_seconds=wait, **numbers)

    def limits(self, t: dict) -> Limits:
        values = {}
        for key in Limits._fields:
            value = self.get(t, "limits", key, int)
            if value <= 0:
                self.fail("limits", key, "应是正整数")
            values[key] = value
        return Limits(**values)

    def evaluation(self, t: dict) -> Evaluation:
        s, default = "evaluation", Evaluation()
        points = self.numbers(t, "points", CADRE_LEVELS, default.points)
        channels = self.numbers(t, "channel_weights", CHANNELS, default.channel_weights, weights=True)
        composite = self.numbers(t, "composite_weights", COMPOSITE_PARTS, default.composite_weights, weights=True)
        quorum = self.numbers(t, "quorum", tuple(default.quorum), default.quorum)
        for kind, share in quorum.items():
            if not 0 < share <= 1:
                self.fail(s, "quorum", f"{kind} 的比例应在 0 到 1 之间，例如 0.6")
        classes = []
        raw = t.get("classes", [])
        if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
            self.fail(s, "classes", '应写成 [{name = "A", top_share = 0.2}, ...] 或用 min_score')
        for entry in raw:
            keys = [k for k in ("min_score", "top_share") if k in entry]
            name = entry.get("name")
            if not isinstance(name, str) or len(keys) != 1 or not isinstance(entry[keys[0]], (int, float)) \
                    or isinstance(entry[keys[0]], bool):
                self.fail(s, "classes", "每一类需有 name，以及 min_score（分数线）或 top_share（前百分之几，0–1）之一")
            classes.append((name, keys[0], float(entry[keys[0]])))
        return Evaluation(points=MappingProxyType(points), channel_weights=MappingProxyType(channels),
                          composite_weights=MappingProxyType(composite), quorum=MappingProxyType(quorum),
                          classes=tuple(classes))

    def numbers(self, t: dict, key: str, names: tuple[str, ...], default: Mapping, weights: bool = False) -> dict:
        """A table of numbers with exactly these keys; a weight set must sum to 1."""
        s = "evaluation"
        value = t.get(key, default)
        if not isinstance(value, Mapping):
            self.fail(s, key, f"应写成 {{{', '.join(f'{n!r} = …' for n in names)}}}")
        if set(value) != set(names):
            self.fail(s, key, f"应恰好包含 {'、'.join(names)}（现有：{'、'.join(value) or '无'}）")
        numbers = {}
        for name in names:
            number = value[name]
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                self.fail(s, key, f"{name} 应是不小于 0 的数字，而不是“{number}”")
            numbers[name] = float(number)
        if weights and abs(sum(numbers.values()) - 1) > 1e-9:
            self.fail(s, key, f"各项权重之和应为 1（现为 {sum(numbers.values()):g}）")
        return numbers
