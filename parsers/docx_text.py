"""The text of a .docx, read with lxml straight from the zip: paragraphs, tables, text boxes, content controls."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

from parsers.caps import MAX_XML_BYTES
from parsers.errors import UnreadableDocument

# Transitional and Strict OOXML spell the WordprocessingML namespace differently.
_W = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
}
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_OFFICE_DOCUMENT = "/officeDocument"  # the end of the relationship type naming the main part
_MARGIN_PART = re.compile(r"word/(header|footer)\d*\.xml$")

# Wrappers whose children belong where the wrapper stands (tracked insertions, custom XML, ...).
_TRANSPARENT = {"ins", "customXml", "smartTag", "hyperlink", "fldSimple", "moveTo", "dir", "bdo"}
# Elements whose text is not part of the visible document.
_SKIP = {"del", "moveFrom", "delText", "instrText", "delInstrText", "pPr", "rPr", "tblPr", "trPr", "tcPr", "sectPr"}


def _parser() -> etree.XMLParser:
    # Entities unresolved and no network: a hostile document must not make us read files or URLs.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass
class DocxText:
    """What a .docx says, in reading order."""

    paragraphs: list[str] = field(default_factory=list)  # outside tables: body, text boxes, content controls
    tables: list[list[list[str]]] = field(default_factory=list)  # table → rows → cell texts; nested tables too
    lines: list[str] = field(default_factory=list)  # every paragraph in reading order, table cells included
    margins: list[str] = field(default_factory=list)  # page headers and footers: a name is sometimes only there

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def read_docx(data: bytes, inflated: Mapping[str, bytes] | None = None) -> DocxText:
    """Read a .docx from its bytes; raise UnreadableDocument when it is not one.

    `inflated`: members already inflated from these bytes, by name; they are not inflated again.
    """
    main, margins = _main_part(data, inflated or {})
    try:
        root = etree.fromstring(main, _parser())
    except etree.XMLSyntaxError as error:
        raise UnreadableDocument("文件已损坏，正文无法解析") from error
    body = _first(root, "body")
    if body is None:
        raise UnreadableDocument("文件中没有正文")
    out = DocxText()
    _blocks(body, out, in_table=False)
    for part in margins:
        out.margins.extend(_margin_lines(part))
    return out


def _main_part(data: bytes, inflated: Mapping[str, bytes]) -> tuple[bytes, list[bytes]]:
    """The main part's XML and the XML of its page headers and footers."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise UnreadableDocument("文件已损坏或不是 Word 文档（.docx）") from error
    with zf:
        name = _main_part_name(zf, inflated)
        if name is None:
            raise UnreadableDocument("文件已损坏或不是 Word 文档（缺少 word/document.xml）")
        margins = [_read_capped(zf, n, inflated) for n in sorted(zf.namelist()) if _MARGIN_PART.match(n)]
        return _read_capped(zf, name, inflated), margins


def _margin_lines(xml: bytes) -> list[str]:
    """The text lines of one header or footer part; a broken one is skipped, it is not the document."""
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError:
        return []
    out = DocxText()
    _blocks(root, out, in_table=False)
    return out.lines


def _main_part_name(zf: zipfile.ZipFile, inflated: Mapping[str, bytes]) -> str | None:
    names = set(zf.namelist())
    # The package relationships name the main part; almost always word/document.xml, but not required.
    if "_rels/.rels" in names:
        try:
            rels = etree.fromstring(_read_capped(zf, "_rels/.rels", inflated), _parser())
            for rel in rels:
                if str(rel.get("Type", "")).endswith(_OFFICE_DOCUMENT):
                    target = str(rel.get("Target", "")).lstrip("/")
                    if target in names:
                        return target
        except (etree.XMLSyntaxError, UnreadableDocument):
            pass  # a broken .rels: fall back to the usual name
    return "word/document.xml" if "word/document.xml" in names else None


def _read_capped(zf: zipfile.ZipFile, name: str, inflated: Mapping[str, bytes]) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise UnreadableDocument("文件内容过大，无法读取")
    if name in inflated and len(inflated[name]) <= MAX_XML_BYTES:
        return inflated[name]
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_XML_BYTES + 1)  # the declared size can lie; the cap cannot
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method.
        raise UnreadableDocument("文件已损坏，无法解压") from error
    if len(data) > MAX_XML_BYTES:
        raise UnreadableDocument("文件内容过大，无法读取")
    return data


# --- walking the tree -------------------------------------------------------

Children = Iterable[etree._Element]


def _local(el: etree._Element) -> str | None:
    """The local name of a WordprocessingML element ("mc:…" for markup compatibility), else None."""
    tag = el.tag
    if not isinstance(tag, str):
        return None  # comments and processing instructions
    return _local_of_tag(tag)


# A document has a few dozen distinct tags and tens of thousands of elements: each tag is split once.
@lru_cache(maxsize=1024)
def _local_of_tag(tag: str) -> str:
    qname = etree.QName(tag)
    if qname.namespace in _W:
        return qname.localname
    if qname.namespace == _MC:
        return "mc:" + qname.localname
    return "other"


