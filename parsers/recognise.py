"""The decision for one attachment: which season document it is, whose, and for which unit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from bot.records import (
    ACCEPTED,
    HEAD,
    HELD_PREFIX,
    IGNORED,
    REJECTED,
    REPORTING_ROLES,
    Document,
    Mail,
    Part,
    Person,
    Recognition,
    Roster,
)
from bot.season.items import (
    BALLOT_TALLY,
    LEADER_REVIEW,
    MEETING_REQUEST,
    PERSONAL_REPORT,
    TEAM_REPORT,
)
from parsers import convert, filekind, pdf, tally, xlsx
from parsers.checks import personal_report_warnings
from parsers.classify import REVIEW, heading, item_in_words, item_of_content, looks_seasonal, stem, title_lines
from parsers.context import Context, Refused, content_unit, resolve_person, unit_for
from parsers.docx_text import DocxText, read_docx
from parsers.errors import UnreadableDocument
from parsers.fields import Fields, fields
from parsers.meeting_request import request_in
from parsers.reviews import review_documents
from parsers.whose import filename_disagrees, name_from_filename, people_in_text, signers

log = logging.getLogger(__name__)

NOT_SEASON = "不是本次考核的材料"

# The formats read into a DocxText (bytes, filekind's label, zip members already inflated), so one
# classification serves them all.
_READERS: dict[str, Callable[[bytes, str, Mapping[str, bytes] | None], DocxText]] = {
    filekind.DOCX: lambda data, label, inflated: read_docx(data, inflated),
    filekind.LEGACY: lambda data, label, inflated: convert.read_legacy(data, label),
    filekind.PDF: lambda data, label, inflated: pdf.read_pdf(data),
    filekind.XLSX: lambda data, label, inflated: xlsx.read_xlsx(data),
}


def recognise(part: Part, mail: Mail, sender: Person, roster: Roster, year: int,
              inflated: Mapping[str, bytes] | None = None) -> Recognition:
    """What one part of a roster member's mail is: ACCEPTED with its documents, IGNORED or REJECTED.

    `inflated`: the zip members of the part already inflated by the caller, by name (read_docx).
    """
    kind = filekind.sniff(part.data, part.filename, part.content_type)
    ctx = Context(part.filename, mail, sender, roster, year)
    if kind.kind == filekind.XLSX and tally.is_tally(part.data):
        return _tally(part.data, ctx)
    reader = _READERS.get(kind.kind)
    if reader is not None:
        try:
            doc = reader(part.data, kind.label, inflated)
        except UnreadableDocument as error:
            return Recognition(REJECTED, str(error))
        if kind.kind == filekind.PDF and not doc.lines:
            return _scanned_pdf(ctx)
        return recognise_docx(doc, ctx)
    if kind.kind == filekind.ENCRYPTED:
        return Recognition(REJECTED, "文件设有打开密码，无法读取，请取消密码后重新发送")
    if kind.kind == filekind.DAMAGED:
        return Recognition(REJECTED, "文件已损坏，无法作为 Word 文档（.docx）打开")
    if kind.kind == filekind.FOREIGN_ARCHIVE:
        # An archive from a roster member in the season most likely holds the materials.
        return Recognition(REJECTED, f"暂不支持{kind.label}，请解压后直接发送文件，或改用 ZIP 格式压缩")
    # A file whose name says it is a season document is a submission HR must see, whatever its
    # format; an unnamed one (image001.png, scan.pdf) is most likely something else.
    named = item_in_words(stem(part.filename)) is not None
    if kind.kind == filekind.UNSUPPORTED or (named and kind.kind == filekind.OTHER):
        reason = f"暂不支持的文件格式（{kind.label}），请另存为 Word 文档（.docx）后重新发送"
        return Recognition(REJECTED if named else IGNORED, reason)
    if kind.kind == filekind.IMAGE and named:
        return Recognition(REJECTED, f"图片（{kind.label}）无法识别内容，请发送 Word 文档（.docx）")
    return Recognition(IGNORED, NOT_SEASON)


def _tally(data: bytes, ctx: Context) -> Recognition:
    """A returned 民主测评 tally sheet: it counts only when every check passes, else the unit's tally stays owed."""
    name = ctx.filename or "统计表"
    try:
        sheet = tally.read_tally(data, ctx.roster)
    except tally.TallyRefused as refused:
        return Recognition(REJECTED, f"{name} {refused}，请改正后重新发送")
    except UnreadableDocument as error:
        return Recognition(REJECTED, f"{name}：{error}")
    if sheet is None or sheet.unit is None:
        return Recognition(REJECTED, f"{name}：系统互评统计表由人力资源科直接放入 tallies 文件夹，无需发送")
    warnings = () if ctx.sender.unit == sheet.unit else (f"统计表属于{sheet.unit}，发件人属于{ctx.sender.unit}",)
    return Recognition(ACCEPTED, documents=[Document(BALLOT_TALLY, sheet.unit, None, warnings)])


def _scanned_pdf(ctx: Context) -> Recognition:
    """A PDF without text (a scan): taken by its file name or subject when they say which document and,
    for one person's document, whose; otherwise held for HR, who can look at the image."""
    unread = "PDF 内容无法读取（可能是扫描件），"
    if item_in_words(stem(ctx.filename)) is None and item_in_words(ctx.mail.subject) is None:
        return held(ctx, unread + "文件名和邮件主题也未写明是哪份材料")
    result = recognise_docx(DocxText(), ctx)
    if result.held:
        return replace(result, reason=HELD_PREFIX + unread + result.reason.removeprefix(HELD_PREFIX))
    named = {p.name for p in people_in_text(f"{stem(ctx.filename)}\n{ctx.mail.subject}", ctx.roster.people)}
    if any(d.person and d.person not in named for d in result.documents):
        first = result.documents[0]
        return held(ctx, unread + "文件名和邮件主题也未写明是谁的材料", first.item)
    result.documents = [replace(d, warnings=(*d.warnings, pdf.SCANNED_WARNING)) for d in result.documents]
    return result


