"""The intake end to end on a Maildir: each outcome, recorded once, confirmed in the thread."""

from __future__ import annotations

import email
from email import policy

from conftest import at, deliver

from bot.demo import build_message
from bot.poll import poll_once
from bot.reports.views import log_entries, status_rows
from bot.store import Store
from parsers import forms

HEAD = ("lijianguo@tengfei.example", "李建国")  # 合成车间 主要领导 in the example roster
DEPUTY_NAME = "王珺"  # 合成车间 副职
HR = "hr@tengfei.example"


def report(name=DEPUTY_NAME, unit="合成车间", post="副职", **kw) -> tuple[str, bytes]:
    return f"{name}个人述职报告.docx", forms.fill_personal_report(unit, name, post, **kw)


def send(settings, when, subject="述职报告", attachments=(), sender=HEAD, text="请查收。", **kw):
    raw = build_message(sender[0], sender[1], HR, subject, text, attachments, sent=at(when), **kw)
    deliver(settings, at(when), raw)
    return raw


def outcomes(settings) -> list[str]:
    return [e.outcome for e in log_entries(settings)]


def outbox_messages(settings) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(settings.paths.outbox.glob("*.eml"))]


def row(settings, as_of, item="personal_report", person=DEPUTY_NAME, unit="合成车间"):
    return next(r for r in status_rows(settings, as_of)
                if r.item == item and r.person == person and r.unit == unit)


def test_accepted_report_is_recorded_and_confirmed_in_thread(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()], message_id="<r1@tengfei.example>")
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted"
    assert entry.attachments[0].filename == "王珺个人述职报告.docx"
    assert (entry.attachments[0].item, entry.attachments[0].person) == ("personal_report", DEPUTY_NAME)
    [reply] = outbox_messages(settings)
    assert reply["In-Reply-To"] == "<r1@tengfei.example>"
    assert "<r1@tengfei.example>" in reply["References"]
    assert reply["To"] == HEAD[0]
    assert reply["Auto-Submitted"] == "auto-replied"
    body = reply.get_body().get_content()
    assert "个人述职报告（王珺）" in body and "按时收到" in body and "2026年12月7日" in body


def test_second_poll_records_nothing(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()])
    assert len(poll_once(settings).recorded) == 1
    assert poll_once(settings).recorded == []
    assert len(log_entries(settings)) == 1
    assert len(outbox_messages(settings)) == 1


def test_duplicate_delivery_is_logged_once_as_duplicate_and_not_confirmed(settings):
    raw = send(settings, "2026-12-03T10:00", attachments=[report()], message_id="<dup@tengfei.example>")
    deliver(settings, at("2026-12-03T10:01"), raw)
    poll_once(settings)
    assert outcomes(settings) == ["accepted", "duplicate"]
    assert len(outbox_messages(settings)) == 1
    assert row(settings, at("2026-12-08T00:00").date()).versions == 1


def test_reused_message_id_on_new_content_is_a_new_message(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()], message_id="<same@x.example>")
    send(settings, "2026-12-04T10:00", attachments=[report("刘洋", post="科级干部")],
         message_id="<same@x.example>")
    poll_once(settings)
    entries = log_entries(settings)
    assert [e.outcome for e in entries] == ["accepted", "accepted"]
    assert "Message-ID" in entries[1].reason


def test_auto_reply_bounce_unknown_and_own_mail_get_no_answer(settings):
    send(settings, "2026-12-03T09:00", subject="自动回复：述职材料", text="出差中")
    send(settings, "2026-12-03T09:01", subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    send(settings, "2026-12-03T09:02", subject="Undelivered Mail", sender=("MAILER-DAEMON@tengfei.example", ""),
         headers={"Return-Path": "<>"})
    send(settings, "2026-12-03T09:03", attachments=[report()], sender=("stranger@example.net", "陌生人"))
    send(settings, "2026-12-03T09:04", attachments=[report()], sender=(HR, "人力资源科"))
    poll_once(settings)
    assert outcomes(settings) == ["auto_reply", "auto_reply", "bounce", "unknown_sender", "own_mail"]
    assert outbox_messages(settings) == []


def test_display_name_that_looks_like_a_roster_address_identifies_nobody(settings):
    send(settings, "2026-12-03T09:00", attachments=[report()], sender=("evil@example.net", HEAD[0]))
    poll_once(settings)
    assert outcomes(settings) == ["unknown_sender"]


def test_reply_to_never_receives_the_confirmation(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()], headers={"Reply-To": "other@example.net"})
    poll_once(settings)
    [reply] = outbox_messages(settings)
    assert reply["To"] == HEAD[0]


