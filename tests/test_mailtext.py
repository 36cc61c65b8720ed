"""The hand-written mail writer parses as the email package's own composition of the same mail does."""

from __future__ import annotations

import email
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default

import pytest

from bot.out import mailtext
from bot.out.outbox import FileAttachment, compose

SUBJECT = "关于2025年度述职报告的回执：合成车间（第一版）—— 请于12月31日前补交民主评议表，谢谢配合与支持"
TEXT = "王珺同志：\n\n您提交的合成车间班子述职报告已收到，按时。\r\n第二行 with ASCII & symbols <>\n"
HTML = "<p>王珺同志：</p><p>已收到。</p>"


def _reference(hr_name, hr_address, to, subject, text, html, in_reply_to, references, attachments) -> bytes:
    """What the email package writes for the same mail (the writer hrbot used before)."""
    msg = EmailMessage()
    msg["From"] = Address(hr_name, addr_spec=hr_address)
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = f"{references} {in_reply_to}" if references else in_reply_to
    msg.set_content(text, charset="utf-8", cte="base64")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    for a in attachments:
        maintype, _, subtype = a.content_type.partition("/")
        msg.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg.as_bytes(policy=SMTP)


def _read(eml: bytes) -> dict:
    msg = email.message_from_bytes(eml, policy=default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            parts.append(("multipart", part.get_content_subtype()))
        elif part.get_filename():
            parts.append((part.get_content_type(), part.get_filename(), part.get_content()))
        else:
            parts.append((part.get_content_type(), part.get_content_charset(), part.get_content()))
    heads = {name: str(msg[name]) for name in ("From", "To", "Subject", "In-Reply-To", "References") if msg[name]}
    return {"heads": heads, "from": (msg["From"].addresses[0].display_name, msg["From"].addresses[0].addr_spec),
            "parts": parts, "defects": [d for p in msg.walk() for d in p.defects]}


@pytest.mark.parametrize("html,attachments", [
    (None, []),
    (HTML, []),
    (HTML, [FileAttachment("2025年度考核进度表（合成车间、机修车间等二十个单位的汇总）.xlsx", b"PK\x03\x04" + bytes(range(256)) * 40,
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]),
    (None, [FileAttachment("report.docx", b"", "application/octet-stream"),
            FileAttachment("述职报告.docx", b"x" * 1000, "application/vnd.openxmlformats-officedocument."
                                                            "wordprocessingml.document")]),
])
def test_mailtext_parses_as_email_package(settings, html, attachments):
    out = compose(settings, "confirmation", ["wangjun@example.com"], SUBJECT, TEXT, html=html,
                  in_reply_to="<a.1@client.example>", references="<x@y> <z@w>", attachments=attachments)
    ours = _read(out.eml)
    theirs = _read(_reference(settings.hr.name, settings.hr.address, ["wangjun@example.com"], SUBJECT, TEXT, html,
                              "<a.1@client.example>", "<x@y> <z@w>", attachments))
    assert ours == theirs
    assert ours["defects"] == []
    lines = out.eml.split(b"\r\n")
    assert max(len(line) for line in lines if b"name=" not in line) <= 78 and max(map(len, lines)) <= 998
    assert b"\n" not in out.eml.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(out.eml, policy=default)
    assert parsed["Auto-Submitted"] == "auto-replied" and parsed["X-Hrbot"] == "confirmation"
    assert parsed["Message-ID"] == out.message_id
    for a in attachments:  # the filename as Outlook and Foxmail read it: an RFC 2047 word in quotes
        assert b'filename="=?utf-8?b?' in out.eml


@pytest.mark.parametrize("name", ["HR", "Human Resources, Plant \"A\"", "人力资源科", ""])
def test_mailtext_mailbox_parses(name):
    msg = email.message_from_bytes(f"From: {mailtext.mailbox(name, 'hr@example.com')}\r\n\r\n".encode(),
                                   policy=default)
    assert (msg["From"].addresses[0].display_name, msg["From"].addresses[0].addr_spec) == (name, "hr@example.com")


def test_mailtext_unstructured_splits_on_characters():
    text = "述职报告" * 40 + "😀" * 20
    value = mailtext.unstructured(text)
    assert all(len(line.strip()) <= 75 for line in value.split("\r\n"))
    assert str(email.message_from_bytes(f"Subject: {value}\r\n\r\n".encode(), policy=default)["Subject"]) == text



def test_mailtext_long_ascii_subject_is_folded():
    text = "Re: " + "weekly report " * 100
    value = mailtext.unstructured(text)
    assert max(len(line) for line in value.split("\r\n")) <= 78
    assert str(email.message_from_bytes(f"Subject: {value}\r\n\r\n".encode(), policy=default)["Subject"]) == text


def test_compose_message_ids_do_not_depend_on_the_random_module(settings):
    """Two mails made at once, the `random` module seeded alike before each (as a caller may do), get two IDs."""
    import random

    ids = set()
    for _ in range(2):
        random.seed(7)
        ids.add(compose(settings, "confirmation", ["wangjun@example.com"], SUBJECT, TEXT).message_id)
    assert len(ids) == 2
    assert all(i.startswith("<") and i.endswith(">") and i.isascii() for i in ids)
