"""The typed records passed between the stages: source → intake → parsers → store → deadlines → out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here; the idle poll should not import the email package for it
    from email.message import Message

# The season's items and what each one is: bot.season.items.

# 民主测评 (bot.evaluation): the channels a cadre is rated through, and the levels of a rating.
STAFF, HEADS, PLANT, PEERS = "staff", "heads", "plant", "peers"
CHANNELS = (STAFF, HEADS, PLANT, PEERS)
CHANNEL_TITLES = {STAFF: "员工民主测评", HEADS: "党政主要领导测评副职", PLANT: "厂领导测评", PEERS: "科级干部互评"}
TEAM_LEVELS = ("好", "较好", "一般", "较差")
CADRE_LEVELS = ("优秀", "称职", "基本称职", "不称职")

# Roles as people.csv spells them.
HEAD = "主要领导"
SECRETARY = "党支部书记"
DEPUTY_SECRETARY = "党支部副书记"  # counts as SECRETARY
DEPUTY = "副职"
CADRE = "科级干部"
SECOND_LINE = "二线干部"
UNION_CHAIR = "分会主席"
ROLES = (HEAD, SECRETARY, DEPUTY_SECRETARY, DEPUTY, CADRE, SECOND_LINE, UNION_CHAIR)
TEAM_ROLES = (HEAD, SECRETARY, DEPUTY)  # 班子成员: reviewed by leader_review
REPORTING_ROLES = (HEAD, SECRETARY, DEPUTY, CADRE, SECOND_LINE)  # owe a personal_report

# Message outcomes (docs/contract.md, "Outcomes").
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
OWN_MAIL = "own_mail"
UNKNOWN_SENDER = "unknown_sender"
NO_DOCUMENTS = "no_documents"
REJECTED = "rejected"
# Refusals that said nothing about the mail itself: a newer roster or hrbot may read it (bot.reprocess).
RETRYABLE_REJECTIONS = ("邮件正文未下载", "处理时出错")
# Attachment outcomes add one of their own.
IGNORED = "ignored"
HELD_PREFIX = "待人力资源科确认："  # the reason of a document held for HR, then why

# Outgoing mail: what kind each outbox row is, and the states it goes through (bot.out.senders):
# queued → sending → sent, or failed / uncertain (kept aside for HR), spooled (written to a folder
# instead of sent), cancelled (a reminder withdrawn before it went out).
CONFIRMATION, REMINDER, KICKOFF, SUMMARY = "confirmation", "reminder", "kickoff", "summary"
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
UNCERTAIN, SPOOLED, CANCELLED = "uncertain", "spooled", "cancelled"

# Status states (docs/contract.md, "States").
RECEIVED = "received"
LATE = "late"
OVERDUE = "overdue"
PENDING = "pending"
EXEMPT = "exempt"  # not owed this season, by HR's adjustment


# --- roster ---------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str  # 车间 or 科室
    headcount: int
    meeting: date | None  # 述职大会日期 fixed by HR, None while not fixed


@dataclass(frozen=True)
class Person:
    unit: str
    name: str
    role: str  # one of ROLES; DEPUTY_SECRETARY is kept as written
    email: str  # lower-cased; the first listed: reminders and kickoff go here
    # Every roster address of the person, `email` first; mail from any of them is theirs.
    emails: tuple[str, ...] = ()
    system: str | None = None  # 专业系统 (people.csv's optional 系统 column): ranks cadres in the evaluation

    def __post_init__(self) -> None:
        if not self.emails or self.emails[0] != self.email:
            object.__setattr__(self, "emails", (self.email, *(e for e in self.emails if e != self.email)))

    @property
    def is_secretary(self) -> bool:
        return self.role in (SECRETARY, DEPUTY_SECRETARY)

    @property
    def on_team(self) -> bool:
        return self.role in TEAM_ROLES or self.is_secretary


# --- mail in --------------------------------------------------------------


@dataclass(frozen=True)
class RawMessage:
    """One delivery as a mailbox source hands it over.

    Usually the whole message. A source that can read a message's structure without its body
    (IMAP: BODY[HEADER] and BODYSTRUCTURE) hands over only the header block of mail whose sender
    cannot make it a submission (off the roster, or HR itself): complete is then False, and
    structure lists its parts as the server describes them (docs/contract.md, "Containers").
    """

    source_key: str  # unique within the source, e.g. "maildir:<name>" or "imap:INBOX:<validity>:<uid>"
    data: bytes  # the whole message as delivered; only its header block when not complete
    received_at: datetime  # aware; when the server received it (never the Date header)
    # Source bookkeeping the store saves in the same transaction that records the message
    # (e.g. {"imap:INBOX": "<uidvalidity>:<uid>"}).
    checkpoint: dict[str, str] = field(default_factory=dict)
    complete: bool = True  # False: the body was never downloaded
    # Only when not complete: the parts that carry a file name or are not text, named by the same
    # rules as decode (data empty); every leaf's type, name and size as one line each, which the
    # content hash of such a message covers in place of the bytes it never had; and the first
    # charset the message declares, anywhere in its structure (decode's hint for raw 8-bit headers).
    structure: tuple[Part, ...] = ()
    fingerprint: str = ""
    charset: str | None = None


@dataclass
class Part:
    """A part of a message that carries a file name or is not text: an attachment candidate."""

    filename: str | None  # decoded as the sender's client meant it; None when the part has no name
    content_type: str  # lower-cased, e.g. "application/vnd.openxmlformats-officedocument..."
    data: bytes  # the decoded payload
    inline: bool = False  # Content-Disposition: inline


@dataclass
class Mail:
    """A message after decoding: everything the later steps read."""

    message_id: str | None  # trimmed, with angle brackets; None when absent
    from_addr: str | None  # lower-cased address inside From's angle brackets
    from_name: str  # decoded display name
    subject: str  # decoded
    text: str  # the body as plain text (converted from HTML when there is only HTML)
    parts: list[Part]
    headers: Message  # the parsed header block, for the loop/auto-reply checks
    content_hash: str  # sha256 over sender, subject, body text and the parts' bytes
    in_reply_to: str | None = None
    references: str | None = None


# --- documents ------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One season item recognised in an attachment (or the mail text, for a meeting request)."""

    item: str  # a code of bot.season.items
    unit: str
    person: str | None  # None for a unit's items (team_report, union_review, ...)
    warnings: tuple[str, ...] = ()  # HR-facing, Simplified Chinese
    meeting_date: date | None = None  # for MEETING_REQUEST: the requested date


