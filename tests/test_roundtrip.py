"""A submission through real servers: into dovecot, polled, confirmed, sent through aiosmtpd; and `hrbot check`."""

from __future__ import annotations

import email
from email import policy

from conftest import at, use_imap
from smtp_server import SmtpServer

from bot.cli import main
from bot.demo import build_message
from bot.poll import poll_once
from bot.out.senders import deliver
from bot.settings import load
from parsers.forms import fill_personal_report


def real_servers_config(config_dir, dovecot, smtp, monkeypatch):
    use_imap(config_dir, dovecot, monkeypatch)
    text = (config_dir / "settings.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "spool"', f'kind = "smtp"\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"', 1)
    (config_dir / "settings.toml").write_text(text, encoding="utf-8")
    return load(config_dir)


def test_submission_round_trip_through_dovecot_and_smtp(config_dir, dovecot, monkeypatch):
    with SmtpServer() as smtp:
        settings = real_servers_config(config_dir, dovecot, smtp, monkeypatch)
        report = ("王珺个人述职报告.docx", fill_personal_report("合成车间", "王珺", "副职"))
        raw = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "述职报告", "请查收。",
                            [report], style="outlook", message_id="<round@tengfei.example>")
        dovecot.append(raw, at("2026-12-04T16:00"))

        assert [e.outcome for e in poll_once(settings).recorded] == ["accepted"]
        assert deliver(settings).sent
        assert poll_once(settings).recorded == []  # nothing new, nothing recorded twice
        assert not deliver(settings).sent  # nothing sent twice

        [received] = smtp.received
        assert received.rcpt_tos == ("lijianguo@tengfei.example",)
        reply = email.message_from_bytes(received.content, policy=policy.default)
        assert reply["In-Reply-To"] == "<round@tengfei.example>"
        assert reply["Auto-Submitted"] == "auto-replied"
        assert "王珺" in reply.get_body().get_content()
        with dovecot.client() as c:
            c.select_folder("INBOX", readonly=True)
            flags = c.get_flags(c.search())
            assert flags and all(b"\\Seen" not in f for f in flags.values())


def test_check_reports_both_servers_and_sends_nothing(config_dir, dovecot, monkeypatch, capsys):
    with SmtpServer() as smtp:
        real_servers_config(config_dir, dovecot, smtp, monkeypatch)
        assert main(["--config", str(config_dir), "check"]) == 0
        out = capsys.readouterr().out
        assert "登录成功" in out and "IDLE" in out and "INBOX" in out
        assert smtp.received == []


def test_check_names_a_wrong_password_in_one_line(config_dir, dovecot, monkeypatch, capsys):
    with SmtpServer() as smtp:
        real_servers_config(config_dir, dovecot, smtp, monkeypatch)
        monkeypatch.setenv("HRBOT_TEST_IMAP_PASSWORD", "wrong")
        assert main(["--config", str(config_dir), "check"]) == 1
        out = capsys.readouterr().out
        assert "✗ 收件箱（imap）" in out and "密码" in out


def test_sent_copy_is_saved_and_proves_an_interrupted_send(config_dir, dovecot, monkeypatch):
    from bot.store import Store

    with SmtpServer() as smtp:
        real_servers_config(config_dir, dovecot, smtp, monkeypatch)
        text = (config_dir / "settings.toml").read_text(encoding="utf-8")
        text = text.replace(f'port = {smtp.port}\n', f'port = {smtp.port}\nsave_to_sent = true\n', 1)
        (config_dir / "settings.toml").write_text(text, encoding="utf-8")
        settings = load(config_dir)
        raw = build_message("lijianguo@tengfei.example", "李建国", "hr@tengfei.example", "述职报告", "请查收。",
                            [("王珺述职报告.docx", fill_personal_report("合成车间", "王珺", "副职"))],
                            message_id="<sent@tengfei.example>")
        dovecot.append(raw, at("2026-12-04T16:00"))
        poll_once(settings)
        assert len(deliver(settings).sent) == 1
        with dovecot.client() as c:
            c.select_folder("Sent", readonly=True)
            assert len(c.search(["HEADER", "In-Reply-To", "<sent@tengfei.example>"])) == 1
        # A crash after the server took the mail but before it was marked sent: the Sent copy proves it.
        with Store.open(settings.paths.data) as store:
            [row] = store.outbox()
            store.set_outbox_state(row.id, "sending")
        deliver(settings)
        with Store.open(settings.paths.data) as store:
            assert [r.state for r in store.outbox()] == ["sent"]
        assert len(smtp.received) == 1
