"""The text of a PDF with pypdf; a PDF without any (a scan) reads as an empty document."""

from __future__ import annotations

import io
import logging


from parsers.docx_text import DocxText
from parsers.errors import UnreadableDocument
from parsers.plain import SPACES, from_text

log = logging.getLogger(__name__)

# A report is a few pages; reading more of a hostile or huge PDF only costs time.
MAX_PAGES = 30
SCANNED_WARNING = "PDF 内容无法读取（可能是扫描件），已按文件名登记，请人工核对"


def read_pdf(data: bytes) -> DocxText:
    """The PDF's text as lines (a form's rows as tables); no lines for a scan; UnreadableDocument when broken."""
    from pypdf import PdfReader  # only for a PDF (tests/test_idle_imports.py)
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # An owner password alone (printing, copying) opens with the empty user password.
            raise UnreadableDocument("PDF 文件设有打开密码，无法读取，请取消密码后重新发送")
        texts = [page.extract_text() or "" for page in reader.pages[:MAX_PAGES]]
    except UnreadableDocument:
        raise
    except (PdfReadError, FileNotDecryptedError, NotImplementedError) as error:
        raise UnreadableDocument("PDF 文件已损坏，无法读取") from error
    except Exception as error:  # noqa: BLE001 - pypdf raises assorted errors on broken files
        log.warning("pdf: unreadable: %s", error)
        raise UnreadableDocument("PDF 文件已损坏，无法读取") from error
    return from_text("\n".join(texts), SPACES)
