"""Which reminders are due on a working day, one digest per recipient, queued once (`hrbot remind`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.out.forms import blank_form_attachments, form_names
from bot.season.items import HEAD_AND_WRITER, REVIEWER, TABLE, UNION_CHAIR, item_title
from bot.out.outbox import compose, to_script, write_files
from bot.records import OVERDUE, PENDING, QUEUED, REMINDER, Outgoing, Person, Roster, StatusRow
from bot.reports.views import season_status
from bot.season.roster import load_roster
from bot.settings import Settings
from bot.store import Store
from bot.out.templates import render
from bot.season.workdays import WorkCalendar

log = logging.getLogger(__name__)

KIND = REMINDER
TEMPLATE = "reminder.txt.j2"

# Why an item is in today's digest.
BEFORE, DUE_TODAY, LATE = "before", "due_today", "overdue"

# The service runs `remind` once a day; this remembers the day so that it does not recompute every tick.
LAST_DAY_KEY = "reminders:last_day"
# Why a queued reminder is cancelled (Store.cancel_if_queued): before it went out, none of its items was owed any more.
WITHDRAWN_REASON = "发出前所列材料均已收到或已无需提交，提醒已撤回"

@dataclass(frozen=True)
class Missing:
    """One expected item, not received yet, that a digest names."""

    unit: str
    item: str
    person: str | None  # whose report, or who is reviewed; None for the unit's own items
    due: date
    provisional: bool
    why: str  # BEFORE | DUE_TODAY | LATE
    late_workdays: int
    escalated: bool  # overdue by [reminders] escalate_after_workdays or more

    @property
    def key(self) -> list:
        """How the store's reminders table names the item: [unit, item, person]."""
        return [self.unit, self.item, self.person]

    @property
    def title(self) -> str:
        return item_title(self.item)

    def whose(self, recipient: str) -> str:
        """Whose item it is, in the digest's words: "" for a unit's own."""
        if self.person is None:
            return ""
        if self.person == recipient:
            return "（您本人）"
        return TABLE[self.item].person_note.format(self.person) if self.item in TABLE else f"（{self.person}）"


@dataclass
class Digest:
    """Today's one mail to one roster address."""

    recipient: Person
    items: list[Missing] = field(default_factory=list)
    cc: tuple[str, ...] = ()

    @property
    def covers(self) -> list[list]:
        return [m.key for m in self.items]


# --- selection ----------------------------------------------------------------


def select(
    settings: Settings,
    cal: WorkCalendar,
    roster: Roster,
    rows: list[StatusRow],
    sent: list[tuple[date, str, list]],
    as_of: date,
) -> list[Digest]:
    """The digests due on as_of, from the items' states and the reminders already recorded.

    Everything is recomputed from the store each time, so a document that arrived drops out of
    every later digest, and a day the bot was down is caught up by the windows below.
    """
    if not cal.is_workday(as_of):
        return []
    r = settings.reminders
    history: dict[tuple, list[date]] = {}
    for day, recipient, covers in sent:
        for unit, item, person in covers:
            history.setdefault((recipient, unit, item, person), []).append(day)
    reminded_today = {recipient for day, recipient, _ in sent if day == as_of}

    digests: dict[str, Digest] = {}
    for row in rows:
        if row.due is None or not still_owed(roster, row):
            continue
        why = _why(cal, row, as_of, r.days_before, r.on_due_day)
        if why is None:
            continue
        escalated = row.state == OVERDUE and 0 < r.escalate_after_workdays <= row.late_workdays
        missing = Missing(row.unit, row.item, row.person, row.due, row.provisional, why, row.late_workdays,
                          escalated)
        for person in owers(roster, row, r.remind_cadres, hr_person(settings, row.unit)):
            if person.email in reminded_today:
                continue
            days = history.get((person.email, row.unit, row.item, row.person), [])
            if not _due_for(cal, why, row.due, days, as_of, r.days_before, r.overdue_every_workdays):
                continue
            digest = digests.setdefault(person.email, Digest(person))
            digest.items.append(missing)
    for digest in digests.values():
        leaders = [a for m in digest.items if m.escalated for a in r.leaders.get(m.unit, ())]
        digest.cc = tuple(a for a in dict.fromkeys(leaders) if a != digest.recipient.email)
    return list(digests.values())


def _why(cal: WorkCalendar, row: StatusRow, as_of: date, days_before: int, on_due_day: bool) -> str | None:
    if as_of > row.due:
        return LATE
    if as_of == row.due:
        return DUE_TODAY if on_due_day else None
    if days_before > 0 and cal.shift(row.due, -days_before)[0] <= as_of:
        return BEFORE
    return None


