"""A season at scale, generated from a seed: the roster and config, and every message of the inbox.

The plan (who sends what, when) is made in one pass with one random generator and is cheap; each
message carries its own seed, so building its bytes (bench/messages.py, in worker processes)
gives the same result in any order.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import docs, words

YEAR = 2025  # a season in the past: every arrival time lies before today
ZONE = ZoneInfo("Asia/Shanghai")
DOMAIN = "tengfei.example"
HR_ADDRESS = f"hr@{DOMAIN}"
FIRST_DAY, LAST_DAY = date(YEAR, 11, 3), date(YEAR, 12, 31)
MEETINGS = (date(YEAR, 12, 8), date(YEAR, 12, 19))  # the units' report meetings fall between these
SEASON = {
    "meeting_request_due": date(YEAR, 11, 25),
    "union_review_due": date(YEAR, 12, 24),
    "final_due": date(YEAR, 12, 31),
}


@dataclass(frozen=True)
class Size:
    units: int
    cadres: int  # people who owe a personal report; each unit also has a union chair
    submissions: int  # messages from roster senders carrying the season's documents
    unrelated: int  # everything else in the working mailbox
    big_mb: float  # the one submission with a large attachment
    attach_share: float  # share of unrelated messages with a large attachment
    attach_mb: tuple[float, float]  # its size range
    overdue: int  # the reminder day is chosen to have about this many overdue items
    seed: int
    # "heavy": notices carry 30–400 KB files; "light": an HR inbox's usual mail, 5–150 KB (bench/README.md).
    corpus: str = "heavy"


@dataclass(frozen=True)
class Doc:
    """One document a submission carries."""

    kind: str  # personal | team | review | union
    unit: str
    person: str  # whose report; the head presenting the team report; who is reviewed; the union chair
    post: str = ""  # of `person`
    reviewer: str = ""  # review: who writes the opinion
    reviewer_post: str = ""
    members: tuple[str, ...] = ()  # union review: the team members it has a row for


@dataclass(frozen=True)
class Candidate:
    """A message a diligent unit would send, with the expected items it delivers."""

    unit: str
    kind: str  # submission | meeting
    item: str  # the item whose due date decides when it arrives
    sender: tuple[str, str]
    docs: tuple[Doc, ...] = ()
    items: tuple[tuple[str, str | None], ...] = ()  # (item, person) delivered
    text: str = ""
    meeting: date | None = None  # meeting request: the date asked for
    revision: bool = False  # a revised version of a report sent before


@dataclass(frozen=True)
class Spec:
    """One message to build: when it arrived, what it is, and its own seed."""

    when: datetime
    kind: str  # submission | meeting | newsletter | plain | notice | large | auto
    seed: int
    sender: tuple[str, str]  # (address, display name)
    docs: tuple[Doc, ...] = ()
    text: str = ""
    flags: str = ""  # Maildir info flags, e.g. "S" for seen
    big_bytes: int = 0


@dataclass
class Plan:
    specs: list[Spec]
    remind_day: date  # a working day with about Size.overdue items overdue
    overdue_expected: int  # how many the plan predicts for that day
    items_expected: int
    documents: int
    people: int
    units: int
    notes: dict = field(default_factory=dict)


# --- roster and config ------------------------------------------------------


def make_roster(size: Size, rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    """(units, people) rows as units.csv and people.csv hold them."""
    names = _unit_names(size.units, rng)
    workdays = [MEETINGS[0] + timedelta(days=d) for d in range((MEETINGS[1] - MEETINGS[0]).days + 1)]
    workdays = [d for d in workdays if d.weekday() < 5]
    share, rest = divmod(size.cadres, size.units)
    used_emails: set[str] = {HR_ADDRESS}
    units, people = [], []
    for n, (unit, kind) in enumerate(names):
        count = max(3, share + (1 if n < rest else 0) + rng.choice((-2, -1, 0, 0, 1, 2)))
        # One unit in ten has not fixed its meeting: its dates follow from its meeting request.
        meeting = "" if rng.random() < 0.1 else rng.choice(workdays).isoformat()
        units.append((unit, kind, rng.randint(20, 150), meeting))
        roles = ["主要领导", "党支部副书记" if kind == "科室" and rng.random() < 0.3 else "党支部书记"]
        roles += ["副职"] * min(rng.randint(1, 3), count - 2)
        roles += ["二线干部" if rng.random() < 0.15 else "科级干部" for _ in range(count - len(roles))]
        roles.append("分会主席")
        taken: list[str] = []
        for role in roles:
            name, email = _person(rng, taken, used_emails)
            taken.append(name)
            people.append((unit, name, role, email))
    return units, people


def _unit_names(count: int, rng: random.Random) -> list[tuple[str, str]]:
    workshops = [(f"{p}{o}车间", "车间") for p in words.PROCESSES for o in words.ORDINALS]
    offices = [(f"{s}{o}科", "科室") for s in words.SECTIONS for o in words.ORDINALS]
    rng.shuffle(workshops)
    rng.shuffle(offices)
    want_offices = count * 3 // 10
    chosen = offices[:want_offices] + workshops[:count - want_offices]
    if len(chosen) < count:
        raise SystemExit(f"at most {len(workshops) + len(offices)} units can be generated")
    # No unit name inside another, so that a unit named in a document is never ambiguous.
    assert not any(a != b and a in b for a, _ in chosen for b, _ in chosen)
    rng.shuffle(chosen)
    return chosen


def _person(rng: random.Random, taken: list[str], used_emails: set[str]) -> tuple[str, str]:
    while True:
        surname, s_py = rng.choice(words.SURNAMES)
        given = rng.sample(words.GIVEN, rng.choice((1, 2, 2)))
        name = surname + "".join(g for g, _ in given)
        # Within a unit no name equal to or inside another (the recogniser matches names inside text).
        if any(name in other or other in name for other in taken):
            continue
        local = s_py + "".join(p for _, p in given)
        email, n = f"{local}@{DOMAIN}", 1
        while email in used_emails:
            n += 1
            email = f"{local}{n}@{DOMAIN}"
        used_emails.add(email)
        return name, email


def write_config(folder: Path, units: list[tuple], people: list[tuple], host: str, port: int, user: str,
                 password_env: str) -> Path:
    """A config folder for hrbot reading the benchmark's dovecot; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    _csv(folder / "units.csv", ("单位", "类型", "人数", "述职大会日期"), units)
    _csv(folder / "people.csv", ("单位", "姓名", "角色", "邮箱"), people)
    (folder / "settings.toml").write_text(f"""# Written by bench/run.py for one benchmark run.
[season]
year = {YEAR}
timezone = "Asia/Shanghai"
meeting_request_due = {SEASON['meeting_request_due']}
union_review_due = {SEASON['union_review_due']}
final_due = {SEASON['final_due']}

[mailbox]
kind = "imap"
host = "{host}"
port = {port}
security = "none"
username = "{user}"
password_env = "{password_env}"
folder = "INBOX"

[hr]
address = "{HR_ADDRESS}"

[sending]
kind = "spool"

[paths]
data = "data"
outbox = "outbox"
tracker = "tracker"
""", encoding="utf-8")
    return folder