def test_roster_mail_without_documents_is_no_documents(settings):
    send(settings, "2026-12-03T10:00", subject="请问", text="请问述职报告模板在哪里下载？")
    poll_once(settings)
    assert outcomes(settings) == ["no_documents"]
    assert outbox_messages(settings) == []


def test_failed_spf_for_a_roster_address_is_rejected(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()],
         headers={"Authentication-Results": "mx.tengfei.example; spf=fail smtp.mailfrom=tengfei.example"})
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "rejected" and "验证" in entry.reason


def test_resubmission_adds_a_version_and_keeps_first_state(settings):
    send(settings, "2026-12-04T10:00", attachments=[report()])
    send(settings, "2026-12-09T10:00", attachments=[report(on=forms.date(2026, 12, 9))], subject="修改稿")
    poll_once(settings)
    r = row(settings, forms.date(2026, 12, 10))
    assert (r.state, r.versions) == ("received", 2)
    second = outbox_messages(settings)[1].get_body().get_content()
    assert "第 2 版" in second


def test_due_day_boundary_in_shanghai_whatever_the_date_header_says(settings):
    # Reports of 合成车间 (meeting 2026-12-10) are due 2026-12-07.
    on_time = report()
    late = report("刘洋", post="科级干部")
    raw = build_message(*HEAD, HR, "述职报告", "请查收", [on_time], headers={"Date": "Mon, 07 Dec 2026 10:59:00 -0500"})
    deliver(settings, at("2026-12-07T23:59"), raw)
    raw = build_message(*HEAD, HR, "述职报告", "请查收", [late], headers={"Date": "Mon, 07 Dec 2026 11:01:00 -0500"})
    deliver(settings, at("2026-12-08T00:01"), raw)
    poll_once(settings)
    as_of = forms.date(2026, 12, 9)
    assert row(settings, as_of).state == "received"
    late_row = row(settings, as_of, person="刘洋")
    assert (late_row.state, late_row.late_workdays) == ("late", 1)
    assert "1 个工作日" in outbox_messages(settings)[1].get_body().get_content()


def test_traditional_script_report_matches_simplified_roster(settings):
    from opencc import OpenCC

    to_trad = OpenCC("s2t").convert
    data = forms.fill_personal_report(to_trad("生产技术科"), to_trad("林涛"), "科級幹部")
    sender = ("majunfeng@tengfei.example", "马俊峰")
    send(settings, "2026-12-09T10:00", attachments=[("林濤述職報告.docx", data)], sender=sender)
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted"
    assert (entry.attachments[0].unit, entry.attachments[0].person) == ("生产技术科", "林涛")


def test_missing_part_is_a_warning_in_status_and_confirmation(settings):
    send(settings, "2026-12-03T10:00", attachments=[report(parts={1: None, 2: None, 4: None})])
    poll_once(settings)
    r = row(settings, forms.date(2026, 12, 4))
    assert r.state == "received" and any("存在的主要问题和教训" in w for w in r.warnings)
    assert "存在的主要问题和教训" in outbox_messages(settings)[0].get_body().get_content()


def test_meeting_request_in_mail_text_sets_the_unit_meeting(settings):
    sender = ("gaojianhua@tengfei.example", "高建华")  # 设备动力科 has no meeting date in units.csv
    send(settings, "2026-11-20T09:00", subject="申请召开述职大会", sender=sender,
         text="人力资源科：我单位申请于十二月十七日召开述职大会。")
    poll_once(settings)
    r = row(settings, forms.date(2026, 11, 21), item="team_report", person=None, unit="设备动力科")
    assert r.due == forms.date(2026, 12, 14)
    assert row(settings, forms.date(2026, 11, 21), item="meeting_request", person=None,
               unit="设备动力科").state == "received"


def test_logo_is_ignored_beside_an_accepted_report(settings):
    import base64

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    send(settings, "2026-12-03T10:00", attachments=[report(), ("logo.png", png)])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert [a.outcome for a in entry.attachments] == ["accepted", "ignored"]