def _first(el: etree._Element, local: str) -> etree._Element | None:
    return next((child for child in el if _local(child) == local), None)


def _chosen(alternate: etree._Element) -> Children:
    """The one branch of mc:AlternateContent to read: the first Choice (Word's own), else the Fallback.

    Word writes a text box twice, as DrawingML in the Choice and as VML in the Fallback.
    """
    choice = _first(alternate, "mc:Choice")
    branch = choice if choice is not None else _first(alternate, "mc:Fallback")
    return list(branch) if branch is not None else []


def _sdt_content(sdt: etree._Element) -> Children:
    props = _first(sdt, "sdtPr")
    content = _first(sdt, "sdtContent")
    # An empty control shows its placeholder ("单击或点击此处输入文字。"), which nobody wrote.
    if content is None or (props is not None and _first(props, "showingPlcHdr") is not None):
        return []
    return list(content)


def _blocks(children: Children, out: DocxText, in_table: bool) -> list[str]:
    """Read block content (body, cell, text box, content control); return its paragraph texts."""
    texts: list[str] = []
    for child in children:
        local = _local(child)
        if local == "p":
            texts.extend(_paragraph(child, out, in_table))
        elif local == "tbl":
            texts.extend(_table(child, out))
        elif local == "sdt":
            texts.extend(_blocks(_sdt_content(child), out, in_table))
        elif local == "mc:AlternateContent":
            texts.extend(_blocks(_chosen(child), out, in_table))
        elif local in _TRANSPARENT:
            texts.extend(_blocks(child, out, in_table))
    return texts


def _paragraph(p: etree._Element, out: DocxText, in_table: bool) -> list[str]:
    """A paragraph's own text, then the paragraphs of any text box anchored in it."""
    parts: list[str] = []
    boxes: list[etree._Element] = []
    _inline(p, parts, boxes)
    text = "".join(parts).strip()
    texts = [text] if text else []
    if text:
        out.lines.append(text)
        if not in_table:
            out.paragraphs.append(text)
    for box in boxes:
        texts.extend(_blocks(box, out, in_table))
    return texts


def _inline(children: Children, parts: list[str], boxes: list[etree._Element]) -> None:
    for child in children:
        local = _local(child)
        if local is None or local in _SKIP:
            continue
        if local == "t":
            # An unresolved entity is a child node; the text after it is that node's tail.
            parts.append((child.text or "") + "".join(sub.tail or "" for sub in child))
        elif local == "tab":
            parts.append("\t")
        elif local in ("br", "cr"):
            parts.append(" ")  # a line break inside a paragraph still separates words
        elif local == "noBreakHyphen":
            parts.append("-")
        elif local == "txbxContent":
            boxes.append(child)  # read after the paragraph, as paragraphs of its own
        elif local == "mc:AlternateContent":
            _inline(_chosen(child), parts, boxes)
        elif local == "sdt":
            _inline(_sdt_content(child), parts, boxes)
        else:
            _inline(child, parts, boxes)  # runs, drawings, VML shapes, fields: look inside


def _table(tbl: etree._Element, out: DocxText) -> list[str]:
    """Add the table to out.tables as a grid, and return its rows as lines of text.

    In the grid a cell merged across columns stands in each of them and a cell merged down in each
    row it covers, so a column means the same thing in every row; a line has each cell once.
    """
    rows: list[list[str]] = []
    lines: list[str] = []
    out.tables.append(rows)  # reserve the place first: nested tables come after their parent
    for tr in _children(tbl, "tr"):
        row: list[str] = []
        own: list[str] = []
        for tc in _children(tr, "tc"):
            span, continued = _merge(tc)
            text = "\n".join(_blocks(tc, out, in_table=True))
            own.append(text)
            if continued and not text and rows and len(row) < len(rows[-1]):
                text = rows[-1][len(row)]
            row.extend([text] * span)
        rows.append(row)
        lines.append(" ".join(t for t in own if t))
    return lines


def _merge(tc: etree._Element) -> tuple[int, bool]:
    """How many grid columns a cell spans, and whether it continues the merged cell above it."""
    props = _first(tc, "tcPr")
    if props is None:
        return 1, False
    span, continued = 1, False
    for child in props:
        local = _local(child)
        value = next((v for k, v in child.attrib.items() if k.endswith("}val")), None)
        if local == "gridSpan" and value and value.isdigit():
            span = max(1, min(int(value), 64))
        elif local == "vMerge":
            continued = value in (None, "continue")
    return span, continued


def _children(children: Children, local: str) -> list[etree._Element]:
    """Elements named `local`, looking through content controls and custom XML that wrap rows or cells."""
    found: list[etree._Element] = []
    for child in children:
        name = _local(child)
        if name == local:
            found.append(child)
        elif name == "sdt":
            found.extend(_children(_sdt_content(child), local))
        elif name in _TRANSPARENT:
            found.extend(_children(child, local))
    return found
