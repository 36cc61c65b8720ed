"""The IMAP source against a real dovecot: reads by UID, changes nothing, resumes, survives breaks."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import socket
import textwrap
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from email import message_from_bytes

import pytest

from bot.errors import MailboxError
from bot.records import NO_DOCUMENTS, LogEntry, RawMessage, Recorded
from bot.settings import Mailbox
from bot.sources.imap import ImapSource
from bot.sources.imap_fetch import Meta, batches, uid_sets
from bot.store import Store

import imap_server

CST = timezone(timedelta(hours=8))
# dovecot keeps INTERNALDATE as a Maildir file's mtime and refuses dates in the future: use past ones.
DAY = datetime.now(CST).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=60)

NO_DOVECOT = f"dovecot not installed ({imap_server.DOVECOT}): apt-get install dovecot-imapd (.ci/run does)"


@pytest.fixture
def dovecot(tmp_path):
    if not imap_server.available():
        pytest.skip(NO_DOVECOT)
    with imap_server.run_dovecot(tmp_path) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "data") as s:
        yield s


def mailbox(server, **changes) -> Mailbox:
    box = Mailbox(kind="imap", host=server.host, port=server.port, security="none", username=server.user,
                  timeout=10, poll_interval=1)
    return box._replace(**changes)


def source(server, password=None, **changes) -> ImapSource:
    return ImapSource(mailbox(server, **changes), server.password if password is None else password)


def message(n: int, message_id: str | None = "default", body: str = "请查收。") -> bytes:
    mid = f"<m{n}@tengfei.example>" if message_id == "default" else message_id
    head = f"From: 李建国 <lijianguo@tengfei.example>\r\nTo: hr@tengfei.example\r\nSubject: 述职报告 {n}\r\n"
    if mid:
        head += f"Message-ID: {mid}\r\n"
    head += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    return (head + "\r\n" + body + f" {n}\r\n").encode()


def record(store: Store, raw: RawMessage) -> int | None:
    """Store.record with the least the intake would hand it (its duplicate checks are not involved)."""
    mid = message_from_bytes(raw.data).get("Message-ID")
    entry = LogEntry(message_id=mid.strip() if mid else None, from_addr="lijianguo@tengfei.example",
                     received_at=raw.received_at, outcome=NO_DOCUMENTS)
    return store.record(Recorded(raw=raw, entry=entry, content_hash=hashlib.sha256(raw.data).hexdigest(),
                                 documents=[], outgoing=[]))


def poll(src: ImapSource, store: Store, wants_body=None) -> list[RawMessage]:
    """What hrbot's poll does with a source: open, record each message, done(), close."""
    src.open()
    got = []
    try:
        for raw in src.messages(store, wants_body):
            assert record(store, raw) is not None
            src.done(raw)
            got.append(raw)
    finally:
        src.close()
    return got


def commands(session: str) -> list[str]:
    """The IMAP commands in one rawlog .in file (lines are "<time> <tag> <COMMAND> ...")."""
    found = []
    for line in session.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and re.fullmatch(r"[A-Z0-9]+", parts[1]) and parts[2].isalpha():
            found.append(parts[2] + (" " + parts[3].split(" ", 1)[0] if parts[2] == "UID" else ""))
    return found


def logouts(server, count: int) -> list[str]:
    """The logout lines (session statistics) once `count` of them are logged (the log is written async)."""
    deadline = time.monotonic() + 5
    while True:
        found = re.findall(r"Logged out (in=.*)", server.log())
        if len(found) >= count or time.monotonic() > deadline:
            return found


def flags(server, folder="INBOX") -> dict[int, set]:
    """Each message's flags but \\Recent (which only says no session has seen the message yet)."""
    with server.client() as c:
        c.select_folder(folder, readonly=True)
        return {uid: set(data[b"FLAGS"]) - {b"\\Recent"} for uid, data in c.fetch(c.search(), ["FLAGS"]).items()}


# --- reading ----------------------------------------------------------------


