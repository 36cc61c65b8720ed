"""parsers.recognise: which document an attachment is, whose, for which unit — on real .docx bytes."""

from __future__ import annotations

import email.message
import io
import zipfile

import docx
import opencc
import pytest

from bot.records import (
    ACCEPTED,
    CADRE,
    DEPUTY,
    DEPUTY_SECRETARY,
    HEAD,
    IGNORED,
    REJECTED,
    SECOND_LINE,
    SECRETARY,
    UNION_CHAIR,
    Mail,
    Part,
    Person,
    Recognition,
    Roster,
    Unit,
)
from bot.season.items import LEADER_REVIEW, MEETING_REQUEST, PERSONAL_REPORT, TEAM_REPORT, UNION_REVIEW
from parsers.recognise import recognise
from parsers.forms import fill_personal_report, fill_review, fill_team_report

PEOPLE = (
    Person("合成车间", "李建国", HEAD, "lijianguo@tengfei.example"),
    Person("合成车间", "刘芳", SECRETARY, "liufang@tengfei.example"),
    Person("合成车间", "王珺", DEPUTY, "wangjun@tengfei.example"),
    Person("合成车间", "孙强", CADRE, "sunqiang@tengfei.example"),
    Person("合成车间", "周涛", SECOND_LINE, "zhoutao@tengfei.example"),
    Person("合成车间", "赵敏", UNION_CHAIR, "zhaomin@tengfei.example"),
    Person("生产技术科", "陈静", HEAD, "chenjing@tengfei.example"),
    Person("生产技术科", "黄磊", DEPUTY_SECRETARY, "huanglei@tengfei.example"),
    Person("机修车间", "张伟", HEAD, "zhangwei@tengfei.example"),
)
ROSTER = Roster(
    {
        "合成车间": Unit("合成车间", "车间", 120, None),
        "生产技术科": Unit("生产技术科", "科室", 18, None),
        "机修车间": Unit("机修车间", "车间", 60, None),
    },
    PEOPLE,
)
HEAD_OF_SYNTHESIS, SECRETARY_OF_SYNTHESIS = PEOPLE[0], PEOPLE[1]
CHEN_JING = PEOPLE[6]


def _recognise(
    data: bytes, filename: str | None = "附件.docx", sender: Person = HEAD_OF_SYNTHESIS, subject: str = ""
) -> Recognition:
    mail = Mail("<m@x>", sender.email, sender.name, subject, "", [], email.message.Message(), "0")
    # A generic declared type, as many clients send: the bytes, not the type, must decide.
    return recognise(Part(filename, "application/octet-stream", data), mail, sender, ROSTER, 2026)


def _only(result: Recognition) -> tuple[str, str, str | None]:
    assert result.outcome == ACCEPTED, result.reason
    assert len(result.documents) == 1
    document = result.documents[0]
    return document.item, document.unit, document.person