def _due_for(cal: WorkCalendar, why: str, due: date, days: list[date], as_of: date, days_before: int,
             every: int) -> bool:
    """Whether this recipient should hear of this item today, given the days they already did."""
    if as_of in days:
        return False
    if why == BEFORE:
        # One early reminder in the window; if the bot was down on its first day, the next one catches up.
        start = cal.shift(due, -days_before)[0]
        return not any(start <= d < due for d in days)
    if why == DUE_TODAY:
        return True
    last = max((d for d in days if d > due), default=None)
    return last is None or cal.workdays_after(last, as_of)[0] >= every


def moot(roster: Roster, row: StatusRow) -> bool:
    """A meeting request from a unit whose meeting HR already fixed in units.csv: asking for it would only confuse."""
    return TABLE[row.item].moot_once_meeting_fixed and roster.units[row.unit].meeting is not None


def owers(roster: Roster, row: StatusRow, remind_cadres: bool, hr: Person | None = None) -> list[Person]:
    """Who hears of a missing item: the head for the unit's things, the secretary for the head's review,
    the union chair for the union review, and (if asked for) each cadre for their own report.

    When the roster lacks the one who should hear (a gap HR has not filled), `hr` hears instead.
    """
    head = roster.head_of(row.unit)
    hears = TABLE[row.item].hears
    if hears == REVIEWER:
        # The secretary reviews the head; the head reviews everyone else on the team.
        people = [roster.secretary_of(row.unit) if head is not None and row.person == head.name else head]
    elif hears == UNION_CHAIR:
        people = [roster.union_chair_of(row.unit)]
    elif hears == HEAD_AND_WRITER:
        people = [head]
        if remind_cadres and (head is None or row.person != head.name):
            people.append(next((p for p in roster.people_in(row.unit) if p.name == row.person), None))
    else:
        people = [head]
    if people[0] is None:
        people[0] = hr
    return [p for p in dict.fromkeys(people) if p is not None]


def hr_person(settings: Settings, unit: str) -> Person:
    """HR as the recipient of what a unit's missing head, secretary or union chair would have heard."""
    return Person(unit=unit, name=settings.hr.name, role="", email=settings.hr.address)


# --- composition ----------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A digest in HR's words, before it becomes a mail (and before [mail] script converts it)."""

    subject: str
    text: str
    forms: tuple[str, ...]  # the file names of the blank forms to attach, in the forms' order


def draft_digest(settings: Settings, digest: Digest, as_of: date) -> Draft:
    """The digest rendered in HR's voice, naming the blank forms for what is missing when asked for."""
    units: dict[str, list[Missing]] = {}
    for m in digest.items:
        units.setdefault(m.unit, []).append(m)
    forms = form_names([m.item for m in digest.items]) if settings.reminders.attach_forms else ()
    subject, text = render(
        settings, TEMPLATE, recipient=digest.recipient, as_of=as_of, units=units, items=digest.items,
        late=any(m.why == LATE for m in digest.items), escalated=any(m.escalated for m in digest.items),
        cc=digest.cc, attachments=list(forms), season=settings.season,
        BEFORE=BEFORE, DUE_TODAY=DUE_TODAY, LATE=LATE,
    )
    return Draft(subject, text, forms)


def compose_digest(settings: Settings, digest: Digest, as_of: date, draft: Draft | None = None) -> Outgoing:
    """The digest as a mail in HR's voice, with the blank forms for what is missing when asked for."""
    draft = draft or draft_digest(settings, digest, as_of)
    return compose(settings, KIND, [digest.recipient.email], draft.subject, draft.text, cc=list(digest.cc),
                   attachments=blank_form_attachments(draft.forms))


# --- the command ----------------------------------------------------------------