def test_imap_yields_appended_mail_with_internaldate_as_arrival(dovecot, store):
    sent = [(message(i), DAY + timedelta(hours=i)) for i in range(3)]
    for raw, when in sent:
        dovecot.append(raw, when)
    got = poll(source(dovecot), store)
    assert [r.data for r in got] == [raw for raw, _ in sent]
    assert [r.received_at for r in got] == [when for _, when in sent]
    assert all(r.received_at.tzinfo is not None for r in got)
    validity = int(got[0].source_key.split(":")[2])
    assert [r.source_key for r in got] == [f"imap:INBOX:{validity}:{uid}" for uid in (1, 2, 3)]
    assert got[-1].checkpoint == {"imap:INBOX": f"{validity}:3"}
    assert store.get_state("imap:INBOX") == f"{validity}:3"


def test_imap_reading_marks_nothing_seen(dovecot, store):
    for i in range(2):
        dovecot.append(message(i), DAY)
    assert len(poll(source(dovecot), store)) == 2
    assert flags(dovecot) == {1: set(), 2: set()}


def test_imap_sends_id_after_login(dovecot, store):
    poll(source(dovecot), store)
    assert re.search(r"ID sent: name=hrbot, version=\d+\.\d+", dovecot.log())


def test_imap_second_poll_costs_one_examine_and_fetches_no_body(dovecot, store):
    for i in range(3):
        dovecot.append(message(i), DAY)
    poll(source(dovecot), store)
    dovecot.clear_sessions()
    assert poll(source(dovecot), store) == []
    [session] = dovecot.sessions()
    assert commands(session) == ["ID", "EXAMINE", "LOGOUT"]
    *_, first, second = logouts(dovecot, 3 + 2)  # three APPEND sessions, then the two polls
    assert "body_count=3" in first
    assert "body_count=0" in second and "hdr_count=0" in second


def test_imap_poll_on_open_connection_costs_only_examine(dovecot, store):
    dovecot.append(message(1), DAY)
    src = source(dovecot)
    src.open()
    assert len([record(store, r) for r in src.messages(store)]) == 1
    assert list(src.messages(store)) == []
    dovecot.append(message(2), DAY)
    [new] = list(src.messages(store))
    assert new.data == message(2)
    src.close()
    [session] = [commands(s) for s in dovecot.sessions() if "EXAMINE" in s]
    assert session == ["ID",
                       "EXAMINE", "UID FETCH", "UID FETCH",  # first run: sizes, then the body
                       "EXAMINE",  # nothing new: UIDNEXT says so
                       "EXAMINE", "UID FETCH", "UID FETCH",
                       "LOGOUT"]


def test_imap_new_mail_after_a_poll_is_read_from_the_checkpoint(dovecot, store):
    dovecot.append(message(1), DAY)
    poll(source(dovecot), store)
    dovecot.append(message(2), DAY)
    dovecot.clear_sessions()
    [raw] = poll(source(dovecot), store)
    assert raw.data == message(2)
    assert "UID FETCH 2:* (UID RFC822.SIZE INTERNALDATE)" in dovecot.sessions()[0]


def test_imap_batches_by_size_fetch_ranges(dovecot, store):
    for i in range(5):
        dovecot.append(message(i, body="x" * 4000), DAY)
    src = source(dovecot)
    src.batch_bytes = 9000  # two messages a batch
    assert len(poll(src, store)) == 5
    fetches = [c for c in dovecot.sessions()[-1].splitlines() if "BODY.PEEK[]" in c]
    assert [f.split()[4] for f in fetches] == ["1:2", "3:4", "5"]


def test_imap_lists_a_big_folder_in_uid_spans(dovecot, store, monkeypatch):
    monkeypatch.setattr("bot.sources.imap_fetch.META_CHUNK", 2)
    for i in range(5):
        dovecot.append(message(i), DAY)
    assert [r.data for r in poll(source(dovecot), store)] == [message(i) for i in range(5)]
    listed = re.findall(r"UID FETCH (\S+) \(UID RFC822.SIZE", dovecot.sessions()[-1])
    assert listed == ["1:2", "3:4", "5:*"]  # the last span stays open for mail arriving meanwhile


