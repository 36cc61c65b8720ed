"""Whatever arrives: size limits, XML safety, saved file names and modes, mail loops, spoofing, secrets, parser failures."""

from __future__ import annotations

import base64
import email
import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from conftest import SHANGHAI, at, deliver

from bot.demo import build_message
from bot.intake import limits
from bot.poll import poll_once
from bot.reports.views import log_entries, write_tracker_for
from bot.store import Store
from parsers import forms
from parsers.docx_text import read_docx

REPO = Path(__file__).resolve().parent.parent
HEAD = ("lijianguo@tengfei.example", "李建国")  # 合成车间 主要领导
HR = "hr@tengfei.example"
MB = 1024 * 1024


def report(name="王珺", post="副职", **kw) -> tuple[str, bytes]:
    return f"{name}个人述职报告.docx", forms.fill_personal_report("合成车间", name, post, **kw)


def send(settings, when, subject="述职报告", attachments=(), sender=HEAD, text="请查收。", **kw) -> bytes:
    raw = build_message(sender[0], sender[1], HR, subject, text, attachments, sent=at(when), **kw)
    deliver(settings, at(when), raw)
    return raw


def with_limits(settings, **caps):
    return settings._replace(limits=settings.limits._replace(**caps))


def outbox(settings) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(settings.paths.outbox.glob("*.eml"))]


def rezip(docx: bytes, replace: dict[str, bytes], level: int = 6) -> bytes:
    """The same .docx with some members' bytes replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED,
                                                                    compresslevel=level) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
    return out.getvalue()


def document_xml(docx: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        return zf.read("word/document.xml")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A real report whose word/document.xml inflates to 600 MB: about 600 KB on the wire."""
    name, docx = report()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info.filename, src.read(info))
                continue
            xml = src.read(info)
            cut = xml.rindex(b"</w:document>")
            with dst.open("word/document.xml", "w", force_zip64=True) as member:
                member.write(xml[:cut])
                spaces = b" " * MB
                for _ in range(600):
                    member.write(spaces)
                member.write(xml[cut:])
    return out.getvalue()


@pytest.fixture
def inflated(monkeypatch) -> list[int]:
    """Counts every byte any zip member yields while the test runs."""
    counter = [0]
    original = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        data = original(self, n)
        counter[0] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    return counter


# --- size limits --------------------------------------------------------------------------


def test_limit_message_size_rejects_the_whole_message_naming_the_limit(settings):
    settings = with_limits(settings, message_bytes=200 * 1024)
    send(settings, "2026-12-03T10:00", attachments=[report(), ("扫描件.pdf", os.urandom(300 * 1024))])
    send(settings, "2026-12-03T10:05", attachments=[report("刘洋", "科级干部")])
    poll_once(settings)
    big, small = log_entries(settings)
    assert big.outcome == "rejected"
    assert re.fullmatch(r"邮件大小 \d+(\.\d+)? KB 超过上限 200 KB", big.reason)
    assert big.from_addr == HEAD[0] and big.subject == "述职报告"  # the header block is still read
    assert small.outcome == "accepted"  # nothing else affected
    assert len(outbox(settings)) == 1


def test_limit_sizes_read_as_hr_reads_them():
    assert limits.over(62 * MB, 50 * MB) == ("62 MB", "50 MB")
    size, cap = limits.over(50 * MB + 10, 50 * MB)
    assert size != cap  # never "50 MB 超过上限 50 MB"


def test_limit_attachment_size_rejects_that_attachment_and_the_rest_go_on(settings):
    settings = with_limits(settings, attachment_bytes=100 * 1024)
    send(settings, "2026-12-03T10:00", attachments=[report(), ("照片.jpg", b"\xff\xd8\xff" + os.urandom(150 * 1024))])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "accepted"
    good, big = entry.attachments
    assert good.outcome == "accepted"
    assert (big.outcome, big.reason) == ("rejected", "附件大小 150 KB 超过上限 100 KB")
    [reply] = outbox(settings)
    assert "超过上限" in reply.get_body().get_content()


