"""How far a zip-based document (.docx, .xlsx) may unpack: the one cap every reader of one applies."""

from __future__ import annotations

import io
import zipfile

from parsers.errors import UnreadableDocument

# A real report is a few hundred kilobytes of XML; far more is a zip bomb, not a report.
MAX_XML_BYTES = 30 * 1024 * 1024


def check_workbook_sizes(data: bytes) -> None:
    """Refuse a workbook whose parts unpack beyond the XML cap before openpyxl inflates any of them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            too_big = any(info.file_size > MAX_XML_BYTES for info in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise UnreadableDocument("Excel 文件已损坏，无法读取") from error
    if too_big:
        raise UnreadableDocument("文件内容过大，无法读取")