def test_imap_since_skips_older_mail_on_first_run(dovecot, store):
    dovecot.append(message(1), DAY - timedelta(days=20))
    dovecot.append(message(2), DAY)
    dovecot.append(message(3), DAY - timedelta(days=19))  # late APPEND of older mail
    got = poll(source(dovecot, since=(DAY - timedelta(days=1)).date()), store)
    assert [r.data for r in got] == [message(2)]
    assert store.get_state("imap:INBOX").endswith(":3")  # the skipped UID 3 is not looked at again


def test_imap_since_with_nothing_recent_keeps_later_polls_cheap(dovecot, store):
    dovecot.append(message(1), DAY - timedelta(days=30))
    since = DAY.date()
    assert poll(source(dovecot, since=since), store) == []
    dovecot.clear_sessions()
    assert poll(source(dovecot, since=since), store) == []
    assert commands(dovecot.sessions()[0]) == ["ID", "EXAMINE", "LOGOUT"]


# --- recovery ---------------------------------------------------------------


def test_imap_uidvalidity_change_records_nothing_twice(dovecot, store):
    folder = "述职材料"  # a non-ASCII folder name travels as modified UTF-7
    for i in range(2):
        dovecot.append(message(i), DAY + timedelta(minutes=i), folder=folder)
    first = poll(source(dovecot, folder=folder), store)
    assert len(first) == 2
    # As after a server migration: the folder is recreated, same mail, new UIDVALIDITY, one new.
    with dovecot.client() as c:
        c.delete_folder(folder)
        c.create_folder(folder)
    for i in range(3):
        dovecot.append(message(i), DAY + timedelta(minutes=i), folder=folder)
    second = poll(source(dovecot, folder=folder), store)
    assert [r.data for r in second] == [message(2)]
    assert second[0].source_key.split(":")[2] != first[0].source_key.split(":")[2]
    ids = [e.message_id for e in store.log()]
    assert sorted(ids) == ["<m0@tengfei.example>", "<m1@tengfei.example>", "<m2@tengfei.example>"]
    dovecot.clear_sessions()
    assert poll(source(dovecot, folder=folder), store) == []
    assert commands(dovecot.sessions()[0]) == ["ID", "EXAMINE", "LOGOUT"]


def test_imap_uidvalidity_change_with_all_mail_known_moves_checkpoint(dovecot, store):
    dovecot.append(message(1), DAY, folder="hr")
    poll(source(dovecot, folder="hr"), store)
    old = store.get_state("imap:hr")
    with dovecot.client() as c:
        c.delete_folder("hr")
        c.create_folder("hr")
    dovecot.append(message(1), DAY, folder="hr")
    assert poll(source(dovecot, folder="hr"), store) == []
    new = store.get_state("imap:hr")
    assert new != old and new.endswith(":1")


def _imap_process_pid(server) -> int:
    return int(re.findall(r"Login: user=<hr>.*?mpid=(\d+)", server.log())[-1])


def test_imap_connection_killed_mid_fetch_then_rerun_records_each_once(dovecot, store):
    for i in range(4):
        dovecot.append(message(i), DAY + timedelta(minutes=i))
    src = source(dovecot)
    src.batch_bytes = 1  # one message per FETCH
    src.open()
    it = src.messages(store)
    record(store, next(it))
    os.kill(_imap_process_pid(dovecot), signal.SIGKILL)  # the server side of our session dies
    with pytest.raises(MailboxError, match="连接中断"):
        for raw in it:
            record(store, raw)
    src.close()
    rest = poll(source(dovecot), store)
    assert [r.data for r in rest] == [message(i) for i in (1, 2, 3)]
    assert len(store.log()) == 4
    assert len({e.message_id for e in store.log()}) == 4


def test_imap_stop_midway_resumes_after_last_recorded(dovecot, store):
    for i in range(3):
        dovecot.append(message(i), DAY)
    src = source(dovecot)
    src.open()
    it = src.messages(store)
    record(store, next(it))
    it.close()  # the service stopped between two messages
    src.close()
    assert [r.data for r in poll(source(dovecot), store)] == [message(1), message(2)]


