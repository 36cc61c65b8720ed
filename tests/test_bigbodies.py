"""Big base64 bodies decoded from the raw bytes (bot.intake.bigbodies): the same Mail as an uncut parse."""

from __future__ import annotations

import base64
import os
import resource
import threading
import time

import pytest
from test_peer_mail import PEER, _cases, _raw

from bot.demo import build_message
from bot.intake import bigbodies
from bot.intake.decode import decode, flatten

HR = "renliziyuan@tengfei.example"
HEAD = ("lijianguo@tengfei.example", "李建国")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _fields(mail) -> tuple:
    parts = [(p.filename, p.content_type, p.data, p.inline) for p in mail.parts]
    return (mail.message_id, mail.from_addr, mail.from_name, mail.subject, mail.text, parts, mail.content_hash,
            mail.in_reply_to, mail.references, flatten(mail.headers))


def _both(raw: bytes, monkeypatch) -> tuple[tuple, tuple]:
    """(decoded with every base64 body cut, decoded with none cut)."""
    monkeypatch.setattr(bigbodies, "CUT_BYTES", 1)
    cut = _fields(decode(raw))
    monkeypatch.setattr(bigbodies, "CUT_BYTES", 1 << 62)
    return cut, _fields(decode(raw))


@pytest.mark.parametrize(("name", "entry"), _cases())
def test_peer_mail_reads_the_same_with_every_base64_body_cut(name, entry, monkeypatch):
    cut, whole = _both(_raw(name), monkeypatch)
    assert cut == whole


def test_peer_corpus_has_base64_bodies_to_cut():
    if not PEER.is_dir():
        pytest.skip("peer mail absent")
    raws = [_raw(name) for name, _ in (c.values for c in _cases())]
    with_cuts = sum(1 for raw in raws if _cut_count(raw))
    assert with_cuts >= 50  # the equivalence above is tested on real mail, not on none


def _cut_count(raw: bytes, threshold: int = 1) -> int:
    saved = bigbodies.CUT_BYTES
    bigbodies.CUT_BYTES = threshold
    try:
        return len(bigbodies.cut_big_bodies(raw)[1])
    finally:
        bigbodies.CUT_BYTES = saved


@pytest.mark.parametrize("style", ["outlook", "rfc2231", "utf8"])
@pytest.mark.parametrize("crlf", [False, True])
def test_big_attachment_is_cut_and_decoded_to_its_bytes(style, crlf):
    data = os.urandom(3 << 20)
    raw = build_message(*HEAD, HR, "述职报告", "请查收", [("个人述职报告.docx", data), ("附件.docx", b"small")],
                        style=style)
    if crlf:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert _cut_count(raw, bigbodies.CUT_BYTES) == 1
    mail = decode(raw)
    assert [(p.filename, p.data) for p in mail.parts] == [("个人述职报告.docx", data), ("附件.docx", b"small")]
    assert mail.text == "请查收"


def test_big_body_of_a_single_part_message_is_cut(monkeypatch):
    data = os.urandom(2 << 20)
    raw = (b"From: a@b.example\nSubject: scan\nMIME-Version: 1.0\nContent-Type: application/pdf; name=\"s.pdf\"\n"
           b"Content-Disposition: attachment; filename=\"s.pdf\"\nContent-Transfer-Encoding: base64\n\n"
           + base64.encodebytes(data))
    assert _cut_count(raw, bigbodies.CUT_BYTES) == 1
    cut, whole = _both(raw, monkeypatch)
    assert cut == whole
    assert cut[5] == [("s.pdf", "application/pdf", data, False)]


def test_lookalike_of_a_part_inside_a_text_body_is_put_back_as_text(monkeypatch):
    blob = base64.encodebytes(os.urandom(300_000))
    pasted = b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" + blob + b"-- that was the file\n"
    raw = (b"From: a@b.example\nSubject: pasted\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
           + pasted)
    assert _cut_count(raw) == 1  # cut, then found inside a text body
    cut, whole = _both(raw, monkeypatch)
    assert cut == whole
    assert blob.decode() in cut[4]


def test_mis_padded_big_body_is_read_leniently_as_uncut(monkeypatch):
    encoded = base64.encodebytes(os.urandom(1 << 20)).replace(b"\n", b"\r\n")
    broken = encoded[:1000] + b"==\r\n" + encoded[1000:]  # padding in the middle: not a clean body
    raw = build_message(*HEAD, HR, "述职报告", "请查收", [("r.docx", b"x")]).replace(
        base64.encodebytes(b"x").strip(), broken.strip())
    cut, whole = _both(raw, monkeypatch)
    assert cut == whole


