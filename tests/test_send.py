"""Sending the outbox through a real SMTP server (aiosmtpd): exactly once, retries, mails kept aside."""

from __future__ import annotations

import email
import logging
import re
from datetime import datetime, timedelta, timezone
from email.policy import default
from pathlib import Path

import pytest

from bot import settings as settings_module
from bot.errors import ConfigError, SendError
from bot.out.outbox import compose
from bot.out.senders import UNCERTAIN_REASON, deliver, Hooks, retry_uncertain
from bot.out.senders.smtp import LOGIN_FAILED
from bot.settings import Settings
from bot.store import Store
from smtp_server import DROP, SmtpServer, free_port

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "settings.toml"

MINIMAL = """\
[season]
year = 2026
timezone = "Asia/Shanghai"
meeting_request_due = 2026-11-25
union_review_due = 2026-12-18
final_due = 2026-12-31

[mailbox]
kind = "maildir"
path = "mail/inbox"

[hr]
address = "hr@tengfei.example"
name = "人力资源科"
"""

SUBJECT = "材料已收到：合成车间班子述职报告"


def make_settings(folder: Path, sending: str) -> Settings:
    """The repository's example settings (or a minimal one) with this [sending] section."""
    folder.mkdir(parents=True, exist_ok=True)
    if REPO_CONFIG.is_file():
        text = REPO_CONFIG.read_text(encoding="utf-8-sig")
        # Drop the example's [sending] (and any [sending.x]) up to the next table header.
        text = re.sub(r"(?ms)^\[sending(\.[^\]]*)?\][^\n]*\n.*?(?=^\[|\Z)", "", text)
    else:
        text = MINIMAL
    (folder / "settings.toml").write_text(f"{text}\n[sending]\n{sending}\n", encoding="utf-8")
    return settings_module.load(folder)


def smtp_settings(tmp_path: Path, port: int, extra: str = "") -> Settings:
    return make_settings(tmp_path / "config", f'kind = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
                                              f'security = "none"\ntimeout = 5\n{extra}')


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


@pytest.fixture
def settings(tmp_path, server) -> Settings:
    return smtp_settings(tmp_path, server.port)


@pytest.fixture
def store(settings):
    with Store.open(settings.paths.data) as opened:
        yield opened


def queue(settings: Settings, store: Store, to: str = "lijianguo@tengfei.example", kind: str = "confirmation",
          subject: str = SUBJECT) -> int:
    out = compose(settings, kind, [to], subject, "您提交的合成车间班子述职报告已收到，按时。",
                  in_reply_to="<sub-1@tengfei.example>")
    return store.queue(out)


def row(store: Store, outbox_id: int):
    return next(r for r in store.outbox() if r.id == outbox_id)