# --- moving -----------------------------------------------------------------


def test_imap_move_to_leaves_message_in_target_folder(dovecot, store):
    for i in range(2):
        dovecot.append(message(i), DAY)
    assert len(poll(source(dovecot, move_to="已处理"), store)) == 2
    with dovecot.client() as c:
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
        assert c.select_folder("已处理", readonly=True)[b"EXISTS"] == 2
    assert list(flags(dovecot, "已处理").values()) == [set(), set()]  # moved, still unread for HR


def test_imap_move_without_move_capability_copies_and_expunges_only_that_uid(dovecot, store, monkeypatch):
    for i in range(2):
        dovecot.append(message(i), DAY)
    dovecot.append(message(9), DAY, flags=[b"\\Deleted"])  # someone else's pending deletion stays
    real = __import__("imapclient").IMAPClient.has_capability
    monkeypatch.setattr("imapclient.IMAPClient.has_capability",
                        lambda self, cap: cap.upper() != "MOVE" and real(self, cap))
    src = source(dovecot, move_to="Done")
    src.open()
    for raw in src.messages(store):
        record(store, raw)
        if raw.data != message(9):
            src.done(raw)
    src.close()
    with dovecot.client() as c:
        assert c.select_folder("Done", readonly=True)[b"EXISTS"] == 2
        assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    [session] = [commands(s) for s in dovecot.sessions() if "UID COPY" in s]
    assert "UID MOVE" not in session
    assert session.count("UID COPY") == session.count("UID STORE") == session.count("UID EXPUNGE") == 2


def test_imap_wait_for_mail_after_reconnect_sees_mail_that_came_in_between(dovecot, store):
    src = source(dovecot)
    poll(src, store)  # hrbot's poll closes the source afterwards
    dovecot.append(message(1), DAY)
    started = time.monotonic()
    assert src.wait_for_mail(20) is True
    assert time.monotonic() - started < 5
    [raw] = list(src.messages(store))
    record(store, raw)
    assert src.wait_for_mail(0.3) is False
    src.close()


# --- errors -----------------------------------------------------------------


def test_imap_wrong_password_is_one_chinese_line(dovecot):
    with pytest.raises(MailboxError, match="邮箱登录失败：用户名或密码（授权码）错误"):
        source(dovecot, password="wrong").open()


def test_imap_non_ascii_password_logs_in_with_authenticate_plain(tmp_path, store):
    if not imap_server.available():
        pytest.skip(NO_DOVECOT)
    with imap_server.run_dovecot(tmp_path, password="授权码-x9") as server:
        server.append(message(1), DAY)
        assert len(poll(source(server), store)) == 1


def test_imap_keeps_imaplib_debug_off_unless_debugging(dovecot):
    src = source(dovecot)
    src.open()
    assert src._client._imap.debug == 0
    src.close()


def test_imap_connection_refused_names_host_and_port(dovecot):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(MailboxError, match=f"127.0.0.1:{closed_port}.*连接被拒绝"):
        source(dovecot, port=closed_port).open()


def test_imap_missing_folder_says_so(dovecot, store):
    src = source(dovecot, folder="不存在")
    src.open()
    with pytest.raises(MailboxError, match="找不到文件夹“不存在”"):
        list(src.messages(store))
    src.close()


def test_imap_tls_to_a_plain_port_is_a_handshake_error(dovecot):
    with pytest.raises(MailboxError, match="TLS"):
        source(dovecot, security="ssl").open()


def test_imap_starttls_refused_by_server_without_tls(dovecot):
    with pytest.raises(MailboxError, match="STARTTLS"):
        source(dovecot, security="starttls").open()


@pytest.fixture
def tls_dovecot(tmp_path):
    if not imap_server.available():
        pytest.skip(NO_DOVECOT)
    with imap_server.run_dovecot(tmp_path, tls=True) as server:
        yield server


