"""The Exchange (EWS) source and sender against a local fake EWS endpoint (tests/ews_server.py).

What these prove is the hrbot side: which requests go out, how the sync state is kept, how errors
read. The fake answers after the EWS schema; it is not an Exchange server (docs/exchange.md).
"""

from __future__ import annotations

import email
import hashlib
import re
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from bot.demo import build_message
from bot.errors import MailboxError, SendError
from bot.poll import poll_once
from bot.records import LogEntry, OutboxRow, RawMessage, Recorded
from bot.out.senders import DeliveryUncertain, deliver
from bot.out.senders.ews import EwsSender
from bot.settings import EXAMPLE_CONFIG, Mailbox, Settings, load
from bot.sources.ews import EwsSource
from bot.store import Store
from ews_server import FakeExchange, make_certificates
from parsers import forms

HR = "hr@tengfei.example"
HEAD = ("lijianguo@tengfei.example", "李建国")  # 合成车间 主要领导 in the example roster
PASSWORD = "Exch-2016-pw"
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def raw_mail(n: int, subject: str) -> bytes:
    """A plain message as a unit's client sends it, with a Chinese subject and body."""
    msg = EmailMessage()
    msg["From"] = f"李建国 <{HEAD[0]}>"
    msg["To"] = HR
    msg["Subject"] = subject
    msg["Message-ID"] = f"<ews-{n}@tengfei.example>"
    msg.set_content(f"人力资源科：\n\n{subject}，请查收。\n", charset="utf-8")
    return msg.as_bytes(policy=default)


SUBJECTS = ("合成车间述职大会时间申请", "合成车间班子述职报告", "王珺个人述职报告", "合成车间民主评议意见")


@pytest.fixture
def exchange():
    fake = FakeExchange(address=HR)
    with fake.running():
        yield fake
    assert fake.unexpected == [], "the fake EWS server got requests it does not know"


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "data") as s:
        yield s


def box(exchange: FakeExchange, **kw) -> Mailbox:
    return Mailbox(kind="ews", service_endpoint=exchange.url, username="TENGFEI\\hr", timeout=10, **kw)


def source(exchange: FakeExchange, **kw) -> EwsSource:
    page_size = kw.pop("page_size", 100)
    src = EwsSource(box(exchange, **kw), "", address=HR, auth="none", page_size=page_size)
    src.open()
    return src


def record(store: Store, raw: RawMessage) -> None:
    """What the intake does with each message, reduced to the store's part: record it with its checkpoint."""
    entry = LogEntry(message_id=None, from_addr=None, received_at=raw.received_at, outcome="no_documents")
    store.record(Recorded(raw=raw, entry=entry, content_hash=hashlib.sha256(raw.data).hexdigest(),
                          documents=[], outgoing=[]))


def poll(src: EwsSource, store: Store) -> list[RawMessage]:
    got = []
    for raw in src.messages(store):
        record(store, raw)
        got.append(raw)
    return got


# --- the source -------------------------------------------------------------


def test_first_sync_yields_three_messages_with_arrival_and_mime(exchange, store):
    mails = [raw_mail(n, s) for n, s in enumerate(SUBJECTS[:3])]
    ids = [exchange.deliver(m, T0 + timedelta(minutes=n)) for n, m in enumerate(mails)]
    src = source(exchange)
    assert src.message_count() == 3  # what `hrbot check` reports
    got = list(src.messages(store))
    assert [r.data for r in got] == mails
    assert [r.received_at for r in got] == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert all(r.received_at.tzinfo is not None for r in got)
    assert [r.source_key for r in got] == [f"ews:{i}" for i in ids]
    assert email.message_from_bytes(got[1].data, policy=default)["Subject"] == "合成车间班子述职报告"
    # One page: its sync state rides on the last message only.
    assert [bool(r.checkpoint) for r in got] == [False, False, True]
    assert exchange.operations == ["GetFolder", "GetFolder", "SyncFolderItems", "GetItem", "GetItem", "GetItem"]


def test_second_sync_yields_only_the_new_message_and_the_third_nothing(exchange, store):
    for n, subject in enumerate(SUBJECTS[:3]):
        exchange.deliver(raw_mail(n, subject), T0 + timedelta(minutes=n))
    src = source(exchange)
    assert len(poll(src, store)) == 3
    first_state = store.get_state("ews:INBOX")
    assert first_state is not None

    fourth = raw_mail(3, SUBJECTS[3])
    exchange.deliver(fourth, T0 + timedelta(hours=1))
    [new] = poll(src, store)
    assert new.data == fourth and new.received_at == T0 + timedelta(hours=1)
    second_state = store.get_state("ews:INBOX")
    assert second_state not in (None, first_state)

    assert poll(src, store) == []
    # Each sync started from the state the store kept, and the third fetched no message.
    assert exchange.sync_states == [None, first_state, second_state]
    assert exchange.operations[-1] == "SyncFolderItems"
    assert exchange.operations.count("GetItem") == 4


