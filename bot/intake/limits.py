"""Intake step "limits": the size caps of [limits] for a whole message, one attachment and a zip's contents.

A message over its cap is refused whole (handler `message_size`); an attachment over its cap
is refused alone and the rest go on (`part_verdict`, asked by the extract step). A zip-based
file (.docx, .xlsx, .zip) is judged from its central directory first, so a 300 KB zip bomb is
refused without inflating it; its XML parts are then streamed with a cap and dropped, in case
the directory understates their sizes.
"""

from __future__ import annotations

import io
import zipfile

from bot.intake.job import Context, Job, Stop
from bot.records import REJECTED, Part
from bot.settings import Limits

# The header block of an oversized message is still read, for the log; no more than this of it.
HEADER_BYTES = 1024 * 1024
# The compression ratio is judged only for members at least this large: a tiny, very
# repetitive part (an empty styles list) compresses a thousandfold and harms nobody.
RATIO_FLOOR_BYTES = 1024 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_CHUNK = 64 * 1024


def message_size(job: Job, ctx: Context) -> None:
    """Refuse a message larger than limits.message_bytes, naming the limit."""
    size, cap = len(job.raw.data), ctx.settings.limits.message_bytes
    if size > cap:
        raise Stop(REJECTED, "邮件大小 {} 超过上限 {}".format(*over(size, cap)))


def oversized(data: bytes, limits: Limits) -> bool:
    return len(data) > limits.message_bytes


def header_block(data: bytes) -> bytes:
    """The header block of a message (capped), so an oversized one is logged without decoding its body."""
    head = data[:HEADER_BYTES]
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            return head[:end] + separator
    return head + b"\n\n"


def part_verdict(part: Part, limits: Limits, inflated: dict[str, bytes] | None = None) -> str | None:
    """Why this attachment is over a limit (HR-facing), or None when it is within them all.

    `inflated`, when given, receives the XML members a zip's check inflated (see zip_verdict).
    """
    if len(part.data) > limits.attachment_bytes:
        return "附件大小 {} 超过上限 {}".format(*over(len(part.data), limits.attachment_bytes))
    if part.data[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return zip_verdict(part.data, limits, inflated)
    return None


def zip_verdict(data: bytes, limits: Limits, inflated: dict[str, bytes] | None = None) -> str | None:
    """Judge a zip from its central directory, then stream its XML parts with a cap; None if within limits.

    A zip the stdlib cannot open is not a limit matter: the parsers say what is wrong with it.
    When the zip is within its limits and `inflated` is given, it receives every XML member's bytes
    by name, so that the reader of a .docx does not inflate them a second time.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return None
    with zf:
        members = zf.infolist()
        if len(members) > limits.archive_members:
            return f"文件内含 {len(members)} 个文件，超过上限 {limits.archive_members} 个"
        for info in members:
            reason = _member_verdict(info, limits)
            if reason:
                return reason
        total = sum(info.file_size for info in members)
        if total > limits.archive_total_bytes:
            return "解压后共 {}，超过上限 {}".format(*over(total, limits.archive_total_bytes))
        kept: dict[str, bytes] = {}
        for info in members:
            if _is_xml(info):
                reason = _streamed_verdict(zf, info, limits, kept)
                if reason:
                    return reason
    if inflated is not None:
        inflated.update(kept)
    return None


def _member_verdict(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    """The declared sizes of one member against the XML cap and the compression ratio."""
    if _is_xml(info) and info.file_size > limits.xml_bytes:
        size, cap = over(info.file_size, limits.xml_bytes)
        return f"文档内 {info.filename} 解压后 {size}，超过上限 {cap}"
    if info.file_size >= RATIO_FLOOR_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.compression_ratio:
            return (f"文档内 {info.filename} 压缩比 {ratio:.0f}:1 超过上限 {limits.compression_ratio}:1"
                    "（疑似“压缩炸弹”）")
    return None


def _streamed_verdict(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits,
                      kept: dict[str, bytes]) -> str | None:
    """Inflate one XML member in chunks, stopping as soon as it passes a cap; within it, its bytes are kept."""
    cap = min(limits.xml_bytes, max(info.compress_size, 1) * limits.compression_ratio + RATIO_FLOOR_BYTES)
    chunks: list[bytes] = []
    produced = 0
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                produced += len(chunk)
                if produced > cap:
                    return f"文档内 {info.filename} 解压后超过上限 {human(cap)}（与声明的大小不符）"
                chunks.append(chunk)
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError, ValueError):
        return None  # damaged or encrypted: the parsers refuse it with their own reason (and read it again)
    kept[info.filename] = b"".join(chunks)
    return None


def _is_xml(info: zipfile.ZipInfo) -> bool:
    return info.filename.lower().endswith(_XML_SUFFIXES)


def human(size: int, decimals: int = 1) -> str:
    """A byte count as HR reads it: "62 MB", "50.5 MB", "300 KB", "512 字节"."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = f"{size / scale:.{decimals}f}".rstrip("0").removesuffix(".")
            return f"{value} {unit}"
    return f"{size} 字节"


def over(size: int, cap: int) -> tuple[str, str]:
    """A size and the cap it passed, with enough digits that they never read the same ("50 MB 超过上限 50 MB")."""
    for decimals in (1, 2, 3):
        shown = human(size, decimals), human(cap, decimals)
        if shown[0] != shown[1]:
            return shown
    return f"{size} 字节", f"{cap} 字节"