def test_imap_tls_verified_with_ca_file(tls_dovecot, store):
    tls_dovecot.append(message(1), DAY)
    implicit = source(tls_dovecot, security="ssl", port=tls_dovecot.tls_port, ca_file=tls_dovecot.ca_file)
    assert [r.data for r in poll(implicit, store)] == [message(1)]
    starttls = source(tls_dovecot, security="starttls", ca_file=tls_dovecot.ca_file)
    starttls.open()
    assert starttls.folder_status(store).messages == 1
    starttls.close()


def test_imap_untrusted_certificate_is_refused(tls_dovecot):
    with pytest.raises(MailboxError, match="TLS 证书未通过验证.*ca_file"):
        source(tls_dovecot, security="ssl", port=tls_dovecot.tls_port).open()


# --- check and wait -----------------------------------------------------------


def test_imap_capabilities_and_folder_status_for_check(dovecot, store):
    for i in range(2):
        dovecot.append(message(i), DAY)
    src = source(dovecot)
    src.open()
    features = src.capabilities()
    assert (features.id, features.idle, features.move, features.uidplus) == (True, True, True, True)
    before = src.folder_status(store)
    assert (before.folder, before.messages, before.checkpoint) == ("INBOX", 2, None)
    src.close()
    poll(source(dovecot), store)
    src.open()
    after = src.folder_status(store)
    assert after.checkpoint == f"{after.uidvalidity}:2" and after.uidnext == 3
    src.close()
    assert flags(dovecot) == {1: set(), 2: set()}


def test_imap_wait_for_mail_wakes_on_new_mail_with_idle(dovecot, store):
    src = source(dovecot)
    src.open()
    assert list(src.messages(store)) == []
    assert src.wait_for_mail(0.5) is False
    timer = threading.Timer(0.5, dovecot.append, (message(1), DAY))
    timer.start()
    started = time.monotonic()
    assert src.wait_for_mail(20) is True
    assert time.monotonic() - started < 10
    timer.join()
    assert [r.data for r in src.messages(store)] == [message(1)]
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert src.wait_for_mail(20, stop) is False
    src.close()
    assert "IDLE" in "".join(dovecot.sessions())


def test_imap_wait_for_mail_renews_idle(dovecot, store):
    src = source(dovecot)
    src.idle_renew_s = 0.5
    src.open()
    list(src.messages(store))
    assert src.wait_for_mail(1.6) is False
    src.close()
    assert "".join(dovecot.sessions()).count(" IDLE") >= 3


def test_imap_wait_for_mail_without_idle_sleeps_poll_interval(dovecot, monkeypatch):
    real = __import__("imapclient").IMAPClient.has_capability
    monkeypatch.setattr("imapclient.IMAPClient.has_capability",
                        lambda self, cap: cap.upper() != "IDLE" and real(self, cap))
    src = source(dovecot, poll_interval=1)
    src.open()
    started = time.monotonic()
    assert src.wait_for_mail(30) is True
    assert 0.9 < time.monotonic() - started < 5
    src.close()


# --- the whole intake ---------------------------------------------------------


def test_imap_whole_intake_flow_records_confirms_once_and_leaves_mail_unread(dovecot, settings):
    # Imported here so that the source's own tests still run while the intake is being changed.
    from bot.demo import build_message
    from bot.poll import poll_once
    from bot.reports.views import log_entries
    from bot.settings import load
    from parsers import forms

    report = ("王珺个人述职报告.docx", forms.fill_personal_report("合成车间", "王珺", "副职"))
    raw = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "述职报告", "请查收。",
                        [report], sent=DAY, message_id="<r1@tengfei.example>")
    dovecot.append(raw, DAY)
    settings = settings._replace(mailbox=mailbox(dovecot))
    first = poll_once(settings, source=ImapSource(settings.mailbox, dovecot.password))
    assert [e.outcome for e in first.recorded] == ["accepted"]
    [entry] = log_entries(settings)
    assert entry.received_at == DAY and entry.attachments[0].person == "王珺"
    assert poll_once(settings, source=ImapSource(settings.mailbox, dovecot.password)).recorded == []
    assert len(list(settings.paths.outbox.glob("*.eml"))) == 1
    assert flags(dovecot) == {1: set()}
    *_, second = logouts(dovecot, 3)
    assert "body_count=0" in second