def test_sync_state_survives_a_new_source_and_process(exchange, store):
    exchange.deliver(raw_mail(0, SUBJECTS[0]), T0)
    poll(source(exchange), store)
    src = source(exchange)  # as the next `hrbot poll` would: a new connection, state from the store only
    assert poll(src, store) == []
    assert exchange.sync_states[-1] == store.get_state("ews:INBOX")


def test_reads_deletions_and_updates_are_ignored(exchange, store):
    first = exchange.deliver(raw_mail(0, SUBJECTS[0]), T0)
    second = exchange.deliver(raw_mail(1, SUBJECTS[1]), T0 + timedelta(minutes=1))
    src = source(exchange)
    assert len(poll(src, store)) == 2
    state = store.get_state("ews:INBOX")
    exchange.mark_read(first)
    exchange.touch(second)
    exchange.delete(first)
    assert poll(src, store) == []
    # Nothing to record, yet the state moved on, so the next poll does not page through them again.
    assert store.get_state("ews:INBOX") != state
    assert exchange.operations.count("GetItem") == 2


def test_each_page_checkpoints_on_its_last_message(exchange, store):
    for n in range(5):
        exchange.deliver(raw_mail(n, f"第{n}封"), T0 + timedelta(minutes=n))
    got = poll(source(exchange, page_size=2), store)
    assert [bool(r.checkpoint) for r in got] == [False, True, False, True, True]
    assert exchange.sync_states[0] is None and len(exchange.sync_states) == 3


def test_crash_mid_page_rereads_and_never_loses_or_doubles(exchange, store):
    for n in range(4):
        exchange.deliver(raw_mail(n, f"第{n}封"), T0 + timedelta(minutes=n))
    messages = source(exchange, page_size=3).messages(store)
    record(store, next(messages))  # the first of a page of three is recorded, then the process dies
    messages.close()
    assert store.get_state("ews:INBOX") is None  # the page's state was never saved

    rest = poll(source(exchange, page_size=3), store)
    assert [r.data for r in rest] == [raw_mail(n, f"第{n}封") for n in (1, 2, 3)]
    assert len(store.delivered_keys("ews:")) == 4
    # Re-read from the start, but the recorded message's MIME was not downloaded again: 2 GetItems
    # before the crash (the source fetches one ahead), 3 after.
    assert exchange.operations.count("GetItem") == 5


def test_invalid_sync_state_starts_over_without_recording_twice(exchange, store):
    exchange.deliver(raw_mail(0, SUBJECTS[0]), T0)
    poll(source(exchange), store)
    store.set_state("ews:INBOX", "c3RhbGUgc3RhdGU=")  # Exchange no longer knows it (mailbox moved)
    exchange.deliver(raw_mail(1, SUBJECTS[1]), T0 + timedelta(minutes=1))
    [new] = poll(source(exchange), store)
    assert new.data == raw_mail(1, SUBJECTS[1])
    assert exchange.sync_states[-2:] == ["c3RhbGUgc3RhdGU=", None]


def test_message_gone_before_it_was_fetched_is_skipped(exchange, store):
    gone = exchange.deliver(raw_mail(0, SUBJECTS[0]), T0)
    exchange.deliver(raw_mail(1, SUBJECTS[1]), T0 + timedelta(minutes=1))
    exchange.vanish(gone)
    [got] = poll(source(exchange), store)
    assert got.data == raw_mail(1, SUBJECTS[1]) and got.checkpoint


def test_named_subfolder_is_read(exchange, store):
    exchange.add_folder("述职材料", parent="inbox")
    exchange.deliver(raw_mail(0, SUBJECTS[0]), T0)  # in the inbox: not this source's business
    exchange.deliver(raw_mail(1, SUBJECTS[1]), T0, folder="述职材料")
    [got] = poll(source(exchange, folder="Inbox/述职材料"), store)
    assert got.data == raw_mail(1, SUBJECTS[1])
    assert store.get_state("ews:Inbox/述职材料") is not None


def test_since_skips_older_mail_without_downloading_it(exchange, store):
    exchange.deliver(raw_mail(0, SUBJECTS[0]), datetime(2025, 6, 1, tzinfo=timezone.utc))
    exchange.deliver(raw_mail(1, SUBJECTS[1]), T0)
    [got] = poll(source(exchange, since=T0.date() - timedelta(days=30)), store)
    assert got.data == raw_mail(1, SUBJECTS[1])
    assert exchange.operations.count("GetItem") == 1


# --- errors HR reads ----------------------------------------------------------


