"""Fuzz of the MIME intake: whatever the bytes, process() never raises and each delivery gets exactly one log entry."""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from bot.intake.job import Context
from bot.intake.pipeline import process
from bot.records import RawMessage
from bot.season.roster import load_roster
from bot.store import Store
from bot.season.workdays import WorkCalendar
from parsers import forms

ROSTER_SENDERS = ["lijianguo@tengfei.example", "wangjun@tengfei.example", "hr@tengfei.example"]
# Real labels, labels Python spells differently, and bogus ones: unknown, empty, RFC 2231 "*lang",
# quoted, and codecs that are not text encodings or must never run on mail (escapes, IDNA).
CHARSETS = ["utf-8", "UTF8", "gb2312", "gbk", "gb18030", "big5", "shift_jis", "iso-2022-jp", "euc-kr",
            "koi8-r", "iso-8859-1", "windows-1252", "utf-7", "utf-16", "utf-32", "hz", "x-bogus", "",
            "utf-8*zh-cn", '"gbk"', "unicode-escape", "raw-unicode-escape", "idna", "punycode", "rot13",
            "base64", "zlib", "undefined", "x-mac-roman", "iso-8859-8-i"]
ENCODINGS = ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "bogus", ""]
REPORT = forms.fill_personal_report("合成车间", "王珺", "副职")

charsets = st.sampled_from(CHARSETS)
raw_text = st.binary(max_size=40)


@st.composite
def encoded_word(draw) -> bytes:
    """An RFC 2047 word, well or badly formed: random charset, B or Q, payload valid or broken."""
    charset = draw(charsets)
    kind = draw(st.sampled_from("BbQqX"))
    payload = draw(raw_text)
    if kind in "Bb":
        text = base64.b64encode(payload)
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from([b"", b"=", b"==", b"!", b"?", b" "]))
    elif kind in "Qq":
        text = binascii.b2a_qp(payload, header=True).replace(b"?", b"=3F")
    else:
        text = payload
    return b"=?" + charset.encode() + b"?" + kind.encode() + b"?" + text + b"?="


header_values = st.lists(st.one_of(encoded_word(), raw_text, st.text(max_size=20).map(lambda t: t.encode("utf-8"))),
                         max_size=5).map(lambda parts: b" ".join(parts))


@st.composite
def from_header(draw) -> bytes:
    # Mostly roster senders, so that most deliveries go on to the extract and confirm steps.
    address = draw(st.one_of(st.sampled_from(ROSTER_SENDERS).map(str.encode), raw_text,
                             st.just(b"li\xe6\x9d\x8e@tengfei.example")) if draw(st.booleans())
                   else st.sampled_from(ROSTER_SENDERS[:2]).map(str.encode))
    name = draw(header_values)
    shape = draw(st.sampled_from([b"%s <%s>", b"%s <%s>", b'"%s" <%s>', b"%s%s", b"%s <%s", b"<%s> %s"]))
    return shape.replace(b"%s", name, 1).replace(b"%s", address, 1)


