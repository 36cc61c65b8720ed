"""One test per format, on real files made in the test: .doc, .wps, PDF, .xlsx, zip, forwarded mail, .msg, winmail.dat."""

from __future__ import annotations

import email.message
import io
import shutil
import struct
import subprocess
import time
import zipfile
from email.policy import SMTP

import openpyxl
import pytest
from conftest import at, deliver
from pypdf import PdfReader, PdfWriter

from bot.intake import extract
from bot.intake.decode import decode
from bot.intake.unpack import ContainerRefused, Listed, expand, unpack
from bot.records import ACCEPTED, IGNORED, REJECTED, Mail, Part, Recognition
from bot.season.items import PERSONAL_REPORT, UNION_REVIEW
from bot.season.roster import load_roster
from bot.settings import EXAMPLE_CONFIG, Limits
from parsers import convert
from parsers.recognise import recognise
from parsers.forms import fill_personal_report
from parsers.pdf import SCANNED_WARNING

ROSTER = load_roster(EXAMPLE_CONFIG)
HEAD = ROSTER.by_email("lijianguo@tengfei.example")  # 合成车间 主要领导
CHAIR = ROSTER.by_email("chenjing@tengfei.example")  # 合成车间 分会主席
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SOFFICE = convert.soffice()
needs_soffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed (apt-get install libreoffice-writer-nogui)")


def _recognise(data: bytes, filename: str | None, sender=HEAD, subject: str = "材料", ctype: str = "") -> Recognition:
    mail = Mail("<m@x>", sender.email, sender.name, subject, "", [], email.message.Message(), "0")
    return recognise(Part(filename, ctype or "application/octet-stream", data), mail, sender, ROSTER, 2026)


def _only(result: Recognition) -> tuple[str, str, str | None]:
    assert result.outcome == ACCEPTED, result.reason
    [document] = result.documents
    return document.item, document.unit, document.person


def _report() -> bytes:
    return fill_personal_report("合成车间", "王珺", "副职")


def _soffice(data: bytes, suffix: str, target: str, folder) -> bytes:
    """Convert with LibreOffice the way a user's "Save as" would, in a profile of its own."""
    source = folder / f"made{suffix}"
    source.write_bytes(data)
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                    "--convert-to", target, "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=180)
    return (folder / f"made.{target}").read_bytes()


@pytest.fixture(scope="module")
def legacy_doc(tmp_path_factory) -> bytes:
    if SOFFICE is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-writer-nogui)")
    return _soffice(_report(), ".docx", "doc", tmp_path_factory.mktemp("doc"))


# --- .doc / .wps --------------------------------------------------------------------