@dataclass
class Recognition:
    """What the parsers made of one part."""

    outcome: str  # ACCEPTED, IGNORED or REJECTED
    reason: str = ""
    documents: list[Document] = field(default_factory=list)
    # Held for HR (outcome IGNORED, reason starting with HELD_PREFIX): what is known of it, if anything.
    held: bool = False
    item: str | None = None
    unit: str | None = None
    person: str | None = None


# --- log ------------------------------------------------------------------


@dataclass
class AttachmentLog:
    filename: str | None
    outcome: str
    reason: str = ""
    item: str | None = None
    unit: str | None = None
    person: str | None = None
    sha256: str | None = None
    saved_as: str | None = None  # path relative to paths.data, when the bytes were kept
    # A readable document from a roster member that hrbot could not attribute with confidence:
    # kept (sha256, saved_as) and shown to HR, who decides with an 归属 adjustment.
    held: bool = False

    def to_json(self) -> dict:
        return {
            "filename": self.filename,
            "item": self.item,
            "unit": self.unit,
            "person": self.person,
            "outcome": self.outcome,
            "reason": self.reason,
        }


# How HR names a message that has no Message-ID (an 归属 row's 说明, `hrbot reprocess --message`): made
# from its row in the store, in a Message-ID's form, so that every reader of a Message-ID reads it.
NO_MESSAGE_ID_PREFIX, NO_MESSAGE_ID_SUFFIX = "<no-message-id.", "@hrbot>"


def message_ref(message_id: str | None, row_id: int) -> str:
    """The Message-ID, or for a message without one, the reference made from its row."""
    return message_id or f"{NO_MESSAGE_ID_PREFIX}{row_id}{NO_MESSAGE_ID_SUFFIX}"


def ref_row(ref: str) -> int | None:
    """The store row a reference made by message_ref names; None for a real Message-ID."""
    if ref.startswith(NO_MESSAGE_ID_PREFIX) and ref.endswith(NO_MESSAGE_ID_SUFFIX):
        number = ref[len(NO_MESSAGE_ID_PREFIX):-len(NO_MESSAGE_ID_SUFFIX)]
        return int(number) if number.isdigit() else None
    return None


@dataclass
class LogEntry:
    """One delivered message, as `hrbot log` shows it."""

    message_id: str | None
    from_addr: str | None
    received_at: datetime
    outcome: str
    reason: str = ""
    subject: str = ""
    attachments: list[AttachmentLog] = field(default_factory=list)
    reprocessed_at: datetime | None = None  # when it was last examined again (bot.reprocess)
    gone: bool = False  # it was to be examined again, and the mailbox no longer had it
    ref: str | None = None  # how HR names it (message_ref), once the store has it

    def to_json(self) -> dict:
        shown = {
            "message_id": self.message_id,
            "from": self.from_addr,
            "received_at": self.received_at.isoformat(),
            "outcome": self.outcome,
            "reason": self.reason,
            "attachments": [a.to_json() for a in self.attachments],
        }
        if self.reprocessed_at is not None:
            shown["reprocessed_at"] = self.reprocessed_at.isoformat()
        return shown


