"""Word 97-2003 .doc, Kingsoft .wps and RTF read as .docx after a LibreOffice conversion, else as antiword/catdoc text."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from parsers.docx_text import DocxText, read_docx
from parsers.errors import UnreadableDocument
from parsers.plain import PIPES, TABS, from_text

log = logging.getLogger(__name__)

TIMEOUT = 60  # seconds; LibreOffice converts a real report in two or three
_SUFFIXES = {"RTF": ".rtf", "WPS 文字 .wps": ".wps"}  # LibreOffice picks its import filter by content, then suffix


class ConversionFailed(Exception):
    """LibreOffice did not produce a .docx (missing, timed out, or refused the file)."""


def read_legacy(data: bytes, label: str) -> DocxText:
    """The text of a .doc/.wps/RTF: converted by LibreOffice when installed, else antiword/catdoc text.

    `label` is filekind's label; raise UnreadableDocument (HR-facing reason) when nothing reads it.
    """
    suffix = _SUFFIXES.get(label, ".doc")
    try:
        doc = read_docx(to_docx(data, suffix))
        if doc.tables or label == "RTF":
            return doc
        # LibreOffice sometimes imports a .doc's table as one run-on paragraph of all its cells;
        # antiword keeps the rows apart, and a form must be read by its rows.
        text = legacy_text(data)
        return text if text is not None and text.tables else doc
    except ConversionFailed as error:
        log.warning("convert: LibreOffice failed on a %s: %s", label, error)
    except UnreadableDocument:
        log.warning("convert: LibreOffice's .docx of a %s was unreadable", label)
    doc = legacy_text(data)
    if doc is None or not doc.lines:
        raise UnreadableDocument(f"无法读取该 {label} 文件（可能已损坏），请用 Word 或 WPS 另存为 .docx 后重新发送")
    return doc


def soffice() -> str | None:
    """The LibreOffice program, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_docx(data: bytes, suffix: str = ".doc", timeout: float = TIMEOUT) -> bytes:
    """Convert one file with LibreOffice headless; raise ConversionFailed when it gives no .docx."""
    return convert_to(data, suffix, "docx", timeout)


def convert_to(data: bytes, suffix: str, target: str, timeout: float = TIMEOUT) -> bytes:
    """Convert one file with LibreOffice headless to `target` (docx, pdf); ConversionFailed when it gives none."""
    program = soffice()
    if program is None:
        raise ConversionFailed("LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory(prefix="hrbot-convert-") as tmp:
        work = Path(tmp)
        source = work / f"input{suffix}"  # our name, never the sender's: no path or shell tricks
        source.write_bytes(data)
        (work / "out").mkdir()
        # A profile of its own per conversion: conversions never share (or wait on) a running
        # instance's profile lock, and nothing the user or another run configured applies.
        command = [program, "--headless", "--norestore", "--nolockcheck",
                   f"-env:UserInstallation={(work / 'profile').as_uri()}",
                   "--convert-to", target, "--outdir", str(work / "out"), str(source)]
        _run(command, work, timeout)
        result = work / "out" / f"input.{target}"
        if not result.is_file():
            raise ConversionFailed(f"LibreOffice wrote no .{target}")
        return result.read_bytes()


def _run(command: list[str], home: Path, timeout: float) -> None:
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home)}
    # Its own session, so a timeout kills soffice.bin and every helper it started, not just the wrapper.
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group we created: only this conversion's processes
        process.communicate()
        raise ConversionFailed(f"LibreOffice timed out after {timeout:g} s") from None
    if process.returncode != 0:
        raise ConversionFailed(f"LibreOffice exited {process.returncode}: {output[-300:]!r}")


def legacy_text(data: bytes) -> DocxText | None:
    """antiword's text of a .doc (its tables as rows), else catdoc's; None when neither is installed or reads it."""
    for program, args, cells in (("antiword", ["-w", "0", "-m", "UTF-8.txt"], PIPES),
                                 ("catdoc", ["-w", "-d", "utf-8"], TABS)):
        path = shutil.which(program)
        if path is None:
            continue
        with tempfile.TemporaryDirectory(prefix="hrbot-text-") as tmp:
            source = Path(tmp) / "input.doc"
            source.write_bytes(data)
            try:
                done = subprocess.run([path, *args, str(source)], capture_output=True, timeout=TIMEOUT,
                                      stdin=subprocess.DEVNULL, cwd=tmp)
            except subprocess.TimeoutExpired:
                log.warning("convert: %s timed out", program)
                continue
        text = done.stdout.decode("utf-8", "replace")
        if done.returncode == 0 and text.strip():
            return from_text(text, cells)
        log.warning("convert: %s could not read the file (exit %d)", program, done.returncode)
    return None