def _csv(path: Path, header: tuple, rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


# --- the plan -----------------------------------------------------------------


def plan(size: Size, config_dir: Path, rng: random.Random) -> Plan:
    """Every message of the inbox, in arrival order, and the reminder day."""
    from bot.season import deadlines
    from bot.records import Arrival
    from bot.season.roster import load_roster
    from bot.settings import load
    from bot.season.workdays import WorkCalendar

    settings = load(config_dir)
    roster = load_roster(config_dir)
    cal = WorkCalendar.load(config_dir)
    season = settings.season

    candidates = []
    for unit in roster.units.values():
        candidates += _unit_messages(rng, roster, unit)
    rng.shuffle(candidates)
    taken = candidates[:size.submissions]
    # More submissions than items: the rest are revised versions of reports already sent.
    personal = [c for c in taken if c.docs and c.docs[0].kind == "personal"]
    while len(taken) < size.submissions and personal:
        taken.append(replace(rng.choice(personal), revision=True))

    requested = {c.unit: c.meeting for c in taken if c.kind == "meeting"}
    specs, arrivals, documents = [], [], 0
    big_done = False
    for c in taken:
        unit = roster.units[c.unit]
        meeting = deadlines.unit_meeting(unit, requested)
        due, _ = deadlines.due_date(season, cal, c.item, meeting)
        when = _arrival(rng, due, late=rng.random() < 0.15, revision=c.revision)
        big = 0
        if not big_done and c.kind == "submission" and c.docs[0].kind == "personal":
            big, big_done = int(size.big_mb * docs.MB), True
        specs.append(Spec(when=when, kind=c.kind, seed=rng.getrandbits(64), sender=c.sender, docs=c.docs,
                          text=c.text, flags=_flags(rng), big_bytes=big))
        documents += len(c.docs)
        for item, person in c.items:
            arrivals.append(Arrival(unit=unit.name, item=item, person=person, received_at=when, message_id=None))

    people_emails = {p.email for p in roster.people}
    specs += _unrelated(size, rng, people_emails)
    specs.sort(key=lambda s: s.when)
    specs = _distinct_seconds(specs)

    expected = deadlines.expected_items(season, roster)
    day, overdue = _remind_day(size.overdue, season, cal, roster, arrivals, requested)
    return Plan(specs=specs, remind_day=day, overdue_expected=overdue, items_expected=len(expected),
                documents=documents, people=len(roster.people), units=len(roster.units))


def _unit_messages(rng: random.Random, roster, unit) -> list[Candidate]:
    """Every message a diligent unit would send in a season."""
    from bot.records import HEAD, REPORTING_ROLES
    from bot.season.items import LEADER_REVIEW, MEETING_REQUEST, PERSONAL_REPORT, TEAM_REPORT, UNION_REVIEW

    people = roster.people_in(unit.name)
    head = roster.head_of(unit.name)
    secretary = roster.secretary_of(unit.name) or head
    chair = roster.union_chair_of(unit.name)
    team = [p for p in people if p.on_team]
    reporting = [p for p in people if p.role in REPORTING_ROLES or p.is_secretary]
    who = lambda p: (p.email, p.name)  # noqa: E731
    out = []

    meeting = unit.meeting or (MEETINGS[0] + timedelta(days=rng.randint(0, 9)))
    text = (f"人力资源科：\n\n经单位研究，{unit.name}申请于{meeting.year}年{meeting.month}月{meeting.day}日"
            f"召开述职大会，请予安排。\n\n{head.name}")
    out.append(Candidate(unit.name, "meeting", MEETING_REQUEST, who(head), items=((MEETING_REQUEST, None),),
                         text=text, meeting=meeting))

    def personal(p):
        return Doc("personal", unit.name, p.name, p.role)

    def submission(item, sender, documents, items):
        return Candidate(unit.name, "submission", item, who(sender), tuple(documents), tuple(items))

    pending = list(reporting)
    team_docs = [Doc("team", unit.name, head.name)]
    team_items = [(TEAM_REPORT, None)]
    if rng.random() < 0.5:  # the head sends the team report with his own report
        team_docs.append(personal(head))
        team_items.append((PERSONAL_REPORT, head.name))
        pending.remove(head)
    out.append(submission(TEAM_REPORT, head, team_docs, team_items))
    rng.shuffle(pending)
    while pending:
        p = pending.pop()
        if rng.random() < 0.6 or not pending:  # the cadre sends their own
            out.append(submission(PERSONAL_REPORT, p, [personal(p)], [(PERSONAL_REPORT, p.name)]))
            continue
        group = [p] + [pending.pop() for _ in range(min(len(pending), rng.randint(1, 2)))]
        out.append(submission(PERSONAL_REPORT, secretary, [personal(q) for q in group],
                              [(PERSONAL_REPORT, q.name) for q in group]))

    # The head writes the opinion on each other team member, the secretary the one on the head.
    others = [p for p in team if p != head]
    for start in range(0, len(others), 2):
        group = others[start:start + 2]
        out.append(submission(LEADER_REVIEW, head,
                              [Doc("review", unit.name, q.name, q.role, head.name, HEAD) for q in group],
                              [(LEADER_REVIEW, q.name) for q in group]))
    out.append(submission(LEADER_REVIEW, secretary,
                          [Doc("review", unit.name, head.name, HEAD, secretary.name, secretary.role)],
                          [(LEADER_REVIEW, head.name)]))
    if chair is not None:
        out.append(submission(UNION_REVIEW, chair,
                              [Doc("union", unit.name, chair.name, members=tuple(p.name for p in team))],
                              [(UNION_REVIEW, None)]))
    return out


def _arrival(rng: random.Random, due: date | None, late: bool, revision: bool) -> datetime:
    if due is None:
        due = date(YEAR, 12, 12)
    day = due + timedelta(days=rng.randint(1, 6)) if late else due - timedelta(days=rng.randint(0, 8))
    if revision:
        day += timedelta(days=rng.randint(1, 3))
    day = min(max(day, FIRST_DAY), LAST_DAY)
    return datetime.combine(day, time(rng.randint(8, 21), rng.randint(0, 59), rng.randint(0, 59)), ZONE)


def _flags(rng: random.Random) -> str:
    return "S" if rng.random() < 0.6 else ""


# The light corpus's notices: the file a colleague attaches (a form, a table, a small PDF).
LIGHT_NOTICE_KB = (5, 150)


def _unrelated(size: Size, rng: random.Random, roster_emails: set[str]) -> list[Spec]:
    large = round(size.unrelated * size.attach_share)
    kinds = ["large"] * large
    weights = (("newsletter", 0.30), ("plain", 0.45), ("notice", 0.18), ("auto", 0.07))
    rest = size.unrelated - large
    for kind, share in weights:
        kinds += [kind] * round(rest * share)
    kinds = (kinds + ["plain"] * size.unrelated)[:size.unrelated]
    strangers = _strangers(rng, roster_emails, max(20, size.unrelated // 40))
    days = (LAST_DAY - FIRST_DAY).days + 1
    specs = []
    for kind in kinds:
        day = FIRST_DAY + timedelta(days=rng.randrange(days))
        hour = rng.randint(7, 22) if rng.random() < 0.9 else rng.randint(0, 23)
        when = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), ZONE)
        sender = rng.choice(words.NEWS_SENDERS)[::-1] if kind == "newsletter" else rng.choice(strangers)
        big = 0
        if kind == "large":
            low, high = size.attach_mb
            big = int(rng.uniform(low, high) * docs.MB)
        elif kind == "notice" and size.corpus == "light":
            big = rng.randint(*LIGHT_NOTICE_KB) * docs.KB
        specs.append(Spec(when=when, kind=kind, seed=rng.getrandbits(64), sender=sender, flags=_flags(rng),
                          big_bytes=big))
    return specs


def _strangers(rng: random.Random, roster_emails: set[str], count: int) -> list[tuple[str, str]]:
    """Colleagues elsewhere in the plant and outside it: never on the roster."""
    out, used = [], set(roster_emails)
    domains = (DOMAIN, DOMAIN, "supplier-hx.example", "group-hq.example", "163.example", "qq.example")
    while len(out) < count:
        surname, s_py = rng.choice(words.SURNAMES)
        given, g_py = rng.choice(words.GIVEN)
        address = f"{s_py}{g_py}{rng.randint(1, 99)}@{rng.choice(domains)}"
        if address in used:
            continue
        used.add(address)
        out.append((address, surname + given))
    return out


def _distinct_seconds(specs: list[Spec]) -> list[Spec]:
    """Arrival times one second apart at least, so that Maildir names (and so UIDs) follow arrival."""
    out, last = [], None
    for s in specs:
        when = s.when
        if last is not None and when <= last:
            when = last + timedelta(seconds=1)
        out.append(s if when == s.when else Spec(**{**s.__dict__, "when": when}))
        last = when
    return out


def _remind_day(target: int, season, cal, roster, arrivals, requested) -> tuple[date, int]:
    """The working day whose overdue count (as hrbot computes it) is closest to target."""
    from bot.season import deadlines
    from bot.records import OVERDUE

    best = None
    day = SEASON["meeting_request_due"] + timedelta(days=1)
    while day <= SEASON["final_due"]:
        if cal.is_workday(day):
            rows = deadlines.status(season, cal, roster, arrivals, requested, day)
            overdue = sum(r.state == OVERDUE for r in rows)
            if best is None or abs(overdue - target) < abs(best[1] - target):
                best = (day, overdue)
        day += timedelta(days=1)
    return best