def test_store_file_and_saved_attachments_are_private(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()])
    poll_once(settings)
    data = settings.paths.data
    assert (data / "hrbot.sqlite3").stat().st_mode & 0o777 == 0o600
    saved = [p for p in (data / "files").rglob("*") if p.is_file()]
    assert saved and all(p.stat().st_mode & 0o777 == 0o600 for p in saved)
    with Store.open(data) as store:
        [entry] = store.log()
    assert entry.attachments[0].saved_as.startswith("files/") and "王珺" not in entry.attachments[0].saved_as


# --- mail the source read header-only (IMAP: header block and BODYSTRUCTURE) ---------------------


def header_only(raw: bytes, key: str, parts=(), fingerprint: str = "application/pdf\tattachment\tscan.pdf\tbase64\t4096"):
    """What the IMAP source hands over for mail whose body it did not download."""
    from bot.records import RawMessage

    head = raw[: raw.index(b"\r\n\r\n") + 4] if b"\r\n\r\n" in raw else raw[: raw.index(b"\n\n") + 2]
    return RawMessage(source_key=key, data=head, received_at=at("2026-12-03T10:00"), checkpoint={"test": key},
                      complete=False, structure=tuple(parts), fingerprint=fingerprint)


def intake(settings):
    from bot.intake.job import Context
    from bot.season.roster import load_roster
    from bot.season.workdays import WorkCalendar

    store = Store.open(settings.paths.data)
    return store, Context(settings=settings, roster=load_roster(settings.config_dir), store=store,
                          calendar=WorkCalendar.load(settings.config_dir))


def test_header_only_stranger_mail_is_logged_with_its_structure_and_twice_is_a_duplicate(settings):
    from bot.intake.pipeline import process
    from bot.records import Part

    raw = build_message("zhangwei@partner.example", "张伟", HR, "合同扫描件", "见附件。", [], sent=at("2026-12-03T09:00"),
                        message_id="<p1@partner.example>")
    parts = [Part(filename="合同.pdf", content_type="application/pdf", data=b"")]
    store, ctx = intake(settings)
    with store:
        first = process(header_only(raw, "imap:INBOX:1:1", parts), ctx)
        again = process(header_only(raw, "imap:INBOX:1:2", parts), ctx)
        other = process(header_only(raw, "imap:INBOX:1:3", parts, fingerprint="application/pdf\t\t合同.pdf\tbase64\t9"), ctx)
        assert store.get_state("test") == "imap:INBOX:1:3"  # the checkpoint rides on header-only mail too
    assert (first.outcome, first.from_addr, first.message_id) == ("unknown_sender", "zhangwei@partner.example",
                                                                  "<p1@partner.example>")
    assert [(a.filename, a.outcome, a.reason) for a in first.attachments] == [
        ("合同.pdf", "ignored", "邮件未处理（unknown_sender）")]
    assert again.outcome == "duplicate"
    assert other.outcome == "unknown_sender"  # the same Message-ID on another structure is another message
    assert outbox_messages(settings) == []


def test_header_only_roster_mail_is_rejected_never_judged_without_its_body(settings):
    from bot.intake.pipeline import process

    raw = build_message(HEAD[0], HEAD[1], HR, "述职报告", "请查收。", [report()], message_id="<r9@tengfei.example>")
    store, ctx = intake(settings)
    with store:
        entry = process(header_only(raw, "imap:INBOX:1:1"), ctx)
    assert entry.outcome == "rejected" and "正文未下载" in entry.reason
    assert not (settings.paths.data / "quarantine").exists()  # a header block is no copy of the mail
    assert outbox_messages(settings) == []


def test_body_wanted_only_for_roster_senders_read_as_decode_reads_them(settings):
    from bot.intake.triage import body_wanted
    from bot.season.roster import load_roster

    roster = load_roster(settings.config_dir)

    def wanted(from_value: bytes) -> bool:
        return body_wanted(b"From: " + from_value + b"\r\nSubject: x\r\n\r\n", roster, HR)

    assert wanted(b"=?utf-8?B?5p2O5bu65Zu9?= <LiJianGuo@tengfei.example>")
    assert not wanted(b"zhangwei@partner.example")
    assert not wanted(HR.encode())  # own mail: its body is never needed
    assert not wanted(b'"lijianguo@tengfei.example" <evil@elsewhere.example>')  # a display name identifies nobody
    assert wanted("李建国 <lijianguo@tengfei.example>".encode("gbk"))  # raw 8-bit: only the whole message tells
    assert not body_wanted(b"Subject: no sender\r\n\r\n", roster, HR)