def test_wrong_password_is_one_chinese_line(tmp_path):
    fake = FakeExchange(address=HR, basic_auth=("TENGFEI\\hr", PASSWORD))
    with fake.running():
        src = EwsSource(box(fake, auth="basic"), "wrong", address=HR)
        with pytest.raises(MailboxError) as e:
            src.open()
    assert str(e.value).startswith("Exchange 登录失败：用户名或密码错误")
    assert "wrong" not in str(e.value) and "\n" not in str(e.value)


def test_unreachable_server_is_one_chinese_line():
    closed = Mailbox(kind="ews", service_endpoint="http://127.0.0.1:9/EWS/Exchange.asmx", username="x", timeout=5)
    with pytest.raises(MailboxError) as e:
        EwsSource(closed, "", address=HR, auth="none").open()
    assert str(e.value).startswith("无法连接 Exchange 服务器 http://127.0.0.1:9/EWS/Exchange.asmx")


def test_missing_folder_is_one_chinese_line(exchange):
    with pytest.raises(MailboxError) as e:
        source(exchange, folder="Inbox/没有这个文件夹")
    assert str(e.value) == f"Exchange 邮箱 {HR} 中找不到文件夹“Inbox/没有这个文件夹”，请检查 [mailbox] folder"


def test_untrusted_certificate_then_plant_ca_file(tmp_path, store):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    ca, cert, key = make_certificates(tmp_path / "tls")
    fake = FakeExchange(address=HR)
    fake.deliver(raw_mail(0, SUBJECTS[0]), T0)
    with fake.running(tls=(cert, key)):
        with pytest.raises(MailboxError) as e:
            EwsSource(box(fake), "", address=HR, auth="none").open()
        assert "TLS 证书校验失败" in str(e.value)
        [got] = poll(source(fake, ca_file=ca), store)
    assert got.data == raw_mail(0, SUBJECTS[0])


# --- the sender ---------------------------------------------------------------


def outbox_row(message_id: str = "<c1@tengfei.example>", recipients=(HEAD[0],)) -> OutboxRow:
    msg = EmailMessage()
    msg["From"] = f"人力资源科 <{HR}>"
    msg["To"] = HEAD[0]
    msg["Subject"] = "材料已收到：合成车间班子述职报告"
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("李建国：\n\n合成车间班子述职报告已收到，按时。\n", charset="utf-8", cte="base64")
    return OutboxRow(id=1, message_id=message_id, kind="confirmation", recipients=tuple(recipients),
                     created_at=datetime.now(timezone.utc), eml=msg.as_bytes(), file=None, state="sending",
                     attempts=0, next_attempt=None, last_error="")


def ews_settings(exchange: FakeExchange, save_to_sent: bool = False) -> Settings:
    s = load(EXAMPLE_CONFIG)
    return s._replace(mailbox=box(exchange), sending=s.sending._replace(kind="ews", save_to_sent=save_to_sent))


def test_send_hands_the_mime_to_exchange_once(exchange):
    row = outbox_row()
    sender = EwsSender(ews_settings(exchange), password="", auth="none")
    sender.open()
    sender.send(row)
    sender.close()
    [sent] = exchange.sent
    assert sent.mime == row.eml and sent.disposition == "SendOnly" and sent.saved_to is None and sent.bcc == ()
    assert exchange.operations.count("CreateItem") == 1


def test_send_and_save_copy_is_found_in_sent_items(exchange):
    row = outbox_row()
    sender = EwsSender(ews_settings(exchange, save_to_sent=True), password="", auth="none")
    sender.send(row)
    [sent] = exchange.sent
    assert (sent.disposition, sent.saved_to) == ("SendAndSaveCopy", "sentitems")
    assert sender.found_in_sent(row)
    assert not sender.found_in_sent(replace(row, message_id="<never-sent@tengfei.example>"))


def test_recipient_not_in_the_headers_goes_as_bcc(exchange):
    row = outbox_row(recipients=(HEAD[0], "zhangqiang@tengfei.example"))
    EwsSender(ews_settings(exchange), password="", auth="none").send(row)
    assert exchange.sent[0].bcc == ("zhangqiang@tengfei.example",)


@pytest.mark.parametrize("code, permanent", [("ErrorInvalidRecipients", True), ("ErrorMailRecipientNotFound", True),
                                             ("ErrorMessageSizeExceeded", True), ("ErrorServerBusy", False)])
def test_refusals_are_permanent_and_busy_is_temporary(exchange, code, permanent):
    exchange.fail_next["CreateItem"] = code
    with pytest.raises(SendError) as e:
        EwsSender(ews_settings(exchange), password="", auth="none").send(outbox_row())
    assert e.value.permanent is permanent
    assert type(e.value.__cause__).__name__ == code and not isinstance(e.value, DeliveryUncertain)
    assert exchange.sent == []