def test_limit_zip_bomb_docx_is_rejected_without_inflating_it(settings, bomb, inflated):
    assert len(bomb) < MB
    send(settings, "2026-12-03T10:00", attachments=[("王珺个人述职报告.docx", bomb), report("刘洋", "科级干部")])
    started = time.monotonic()
    poll_once(settings)
    assert time.monotonic() - started < 20
    [entry] = log_entries(settings)
    rejected, good = entry.attachments
    assert rejected.outcome == "rejected"
    assert rejected.reason == "文档内 word/document.xml 解压后 600 MB，超过上限 50 MB"
    assert good.outcome == "accepted" and entry.outcome == "accepted"
    assert inflated[0] < 5 * MB  # the good report's parts; never the bomb's 600 MB


def padded_report() -> tuple[str, bytes]:
    """A real report whose document.xml carries 5 MB of spaces: under the XML cap, 200 times over the ratio."""
    name, docx = report()
    xml = document_xml(docx)
    cut = xml.rindex(b"</w:document>")
    return name, rezip(docx, {"word/document.xml": xml[:cut] + b" " * (5 * MB) + xml[cut:]}, level=9)


def test_limit_compression_ratio_rejects_a_small_bomb_under_the_xml_cap(settings):
    name, padded = padded_report()
    send(settings, "2026-12-03T10:00", attachments=[(name, padded)])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "rejected"
    assert re.search(r"word/document\.xml 压缩比 \d+:1 超过上限 200:1", entry.attachments[0].reason)


def test_limit_compression_ratio_and_xml_size_come_from_settings(settings):
    name, padded = padded_report()
    send(settings, "2026-12-03T10:00", attachments=[(name, padded)])
    poll_once(with_limits(settings, compression_ratio=100_000))
    assert log_entries(settings)[0].outcome == "accepted"  # a real report once the ratio allows it
    send(settings, "2026-12-03T11:00", attachments=[report("刘洋", "科级干部")])
    poll_once(with_limits(settings, xml_bytes=4 * 1024))  # below any real document.xml
    second = log_entries(settings)[1]
    assert second.outcome == "rejected"
    assert re.fullmatch(r"文档内 word/document\.xml 解压后 [\d.]+ KB，超过上限 4 KB", second.attachments[0].reason)


def test_limit_archive_members_and_total_come_from_settings(settings):
    name, docx = report()
    send(settings, "2026-12-03T10:00", attachments=[(name, docx)])
    poll_once(with_limits(settings, archive_members=5))
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        members, total = len(zf.infolist()), sum(i.file_size for i in zf.infolist())
    first = log_entries(settings)[0]
    assert first.attachments[0].reason == f"文件内含 {members} 个文件，超过上限 5 个"
    send(settings, "2026-12-03T10:01", attachments=[report("刘洋", "科级干部")])
    poll_once(with_limits(settings, archive_total_bytes=100 * 1024))
    second = log_entries(settings)[1]
    assert second.attachments[0].reason.startswith("解压后共 ") and second.attachments[0].reason.endswith("超过上限 100 KB")
    assert total > 100 * 1024


def test_limit_zip_that_understates_its_sizes_is_refused_without_inflating_past_them(settings, inflated):
    name, docx = report()
    xml = document_xml(docx)
    cut = xml.rindex(b"</w:document>")
    lying = bytearray(rezip(docx, {"word/document.xml": xml[:cut] + b" " * (20 * MB) + xml[cut:]}, level=9))
    with zipfile.ZipFile(io.BytesIO(bytes(lying))) as zf:
        info = zf.getinfo("word/document.xml")
    # Claim 4 KB inflated in both the local header (offset 22) and the central directory (offset 24).
    lying[info.header_offset + 22:info.header_offset + 26] = (4096).to_bytes(4, "little")
    central = lying.index(b"PK\x01\x02")
    while bytes(lying[central + 46:central + 46 + len(info.filename)]) != info.filename.encode():
        central = lying.index(b"PK\x01\x02", central + 4)
    lying[central + 24:central + 28] = (4096).to_bytes(4, "little")
    send(settings, "2026-12-03T10:00", attachments=[(name, bytes(lying))])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "rejected" and entry.attachments[0].outcome == "rejected"
    assert inflated[0] < 3 * MB


# --- XML safety ---------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        _Recorder.hits.append(self.path)
        body = b'<!ENTITY leak "FETCHED-FROM-NETWORK">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.hits
    server.shutdown()
    server.server_close()