def stranger_with_attachments(big: bytes) -> bytes:
    """A partner's mail, the way Outlook and an RFC 2231 client name files, with a big scan and a forward."""
    gbk_name = "=?gb2312?B?" + base64.b64encode("王珺的扫描件.pdf".encode("gbk")).decode() + "?="  # 珺: GBK only
    utf8_name = urllib.parse.quote("合同附件（盖章版）.docx", safe="")
    boundary = "----=_NextPart_partner"
    lines = ["From: =?utf-8?B?" + base64.b64encode("张伟".encode()).decode() + "?= <zhangwei@partner.example>",
             "To: hr@tengfei.example", "Subject: 合同扫描件", "Message-ID: <p1@partner.example>",
             "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
             f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
             "您好，合同扫描件见附件。", f"--{boundary}",
             f'Content-Type: application/pdf; name="{gbk_name}"', "Content-Transfer-Encoding: base64",
             f'Content-Disposition: attachment; filename="{gbk_name}"', "",
             *textwrap.wrap(base64.b64encode(big).decode(), 76), f"--{boundary}",
             "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
             f"Content-Disposition: attachment; filename*0*=utf-8''{utf8_name[:30]};", f" filename*1*={utf8_name[30:]}",
             "", base64.b64encode(b"PK\x03\x04 not really a document").decode(), f"--{boundary}",
             "Content-Type: message/rfc822", "",
             "From: someone@partner.example", "Subject: =?utf-8?B?" + base64.b64encode("原始邮件".encode()).decode() + "?=",
             "", "转发的原文。", f"--{boundary}--", ""]
    return "\r\n".join(lines).encode()


def test_imap_stranger_mail_is_logged_from_its_structure_without_its_body(dovecot, settings):
    from bot.demo import build_message
    from bot.poll import poll_once
    from bot.reports.views import log_entries
    from bot.settings import load
    from parsers import forms

    report = ("王珺个人述职报告.docx", forms.fill_personal_report("合成车间", "王珺", "副职"))
    member = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "述职报告", "请查收。",
                           [report], sent=DAY, message_id="<r1@tengfei.example>")
    own = build_message("hr@tengfei.example", "人力资源科", "hr@tengfei.example", "通知", "附件为模板。",
                        [("模板.docx", b"PK\x03\x04")], sent=DAY, message_id="<own@tengfei.example>")
    dovecot.append(stranger_with_attachments(os.urandom(3 * 1024 * 1024)), DAY)  # UID 1
    dovecot.append(member, DAY + timedelta(minutes=1))  # UID 2
    dovecot.append(own, DAY + timedelta(minutes=2))  # UID 3: the last one is header-only too
    settings = settings._replace(mailbox=mailbox(dovecot))
    dovecot.clear_sessions()
    first = poll_once(settings, source=ImapSource(settings.mailbox, dovecot.password))
    assert [e.outcome for e in first.recorded] == ["unknown_sender", "accepted", "own_mail"]
    stranger, accepted, hr_mail = log_entries(settings)
    assert (stranger.message_id, stranger.from_addr) == ("<p1@partner.example>", "zhangwei@partner.example")
    assert [(a.filename, a.outcome, a.reason) for a in stranger.attachments] == [
        ("王珺的扫描件.pdf", "ignored", "邮件未处理（unknown_sender）"),
        ("合同附件（盖章版）.docx", "ignored", "邮件未处理（unknown_sender）"),
        ("原始邮件.eml", "ignored", "邮件未处理（unknown_sender）"),
    ]
    assert accepted.attachments[0].person == "王珺"
    assert [a.filename for a in hr_mail.attachments] == ["模板.docx"]
    assert len(list(settings.paths.outbox.glob("*.eml"))) == 1  # the confirmation, to the roster member only
    [session] = [s for s in dovecot.sessions() if "EXAMINE" in s]
    assert re.findall(r"UID FETCH (\S+) \((UID BODY.PEEK\[\]|UID BODY.PEEK\[HEADER\] BODYSTRUCTURE)\)", session) == [
        ("1:3", "UID BODY.PEEK[HEADER] BODYSTRUCTURE"), ("2", "UID BODY.PEEK[]")]
    with Store.open(settings.paths.data) as store:
        assert store.get_state("imap:INBOX").endswith(":3")  # the checkpoint rode on the header-only UID 3
    assert poll_once(settings, source=ImapSource(settings.mailbox, dovecot.password)).recorded == []
    *_, read, idle = logouts(dovecot, 3 + 2)
    assert "body_count=1 " in read  # only the roster member's message was downloaded
    assert "body_count=0 " in idle and "hdr_count=0 " in idle
    assert flags(dovecot) == {1: set(), 2: set(), 3: set()}