@dataclass(frozen=True)
class StoredMessage:
    """A recorded delivery as the store gives it back for examining it again."""

    id: int  # the store's row
    source_key: str
    message_id: str | None
    from_addr: str | None
    received_at: datetime
    outcome: str
    reason: str
    quarantined_as: str | None
    gone: bool


# --- store and outbox -----------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A composed mail waiting to be queued with the message it answers."""

    message_id: str
    kind: str
    recipients: tuple[str, ...]
    eml: bytes


@dataclass(frozen=True)
class OutboxRow:
    """One row of the outbox: a composed mail and where its delivery stands."""

    id: int
    message_id: str
    kind: str
    recipients: tuple[str, ...]
    created_at: datetime
    eml: bytes
    file: str | None
    state: str
    attempts: int
    next_attempt: datetime | None
    last_error: str


@dataclass(frozen=True)
class Recorded:
    """What the intake hands the store for one delivery."""

    raw: RawMessage
    entry: LogEntry
    content_hash: str
    documents: list[tuple[Document, AttachmentLog | None]]  # attachment None: found in the mail text
    outgoing: list[Outgoing]
    quarantined_as: str | None = None


# --- status ---------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """An item the season expects from a unit (person is None for the unit's own items)."""

    unit: str
    item: str
    person: str | None


@dataclass(frozen=True)
class Arrival:
    """A recorded version of a document, as the store gives it back."""

    unit: str
    item: str
    person: str | None
    received_at: datetime
    message_id: str | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeldDocument:
    """A document held for HR: what it may be, as far as recognition knew (None: not known)."""

    unit: str
    item: str | None
    person: str | None
    message_id: str | None = None  # the message it came in: an 归属 row naming it settles it

    def may_be(self, unit: str, item: str, person: str | None) -> bool:
        return (self.unit == unit and self.item in (None, item)
                and (self.person is None or person is None or self.person == person))


@dataclass
class StatusRow:
    unit: str
    item: str
    person: str | None
    due: date | None
    provisional: bool
    state: str
    received_at: datetime | None
    late_workdays: int
    versions: int
    warnings: list[str] = field(default_factory=list)
    adjustment: dict | None = None  # {"action": 处理, "note": 说明} of HR's adjustment that applies
    # Not received, but a document held for HR may be it: not reminded while HR decides.
    held: bool = False

    def to_json(self) -> dict:
        return {
            "unit": self.unit,
            "item": self.item,
            "person": self.person,
            "due": self.due.isoformat() if self.due else None,
            "provisional": self.provisional,
            "state": self.state,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "late_workdays": self.late_workdays,
            "versions": self.versions,
            "warnings": list(self.warnings),
            "adjustment": self.adjustment,
        }


@dataclass(frozen=True)
class Roster:
    """The units and people of the season, as units.csv/people.csv (or roster.xlsx) give them.

    The look-ups go through indexes built once here: the poll, the status and the reminders ask
    them thousands of times a run, and a scan of every person each time made loading alone O(n²).
    """

    units: dict[str, Unit]  # by name, in file order
    people: tuple[Person, ...]  # in file order

    def __post_init__(self) -> None:
        by_email: dict[str, Person] = {}
        by_unit: dict[str, list[Person]] = {}
        for person in self.people:
            for address in person.emails:
                by_email.setdefault(address, person)  # the first entry wins, as a scan would find it
            by_unit.setdefault(person.unit, []).append(person)
        # Not fields: they follow from `people`, and stay out of repr, eq and dataclasses.replace.
        object.__setattr__(self, "_by_email", by_email)
        object.__setattr__(self, "_by_unit", {unit: tuple(people) for unit, people in by_unit.items()})

    def by_email(self, address: str | None) -> Person | None:
        if not address:
            return None
        return self._by_email.get(address.strip().lower())

    def people_in(self, unit: str) -> list[Person]:
        return list(self._by_unit.get(unit, ()))

    def head_of(self, unit: str) -> Person | None:
        return next((p for p in self._by_unit.get(unit, ()) if p.role == HEAD), None)

    def secretary_of(self, unit: str) -> Person | None:
        return next((p for p in self._by_unit.get(unit, ()) if p.role in (SECRETARY, DEPUTY_SECRETARY)), None)

    def union_chair_of(self, unit: str) -> Person | None:
        return next((p for p in self._by_unit.get(unit, ()) if p.role == UNION_CHAIR), None)
