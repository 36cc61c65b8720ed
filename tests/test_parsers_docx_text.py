"""parsers.docx_text: paragraphs, nested tables, text boxes and content controls, read straight from the zip."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml import parse_xml

from parsers.errors import UnreadableDocument
from parsers.docx_text import read_docx

NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)

# A text box as Word 2010+ writes it: DrawingML in the Choice, the same text again as VML in the Fallback.
TEXT_BOX = f"""
<w:p {NS}><w:r><mc:AlternateContent>
  <mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic>
    <a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp><wps:txbx>
      <w:txbxContent><w:p><w:r><w:t>文本框中的标题</w:t></w:r></w:p></w:txbxContent>
    </wps:txbx></wps:wsp></a:graphicData>
  </a:graphic></wp:anchor></w:drawing></mc:Choice>
  <mc:Fallback><w:pict><v:shape><v:textbox>
    <w:txbxContent><w:p><w:r><w:t>文本框中的标题</w:t></w:r></w:p></w:txbxContent>
  </v:textbox></v:shape></w:pict></mc:Fallback>
</mc:AlternateContent></w:r></w:p>
"""
BLOCK_CONTROL = f"""
<w:sdt {NS}><w:sdtPr><w:alias w:val="述职人"/></w:sdtPr>
  <w:sdtContent><w:p><w:r><w:t>控件中的段落</w:t></w:r></w:p></w:sdtContent></w:sdt>
"""
INLINE_CONTROLS = f"""
<w:p {NS}><w:r><w:t>姓名：</w:t></w:r>
  <w:sdt><w:sdtPr/><w:sdtContent><w:r><w:t>王珺</w:t></w:r></w:sdtContent></w:sdt>
  <w:r><w:t xml:space="preserve"> 职务：</w:t></w:r>
  <w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent><w:r><w:t>单击或点击此处输入文字。</w:t></w:r></w:sdtContent></w:sdt>
  <w:del><w:r><w:delText>已删除的字</w:delText></w:r></w:del>
</w:p>
"""


def _append(document: docx.document.Document, xml: str) -> None:
    document.paragraphs[-1]._p.addnext(parse_xml(xml))


def _bytes(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_text_paragraphs_in_order() -> None:
    document = docx.Document()
    for text in ("第一段", "第二段", "第三段"):
        document.add_paragraph(text)
    read = read_docx(_bytes(document))
    assert read.paragraphs == ["第一段", "第二段", "第三段"]
    assert read.text == "第一段\n第二段\n第三段"


def test_docx_text_nested_table() -> None:
    document = docx.Document()
    document.add_paragraph("表格前")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "姓名", "王珺"
    table.cell(1, 0).text = "评价意见"
    inner = table.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "被评议人", "李建国"
    document.add_paragraph("表格后")
    read = read_docx(_bytes(document))
    assert read.tables[0][0] == ["姓名", "王珺"]
    assert "李建国" in read.tables[0][1][1]  # the nested table's text is part of its cell
    assert read.tables[1] == [["被评议人", "李建国"]]  # and the nested table is listed itself
    assert read.paragraphs == ["表格前", "表格后"]  # cell paragraphs are not body paragraphs
    assert read.lines.index("表格前") < read.lines.index("李建国") < read.lines.index("表格后")


def test_docx_text_text_box_read_once() -> None:
    document = docx.Document()
    document.add_paragraph("正文")
    _append(document, TEXT_BOX)
    read = read_docx(_bytes(document))
    assert read.text.count("文本框中的标题") == 1  # the Fallback copy is not read again
    assert "文本框中的标题" in read.paragraphs


def test_docx_text_content_controls() -> None:
    document = docx.Document()
    document.add_paragraph("正文")
    _append(document, INLINE_CONTROLS)
    _append(document, BLOCK_CONTROL)
    read = read_docx(_bytes(document))
    assert "控件中的段落" in read.paragraphs
    assert "姓名：王珺 职务：" in read.paragraphs
    assert "单击或点击此处输入文字" not in read.text  # a placeholder is not what anyone wrote
    assert "已删除的字" not in read.text  # nor is a tracked deletion


def test_docx_text_not_a_zip_raises() -> None:
    with pytest.raises(UnreadableDocument):
        read_docx(b"this is not a zip file")


def test_docx_text_zip_without_document_raises() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(UnreadableDocument, match="document.xml"):
        read_docx(buffer.getvalue())


def test_docx_text_external_entity_not_resolved(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("机密内容", encoding="utf-8")
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>开头&x;结尾</w:t></w:r></w:p></w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("word/document.xml", xml)
    try:
        text = read_docx(buffer.getvalue()).text
    except UnreadableDocument:
        return  # refusing the document is as safe as not expanding the entity
    assert "机密内容" not in text
    assert "开头" in text and "结尾" in text


def test_read_docx_reads_members_the_limit_check_inflated():
    """The intake's zip check inflates every XML member once; the reader takes those bytes, not the zip's again."""
    from bot.intake import limits
    from bot.settings import Limits

    document = docx.Document()
    document.add_paragraph("原来的段落")
    data = _bytes(document)
    inflated: dict[str, bytes] = {}
    assert limits.zip_verdict(data, Limits(), inflated) is None
    assert "word/document.xml" in inflated and "_rels/.rels" in inflated
    assert read_docx(data, inflated).lines == ["原来的段落"]
    # Proof that the reader used the given bytes: a changed main part is what it reads.
    inflated["word/document.xml"] = inflated["word/document.xml"].replace("原来的段落".encode(), "检查时解压的段落".encode())
    assert read_docx(data, inflated).lines == ["检查时解压的段落"]