def test_imap_header_first_fetches_bodies_in_byte_bounded_ranges(dovecot, store):
    for i in range(6):
        dovecot.append(message(i, body="x" * 4000), DAY)  # from the roster: every body wanted
    dovecot.append(stranger_with_attachments(b"scan"), DAY)  # UID 7: header only
    src = source(dovecot)
    src.batch_bytes, src.header_batch = 9000, 4  # two bodies a batch, four headers a batch
    got = poll(src, store, wants_body=lambda header: b"partner.example" not in header)
    assert [r.complete for r in got] == [True] * 6 + [False]
    assert [p.filename for p in got[-1].structure] == ["王珺的扫描件.pdf", "合同附件（盖章版）.docx", "原始邮件.eml"]
    assert got[-1].data.endswith(b"\r\n\r\n") and b"scan" not in got[-1].data
    fetches = [line.split(" ", 5)[4:] for line in dovecot.sessions()[-1].splitlines() if "UID FETCH" in line]
    assert fetches[1:] == [["1:4", "(UID BODY.PEEK[HEADER] BODYSTRUCTURE)"],
                           ["1:2", "(UID BODY.PEEK[])"], ["3:4", "(UID BODY.PEEK[])"],
                           ["5:7", "(UID BODY.PEEK[HEADER] BODYSTRUCTURE)"],
                           ["5:6", "(UID BODY.PEEK[])"]]
    assert store.get_state("imap:INBOX").endswith(":7")


# --- pure helpers -------------------------------------------------------------


def test_uid_sets_use_ranges_across_gaps_the_server_has():
    assert uid_sets([3, 4, 5, 9], [3, 4, 5, 9]) == ["3:9"]
    assert uid_sets([3, 5], [3, 4, 5]) == ["3,5"]
    assert uid_sets([7, 8, 10], [1, 7, 8, 9, 10]) == ["7:8,10"]
    assert uid_sets([], []) == []


def test_batches_bounded_by_bytes_big_message_alone():
    metas = [Meta(uid, size, DAY) for uid, size in ((1, 5), (2, 5), (3, 50), (4, 1))]
    assert [[m.uid for m in b] for b in batches(metas, limit=10)] == [[1, 2], [3], [4]]