def test_big_attachment_inside_a_forwarded_message_is_the_same(monkeypatch):
    data = os.urandom(2 << 20)
    inner = build_message(*HEAD, HR, "述职报告", "请查收", [("个人述职报告.docx", data)])
    raw = (b"From: sec@tengfei.example\nSubject: Fwd\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\nContent-Type: text/plain\n\nsee below\n"
           b"--outer\nContent-Type: message/rfc822\n\n" + inner + b"\n--outer--\n")
    cut, whole = _both(raw, monkeypatch)
    assert cut == whole
    forwarded = cut[5][0][2]
    assert decode(forwarded).parts[0].data == data


def test_a_big_attachment_costs_about_its_size_in_decode():
    """Measured in a thread while decode runs: the peak over the raw bytes stays near the decoded size."""
    data = os.urandom(24 << 20)
    raw = build_message(*HEAD, HR, "述职报告", "请查收", [("个人述职报告.docx", data)])
    del data
    peak, done = [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    before = _rss()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        mail = decode(raw)
    finally:
        done.set()
        watcher.join()
    assert len(mail.parts[0].data) == 24 << 20
    # Uncut, the parse alone held some 2.7 times the encoded size (about 90 MB here) on top.
    assert peak[0] - before < 45 << 20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


_UNTYPED_AFTER_CUT = (
    b'Content-Type: multipart/digest; boundary="d"\r\n\r\n--d\r\nContent-Type: application/pdf\r\n'
    b'Content-Transfer-Encoding: base64\r\n\r\nQUFB\r\n--d\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    b'U3ViamVjdDogeAoKYm9keQo=\r\n--d--\r\n')

# Found by review with a MIME fuzzer: each once made the cut parse differ from the uncut one.
_EDGES = {
    "eleven cuts and a base64 forward (a token the start of another)": (
        b'Content-Type: multipart/mixed; boundary="o"\n\n'
        + b'--o\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nQUFB\n' * 10
        + b'--o\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogaGkKCmJvZHkK\n--o--\n'),
    "multipart cut off before its closing boundary": (
        b'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: text/plain\n\nhi\n'
        b'--o\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nQUFBQUFB\nQUFB\n'),
    "forwarded message in base64 with indented lines (read as header continuations)": (
        b'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: message/rfc822\n'
        b'Content-Transfer-Encoding: base64\n\n U3ViamVjdDogeAoK\n--o--\n'),
    "delivery status in base64 inside a forward": (
        b'Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/report; boundary="b174"\r\n--b174\r\n'
        b'Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\ngPp0\r\n\r\n--b174--\r\n'),
    "untyped part of a digest (message/rfc822 by default)": (
        b'Content-Type: multipart/digest; boundary="d"\n\n--d\nContent-Transfer-Encoding: base64\n\n'
        b'U3ViamVjdDogeAoKYm9keQo=\n--d--\n'),
    "untyped part of a digest after a cut one (CRLF)": _UNTYPED_AFTER_CUT,
    "base64 body after a blank line": (
        b'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: application/pdf\n'
        b'Content-Transfer-Encoding: base64\n\n\nQUFB\n--o--\n'),
}


@pytest.mark.parametrize("raw", _EDGES.values(), ids=_EDGES.keys())
def test_edge_cases_read_the_same_cut_or_not(raw, monkeypatch):
    cut, whole = _both(raw, monkeypatch)
    assert cut == whole


def test_cut_big_bodies_takes_no_type_for_a_part_from_the_part_cut_before_it():
    # The search for the second part's type starts after the first body: the first part's type is not its own.
    assert _cut_count(_UNTYPED_AFTER_CUT) == 1
    assert _cut_count(_UNTYPED_AFTER_CUT.replace(b"--d\r\nContent-Transfer", b"--d\r\nContent-Type: image/png\r\n"
                                                                           b"Content-Transfer")) == 2


def test_body_with_a_blank_line_before_its_boundary_is_still_decoded_from_the_raw_bytes(monkeypatch):
    data = os.urandom(3000)
    raw = (b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: application/pdf\r\n'
           b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n")
           + b"\r\n--o--\r\n")
    monkeypatch.setattr(bigbodies, "CUT_BYTES", 1)
    leaf = [part for part in decode(raw).headers.walk() if part.get_content_type() == "application/pdf"][0]
    assert getattr(leaf, bigbodies.CUT_ATTR).decoded() == data
    cut, whole = _both(raw, monkeypatch)
    assert cut == whole