def _to_traditional(data: bytes) -> bytes:
    """The same document written in Traditional characters, as a user in Taiwan or Hong Kong would."""
    s2t = opencc.OpenCC("s2t")
    document = docx.Document(io.BytesIO(data))
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        paragraphs += [p for cell in table._cells for p in cell.paragraphs]
    for paragraph in paragraphs:
        for run in paragraph.runs:
            run.text = s2t.convert(run.text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _free_form(*lines: str) -> bytes:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_recognise_personal_report_form() -> None:
    result = _recognise(fill_personal_report("合成车间", "王珺", "副主任"))
    assert _only(result) == (PERSONAL_REPORT, "合成车间", "王珺")
    assert result.documents[0].warnings == ()


def test_recognise_personal_report_traditional_script_matches_simplified_roster() -> None:
    data = _to_traditional(fill_personal_report("生产技术科", "陈静", "科长"))
    assert "陳靜" in docx.Document(io.BytesIO(data)).tables[0].cell(0, 3).text
    assert "科級幹部個人述職報告" in docx.Document(io.BytesIO(data)).paragraphs[1].text
    result = _recognise(data, "陳靜述職報告.docx", sender=CHEN_JING)
    assert _only(result) == (PERSONAL_REPORT, "生产技术科", "陈静")
    assert result.documents[0].warnings == ()


def test_recognise_free_form_report_in_traditional_script() -> None:
    data = _free_form(
        "2026年度個人述職報告",
        "生產技術科 陳靜",
        "一、職務、職責及年度KPI目標",
        "本人任生產技術科科長，分管工藝技術。",
        "二、KPI目標完成情況及採取的主要措施",
        "全年指標預計全部完成。",
        "三、存在的主要問題和教訓",
        "對基層調研不夠。",
        "四、今後努力的方向及工作打算",
        "加強學習，改進作風。",
    )
    result = _recognise(data, "述職報告.docx", sender=CHEN_JING)
    assert _only(result) == (PERSONAL_REPORT, "生产技术科", "陈静")
    assert result.documents[0].warnings == ()


def test_recognise_personal_report_missing_part_three_warns() -> None:
    data = fill_personal_report("合成车间", "王珺", "副主任", {1: None, 2: None, 4: None})
    result = _recognise(data)
    assert _only(result) == (PERSONAL_REPORT, "合成车间", "王珺")
    assert result.documents[0].warnings == ("个人述职报告缺少第三部分（存在的主要问题和教训）",)


def test_recognise_personal_report_empty_part_warns() -> None:
    data = fill_personal_report("合成车间", "王珺", "副主任", {1: None, 2: None, 3: "", 4: None})
    assert _recognise(data).documents[0].warnings == ("个人述职报告第三部分（存在的主要问题和教训）没有填写内容",)


def test_recognise_name_from_file_name_when_content_lacks_it() -> None:
    data = _free_form("述职报告", "一、职务职责", "本人分管设备工作。", "二、主要工作完成情况", "完成了大修。",
                      "三、存在的问题", "培训不够。", "四、明年工作打算", "抓好培训。")
    assert _only(_recognise(data, "王珺述职报告.docx")) == (PERSONAL_REPORT, "合成车间", "王珺")


def test_recognise_name_falls_back_to_sender() -> None:
    data = fill_personal_report("合成车间", "", "科员")
    sender = PEOPLE[3]
    assert _only(_recognise(data, "附件2 科级干部个人述职报告.docx", sender=sender)) == (PERSONAL_REPORT, "合成车间", "孙强")


def test_recognise_unknown_name_held_for_hr() -> None:
    result = _recognise(fill_personal_report("合成车间", "张三", "副主任"))
    assert (result.outcome, result.held) == (IGNORED, True)
    assert result.reason == "待人力资源科确认：报告中的姓名“张三”不在合成车间的名单中"
    assert (result.item, result.unit, result.person) == (PERSONAL_REPORT, "合成车间", None)


def test_recognise_unknown_name_from_file_name_held_for_hr() -> None:
    data = _free_form("述职报告", "今年的工作如下。")
    result = _recognise(data, "张三述职报告.docx")
    assert (result.outcome, result.held) == (IGNORED, True)
    assert result.reason == "待人力资源科确认：报告中的姓名“张三”不在合成车间的名单中"


def test_recognise_other_unit_named_and_person_belongs_there() -> None:
    data = fill_personal_report("机修车间", "张伟", "主任")
    assert _only(_recognise(data)) == (PERSONAL_REPORT, "机修车间", "张伟")


def test_recognise_other_unit_named_but_person_is_senders() -> None:
    result = _recognise(fill_personal_report("机修车间", "王珺", "副主任"))
    assert _only(result) == (PERSONAL_REPORT, "合成车间", "王珺")
    assert "机修车间" in result.documents[0].warnings[0]


def test_recognise_team_report_other_unit_without_its_reporter_warns() -> None:
    result = _recognise(fill_team_report("机修车间", "李建国"))
    assert _only(result) == (TEAM_REPORT, "合成车间", None)
    assert result.documents[0].warnings == ("文件中写的单位是“机修车间”，与发件人所在的合成车间不一致，已按合成车间登记",)


def test_recognise_secretary_unlabeled_review_is_review_of_head() -> None:
    data = fill_review("合成车间", "", "", "", "", kind="", opinion="该同志能团结班子成员，工作有魄力。")
    assert _only(_recognise(data, "评价意见.docx", sender=SECRETARY_OF_SYNTHESIS)) == (LEADER_REVIEW, "合成车间", "李建国")


def test_recognise_review_of_non_team_member_held_for_hr() -> None:
    result = _recognise(fill_review("合成车间", "孙强", "工艺员", "李建国", "主任"))
    assert (result.outcome, result.held, result.item, result.person) == (IGNORED, True, LEADER_REVIEW, "孙强")
    assert "不是合成车间的班子成员" in result.reason


def test_recognise_review_of_head_by_head_warns() -> None:
    result = _recognise(fill_review("合成车间", "李建国", "主任", "李建国", "主任"))
    assert _only(result) == (LEADER_REVIEW, "合成车间", "李建国")
    assert result.documents[0].warnings == ("按方案，主要领导的评价意见应由党支部书记撰写，本表评议人为李建国",)


def test_recognise_free_form_union_review_by_chair() -> None:
    data = _free_form("民主评议意见", "车间班子：团结务实。", "李建国：工作扎实。", "王珺：作风正派。", "评议人：赵敏")
    assert _only(_recognise(data, "民主评议.docx", sender=PEOPLE[5])) == (UNION_REVIEW, "合成车间", None)


def test_recognise_meeting_request_document() -> None:
    data = _free_form("关于申请召开述职大会的请示", "人力资源科：", "我车间拟于2026年12月10日（星期四）下午召开述职大会，请予安排。")
    result = _recognise(data, "申请.docx")
    assert _only(result) == (MEETING_REQUEST, "合成车间", None)
    assert result.documents[0].meeting_date.isoformat() == "2026-12-10"


def test_recognise_logo_png_ignored() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
    result = _recognise(png, "image001.png")
    assert (result.outcome, result.documents) == (IGNORED, [])
    assert result.reason == "不是本次考核的材料"


def test_recognise_damaged_pdf_rejected_named_or_not() -> None:
    # PDFs are read now (tests/test_formats.py); one that pypdf cannot open is refused with a reason.
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
    for name in ("王珺述职报告.pdf", "scan0001.pdf"):
        assert (_recognise(pdf, name).outcome, _recognise(pdf, name).reason) == (REJECTED, "PDF 文件已损坏，无法读取")


def test_recognise_kind_from_bytes_not_extension() -> None:
    # A real report sent as "report.bin": the bytes decide.
    data = fill_personal_report("合成车间", "王珺", "副主任")
    assert _only(_recognise(data, "report.bin")) == (PERSONAL_REPORT, "合成车间", "王珺")


def test_recognise_garbage_docx_rejected() -> None:
    """Decision: recognise never raises for a bad file; a zip without word/document.xml that calls
    itself .docx is REJECTED with a reason (read_docx itself raises UnreadableDocument)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("junk.txt", "not a document")
    result = _recognise(buffer.getvalue(), "王珺述职报告.docx")
    assert result.outcome == REJECTED
    assert "损坏" in result.reason


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04truncated", b"plain text, not a document"])
def test_recognise_broken_bytes_named_docx_rejected(data: bytes) -> None:
    assert _recognise(data, "述职报告.docx").outcome == REJECTED


def test_recognise_unrecognised_docx_ignored() -> None:
    result = _recognise(_free_form("食堂菜单", "周一：红烧肉"), "菜单.docx")
    assert result.outcome == IGNORED


def test_recognise_title_in_text_box() -> None:
    from docx.oxml import parse_xml

    document = docx.Document()
    anchor = document.add_paragraph()
    # Word's text box: DrawingML in the Choice, a VML copy in the Fallback (read once).
    anchor._p.append(parse_xml(
        '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
        'xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent>'
        '<mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>'
        "<w:p><w:r><w:t>合成车间领导班子述职报告</w:t></w:r></w:p></w:txbxContent></wps:txbx></w:drawing></mc:Choice>"
        "<mc:Fallback><w:pict><v:textbox><w:txbxContent>"
        "<w:p><w:r><w:t>合成车间领导班子述职报告</w:t></w:r></w:p></w:txbxContent></v:textbox></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    ))
    document.add_paragraph("一年来，车间班子团结带领全体员工，全面完成了各项任务。")
    buffer = io.BytesIO()
    document.save(buffer)
    assert _only(_recognise(buffer.getvalue(), "材料.docx")) == (TEAM_REPORT, "合成车间", None)


def test_recognise_review_form_in_traditional_script() -> None:
    data = _to_traditional(fill_review("合成车间", "王珺", "副主任", "李建国", "主任"))
    assert _only(_recognise(data, "民主評議考覈表.docx")) == (LEADER_REVIEW, "合成车间", "王珺")


def test_recognise_text_file_named_as_report_rejected() -> None:
    result = _recognise("王珺述职报告：今年完成了……".encode(), "王珺述职报告.txt")
    assert result.outcome == REJECTED and result.reason.startswith("暂不支持的文件格式（TXT）")


def test_recognise_mail_subject_decides_when_content_and_name_do_not() -> None:
    data = _free_form("今年以来，本人在车间党支部的领导下，认真履行职责。", "存在的问题是学习不够。")
    result = _recognise(data, "附件.docx", sender=PEOPLE[3], subject="孙强述职报告")
    assert _only(result) == (PERSONAL_REPORT, "合成车间", "孙强")


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def test_recognise_unreadable_old_word_doc_rejected() -> None:
    # Real .doc files are converted (tests/test_formats.py); bytes nothing can convert are refused.
    data = OLE_MAGIC + b"\x00" * 100 + "WordDocument".encode("utf-16-le") + b"\x00" * 100
    result = _recognise(data, "王珺述职报告.doc")
    assert (result.outcome, result.reason) == (
        REJECTED, "无法读取该 Word 97-2003 .doc 文件（可能已损坏），请用 Word 或 WPS 另存为 .docx 后重新发送")


def test_recognise_password_protected_docx_rejected() -> None:
    # Office saves a .docx with an open password as an OLE file holding an EncryptedPackage stream.
    data = OLE_MAGIC + b"\x00" * 100 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 100
    result = _recognise(data, "附件.docx")
    assert result.outcome == REJECTED and "密码" in result.reason