def test_imap_held_mail_moved_to_its_folder_is_found_again_there(dovecot, config_dir, monkeypatch):
    """With move_to, held mail leaves the inbox like any other; once the roster says whose it is, the
    poll finds it again in move_to by its Message-ID and accepts it (it is not taken for gone)."""
    from conftest import use_imap
    from bot.demo import build_message
    from bot.poll import poll_once
    from bot.reports.views import log_entries
    from bot.settings import load
    from parsers import forms

    use_imap(config_dir, dovecot, monkeypatch)
    text = (config_dir / "settings.toml").read_text(encoding="utf-8")
    (config_dir / "settings.toml").write_text(text.replace("timeout = 10", 'timeout = 10\nmove_to = "已处理"', 1),
                                              encoding="utf-8")
    settings = load(config_dir)
    report = forms.fill_personal_report("合成车间", "刘洋", "科级干部")
    raw = build_message("liu.yang@example.net", "刘洋", "hr@tengfei.example", "述职报告", "请查收。",
                        [("刘洋述职报告.docx", report)], message_id="<moved@example.net>")
    dovecot.append(raw, datetime.now(timezone.utc) - timedelta(hours=1))
    assert [e.outcome for e in poll_once(settings).recorded] == ["unknown_sender"]
    with dovecot.client() as c:
        assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
        assert c.select_folder("已处理", readonly=True)[b"EXISTS"] == 1

    people = config_dir / "people.csv"
    people.write_text(people.read_text(encoding="utf-8").replace(
        "liuyang@tengfei.example", "liuyang@tengfei.example;liu.yang@example.net"), encoding="utf-8")
    assert [e.outcome for e in poll_once(settings).reexamined] == ["accepted"]
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted" and not entry.gone


def test_imap_moved_mails_sharing_a_message_id_each_come_back_as_themselves(dovecot, config_dir, monkeypatch):
    """A scanner reuses its Message-ID: two held mails moved to move_to are each found again by their
    arrival time, so neither brings back the other's documents."""
    from conftest import use_imap
    from bot.demo import build_message
    from bot.poll import poll_once
    from bot.reports.views import log_entries
    from bot.settings import load
    from parsers import forms

    use_imap(config_dir, dovecot, monkeypatch)
    text = (config_dir / "settings.toml").read_text(encoding="utf-8")
    (config_dir / "settings.toml").write_text(text.replace("timeout = 10", 'timeout = 10\nmove_to = "已处理"', 1),
                                              encoding="utf-8")
    settings = load(config_dir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for hours, name, role in ((3, "刘洋", "科级干部"), (1, "王珺", "副职")):
        raw = build_message("scan@example.net", "扫描仪", "hr@tengfei.example", "扫描", "请查收。",
                            [(f"{name}述职报告.docx", forms.fill_personal_report("合成车间", name, role))],
                            message_id="<scan@example.net>")
        dovecot.append(raw, now - timedelta(hours=hours))
    assert [e.outcome for e in poll_once(settings).recorded] == ["unknown_sender", "unknown_sender"]
    people = config_dir / "people.csv"
    people.write_text(people.read_text(encoding="utf-8").replace(
        "liuyang@tengfei.example", "liuyang@tengfei.example;scan@example.net"), encoding="utf-8")
    poll_once(settings)
    first, second = log_entries(settings)
    assert [(a.filename, a.outcome, a.person) for a in first.attachments] == [("刘洋述职报告.docx", "accepted", "刘洋")]
    assert [(a.filename, a.person) for a in second.attachments] == [("王珺述职报告.docx", "王珺")]
    assert not first.gone and not second.gone and second.outcome != "duplicate"


def test_imap_tls_context_made_once_for_a_source_polled_again(tls_dovecot, store, monkeypatch):
    from bot.sources import imap_connect

    made = []
    real = imap_connect.tls_context
    monkeypatch.setattr(imap_connect, "tls_context", lambda box: made.append(box) or real(box))
    tls_dovecot.append(message(1), DAY)
    src = source(tls_dovecot, security="ssl", port=tls_dovecot.tls_port, ca_file=tls_dovecot.ca_file)
    assert [r.data for r in poll(src, store)] == [message(1)]
    tls_dovecot.append(message(2), DAY)
    assert [r.data for r in poll(src, store)] == [message(2)]
    assert len(made) == 1  # the CA certificates are loaded once, not at every poll


def test_imap_plaintext_warning_said_once_per_server(dovecot, store, caplog):
    from bot.sources import imap_connect

    imap_connect._warn_unencrypted.cache_clear()
    src = source(dovecot)
    poll(src, store)
    poll(src, store)
    warned = [r for r in caplog.records if "unencrypted" in r.getMessage()]
    assert len(warned) == 1 and f"{dovecot.host}:{dovecot.port}" in warned[0].getMessage()