def held(ctx: Context, why: str, item: str | None = None, person: str | None = None) -> Recognition:
    """A readable document hrbot cannot attribute with confidence: kept for HR to decide."""
    return Recognition(IGNORED, HELD_PREFIX + why, held=True, item=item, unit=ctx.sender.unit, person=person)


def recognise_docx(doc: DocxText, ctx: Context) -> Recognition:
    """Decide a document read as a DocxText: the item from its content, else its file name, else the mail subject."""
    found = fields(doc)
    item = item_of_content(doc, found) or item_in_words(stem(ctx.filename)) or item_in_words(ctx.mail.subject)
    if item is None:
        meeting = request_in(doc.text, ctx.sender, ctx.year)
        if meeting:
            return Recognition(ACCEPTED, documents=[meeting])
        if looks_seasonal(doc, found):
            return held(ctx, "文件内容与考核有关，但未能确定是哪份材料")
        return Recognition(IGNORED, "未能识别为本次考核的材料")
    if item == BALLOT_TALLY:  # counted only from the workbook HR sent out: the sender must send that one
        return Recognition(REJECTED, "民主测评统计表请在人力资源科下发的 Excel 统计表中填写后原样发送，不要另存为其他格式或复制到新表")
    try:
        builder = _BUILDERS.get(item)
        documents = builder(doc, found, ctx) if builder else _unit_document(item, doc, found, ctx)
    except Refused as refused:
        return held(ctx, str(refused), LEADER_REVIEW if item == REVIEW else item, refused.person)
    log.debug("%s: %s", ctx.filename, documents)
    return Recognition(ACCEPTED, documents=documents)


def _personal_report(doc: DocxText, found: Fields, ctx: Context) -> list[Document]:
    title = "\n".join(title_lines(doc))
    unit_named = content_unit(ctx, found.get("单位", ""), title)
    written = found.get("述职人") or found.get("姓名")
    in_content = bool(written) or bool(written := _named_in_content(doc, ctx))
    if not written:
        written = _name_elsewhere(ctx)
    if not written:
        raise Refused("未能确定这是谁的述职报告（报告中没有写明姓名）")
    person, warnings = resolve_person(ctx, written, unit_named, "报告中的姓名")
    if in_content:
        warnings += filename_disagrees(ctx.filename, ctx.roster, person)
    if person.role not in REPORTING_ROLES:
        warnings.append(f"名单中{person.name}的角色是{person.role}，不在需要提交个人述职报告的范围内")
    if doc.lines:  # a scan has no text to check the four parts in
        warnings += personal_report_warnings(doc.lines)
    return [Document(item=PERSONAL_REPORT, unit=person.unit, person=person.name, warnings=tuple(warnings))]


def _named_in_content(doc: DocxText, ctx: Context) -> str | None:
    """A roster name the report carries without a label: in its title lines, signed at its end beside
    the date, or in its page header or footer (the sender's unit first, in the title the whole roster)."""
    home = ctx.roster.people_in(ctx.sender.unit)
    title = heading(doc)
    hits = people_in_text(title, home) or people_in_text(title, ctx.roster.people)
    if hits:
        return hits[0].name
    signed = signers(doc, home)
    if len(signed) == 1:
        return signed[0].name
    margin = people_in_text("\n".join(doc.margins), home)
    if len(margin) == 1:
        return margin[0].name
    return None


def _name_elsewhere(ctx: Context) -> str | None:
    """The reporter when the content names nobody: a roster name in the file name, a name-shaped file
    name, the subject (when it names one person), else a sender who is not the unit head (a cadre
    sending their own report; the head sends on everyone's, so their mail proves nothing)."""
    home = ctx.roster.people_in(ctx.sender.unit)
    text = stem(ctx.filename)
    hits = people_in_text(text, home) or people_in_text(text, ctx.roster.people)
    if hits:
        return hits[0].name
    from_name = name_from_filename(ctx.filename, ctx.roster)
    if from_name:
        return from_name
    hits = people_in_text(ctx.mail.subject, home)
    if len(hits) == 1:
        return hits[0].name
    return ctx.sender.name if ctx.sender.role in REPORTING_ROLES and ctx.sender.role != HEAD else None


def _team_report(doc: DocxText, found: Fields, ctx: Context) -> list[Document]:
    named = content_unit(ctx, found.get("单位", ""), "\n".join(title_lines(doc)))
    unit, warnings = unit_for(ctx, named, found.get("述职人"))
    return [Document(item=TEAM_REPORT, unit=unit, person=None, warnings=tuple(warnings))]


def _unit_document(item: str, doc: DocxText, found: Fields, ctx: Context) -> list[Document]:
    """A unit's own document with no parser of its own (科级后备干部推荐): the unit it names, else the sender's."""
    named = content_unit(ctx, found.get("单位", ""), "\n".join(title_lines(doc)))
    unit, warnings = unit_for(ctx, named, None)
    return [Document(item=item, unit=unit, person=None, warnings=tuple(warnings))]


def _meeting_request(doc: DocxText, found: Fields, ctx: Context) -> list[Document]:
    meeting = request_in(doc.text, ctx.sender, ctx.year)
    if meeting is None:
        raise Refused("申请召开述职大会的文件中没有写明日期")
    return [meeting]


_BUILDERS = {
    PERSONAL_REPORT: _personal_report,
    TEAM_REPORT: _team_report,
    REVIEW: review_documents,
    MEETING_REQUEST: _meeting_request,
}