def hostile_docx(base_url: str, secret_file: Path, laughs: bool = False) -> bytes:
    """A real report whose document.xml declares external entities (a file, a URL, a remote DTD), or a billion laughs."""
    name, docx = report()
    xml = document_xml(docx).decode("utf-8")
    if laughs:
        declarations = '<!ENTITY lol "lol">' + "".join(
            f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
        doctype, references = f"<!DOCTYPE w:document [{declarations}]>", "&lol9;"
    else:
        doctype = (f'<!DOCTYPE w:document SYSTEM "{base_url}/external.dtd" ['
                   f'<!ENTITY file SYSTEM "{secret_file.as_uri()}">'
                   f'<!ENTITY net SYSTEM "{base_url}/entity">'
                   f'<!ENTITY % remote SYSTEM "{base_url}/parameter.dtd"> %remote;]>')
        references = "&file;&net;"
    declaration_end = xml.index("?>") + 2
    xml = xml[:declaration_end] + doctype + xml[declaration_end:]
    # The entities stand inside the first text run of the report.
    first_text = re.search(r"<w:t(?: [^>]*)?>", xml)
    xml = xml[:first_text.end()] + references + xml[first_text.end():]
    return rezip(docx, {"word/document.xml": xml.encode("utf-8")})


def read_or_refuse(read, data: bytes) -> str:
    """The text a reader makes of a document, or its refusal: both must be free of anything expanded."""
    try:
        return read(data)
    except Exception as refused:  # libxml2 refuses a billion laughs outright (amplification limit)
        return f"refused: {refused}"


def test_xml_external_entities_are_never_fetched_by_our_reader(tmp_path, http_server):
    base_url, hits = http_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE-CONTENT")
    text = read_docx(hostile_docx(base_url, secret)).text
    assert "TOPSECRET" not in text and "FETCHED" not in text
    assert "述职" in text  # the rest of the document is still read
    assert hits == []


def test_xml_billion_laughs_is_never_expanded_by_our_reader():
    started = time.monotonic()
    text = read_or_refuse(lambda d: read_docx(d).text, hostile_docx("http://127.0.0.1:9", Path("/x"), laughs=True))
    assert time.monotonic() - started < 5
    assert "lollollol" not in text


@pytest.mark.parametrize("laughs", [False, True])
def test_xml_entities_are_never_expanded_or_fetched_by_python_docx(tmp_path, http_server, laughs):
    import docx

    base_url, hits = http_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE-CONTENT")
    # python-docx parses with docx.oxml.parser.oxml_parser: resolve_entities=False, and lxml's
    # defaults no_network=True, load_dtd=False.
    text = read_or_refuse(lambda d: "\n".join(p.text for p in docx.Document(io.BytesIO(d)).paragraphs),
                          hostile_docx(base_url, secret, laughs))
    assert "lollollol" not in text and "TOPSECRET" not in text and "FETCHED" not in text
    assert hits == []


@pytest.mark.parametrize("laughs", [False, True])
def test_xml_hostile_docx_through_the_intake_expands_and_fetches_nothing(settings, tmp_path, http_server, laughs):
    base_url, hits = http_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE-CONTENT")
    send(settings, "2026-12-03T10:00", attachments=[("王珺个人述职报告.docx", hostile_docx(base_url, secret, laughs))])
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == ("rejected" if laughs else "accepted")
    dump = json.dumps([e.to_json() for e in log_entries(settings)], ensure_ascii=False)
    dump += "".join(m.get_body().get_content() for m in outbox(settings))
    assert "TOPSECRET" not in dump and "FETCHED" not in dump and "lollol" not in dump
    assert hits == []


def test_xml_openpyxl_expands_and_fetches_nothing(tmp_path, http_server):
    # Any .xlsx read goes through openpyxl: lxml without entities for parts, defusedxml's iterparse for sheets.
    import openpyxl

    base_url, hits = http_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE-CONTENT")
    wb = openpyxl.Workbook()
    wb.active["A1"] = "PLACEHOLDER"
    plain = io.BytesIO()
    wb.save(plain)
    doctype = (f'<!DOCTYPE x SYSTEM "{base_url}/external.dtd" [<!ENTITY lol "lol">'
               f'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
               f'<!ENTITY file SYSTEM "{secret.as_uri()}"><!ENTITY net SYSTEM "{base_url}/entity">]>')
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    end = sheet.index("?>") + 2 if sheet.startswith("<?xml") else 0
    sheet = sheet[:end] + doctype + sheet[end:]
    hostile = rezip(plain.getvalue(), {"xl/worksheets/sheet1.xml": sheet.encode()})
    try:
        values = [c.value for row in openpyxl.load_workbook(io.BytesIO(hostile)).active.iter_rows() for c in row]
    except Exception as refused:  # defusedxml refuses a DTD with entities outright: that is safe too
        causes = [refused]
        while causes[-1].__cause__ or causes[-1].__context__:
            causes.append(causes[-1].__cause__ or causes[-1].__context__)
        values = ["refused:", *(type(c).__name__ for c in causes)]
    text = " ".join(map(str, values))
    assert "EntitiesForbidden" in text or "PLACEHOLDER" in text
    assert "TOPSECRET" not in text and "FETCHED" not in text and "lollol" not in text
    assert hits == []


# --- saved files ----------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../王珺个人述职报告.docx",
    "/etc/cron.d/hrbot.docx",
    "..\\..\\Windows\\System32\\x.docx",
    "CON.docx",
    "nul",
    "a\x00b.docx",
    "evil\r\nBcc: victim@example.net.docx",
    "  .docx",
]


