"""decode() on other mail projects' real-world test mail (../shared/peer-mail, never shipped).

expected.json gives, per file, the attachment names that project's own tests expect
(`attachments`: a list, [] = none, null = the source says nothing).  What the list means:

- Names, not a sequence of parts: the peers assert which names come out, and when two
  parts share a name the peers rename or drop one (Zammad mail102's "091.00.38.png",
  php-mime-mail-parser m0026's second ATT00001.txt) while the contract lists both under
  the name as sent.  So the distinct names are compared, without order or count.
- `not_checked` records where a peer's name was left out because it is not the name as
  sent: a name the peer synthesises for a part that has none ("names"), or the peer's own
  rendering of a name ("name": U+FFFD, "_" for a newline, a rename).  A name of ours that is
  not expected is accepted only when one of those entries accounts for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.intake.decode import decode
from bot.records import Mail

PEER = Path(__file__).parents[2] / "shared" / "peer-mail"
ABSENT = f"peer mail not present at {PEER} (it sits beside the repository on dev machines and CI)"


def _cases() -> list:
    index = PEER / "expected.json"
    if not index.is_file():
        absent = pytest.mark.skip(reason=ABSENT)
        return [pytest.param(None, None, id="peer-mail-absent", marks=absent)]
    files = json.loads(index.read_text(encoding="utf-8"))["files"]
    return [pytest.param(name, entry, id=name) for name, entry in sorted(files.items())]


def _raw(name: str) -> bytes:
    raw = (PEER / name).read_bytes()
    # mbox form: the "From " envelope line is not part of the message (a Maildir drops it).
    return raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw


def _nfc(names) -> set[str]:
    return {unicodedata.normalize("NFC", n) for n in names}


def _explained(extra: set[str], not_checked: list[dict]) -> bool:
    """Whether names we give beyond the expected ones are parts the peer named its own way."""
    synthesised = _nfc(n for entry in not_checked for n in entry.get("names", []))
    renderings = sum(1 for entry in not_checked if "name" in entry)
    return len(extra - synthesised) <= renderings


@pytest.mark.parametrize(("name", "entry"), _cases())
def test_peer_mail_decodes(name, entry, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.intake.decode"):
        mail = decode(_raw(name))
    assert isinstance(mail, Mail)
    assert not caplog.records, "decode had to degrade: " + caplog.records[0].getMessage()

    expected = entry["attachments"]
    if expected is None:
        return
    got = _nfc(p.filename for p in mail.parts if p.filename is not None)
    want = _nfc(expected)
    assert want <= got, f"missing {sorted(want - got)}; decoded {sorted(got)}"
    extra = got - want
    assert _explained(extra, entry.get("not_checked", [])), f"unexpected names {sorted(extra)}"


@pytest.fixture(scope="module")
def intake(tmp_path_factory):
    """A real store and the example season, shared by the corpus run (one delivery per message)."""
    from bot.intake.job import Context
    from bot.season.roster import load_roster
    from bot.settings import EXAMPLE_CONFIG, load
    from bot.store import Store
    from bot.season.workdays import WorkCalendar

    folder = tmp_path_factory.mktemp("peer")
    example = load(EXAMPLE_CONFIG)
    settings = example._replace(paths=example.paths._replace(data=folder / "data", outbox=folder / "outbox",
                                                             tracker=folder / "tracker"))
    # Two stores, or the second delivery of each message would be a duplicate of the first.
    with Store.open(folder / "stranger") as strangers, Store.open(folder / "member") as members:
        yield settings, load_roster(EXAMPLE_CONFIG), (strangers, members), WorkCalendar.load(EXAMPLE_CONFIG), Context


@pytest.mark.parametrize(("name", "entry"), _cases())
def test_peer_mail_goes_through_the_intake_once(name, entry, intake):
    """Each message, as a stranger's and again as a roster member's (so containers and parsers run),
    ends as exactly one log entry without an exception."""
    from dataclasses import replace
    from datetime import datetime, timezone

    from bot.intake.pipeline import process
    from bot.records import RawMessage, Roster

    settings, roster, stores, calendar, Context = intake
    raw = _raw(name)
    sender = decode(raw).from_addr
    head = roster.head_of("合成车间")
    as_member = Roster(units=roster.units, people=tuple(
        replace(p, email=sender) if p == head and sender else p for p in roster.people))
    arrived = datetime(2026, 12, 4, tzinfo=timezone.utc)
    for people, store in zip((roster, as_member), stores):
        before = len(store.log())
        ctx = Context(settings=settings, roster=people, store=store, calendar=calendar)
        process(RawMessage(source_key=f"peer:{name}", data=raw, received_at=arrived), ctx)
        assert len(store.log()) == before + 1


# --- the same parts from the structure a server reports (BODYSTRUCTURE) -----------------------


def _listed(parts) -> list[tuple]:
    return [(unicodedata.normalize("NFC", p.filename) if p.filename else None, p.content_type, p.inline)
            for p in parts]


# Where the server's own parse of a malformed header differs from decode's lenient one: the
# parameters reach bot.mime.parts already cut (an unquoted name with spaces, a stray quote, a "/"
# in an unquoted value) or the structure is not a multipart at all. Named one by one, so a new
# difference, or one that goes away, shows here.
SERVER_PARSES_OTHERWISE = {
    "joruri-mail/attachment/invalid_mime.eml": "a boundary parameter dovecot does not accept: one text leaf",
    "joruri-mail/attachment/invalid_quotation.eml": "filename values with unbalanced quotes",
    "php-mime-mail-parser/issue133": "an unquoted name=attach/01 cut at the '/'",
    "ruby-mail/attachment_emails/attachment_with_unquoted_name.eml": "an unquoted name with spaces cut at the first",
}


@contextlib.contextmanager
def peer_mailbox(tmp_path):
    """Every peer message appended to a real dovecot's INBOX, selected read-only: (names in UID order, client)."""
    import imap_server

    if not (PEER / "expected.json").is_file():
        pytest.skip(ABSENT)
    if not imap_server.available():
        pytest.skip(f"dovecot not installed ({imap_server.DOVECOT})")
    names = sorted(json.loads((PEER / "expected.json").read_text(encoding="utf-8"))["files"])
    when = datetime.now(timezone.utc) - timedelta(days=30)
    with imap_server.run_dovecot(tmp_path) as server:
        for name in names:
            server.append(_raw(name), when)
        with server.client() as client:
            client.select_folder("INBOX", readonly=True)
            yield names, client


def test_peer_mail_parts_named_alike_from_bodystructure(tmp_path):
    """Every peer message appended to a real dovecot: the parts its BODYSTRUCTURE lists (named by
    bot.mime.parts, as the IMAP source does for mail it never downloads) are the parts decode lists."""
    from bot.sources.imap_structure import parse

    with peer_mailbox(tmp_path) as (names, client):
        fetched = client.fetch(client.search(), ["BODYSTRUCTURE"])
    assert len(fetched) == len(names)
    differ = {}
    for (uid, data), name in zip(sorted(fetched.items()), names):
        structure = parse(data[b"BODYSTRUCTURE"])
        from_structure, from_body = _listed(structure.parts), _listed(decode(_raw(name)).parts)
        if from_structure != from_body:
            differ[name] = (from_structure, from_body)
    shown = "\n".join(f"{k}: structure {v[0]} decode {v[1]}" for k, v in differ.items() if k not in SERVER_PARSES_OTHERWISE)
    assert set(differ) == set(SERVER_PARSES_OTHERWISE), shown