@needs_soffice
def test_doc_made_by_libreoffice_is_the_personal_report(legacy_doc):
    assert legacy_doc[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    assert _only(_recognise(legacy_doc, "王珺述职报告.doc", ctype="application/msword")) == (
        PERSONAL_REPORT, "合成车间", "王珺")


@needs_soffice
def test_doc_named_docx_is_read_by_its_bytes(legacy_doc):
    assert _only(_recognise(legacy_doc, "王珺述职报告.docx", ctype=DOCX_TYPE)) == (PERSONAL_REPORT, "合成车间", "王珺")


def test_docx_named_doc_is_read_by_its_bytes():
    assert _only(_recognise(_report(), "王珺述职报告.doc", ctype="application/msword")) == (
        PERSONAL_REPORT, "合成车间", "王珺")


@needs_soffice
def test_wps_is_converted_like_a_doc(legacy_doc):
    # Kingsoft WPS 文字 saves .wps as a Word 97-2003 compound file; LibreOffice cannot write one,
    # so the .doc stands in for it under the .wps name.
    assert _only(_recognise(legacy_doc, "王珺述职报告.wps", ctype="application/kswps")) == (
        PERSONAL_REPORT, "合成车间", "王珺")


@needs_soffice
def test_doc_without_libreoffice_is_read_as_antiword_text(legacy_doc, monkeypatch):
    if not (shutil.which("antiword") or shutil.which("catdoc")):
        pytest.skip("neither antiword nor catdoc is installed")
    monkeypatch.setattr(convert, "soffice", lambda: None)
    assert _only(_recognise(legacy_doc, "附件.doc")) == (PERSONAL_REPORT, "合成车间", "王珺")


def test_doc_nothing_can_read_is_rejected(monkeypatch):
    monkeypatch.setattr(convert, "soffice", lambda: None)
    monkeypatch.setattr(convert, "legacy_text", lambda data: None)
    fake = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100 + "WordDocument".encode("utf-16-le")
    result = _recognise(fake, "王珺述职报告.doc")
    assert result.outcome == REJECTED and "另存为 .docx" in result.reason


def test_conversion_timeout_kills_the_whole_process_group(tmp_path, monkeypatch):
    # A stand-in for a hung soffice that, like the real one, leaves a helper process behind.
    pid_file = tmp_path / "helper.pid"
    fake = tmp_path / "soffice"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nsleep 300\n")
    fake.chmod(0o755)
    monkeypatch.setattr(convert, "soffice", lambda: str(fake))
    started = time.monotonic()
    with pytest.raises(convert.ConversionFailed, match="timed out"):
        convert.to_docx(b"x", ".doc", timeout=1)
    assert time.monotonic() - started < 10
    helper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- PDF ---------------------------------------------------------------------------


@needs_soffice
def test_pdf_with_text_is_recognised(tmp_path):
    data = _soffice(_report(), ".docx", "pdf", tmp_path)
    if "述职报告" not in PdfReader(io.BytesIO(data)).pages[0].extract_text():
        pytest.skip("LibreOffice has no Chinese font to write the PDF with (apt-get install fonts-wqy-microhei)")
    result = _recognise(data, "附件.pdf", ctype="application/pdf")
    assert _only(result) == (PERSONAL_REPORT, "合成车间", "王珺")
    assert SCANNED_WARNING not in result.documents[0].warnings


def _blank_pdf(password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)  # a scan is an image: no text to extract, as here
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_scanned_pdf_is_accepted_by_its_file_name_with_a_warning():
    result = _recognise(_blank_pdf(), "王珺述职报告.pdf", ctype="application/pdf")
    assert _only(result) == (PERSONAL_REPORT, "合成车间", "王珺")
    assert result.documents[0].warnings == (SCANNED_WARNING,)


def test_scanned_pdf_named_by_nothing_is_held_for_hr():
    result = _recognise(_blank_pdf(), "scan0001.pdf", subject="你好")
    assert result.outcome == IGNORED and result.held and "扫描件" in result.reason
    assert result.reason.startswith("待人力资源科确认：") and result.unit == "合成车间"


def test_pdf_with_open_password_is_rejected():
    result = _recognise(_blank_pdf("secret"), "王珺述职报告.pdf")
    assert result.outcome == REJECTED and "密码" in result.reason


# --- .xlsx --------------------------------------------------------------------------


def test_union_review_sent_as_a_sheet():
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["民主评议考核表"], ["单位", "合成车间", "日期", "2026-12-15"], ["评议人", "陈静", "评议人职务", "分会主席"],
                ["评议类型", "民主评议意见"], ["被评议人", "职务", "评价意见"],
                ["领导班子", None, "班子团结务实，完成了全年任务。"], ["李建国", "主要领导", "工作扎实，作风民主。"]):
        sheet.append(row)
    sheet.merge_cells("A1:D1")
    buffer = io.BytesIO()
    book.save(buffer)
    assert _only(_recognise(buffer.getvalue(), "民主评议.xlsx", sender=CHAIR)) == (UNION_REVIEW, "合成车间", None)


# --- zip ----------------------------------------------------------------------------


class _GbkName(zipfile.ZipInfo):
    """A member named as Windows' compressed folders and WinRAR name it: GBK bytes, the UTF-8 flag unset.

    zipfile resets flag_bits when it writes, so the flags are set here, where both headers get them.
    """

    encrypted = False

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own name
        # The encryption flag is what a zip tool sets; the bytes need not be real ciphertext for the test.
        return self.filename.encode("gb18030"), (self.flag_bits & ~0x800) | int(self.encrypted)