def hostile_message(names_and_data: list[tuple[str, bytes]]) -> bytes:
    """Each name in RFC 2231 form, so NUL, CR and LF reach the parser exactly as a hostile client sends them."""
    boundary = "hostile-boundary"
    lines = [f"From: {HEAD[0]}", f"To: {HR}", "Subject: reports", "Message-ID: <hostile@x.example>",
             "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
             f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "", "see attached"]
    for name, data in names_and_data:
        quoted = urllib.parse.quote(name, safe="")
        lines += [f"--{boundary}", "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
                  f"Content-Disposition: attachment; filename*=utf-8''{quoted}", "",
                  base64.encodebytes(data).decode("ascii")]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_saved_files_hostile_names_never_reach_the_filesystem(settings, tmp_path):
    people = [("王珺", "副职"), ("刘洋", "科级干部"), ("李建国", "主要领导"), ("张海燕", "党支部书记")]
    parts = [(name, report(*people[i % len(people)], on=forms.date(2026, 12, 1 + i))[1])
             for i, name in enumerate(HOSTILE_NAMES)]
    deliver(settings, at("2026-12-03T10:00"), hostile_message(parts))
    before = files_under(tmp_path)
    poll_once(settings)
    data = settings.paths.data
    allowed = re.compile(r"(hrbot\.sqlite3(-wal|-shm|\.seen)?|files/[0-9a-f]{2}/[0-9a-f]{64}|quarantine/[0-9a-f]{64}\.eml)")
    for path in files_under(tmp_path) - before:
        if path.parent == settings.paths.outbox:
            continue
        assert path.is_relative_to(data) and allowed.fullmatch(path.relative_to(data).as_posix()), path
    assert not list(data.rglob("*.docx")) and not (tmp_path / "etc").exists()
    [entry] = log_entries(settings)
    logged = [a.filename for a in entry.attachments]
    # Decoded as sent, control characters gone, nothing else changed (contract: File names).
    assert logged[:5] == HOSTILE_NAMES[:5]
    assert logged[5] == "ab.docx" and logged[6] == "evilBcc: victim@example.net.docx"
    assert all("\n" not in n and "\r" not in n and "\x00" not in n for n in logged if n)
    saved = [a.saved_as for a in entry.attachments if a.saved_as]
    assert saved and all(re.fullmatch(r"files/[0-9a-f]{2}/[0-9a-f]{64}", s) for s in saved)