def later(minutes: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


def test_deliver_sends_each_queued_mail_once(settings, store, server):
    first = queue(settings, store, "lijianguo@tengfei.example")
    second = queue(settings, store, "wangjun@tengfei.example", kind="reminder", subject="提醒：述职报告即将截止")

    report = deliver(settings, store)

    assert [o.outbox_id for o in report.sent] == [first, second]
    assert [m.rcpt_tos for m in server.received] == [("lijianguo@tengfei.example",), ("wangjun@tengfei.example",)]
    assert {m.mail_from for m in server.received} == {"hr@tengfei.example"}  # envelope from: the HR address
    assert {r.state for r in store.outbox()} == {"sent"}
    assert all((settings.paths.outbox / r.file).is_file() for r in store.outbox())  # the .eml came first

    again = deliver(settings, store, now=later(60 * 24))
    assert again.sent == [] and len(server.received) == 2


def test_deliver_received_confirmation_keeps_headers_and_chinese_subject(settings, store, server):
    queue(settings, store)
    deliver(settings, store)

    message = email.message_from_bytes(server.received[0].content, policy=default)
    assert message["Subject"] == SUBJECT
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == "<sub-1@tengfei.example>"
    assert message["Message-ID"] == store.outbox()[0].message_id
    assert "按时" in message.get_body(("plain",)).get_content()


def test_deliver_temporary_failure_defers_then_sends_once(settings, store, server):
    outbox_id = queue(settings, store)
    server.reply_next("451 4.3.0 Try again later")
    now = datetime.now(timezone.utc)

    report = deliver(settings, store, now=now)

    deferred = row(store, outbox_id)
    assert [o.outbox_id for o in report.deferred] == [outbox_id] and server.received == []
    assert (deferred.state, deferred.attempts) == ("queued", 1)
    assert deferred.next_attempt > now and "451" in deferred.last_error

    assert deliver(settings, store, now=now).deferred == []  # not due yet: nothing tried
    assert len(deliver(settings, store, now=deferred.next_attempt + timedelta(seconds=1)).sent) == 1
    assert len(server.received) == 1
    assert (row(store, outbox_id).state, row(store, outbox_id).attempts) == ("sent", 2)


@pytest.mark.parametrize("at, reply", [("data", "550 5.7.1 Message rejected"),
                                       ("rcpt", "550 5.1.1 User unknown")])
def test_deliver_permanent_failure_kept_aside_never_retried(settings, store, server, at, reply):
    outbox_id = queue(settings, store)
    server.reply_next(reply, at=at)

    report = deliver(settings, store)

    failed = row(store, outbox_id)
    assert [o.outbox_id for o in report.failed] == [outbox_id]
    assert failed.state == "failed" and "550" in failed.last_error
    assert [r.id for r in store.kept_aside()] == [outbox_id]
    deliver(settings, store, now=later(60 * 24))
    assert server.received == [] and row(store, outbox_id).state == "failed"


def test_deliver_gives_up_after_two_days_of_temporary_failures(settings, store, server):
    outbox_id = queue(settings, store)
    server.reply_next(*["451 4.3.0 Try again later"] * 3)
    for minutes in (0, 10, 60 * 24 * 3):
        deliver(settings, store, now=later(minutes))

    gave_up = row(store, outbox_id)
    assert (gave_up.state, gave_up.attempts) == ("failed", 3)
    assert "已放弃" in gave_up.last_error and server.received == []


def test_deliver_row_left_sending_is_not_resent_but_uncertain(settings, store, server):
    outbox_id = queue(settings, store)
    store.set_outbox_state(outbox_id, "sending", attempted=True)  # a run that died mid-send

    report = deliver(settings, store)

    assert [o.outbox_id for o in report.uncertain] == [outbox_id] and server.received == []
    assert (row(store, outbox_id).state, row(store, outbox_id).last_error) == ("uncertain", UNCERTAIN_REASON)
    deliver(settings, store, now=later(60))
    assert server.received == []

    assert retry_uncertain(store) == 1  # HR checked: send it after all
    deliver(settings, store)
    assert len(server.received) == 1 and row(store, outbox_id).state == "sent"


def test_deliver_row_left_sending_found_in_sent_is_marked_sent(settings, store, server):
    outbox_id = queue(settings, store)
    store.set_outbox_state(outbox_id, "sending", attempted=True)
    searched = []
    hooks = Hooks(found_in_sent=lambda r: searched.append(r.message_id) or True)

    deliver(settings, store, hooks=hooks)

    assert searched == [row(store, outbox_id).message_id]
    assert row(store, outbox_id).state == "sent" and server.received == []


def test_deliver_answer_lost_after_data_is_uncertain(settings, store, server):
    outbox_id = queue(settings, store)
    server.reply_next(DROP)

    report = deliver(settings, store)

    assert len(server.received) == 1  # the server has it …
    assert [o.outbox_id for o in report.uncertain] == [outbox_id]  # … and the bot does not claim either way
    assert row(store, outbox_id).state == "uncertain"
    deliver(settings, store, now=later(60))
    assert len(server.received) == 1


def test_deliver_connection_refused_defers(tmp_path):
    settings = smtp_settings(tmp_path, free_port())
    with Store.open(settings.paths.data) as store:
        outbox_id = queue(settings, store)

        report = deliver(settings, store)

        deferred = row(store, outbox_id)
        assert [o.outbox_id for o in report.deferred] == [outbox_id]
        assert (deferred.state, deferred.attempts) == ("queued", 1)
        assert "连接被拒绝" in deferred.last_error and deferred.next_attempt is not None


def test_deliver_starttls_missing_stops_without_touching_the_queue(tmp_path, server):
    settings = make_settings(tmp_path / "config", f'kind = "smtp"\nhost = "127.0.0.1"\nport = {server.port}\n'
                                                  'security = "starttls"\ntimeout = 5')
    with Store.open(settings.paths.data) as store:
        outbox_id = queue(settings, store)
        with pytest.raises(SendError, match="STARTTLS") as raised:
            deliver(settings, store)
        assert raised.value.permanent
        assert (row(store, outbox_id).state, row(store, outbox_id).attempts) == ("queued", 0)
    assert server.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_deliver_logs_in_and_never_logs_the_password(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HRBOT_TEST_SMTP_PASSWORD", "s3cret-2026")
    with SmtpServer(login=("hr@tengfei.example", "s3cret-2026")) as server:
        settings = smtp_settings(tmp_path, server.port,
                                 'username = "hr@tengfei.example"\npassword_env = "HRBOT_TEST_SMTP_PASSWORD"')
        with Store.open(settings.paths.data) as store, caplog.at_level(logging.DEBUG):
            queue(settings, store)
            deliver(settings, store)
    assert server.logins == ["hr@tengfei.example"] and len(server.received) == 1
    assert "s3cret" not in caplog.text
    assert "(confirmation) to lijianguo@tengfei.example: sent" in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_deliver_wrong_password_is_one_plain_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HRBOT_TEST_SMTP_PASSWORD", "wrong")
    with SmtpServer(login=("hr@tengfei.example", "right")) as server:
        settings = smtp_settings(tmp_path, server.port,
                                 'username = "hr@tengfei.example"\npassword_env = "HRBOT_TEST_SMTP_PASSWORD"')
        with Store.open(settings.paths.data) as store:
            queue(settings, store)
            with pytest.raises(SendError, match=LOGIN_FAILED) as raised:
                deliver(settings, store)
            assert raised.value.permanent and store.outbox()[0].state == "queued"


def test_smtp_without_tls_refuses_to_send_a_password_off_the_machine(tmp_path):
    settings = make_settings(tmp_path / "config", 'kind = "smtp"\nhost = "smtp.tengfei.example"\n'
                                                  'security = "none"\nusername = "hr@tengfei.example"\n'
                                                  'password_env = "HRBOT_TEST_SMTP_PASSWORD"')
    with Store.open(settings.paths.data) as store:
        queue(settings, store)
        with pytest.raises(ConfigError, match="明文"):
            deliver(settings, store)


def test_deliver_spool_writes_files_and_sends_nothing(tmp_path, server):
    settings = make_settings(tmp_path / "config", 'kind = "spool"')
    with Store.open(settings.paths.data) as store:
        queue(settings, store)
        queue(settings, store, "wangjun@tengfei.example")

        report = deliver(settings, store)

        assert len(report.spooled) == 2 and report.summary() == "已写入 outbox 文件夹（未发出） 2 封"
        rows = store.outbox()
        assert {r.state for r in rows} == {"spooled"}
        assert sorted(p.name for p in settings.paths.outbox.glob("*.eml")) == sorted(r.file for r in rows)
        assert (settings.paths.outbox / rows[0].file).read_bytes() == rows[0].eml
    assert server.received == []


def test_refused_mail_is_shown_in_the_log_and_the_tracker(settings, store, server, capsys):
    import shutil

    from openpyxl import load_workbook

    from bot.cli import main

    for name in ("units.csv", "people.csv"):
        shutil.copy(REPO_CONFIG.parent / name, settings.config_dir / name)
    queue(settings, store)
    server.reply_next("550 5.1.1 User unknown", at="rcpt")
    deliver(settings, store)

    assert main(["--config", str(settings.config_dir), "log"]) == 0
    out = capsys.readouterr().out
    assert "需要人工处理的发出邮件（1 封）" in out and "550" in out and "回执" in out
    assert main(["--config", str(settings.config_dir), "tracker", "--as-of", "2026-12-08"]) == 0
    sheet = load_workbook(capsys.readouterr().out.strip())["发信问题"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1
    assert rows[0][1:4] == ("回执", "lijianguo@tengfei.example", "发送失败（服务器拒收）") and "550" in rows[0][4]


def test_write_files_lists_the_outbox_folder_only_when_a_mail_needs_its_file(settings, store, monkeypatch):
    from bot.out import outbox

    swept = []
    monkeypatch.setattr(outbox, "sweep_stale_temp_files", lambda folder, pattern: swept.append(folder))
    queue(settings, store)
    [first] = outbox.write_files(settings, store)
    assert first.exists() and swept == []  # no folder yet: nothing to sweep
    assert outbox.write_files(settings, store) == [] and swept == []  # every mail has its file: the folder is not read
    queue(settings, store, to="wangjun@tengfei.example")
    [second] = outbox.write_files(settings, store)
    assert second.exists() and swept == [settings.paths.outbox]
