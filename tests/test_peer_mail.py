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

import json
import logging
import unicodedata
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