def test_saved_files_folders_0700_files_0600_store_0600(settings):
    old = os.umask(0o022)  # the usual umask: modes must come from the code, not from luck
    try:
        send(settings, "2026-12-03T10:00", attachments=[report()])
        deliver(settings, at("2026-12-03T10:01"), b"From: " + HEAD[0].encode() + b"\r\nSubject: x\r\n"
                b"Content-Type: application/octet-stream; name=\"x.docx\"\r\n\r\nnot a zip")
        send(settings, "2026-12-03T10:02", attachments=[("坏.docx", rezip(report()[1], {"word/document.xml": b"<w:document"}))])
        poll_once(settings)
        write_tracker_for(settings, forms.date(2026, 12, 8))
    finally:
        os.umask(old)
    data = settings.paths.data
    folders = [data, data / "files", data / "quarantine", settings.paths.outbox, settings.paths.tracker]
    folders += [p for p in (data / "files").iterdir() if p.is_dir()]
    assert all(f.stat().st_mode & 0o777 == 0o700 for f in folders), [(f, oct(f.stat().st_mode)) for f in folders]
    files = [p for p in files_under(data) | files_under(settings.paths.outbox) | files_under(settings.paths.tracker)]
    assert any(p.name == "hrbot.sqlite3" for p in files) and any(p.parent.name == "quarantine" for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files), [(p, oct(p.stat().st_mode)) for p in files]


# --- no mail loops ----------------------------------------------------------------------------


def assert_unanswered(settings, outcome):
    assert [e.outcome for e in log_entries(settings)] == [outcome]
    assert outbox(settings) == []


@pytest.mark.parametrize("headers, subject", [
    ({"Auto-Submitted": "auto-replied"}, "述职报告"),
    ({"Auto-Submitted": "auto-generated"}, "述职报告"),
    ({"X-Autoreply": "yes"}, "述职报告"),
    ({}, "自动回复：述职报告"),
    ({}, "Automatic reply: 述职报告"),
])
def test_loop_auto_reply_is_never_answered(settings, headers, subject):
    send(settings, "2026-12-03T10:00", subject=subject, attachments=[report()], headers=headers)
    poll_once(settings)
    assert_unanswered(settings, "auto_reply")


@pytest.mark.parametrize("sender, headers", [
    (HEAD, {"Return-Path": "<>"}),
    (("MAILER-DAEMON@tengfei.example", "Mail Delivery System"), {}),
    (("postmaster@tengfei.example", ""), {}),
])
def test_loop_bounce_is_never_answered(settings, sender, headers):
    send(settings, "2026-12-03T10:00", subject="Undelivered Mail Returned to Sender", attachments=[report()],
         sender=sender, headers=headers)
    poll_once(settings)
    assert_unanswered(settings, "bounce")


def test_loop_multipart_report_bounce_is_never_answered(settings):
    raw = (b"From: " + HEAD[0].encode() + b"\r\nTo: hr@tengfei.example\r\nSubject: delivery\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
           b"Action: failed\r\n--b--\r\n")
    deliver(settings, at("2026-12-03T10:00"), raw)
    poll_once(settings)
    assert_unanswered(settings, "bounce")


@pytest.mark.parametrize("headers", [
    {"List-Id": "<cadres.tengfei.example>"},
    {"List-Unsubscribe": "<mailto:leave@lists.tengfei.example>"},
    {"Precedence": "list"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
])
def test_loop_mailing_list_is_never_answered(settings, headers):
    send(settings, "2026-12-03T10:00", attachments=[report()], headers=headers)
    poll_once(settings)
    assert_unanswered(settings, "auto_reply")


def test_loop_mail_from_the_hr_address_itself_is_own_mail(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()], sender=(HR.upper(), "人力资源科"))
    poll_once(settings)
    assert_unanswered(settings, "own_mail")


def test_loop_our_own_mail_coming_back_from_another_address_is_own_mail(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()])
    poll_once(settings)
    [confirmation] = settings.paths.outbox.glob("*.eml")
    # A forwarding rule or a misconfigured client sends it back from a roster address, Auto-Submitted stripped.
    came_back = email.message_from_bytes(confirmation.read_bytes(), policy=policy.SMTP)
    came_back.replace_header("From", HEAD[0])
    came_back.replace_header("Message-ID", "<came-back@tengfei.example>")
    del came_back["Auto-Submitted"], came_back["X-Auto-Response-Suppress"]
    deliver(settings, at("2026-12-03T11:00"), came_back.as_bytes())
    poll_once(settings)
    assert [e.outcome for e in log_entries(settings)] == ["accepted", "own_mail"]
    assert log_entries(settings)[1].from_addr == HEAD[0]
    assert len(outbox(settings)) == 1