def _zip(members, encrypted: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            info = _GbkName(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.encrypted = encrypted
            zf.writestr(info, data)
    return buffer.getvalue()


def _names(listed: list[Listed]) -> list[tuple[str | None, bool, str]]:
    return [(item.part.filename, item.unpacked, item.refused) for item in listed]


def test_zip_with_gbk_names_and_no_utf8_flag():
    data = _zip([("材料/", b""), ("材料/王珺述职报告.docx", _report())])
    assert all(info.flag_bits & 0x800 == 0 for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    listed = expand(Part("材料.zip", "application/zip", data), Limits())
    assert _names(listed) == [("材料.zip", True, ""), ("材料.zip/材料/王珺述职报告.docx", False, "")]
    assert _only(_recognise(listed[1].part.data, listed[1].part.filename)) == (PERSONAL_REPORT, "合成车间", "王珺")


def test_zip_with_utf8_names_and_no_flag():
    # macOS Archive Utility and Info-ZIP on Linux write UTF-8 without setting the flag.
    class Utf8NoFlag(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):  # noqa: N802
            return self.filename.encode("utf-8"), self.flag_bits & ~0x800

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(Utf8NoFlag("王珺述职报告.docx"), _report())
        zf.writestr(Utf8NoFlag("__MACOSX/._王珺述职报告.docx"), b"\x00\x05\x16\x07")
    assert [p.filename for p in unpack(Part("a.zip", "application/zip", buffer.getvalue()), Limits())] == [
        "a.zip/王珺述职报告.docx"]


def test_nested_zip_is_opened_one_level_deep():
    inner = _zip([("王珺述职报告.docx", _report())])
    listed = expand(Part("外.zip", "application/zip", _zip([("内.zip", inner)])), Limits())
    assert _names(listed) == [("外.zip", True, ""), ("外.zip/内.zip", True, ""),
                              ("外.zip/内.zip/王珺述职报告.docx", False, "")]


def test_zip_nested_two_levels_is_not_opened():
    innermost = _zip([("王珺述职报告.docx", _report())])
    data = _zip([("二.zip", _zip([("三.zip", innermost)]))])
    listed = expand(Part("一.zip", "application/zip", data), Limits())
    assert [n for n, _, _ in _names(listed)] == ["一.zip", "一.zip/二.zip", "一.zip/二.zip/三.zip"]
    assert "嵌套" in listed[-1].refused


def test_zip_over_member_limit_is_refused_with_the_limit():
    data = _zip([(f"{n}.txt", b"x") for n in range(5)])
    [listed] = expand(Part("多.zip", "application/zip", data), Limits(archive_members=4))
    assert listed.refused == "压缩包内含 5 个文件，超过上限 4 个"


def test_zip_over_total_limit_is_refused_before_inflating():
    data = _zip([("a.bin", b"\x00" * 600_000), ("b.bin", b"\x00" * 600_000)])
    with pytest.raises(ContainerRefused, match="超过上限 1 MB"):
        unpack(Part("大.zip", "application/zip", data), Limits(archive_total_bytes=1024 * 1024))


def test_zip_member_over_attachment_limit_is_refused():
    data = _zip([("炸弹.docx", b"\x00" * 3_000_000)])
    assert len(data) < 20_000
    with pytest.raises(ContainerRefused, match="炸弹.docx 解压后 2.9 MB，超过单个附件上限 2 MB"):
        unpack(Part("a.zip", "application/zip", data), Limits(attachment_bytes=2 * 1024 * 1024))


def test_zip_shared_budget_covers_the_nested_archive():
    inner = _zip([(f"{n}.txt", b"x") for n in range(3)])
    listed = expand(Part("外.zip", "application/zip", _zip([("内.zip", inner), ("a.txt", b"y")])),
                    Limits(archive_members=4))
    assert "超过上限 4 个" in listed[1].refused  # 2 outer + 3 inner members


def test_encrypted_zip_is_refused_with_a_reason():
    data = _zip([("王珺述职报告.docx", _report())], encrypted=True)
    with pytest.raises(ContainerRefused, match="设有密码"):
        unpack(Part("加密.zip", "application/zip", data), Limits())


def test_damaged_zip_is_refused():
    data = _zip([("王珺述职报告.docx", _report())])
    [listed] = expand(Part("坏.zip", "application/zip", data[:200] + data[-22:]), Limits())
    assert "损坏" in listed.refused


def test_rar_is_rejected_with_advice():
    result = _recognise(b"Rar!\x1a\x07\x01\x00" + b"\x00" * 50, "材料.rar")
    assert result.outcome == REJECTED and "ZIP" in result.reason


# --- forwarded mail -----------------------------------------------------------------


def _inner_message(subject: str = "王珺个人述职报告") -> email.message.EmailMessage:
    inner = email.message.EmailMessage()
    inner["From"] = "王珺 <wangjun@tengfei.example>"
    inner["To"] = "lijianguo@tengfei.example"
    inner["Subject"] = subject
    inner.set_content("李主任：我的述职报告见附件。")
    inner.add_attachment(_report(), maintype="application", subtype="vnd.openxmlformats-officedocument."
                         "wordprocessingml.document", filename="王珺述职报告.docx")
    return inner


def _forward(attachment) -> bytes:
    outer = email.message.EmailMessage()
    outer["From"] = "李建国 <lijianguo@tengfei.example>"
    outer["To"] = "hr@tengfei.example"
    outer["Subject"] = "转发：王珺个人述职报告"
    outer["Message-ID"] = "<fwd@tengfei.example>"
    outer.set_content("请查收王珺的述职报告。")
    if isinstance(attachment, email.message.EmailMessage):
        outer.add_attachment(attachment)  # message/rfc822 with no file name, as Outlook forwards
    else:
        outer.add_attachment(attachment[1], maintype="application", subtype="octet-stream", filename=attachment[0])
    return outer.as_bytes(policy=SMTP)


def _listing(raw: bytes) -> list[tuple[str | None, str, str, str | None]]:
    """What extract.documents() lists for a roster member's mail once unpack is wired in."""
    mail = decode(raw)
    sender = ROSTER.by_email(mail.from_addr)
    rows = []
    for top in mail.parts:
        for item in expand(top, Limits()):
            if item.unpacked:
                rows.append((item.part.filename, IGNORED, "unpacked", None))
            elif item.refused:
                rows.append((item.part.filename, REJECTED, item.refused, None))
            else:
                got = recognise(item.part, mail, sender, ROSTER, 2026)
                rows.append((item.part.filename, got.outcome, got.reason,
                             got.documents[0].person if got.documents else None))
    return rows


def test_forwarded_rfc822_counts_its_attachment_for_the_outer_sender():
    assert _listing(_forward(_inner_message())) == [
        ("王珺个人述职报告.eml", IGNORED, "unpacked", None),
        ("王珺个人述职报告.eml/王珺述职报告.docx", ACCEPTED, "", "王珺"),
    ]


def test_eml_file_sent_as_octet_stream_is_opened():
    raw = _forward(("转发的邮件.eml", _inner_message().as_bytes(policy=SMTP)))
    assert [row[:2] for row in _listing(raw)] == [("转发的邮件.eml", IGNORED),
                                                  ("转发的邮件.eml/王珺述职报告.docx", ACCEPTED)]


def _msg_file(attachments: list[tuple[str, bytes]], subject: str = "王珺述职报告") -> bytes:
    """A minimal Outlook .msg (MS-OXMSG): the compound file written by extract_msg's own OleWriter."""
    from extract_msg.ole_writer import OleWriter

    def unicode(text: str) -> bytes:
        return text.encode("utf-16-le")

    writer = OleWriter()
    # Top-level property stream header: reserved, next recipient/attachment ids, counts, reserved.
    writer.addEntry("__properties_version1.0", bytes(8) + struct.pack("<IIII", 0, len(attachments), 0,
                                                                           len(attachments)) + bytes(8))
    writer.addEntry("__substg1.0_001A001F", unicode("IPM.Note"))  # PidTagMessageClass
    writer.addEntry("__substg1.0_0037001F", unicode(subject))  # PidTagSubject
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    for n, (name, data) in enumerate(attachments):
        folder = f"__attach_version1.0_#{n:08X}"
        writer.addEntry(folder, storage=True)
        # PidTagAttachMethod (0x3705, PT_LONG) = ATTACH_BY_VALUE
        writer.addEntry(f"{folder}/__properties_version1.0", bytes(8) + struct.pack("<IIQ", 0x37050003, 6, 1))
        writer.addEntry(f"{folder}/__substg1.0_3707001F", unicode(name))  # PidTagAttachLongFilename
        writer.addEntry(f"{folder}/__substg1.0_37010102", data)  # PidTagAttachDataBinary
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_outlook_msg_attachment_counts():
    raw = _forward(("王珺述职报告.msg", _msg_file([("王珺述职报告.docx", _report())])))
    assert _listing(raw) == [("王珺述职报告.msg", IGNORED, "unpacked", None),
                             ("王珺述职报告.msg/王珺述职报告.docx", ACCEPTED, "", "王珺")]


def _tnef_attribute(level: int, attribute: int, kind: int, data: bytes) -> bytes:
    """One TNEF attribute (MS-OXTNEF 2.1.3): level, id, type, length, data, 16-bit byte-sum checksum."""
    return struct.pack("<BHHI", level, attribute, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _winmail_dat(name: str, data: bytes) -> bytes:
    """winmail.dat as Outlook writes it for a Chinese sender: the attachment title in code page 936."""
    stream = struct.pack("<IH", 0x223E9F78, 0x0001)  # signature, legacy key
    stream += _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    stream += _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 936, 0))  # attOemCodepage
    stream += _tnef_attribute(2, 0x9002, 0x0006, bytes(14))  # attAttachRendData opens an attachment
    stream += _tnef_attribute(2, 0x8010, 0x0001, name.encode("gbk") + b"\x00")  # attAttachTitle
    stream += _tnef_attribute(2, 0x800F, 0x0006, data)  # attAttachData
    return stream


def test_winmail_dat_attachment_counts():
    raw = _forward(("winmail.dat", _winmail_dat("王珺述职报告.docx", _report())))
    assert _listing(raw) == [("winmail.dat", IGNORED, "unpacked", None),
                             ("winmail.dat/王珺述职报告.docx", ACCEPTED, "", "王珺")]


def test_damaged_winmail_dat_is_refused():
    # Attachment data with no attachment opened before it, and a length past the end.
    data = struct.pack("<IH", 0x223E9F78, 1) + struct.pack("<BHHI", 2, 0x800F, 6, 0x7FFFFFFF) + b"x" * 20
    [listed] = expand(Part("winmail.dat", "application/ms-tnef", data), Limits())
    assert listed.refused == "winmail.dat 已损坏，无法打开"


# --- end to end, once extract.documents() calls unpack ------------------------------


@pytest.mark.skipif("unpack" not in vars(extract), reason="extract.documents() does not call bot.intake.unpack yet")
def test_pipeline_lists_the_container_then_its_parts(settings):
    from bot.poll import poll_once
    from bot.reports.views import log_entries

    data = _zip([("王珺述职报告.docx", _report())])
    raw = _forward(("材料.zip", data))
    deliver(settings, at("2026-12-03T10:00"), raw)
    poll_once(settings)
    [entry] = log_entries(settings)
    assert entry.outcome == ACCEPTED
    assert [(a.filename, a.outcome, a.reason, a.person) for a in entry.attachments] == [
        ("材料.zip", IGNORED, "unpacked", None), ("材料.zip/王珺述职报告.docx", ACCEPTED, "", "王珺")]