@st.composite
def body_part(draw) -> bytes:
    """One MIME part: random type, charset, transfer encoding, file name, payload (possibly a real .docx)."""
    ctype = draw(st.sampled_from([b"text/plain", b"text/html", b"application/octet-stream",
                                  b"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  b"message/rfc822", b"multipart/mixed", b"image/png", b"bogus"]))
    cte = draw(st.sampled_from(ENCODINGS)).encode()
    payload = draw(st.one_of(raw_text, st.just(REPORT), st.integers(0, len(REPORT)).map(lambda n: REPORT[:n])))
    if cte == b"base64":
        body = base64.encodebytes(payload)
        if draw(st.booleans()):  # broken base64: cut short, junk inside, padding lost
            cut = draw(st.integers(0, len(body)))
            body = body[:cut] + draw(st.sampled_from([b"", b"@@@", b"=", b"====", b"\x00\xff"])) + body[cut:cut + 20]
    elif cte == b"quoted-printable":
        body = binascii.b2a_qp(payload)
    else:
        body = payload
    name = draw(st.one_of(st.none(), header_values))
    head = b"Content-Type: " + ctype + b"; charset=" + draw(charsets).encode()
    if name is not None:
        head += draw(st.sampled_from([b'; name="%s"', b"; name=%s", b"\r\nContent-Disposition: attachment; filename=\"%s\"",
                                      b"\r\nContent-Disposition: inline; filename*=utf-8''%s",
                                      b"\r\nContent-Disposition: attachment; filename*0*=%s; filename*1=x"])).replace(
            b"%s", name)
    if cte:
        head += b"\r\nContent-Transfer-Encoding: " + cte
    return head + b"\r\n\r\n" + body


@st.composite
def message(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=500))  # random bytes
    headers = [b"From: " + draw(from_header()), b"To: hr@tengfei.example", b"Subject: " + draw(header_values)]
    if draw(st.booleans()):
        headers.append(b"Message-ID: <" + draw(raw_text) + b">")
    padding = draw(st.sampled_from([0, 0, 0, 1_000, 100_000]))
    if padding:  # a huge header: one long folded Subject of encoded words, or many small headers
        word = draw(encoded_word())
        if draw(st.booleans()):
            headers.append(b"X-Huge: " + b"\r\n ".join([word] * (padding // (len(word) + 3) + 1)))
        else:
            headers += [b"X-Many: " + word] * (padding // (len(word) + 10) + 1)
    headers += [b"X-Extra: " + v for v in draw(st.lists(header_values, max_size=2))]
    boundary = draw(st.sampled_from([b"b", b"==b==", b"", b"\xff\xfe", b"x" * 200]))
    parts = draw(st.lists(body_part(), max_size=4))
    if parts or draw(st.booleans()):
        headers.append(b'Content-Type: multipart/mixed; boundary="' + boundary + b'"')
        body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) + b"--" + boundary + b"--\r\n"
    else:
        body = draw(body_part())
        headers.append(body.split(b"\r\n\r\n", 1)[0])
        body = body.split(b"\r\n\r\n", 1)[1]
    raw = b"\r\n".join(headers) + b"\r\n\r\n" + body
    if draw(st.booleans()):  # truncated anywhere: mid-header, mid-part, mid-base64
        raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


def test_fuzz_intake_never_raises_and_logs_each_delivery_once(settings):
    roster = load_roster(settings.config_dir)
    calendar = WorkCalendar.load(settings.config_dir)
    with tempfile.TemporaryDirectory() as data_dir, Store.open(Path(data_dir)) as store:
        ctx = Context(settings=settings, roster=roster, store=store, calendar=calendar)
        deliveries = iter(range(1_000_000))

        @hypothesis_settings(max_examples=200, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.large_base_example])
        @given(raw=message())
        def one_delivery(raw: bytes) -> None:
            before = len(store.log())
            key = f"fuzz:{next(deliveries)}"
            entry = process(RawMessage(source_key=key, data=raw,
                                       received_at=datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)), ctx)
            assert entry is not None
            log = store.log()
            assert len(log) == before + 1
            json.dumps(log[-1].to_json(), ensure_ascii=False)  # `hrbot log --json` can show it

        one_delivery()


def test_fuzz_lone_surrogates_are_made_storable_before_recording():
    from bot.intake.pipeline import _make_storable
    from bot.records import AttachmentLog, LogEntry

    entry = LogEntry(message_id="<a\udcff@x>", from_addr="li\udce6\udc9d\udc8e@tengfei.example",
                     received_at=datetime(2026, 12, 3, tzinfo=timezone.utc), outcome="rejected",
                     subject="\ud800", attachments=[AttachmentLog(filename="\udcb0\udca1.docx", outcome="ignored")])
    _make_storable(entry)
    assert entry.from_addr == "li李@tengfei.example"  # the escaped bytes decoded, as the sender meant them
    for text in (entry.message_id, entry.subject, entry.attachments[0].filename):
        text.encode("utf-8")  # SQLite takes it: no lone surrogate left