def test_loop_sender_answered_n_times_today_gets_no_more_confirmations(settings):
    settings = settings._replace(sending=settings.sending._replace(max_replies_per_sender_per_day=2))
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    people = [("王珺", "副职"), ("刘洋", "科级干部"), ("张海燕", "党支部书记")]
    for i, person in enumerate(people):
        when = now - timedelta(seconds=len(people) - i)
        raw = build_message(*HEAD, HR, f"述职报告{i}", "请查收", [report(*person)], sent=when)
        deliver(settings, when, raw)
    poll_once(settings)
    assert [e.outcome for e in log_entries(settings)] == ["accepted"] * 3  # all recorded
    assert len(outbox(settings)) == 2  # but answered only twice today


# --- spoofing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("from_header", [
    "lijianguo@tengfei.example <evil@example.net>",
    '"lijianguo@tengfei.example" <evil@example.net>',
    "=?utf-8?b?bGlqaWFuZ3VvQHRlbmdmZWkuZXhhbXBsZQ==?= <evil@example.net>",
    '"李建国 <lijianguo@tengfei.example>" <evil@example.net>',
])
def test_spoof_display_name_that_looks_like_a_roster_address_identifies_nobody(settings, from_header):
    raw = build_message("placeholder@x.example", "", HR, "述职报告", "请查收", [report()])
    raw = raw.replace(b"From: placeholder@x.example", b"From: " + from_header.encode())
    deliver(settings, at("2026-12-03T10:00"), raw)
    poll_once(settings)
    [entry] = log_entries(settings)
    assert (entry.outcome, entry.from_addr) == ("unknown_sender", "evil@example.net")
    assert outbox(settings) == []


def test_spoof_reply_to_and_sender_never_redirect_a_confirmation(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()],
         headers={"Reply-To": "thief@example.net", "Sender": "other@example.net",
                  "Disposition-Notification-To": "thief@example.net"})
    poll_once(settings)
    [reply] = outbox(settings)
    assert reply["To"] == HEAD[0] and reply["Cc"] is None and reply["Bcc"] is None
    with Store.open(settings.paths.data) as store:
        [row] = store.outbox()
    assert row.recipients == (HEAD[0],)


def test_spoof_sender_header_with_a_roster_address_identifies_nobody(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()], sender=("evil@example.net", "李建国"),
         headers={"Sender": HEAD[0], "Reply-To": HEAD[0]})
    poll_once(settings)
    assert_unanswered(settings, "unknown_sender")


@pytest.mark.parametrize("results", [
    "mx.tengfei.example; spf=pass smtp.mailfrom=tengfei.example; dmarc=fail (p=NONE) header.from=tengfei.example",
    "mx.tengfei.example; spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=lijianguo@tengfei.example",
    "mx.tengfei.example; dmarc=fail",
])
def test_spoof_failed_authentication_for_the_roster_domain_is_rejected(settings, results):
    send(settings, "2026-12-03T10:00", attachments=[report()], headers={"Authentication-Results": results})
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == "rejected" and entry.reason.startswith("发件人身份未通过验证")
    assert outbox(settings) == []


def test_spoof_failure_about_another_domain_is_not_the_senders(settings):
    # A forwarder's envelope fails SPF for its own domain; the roster domain's DMARC passed.
    results = ("mx.tengfei.example; spf=fail smtp.mailfrom=bounces@lists.example.org;"
               " dkim=pass header.d=tengfei.example; dmarc=pass header.from=tengfei.example")
    send(settings, "2026-12-03T10:00", attachments=[report()], headers={"Authentication-Results": results})
    poll_once(settings)
    assert [e.outcome for e in log_entries(settings)] == ["accepted"]


def test_spoof_check_relaxed_by_setting(settings):
    relaxed = settings._replace(require_authentication=False)
    send(settings, "2026-12-03T10:00", attachments=[report()],
         headers={"Authentication-Results": "mx; dmarc=fail header.from=tengfei.example"})
    poll_once(relaxed)
    assert [e.outcome for e in log_entries(settings)] == ["accepted"]


def test_spoof_failed_authentication_of_a_stranger_is_just_unknown(settings):
    send(settings, "2026-12-03T10:00", attachments=[report()], sender=("someone@example.net", ""),
         headers={"Authentication-Results": "mx; dmarc=fail header.from=example.net"})
    poll_once(settings)
    assert_unanswered(settings, "unknown_sender")