def remind(settings: Settings, as_of: date, dry_run: bool = False) -> list[str]:
    """Queue (and write to the outbox folder) the digests due on as_of; return lines for the terminal.

    With dry_run the digests are printed in full and nothing is queued or recorded.
    """
    cal = WorkCalendar.load(settings.config_dir)
    if not cal.is_workday(as_of):
        return [f"{as_of} 不是工作日，不发送提醒。"]
    if as_of > settings.season.final_due:
        return [f"本年度考核已于 {settings.season.final_due} 结束，不再发送提醒。"]
    roster = load_roster(settings.config_dir)
    lines: list[str] = []
    with Store.open(settings.paths.data) as store:
        rows = season_status(settings, cal, roster, store, as_of)
        sent = store.reminders_sent()
        already = sorted({recipient for day, recipient, _ in sent if day == as_of})
        for digest in select(settings, cal, roster, rows, sent, as_of):
            draft = draft_digest(settings, digest, as_of)
            if dry_run:  # shown from the rendered text: no mail is built only to be read back
                lines.extend(_preview(settings, digest, draft))
                continue
            out = compose_digest(settings, digest, as_of, draft)
            outbox_id = store.queue(out, reminder=(as_of, digest.recipient.email, digest.covers))
            if outbox_id is None:  # another process got there first
                already.append(digest.recipient.email)
                continue
            log.info("reminder for %s queued to %s: %d item(s)", as_of, digest.recipient.email, len(digest.items))
            lines.append(f"已写入提醒 → {_who(digest)}：{_items_line(digest.items)}")
        if not dry_run:
            write_files(settings, store)
    if already:
        lines.append(f"{as_of} 已给 {len(already)} 人发过提醒，今天不再重复：{'、'.join(already)}")
    if not lines:
        lines.append(f"{as_of} 没有需要发送的提醒。")
    elif dry_run:
        lines.append("（演练：以上邮件均未写入发件箱，也未作记录）")
    return lines


def withdraw_answered(settings: Settings, store: Store, today: date) -> int:
    """Withdraw queued reminders none of whose items is still owed today; returns how many.

    Owed is what `select` reminds of: not received, not exempted or settled by HR's adjustments,
    no document held for HR that may be it. So a document that arrived, an `免交` or `已收到` row
    HR added, or an `归属` that settled a held file, each stop a reminder that has not gone out.
    The caller holds off delivery meanwhile (the service under its send lock, `hrbot send` under
    the writer lock), so a row cannot be in the middle of going out while it is withdrawn.
    """
    queued = [row for row in store.outbox(QUEUED) if row.kind == KIND]
    if not queued:
        return 0  # the usual case: no status computed
    try:
        roster = load_roster(settings.config_dir)
        rows = season_status(settings, WorkCalendar.load(settings.config_dir), roster, store, today)
    except Exception as error:  # noqa: BLE001 - whatever stops the check must not stop the mail that waits
        log.warning("reminders: queued reminders not checked before sending (%s: %s)", type(error).__name__, error,
                    exc_info=log.isEnabledFor(logging.DEBUG))
        return 0
    owed = {(row.unit, row.item, row.person) for row in rows if still_owed(roster, row)}
    withdrawn = 0
    for row in queued:
        covers = store.reminder_covers(row.id)
        if covers is None:
            continue  # not known what it covers: let it go rather than guess
        if not any((unit, item, person) in owed for unit, item, person in covers) and \
                store.cancel_if_queued(row.id, WITHDRAWN_REASON):
            log.info("reminder %s to %s withdrawn: nothing it asks for is owed any more", row.message_id,
                     ", ".join(row.recipients))
            withdrawn += 1
    return withdrawn


def still_owed(roster: Roster, row: StatusRow) -> bool:
    """Whether an item may still be reminded of (whatever the day): missing, not held for HR, not moot."""
    return row.state in (PENDING, OVERDUE) and not row.held and not moot(roster, row)


def reminders_due(settings: Settings, now: datetime) -> list[str] | None:
    """The service's job: on a working day from [schedule] reminder_time, remind once; None if not due."""
    local = now.astimezone(settings.season.timezone)
    if local.time() < settings.schedule.reminder_time:
        return None
    day = local.date()
    with Store.open(settings.paths.data) as store:
        if store.get_state(LAST_DAY_KEY) == day.isoformat():
            return None
    lines = remind(settings, day)
    with Store.open(settings.paths.data) as store:
        store.set_state(LAST_DAY_KEY, day.isoformat())
    return lines


def _who(digest: Digest) -> str:
    cc = f"（抄送 {', '.join(digest.cc)}）" if digest.cc else ""
    return f"{digest.recipient.name} <{digest.recipient.email}>{cc}"


def _items_line(items: list[Missing]) -> str:
    parts = []
    for m in items:
        person = f"（{m.person}）" if m.person else ""
        state = {BEFORE: f"{m.due} 截止", DUE_TODAY: "今天截止", LATE: f"已逾期 {m.late_workdays} 个工作日"}[m.why]
        parts.append(f"{m.unit}{m.title}{person}，{state}")
    return "；".join(parts)


def _preview(settings: Settings, digest: Digest, draft: Draft) -> list[str]:
    """What the mail would say, in the script compose() would write it in."""
    lines = [f"将发送提醒 → {_who(digest)}", f"  主题：{to_script(settings, draft.subject)}"]
    if draft.forms:
        lines.append(f"  附件：{'、'.join(draft.forms)}")
    body = to_script(settings, draft.text)
    lines.extend("  | " + line if line else "  |" for line in body.rstrip().splitlines())
    lines.append("")
    return lines
