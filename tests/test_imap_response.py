"""bot.sources.imap_response: the quick FETCH reader gives what imapclient's parser gives, or refuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.parser import BytesHeaderParser

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from imapclient.response_parser import parse_fetch_response
from imapclient.response_types import BodyData

from bot.sources import imap_structure
from bot.sources.imap_fetch import header_message_id, uid_fetch
from bot.sources.imap_response import ResponseError, internal_date, parse_fetch
from test_peer_mail import peer_mailbox

# What hrbot asks a server for (bot.sources.imap_fetch), and a whole-body read.
ASKED = (
    "UID RFC822.SIZE INTERNALDATE",
    "UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]",
    "UID BODY.PEEK[HEADER] BODYSTRUCTURE",
    "UID BODY.PEEK[]",
)


def _imapclient(data) -> dict:
    return parse_fetch_response(data, normalise_times=False, uid_is_key=True)


def _plain(value):
    """imapclient's BodyData with a multipart's children un-nested: the raw response's tuples."""
    if isinstance(value, BodyData) and value.is_multipart:
        return tuple(_plain(v) for v in value[0]) + tuple(_plain(v) for v in value[1:])
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


def test_imap_response_reads_peer_mail_as_imapclient_does(tmp_path):
    """287 real-world messages in a real dovecot: every value of every answer hrbot asks for is
    imapclient's, and the structures name the same parts."""
    answers = {}
    with peer_mailbox(tmp_path) as (names, client):
        for items in ASKED:
            typ, answers[items] = client._imap.uid("FETCH", "1:*", f"({items})")
            assert typ == "OK"
    for items, data in answers.items():
        ours, theirs = parse_fetch(data), _imapclient(data)
        assert sorted(ours) == sorted(theirs) == list(range(1, len(names) + 1)), items
        for uid, values in theirs.items():
            assert ours[uid] == {key: _plain(value) for key, value in values.items()}, (items, uid)
            if b"BODY[HEADER.FIELDS (MESSAGE-ID)]" in values:
                block = values[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
                assert header_message_id(block) == _parsed_message_id(block), names[uid - 1]
            if b"BODYSTRUCTURE" in values:
                assert (imap_structure.parse(ours[uid][b"BODYSTRUCTURE"])
                        == imap_structure.parse(values[b"BODYSTRUCTURE"])), names[uid - 1]


def test_imap_response_literals_quotes_and_lists():
    data = [
        (b'7 (UID 42 BODY[HEADER] {12}', b"Subject: x\r\n"),
        b' BODYSTRUCTURE ("text" "plain" ("charset" "gb2312" "name" "a \\"b\\" c\\\\d\\x") NIL NIL "base64" 0123 0 NIL))',
        b"8 (FLAGS (\\Seen) UID 43)",
    ]
    ours = parse_fetch(data)
    assert ours == _imapclient(data) | {43: {b"SEQ": 8, b"FLAGS": (b"\\Seen",)}}
    assert ours[42][b"BODY[HEADER]"] == b"Subject: x\r\n"
    assert ours[42][b"BODYSTRUCTURE"][2] == (b"charset", b"gb2312", b"name", b'a "b" c\\d\\x')
    assert ours[42][b"BODYSTRUCTURE"][6:8] == (b"0123", 0)  # a leading zero stays an atom, as in imapclient


def test_imap_response_a_literal_inside_a_structure():
    name = "报告.pdf".encode("gbk")
    data = [(b'1 (UID 5 BODYSTRUCTURE ("application" "pdf" ("name" {8}', name),
            b') NIL NIL "base64" 10 NIL NIL NIL NIL))']
    assert parse_fetch(data) == {5: {b"SEQ": 1, b"BODYSTRUCTURE": (
        b"application", b"pdf", (b"name", name), None, None, b"base64", 10, None, None, None, None)}}
    assert _plain(_imapclient(data)[5][b"BODYSTRUCTURE"]) == parse_fetch(data)[5][b"BODYSTRUCTURE"]


@pytest.mark.parametrize("data", [
    [b'1 (UID 5 BODYSTRUCTURE ("text" "pl'],  # an unclosed quote
    [b"1 (UID 5 X %)"],  # a character imapclient reads its own way
    [b"1 (UID 5 BODY[HEADER"],  # an unclosed section
    [(b"1 (UID 5 BODY[HEADER] {9}", b"too short")],
    [(b"1 (UID 5 BODY[HEADER] {4}", b"four")],  # the list never closed
    [b"1 (UID 5))"],
    [b"1 (UID 5 BODY[HEADER] {4} X)"],  # a literal's mark in the middle of a line
    [b"1 2 (UID 5)"],
    [b"1 (UID 5 ENVELOPE (NIL))"],  # never asked for: left to imapclient
    [(b'1 (UID 5 BODYSTRUCTURE ("name" X{3}', b"abc"), b"))"],  # imapclient reads "X{3}" as one atom
    [b"1 (UID 5 X (A\x01))"],  # a control character is a token of its own to imapclient
])
def test_imap_response_refuses_what_it_does_not_know(data):
    with pytest.raises(ResponseError):
        parse_fetch(data)


def test_imap_fetch_leaves_a_refused_answer_to_imapclient():
    """uid_fetch reads with imapclient what the quick reader refuses, so the values still come."""
    answer = [b'3 (UID 9 RFC822.SIZE 120 INTERNALDATE "06-Dec-2026 10:00:00 +0800" X-ODD %)']

    class Imap:
        def uid(self, command, uid_set, items):
            return "OK", list(answer)

    class Client:
        _imap = Imap()

    with pytest.raises(ResponseError):
        parse_fetch(answer)
    fetched = uid_fetch(Client(), "9", "UID RFC822.SIZE INTERNALDATE")
    assert fetched[9][b"RFC822.SIZE"] == 120
    assert fetched[9][b"INTERNALDATE"] == datetime(2026, 12, 6, 10, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(("text", "expected"), [
    (b"06-Dec-2026 10:00:00 +0800", datetime(2026, 12, 6, 10, tzinfo=timezone(timedelta(hours=8)))),
    (b" 6-Dec-2026 23:59:59 -0530", datetime(2026, 12, 6, 23, 59, 59, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    (b"06-dec-2026 10:00:00 +0000", datetime(2026, 12, 6, 10, tzinfo=timezone.utc)),
    (b"31-Feb-2026 10:00:00 +0000", None),
    (b"06-Dec-0099 10:00:00 +0000", datetime(1999, 12, 6, 10, tzinfo=timezone.utc)),  # imapclient's reading
    (b"06-Dec-2026 10:00:00 +0099", datetime(2026, 12, 6, 10, tzinfo=timezone(timedelta(hours=1, minutes=39)))),
    (b"not a date", None),
    (None, None),
])
def test_imap_response_internal_dates(text, expected):
    got = internal_date(text)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == expected.utcoffset()
    theirs = _imapclient([b"1 (UID 1 INTERNALDATE " + (b'"' + text + b'"' if text else b"NIL") + b")"])
    assert theirs[1][b"INTERNALDATE"] == expected


@pytest.mark.parametrize("block", [
    b"Message-ID: <a@b>\r\n\r\n",
    b"Message-Id:\r\n <a@b>\r\n\r\n",
    b"message-id: \t<a@b>  \r\n\r\n",
    b"Message-ID:<x@y> (comment)\r\n\r\n",
    b"Message-ID: <a@b>\r\nMessage-ID: <c@d>\r\n\r\n",
    b"Message-ID: \r\n\r\n",
    "Message-ID: <报告@b>\r\n\r\n".encode(),
    b"\r\n",
    b"",
])
def test_imap_fetch_message_id_as_the_header_parser_reads_it(block):
    """The listing's Message-ID (compared with the store's to skip what was recorded) is the one the
    stdlib's header parser gives, on the quick path for one plain field and off it."""
    assert header_message_id(block) == _parsed_message_id(block)


def _parsed_message_id(block: bytes) -> str | None:
    value = BytesHeaderParser().parsebytes(block).get("Message-ID")
    return " ".join(str(value).split()) or None if value is not None else None


_ATOMS = st.sampled_from([b"NIL", b"0", b"07", b"42", b'"a b"', b'"\\"q\\\\"', b'"\\x"', b'""', b"ATOM", b"\\Seen",
                          b"BODY[HEADER.FIELDS (X Y)]<0>", "中".encode(), b'"\xe4\xb8\xad"', b"%", b'"', b"[", b"]",
                          b"{", b"}", b"{3}"])
_GAP = st.sampled_from([b" ", b" ", b"  ", b"\t", b"\r\n", b""])


def _joined(items: list) -> bytes:
    return b"".join(gap + value for gap, value in items)


_VALUES = st.recursive(_ATOMS, lambda inner: st.lists(st.tuples(_GAP, inner), max_size=6).map(
    lambda items: b"(" + _joined(items) + b")"), max_leaves=25)


@given(st.lists(st.tuples(_GAP, _VALUES), min_size=1, max_size=8), st.booleans())
@hypothesis_settings(max_examples=500, deadline=None)
def test_imap_response_never_differs_from_imapclient(values, with_literal):
    """Whatever the text, the quick reader refuses it or reads what imapclient reads."""
    text = b"1 (UID 9 X (" + _joined(values)
    data = [(text + b" L {3}", b"abc"), b"))"] if with_literal else [text + b"))"]
    try:
        ours = parse_fetch(data)
    except ResponseError:
        return
    try:
        theirs = _imapclient(data)
    except Exception:  # noqa: BLE001 - imapclient refuses what we read: allowed, we must not differ otherwise
        return
    assert ours == {uid: {k: _plain(v) for k, v in values.items()} for uid, values in theirs.items()}