# --- secrets ----------------------------------------------------------------------------------

SECRET = "Hrbot-S3cret-Pa55word-7f3a9c"


def test_secrets_never_reach_logs_store_outbox_or_tracker(config_dir):
    settings_file = config_dir / "settings.toml"
    text = settings_file.read_text(encoding="utf-8")
    settings_file.write_text(text.replace('path = "mail/inbox"', 'path = "mail/inbox"\npassword_env = "HRBOT_IMAP_PASSWORD"', 1),
                             encoding="utf-8")
    from bot.settings import load

    settings = load(config_dir)
    send(settings, "2026-12-03T10:00", attachments=[report()])
    send(settings, "2026-12-03T10:01", attachments=[("坏.docx", rezip(report()[1], {"word/document.xml": b"<w:x"}))])
    send(settings, "2026-12-03T10:02", attachments=[report()], sender=("stranger@example.net", ""))
    env = {**os.environ, "HRBOT_IMAP_PASSWORD": SECRET, "HRBOT_SMTP_PASSWORD": SECRET}
    output = ""
    for command in (["poll", "--once"], ["tracker", "--as-of", "2026-12-08"], ["log", "--json"],
                    ["status", "--json"], ["send"]):
        done = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config_dir), "--debug", *command],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        output += done.stdout + done.stderr
    assert "rejected" in output and "accepted" in output  # the commands did run
    assert SECRET not in output
    for path in files_under(config_dir):
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                assert all(SECRET.encode() not in zf.read(n) for n in zf.namelist()), path


# --- parser failures --------------------------------------------------------------------------


def test_parser_failure_malformed_docx_is_rejected_quarantined_and_the_poll_goes_on(settings):
    broken = rezip(report()[1], {"word/document.xml": b"<?xml version='1.0'?><w:document><w:body><w:p>"})
    raw = send(settings, "2026-12-03T10:00", attachments=[("王珺个人述职报告.docx", broken)])
    send(settings, "2026-12-03T10:05", attachments=[report("刘洋", "科级干部")])
    poll_once(settings)
    bad, good = log_entries(settings)
    assert bad.outcome == "rejected" and "文件已损坏" in bad.reason and "\n" not in bad.reason
    assert good.outcome == "accepted"
    [kept] = (settings.paths.data / "quarantine").iterdir()
    assert kept.read_bytes() == raw and kept.stat().st_mode & 0o777 == 0o600
    assert len(outbox(settings)) == 1


def test_parser_failure_unforeseen_exception_is_one_line_and_the_poll_goes_on(settings, monkeypatch):
    from parsers import recognise

    real = recognise.recognise

    def crashing(part, mail, *args):
        if "崩溃" in mail.subject:
            raise RuntimeError("unexpected state\n  in line 2\tof the parser")
        return real(part, mail, *args)

    monkeypatch.setattr(recognise, "recognise", crashing)
    raw = send(settings, "2026-12-03T10:00", subject="崩溃", attachments=[report()])
    send(settings, "2026-12-03T10:05", attachments=[report("刘洋", "科级干部")])
    poll_once(settings)
    bad, good = log_entries(settings)
    assert bad.outcome == "rejected" and "unexpected state in line 2 of the parser" in bad.reason
    assert good.outcome == "accepted"
    assert any(p.read_bytes() == raw for p in (settings.paths.data / "quarantine").iterdir())


def test_parser_failure_in_a_handler_is_rejected_and_the_poll_goes_on(settings, monkeypatch):
    from parsers import meeting_request

    real = meeting_request.find_meeting_request

    def crashing(mail, *args):
        if "崩溃" in mail.subject:
            raise KeyError("no such unit")
        return real(mail, *args)

    monkeypatch.setattr(meeting_request, "find_meeting_request", crashing)
    send(settings, "2026-12-03T10:00", subject="崩溃", attachments=[report()])
    send(settings, "2026-12-03T10:05", attachments=[report("刘洋", "科级干部")])
    poll_once(settings)
    bad, good = log_entries(settings)
    assert (bad.outcome, bad.reason) == ("rejected", "处理时出错：'no such unit'")
    assert good.outcome == "accepted"
    assert len(outbox(settings)) == 1