def test_lost_answer_is_uncertain_not_retried(exchange):
    exchange.drop_next.add("CreateItem")
    with pytest.raises(DeliveryUncertain):
        EwsSender(ews_settings(exchange), password="", auth="none").send(outbox_row())
    assert len(exchange.sent) == 1  # it did go out: exactly why it must not be resent blindly


def test_connection_refused_is_temporary():
    closed = load(EXAMPLE_CONFIG)
    closed = closed._replace(mailbox=Mailbox(kind="ews", service_endpoint="http://127.0.0.1:9/EWS/Exchange.asmx",
                                           username="x", timeout=5))
    with pytest.raises(SendError) as e:
        EwsSender(closed, password="", auth="none").open()
    assert e.value.permanent is False and not isinstance(e.value, DeliveryUncertain)


def test_wrong_password_stops_sending_before_any_mail():
    fake = FakeExchange(address=HR, basic_auth=("TENGFEI\\hr", PASSWORD))
    with fake.running():
        s = load(EXAMPLE_CONFIG)
        s = s._replace(mailbox=box(fake)._replace(auth="basic"))
        with pytest.raises(SendError) as e:
            EwsSender(s, password="wrong").open()
    assert e.value.permanent and str(e.value).startswith("Exchange 登录失败")
    assert fake.sent == []


# --- the whole flow -----------------------------------------------------------


def write_ews_config(config: Path, url: str, username: str, save_to_sent: bool = False) -> Settings:
    """The example config with [mailbox] and [sending] as HR would write them for Exchange."""
    text = (EXAMPLE_CONFIG / "settings.toml").read_text(encoding="utf-8-sig")
    text = re.sub(r"(?ms)^\[(mailbox|sending)\][^\n]*\n.*?(?=^\[|\Z)", "", text)
    text += (f'\n[mailbox]\nkind = "ews"\nservice_endpoint = "{url}"\nusername = \'{username}\'\n'
             f'password_env = "HRBOT_EWS_PASSWORD"\nauth = "basic"\nfolder = "INBOX"\ntimeout = 10\n'
             f'\n[sending]\nkind = "ews"\nsave_to_sent = {str(save_to_sent).lower()}\n')
    (config / "settings.toml").write_text(text, encoding="utf-8")
    return load(config)


@pytest.mark.parametrize("username", ["hr@tengfei.example", "TENGFEI\\hr"])
def test_submission_polled_confirmed_and_sent_through_exchange_once(config_dir, monkeypatch, username):
    monkeypatch.setenv("HRBOT_EWS_PASSWORD", PASSWORD)
    fake = FakeExchange(address=HR, basic_auth=(username, PASSWORD))
    report = ("王珺个人述职报告.docx", forms.fill_personal_report("合成车间", "王珺", "副职"))
    submission = build_message(HEAD[0], HEAD[1], HR, "王珺个人述职报告", "请查收。", [report],
                               sent=T0, message_id="<sub-1@tengfei.example>")
    fake.deliver(submission, T0)
    with fake.running():
        settings = write_ews_config(config_dir, fake.url, username)
        # A DOMAIN\user name is no mail address, so the mailbox's comes from [hr] address.
        src = EwsSource(settings.mailbox, PASSWORD, address=settings.hr.address)
        [entry] = poll_once(settings, source=src).recorded
        assert entry.outcome == "accepted" and entry.received_at == T0
        assert poll_once(settings, source=EwsSource(settings.mailbox, PASSWORD, address=HR)).recorded == []

        with Store.open(settings.paths.data) as store:
            assert store.get_state("ews:INBOX") == fake.sync_states[-1]
            report_1 = deliver(settings, store)
            report_2 = deliver(settings, store)
    assert len(report_1.sent) == 1 and report_2.sent == []
    [sent] = fake.sent
    reply = email.message_from_bytes(sent.mime, policy=default)
    assert reply["In-Reply-To"] == "<sub-1@tengfei.example>"
    assert reply["To"] == HEAD[0] and reply["Auto-Submitted"] == "auto-replied"
    assert sent.disposition == "SendOnly"
    assert fake.unexpected == []


def test_fetch_again_reads_a_recorded_item_by_its_key_or_says_it_is_gone(exchange, store):
    ids = [exchange.deliver(raw_mail(n, s), T0 + timedelta(minutes=n)) for n, s in enumerate(SUBJECTS[:2])]
    src = source(exchange)
    poll(src, store)
    again = src.fetch_again(f"ews:{ids[1]}")
    assert again.data == raw_mail(1, SUBJECTS[1]) and again.received_at == T0 + timedelta(minutes=1)
    exchange.vanish(ids[0])
    assert src.fetch_again(f"ews:{ids[0]}") is None
