"""What kind of file a part is, read from its bytes (never from its extension or declared type)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import olefile

DOCX = "docx"
LEGACY = "legacy"  # Word 97-2003 .doc, Kingsoft .wps, RTF: read after converting to .docx
PDF = "pdf"
XLSX = "xlsx"
ARCHIVE = "archive"  # a .zip that is no office document: bot.intake.unpack opens it
MSG = "msg"  # an Outlook .msg: a forwarded message, opened by bot.intake.unpack
TNEF = "tnef"  # winmail.dat: Outlook's wrapper of rich-text mail, opened by bot.intake.unpack
UNSUPPORTED = "unsupported"  # an office document the parsers cannot read
FOREIGN_ARCHIVE = "foreign_archive"  # .rar, .7z: no unpacker for them
ENCRYPTED = "encrypted"  # an office document with an open password
DAMAGED = "damaged"  # declared or named as .docx, but not readable as one
IMAGE = "image"
OTHER = "other"

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TNEF = b"\x78\x9f\x3e\x22"  # 0x223E9F78 little-endian
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_ARCHIVES = ((b"Rar!\x1a\x07", "RAR 压缩包"), (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"))
_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class FileKind:
    kind: str  # one of the constants above
    label: str  # how HR would name the format: "PDF", "Word 97-2003 .doc", "PNG"…


def sniff(data: bytes, filename: str | None = None, content_type: str = "") -> FileKind:
    """The kind of file the bytes are; filename and content_type only refine a label or flag a damaged .docx."""
    ext = PurePosixPath(filename or "").suffix.lower()
    head = data[:16]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(data, ext, content_type)
    if head.startswith(_OLE):
        return _ole_kind(data, ext)
    if head.startswith(_TNEF):
        return FileKind(TNEF, "winmail.dat")
    if head.startswith(b"%PDF"):
        return FileKind(PDF, "PDF")
    if head.startswith(b"{\\rtf"):
        return FileKind(LEGACY, "RTF")
    for magic, label in _IMAGES:
        if head.startswith(magic):
            return FileKind(IMAGE, label)
    for magic, label in _ARCHIVES:
        if head.startswith(magic):
            return FileKind(FOREIGN_ARCHIVE, label)
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return FileKind(IMAGE, "WebP")
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1"):
        return FileKind(IMAGE, "HEIC")  # iPhone photos of a paper form
    if ext == ".docx" or content_type == _DOCX_TYPE:
        return FileKind(DAMAGED, "Word")
    return FileKind(OTHER, ext.lstrip(".").upper() or "未知")


def _zip_kind(data: bytes, ext: str, content_type: str) -> FileKind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        # A broken .zip is still an archive: unpack says what is wrong with it.
        return FileKind(DAMAGED, "Word") if ext == ".docx" or content_type == _DOCX_TYPE else FileKind(ARCHIVE, "ZIP")
    if "word/document.xml" in names or any(n.startswith("word/") and n.endswith(".xml") for n in names):
        return FileKind(DOCX, "Word")
    if ext == ".docx" or content_type == _DOCX_TYPE:
        return FileKind(DAMAGED, "Word")  # a zip that says it is a .docx but holds no document
    if "xl/workbook.xml" in names:
        return FileKind(XLSX, "Excel .xlsx")
    if any(n.startswith("xl/") for n in names):
        return FileKind(UNSUPPORTED, "Excel .xlsx")
    if any(n.startswith("ppt/") for n in names):
        return FileKind(UNSUPPORTED, "PowerPoint .pptx")
    if "OFD.xml" in names:
        return FileKind(UNSUPPORTED, "OFD")  # China's fixed-layout format for official documents
    if "mimetype" in names and "content.xml" in names:
        return FileKind(UNSUPPORTED, "OpenDocument")
    return FileKind(ARCHIVE, "ZIP")


def _ole_kind(data: bytes, ext: str) -> FileKind:
    streams = _ole_streams(data)
    if streams is None:
        # Not parseable as a compound file: stream names sit in the directory sectors as UTF-16,
        # so a search still tells a damaged .doc from a damaged workbook.
        def has(stream: str) -> bool:
            return stream.encode("utf-16-le") in data
    else:
        def has(stream: str) -> bool:
            return stream.lower() in streams

    if has("EncryptedPackage"):
        return FileKind(ENCRYPTED, "加密的 Office 文档")
    # Checked before WordDocument: a .doc attached to a .msg has its own directory inside the bytes.
    if has("__properties_version1.0") or has("__substg1.0_001A001F"):
        return FileKind(MSG, "Outlook 邮件 .msg")
    if has("WordDocument"):
        # Kingsoft WPS 文字 writes .wps as a Word 97-2003 compound file.
        return FileKind(LEGACY, "WPS 文字 .wps" if ext == ".wps" else "Word 97-2003 .doc")
    if has("Workbook") or has("Book"):
        return FileKind(UNSUPPORTED, "Excel 97-2003 .xls")
    if has("PowerPoint Document"):
        return FileKind(UNSUPPORTED, "PowerPoint 97-2003 .ppt")
    if ext in (".wps", ".doc"):
        return FileKind(LEGACY, "WPS 文字 .wps" if ext == ".wps" else "Word 97-2003 .doc")  # let LibreOffice judge
    return FileKind(UNSUPPORTED, "旧版 Office 文档")


def _ole_streams(data: bytes) -> set[str] | None:
    """The lower-cased names of a compound file's top-level entries, or None when it cannot be parsed."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return {path[0].lower() for path in ole.listdir(streams=True, storages=True) if path}
    except Exception:  # noqa: BLE001 - olefile raises many types on hostile input
        return None
