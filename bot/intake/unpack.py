"""Containers opened into the parts they hold: .zip archives, forwarded mail (.eml, .msg) and winmail.dat.

Each child is a Part named "container/inner" (docs/contract.md, "Containers"). Every limit is checked
before anything is inflated, and the sizes and counts are shared by a container and the one
nested in it, so a zip of zips cannot multiply the caps.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from bot.errors import HrbotError
from bot.intake.decode import decode
from bot.intake.limits import over
from bot.mime.charsets import decode_bytes
from bot.mime.names import clean_name
from bot.records import Part
from bot.settings import Limits
from parsers import filekind

log = logging.getLogger(__name__)

ARCHIVE, MSG, TNEF = filekind.ARCHIVE, filekind.MSG, filekind.TNEF  # read from the bytes
MAIL = "mail"  # a forwarded message: message/rfc822, or bytes that are a header block
UNPACKED = "unpacked"  # the log reason of a container whose parts follow it (docs/contract.md, "Containers")
MAX_DEPTH = 2  # a container and one nested in it (docs/contract.md, "Containers": one level deep)
_WORDS = {ARCHIVE: "压缩包", MAIL: "转发的邮件", MSG: "Outlook 邮件（.msg）", TNEF: "winmail.dat"}
_DEFAULT_NAMES = {ARCHIVE: "archive.zip", MAIL: "message.eml", MSG: "message.msg", TNEF: "winmail.dat"}
_MAIL_TYPES = ("message/rfc822", "message/global")
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_MAIL_HEADERS = re.compile(rb"^(from|received|message-id|mime-version|subject|date)[ \t]*:", re.I | re.M)
_CHUNK = 64 * 1024
_ENCRYPTED = 0x1  # zip general purpose flag bit 0
_UTF8_NAME = 0x800  # zip general purpose flag bit 11: the name is UTF-8
_AES = 99  # WinZip AES: the compression method of an encrypted member
_UNICODE_PATH = 0x7075  # Info-ZIP Unicode Path extra field (7-Zip, WinRAR write it beside a GBK name)


class ContainerRefused(HrbotError):
    """A container that is not opened; str(error) is the HR-facing reason (a limit named, a password, damage)."""


@dataclass(frozen=True)
class Listed:
    """One line of a message's attachment list after unpacking, in log order."""

    part: Part
    unpacked: bool = False  # a container whose parts follow it: logged as ignored, reason "unpacked"
    refused: str = ""  # a container that was not opened: logged as rejected with this reason


@dataclass
class Budget:
    """The members and unpacked bytes taken so far by one top-level container and the one nested in it."""

    limits: Limits
    members: int = 0
    size: int = 0

    def take(self, count: int, size: int, what: str) -> None:
        """Count more members and bytes of `what` (HR's word for the container); raise ContainerRefused,
        naming the limit, rather than pass one."""
        caps = self.limits
        if self.members + count > caps.archive_members:
            raise ContainerRefused(f"{what}内含 {self.members + count} 个文件，超过上限 {caps.archive_members} 个")
        if self.size + size > caps.archive_total_bytes:
            shown, cap = over(self.size + size, caps.archive_total_bytes)
            raise ContainerRefused(f"{what}内的文件共 {shown}，超过上限 {cap}")
        self.members += count
        self.size += size


def expand(part: Part, limits: Limits) -> list[Listed]:
    """The part as the attachment list shows it: itself, and when it is a container, its parts after it."""
    return _expand(part, limits, Budget(limits), 0)


def _expand(part: Part, limits: Limits, budget: Budget, depth: int) -> list[Listed]:
    if container_kind(part) is None:
        return [Listed(part)]
    if depth >= MAX_DEPTH:
        return [Listed(part, refused="压缩包或转发的邮件嵌套层数过多，未打开，请直接发送其中的文件")]
    try:
        children = unpack(part, limits, budget) or []
    except ContainerRefused as refused:
        return [Listed(part, refused=str(refused))]
    except Exception as error:  # noqa: BLE001 - one container nobody foresaw must not cost the message
        log.warning("unpack: %r could not be opened: %s", part.filename, error, exc_info=log.isEnabledFor(logging.DEBUG))
        return [Listed(part, refused=f"无法打开：{' '.join(str(error).split())[:200] or type(error).__name__}")]
    listed = [Listed(part, unpacked=True)]
    for child in children:
        listed += _expand(child, limits, budget, depth + 1)
    return listed


def container_kind(part: Part) -> str | None:
    """ARCHIVE, MAIL, MSG or TNEF when the part is a container, else None; read from the bytes where they tell."""
    kind = filekind.sniff(part.data, part.filename, part.content_type).kind
    if kind in (ARCHIVE, MSG, TNEF):
        return kind
    if part.content_type in _MAIL_TYPES or _looks_like_mail(part.data):
        return MAIL
    return None


def unpack(part: Part, limits: Limits, budget: Budget | None = None) -> list[Part] | None:
    """The parts a container holds (one level), named "container/inner"; None when the part is no container.

    Raise ContainerRefused with the reason when it is not opened.
    """
    kind = container_kind(part)
    if kind is None:
        return None
    if len(part.data) > limits.attachment_bytes:
        raise ContainerRefused("附件大小 {} 超过上限 {}".format(*over(len(part.data), limits.attachment_bytes)))
    budget = budget or Budget(limits)
    prefix = part.filename or _DEFAULT_NAMES[kind]
    opener = {ARCHIVE: _zip_parts, MAIL: _mail_parts, MSG: _msg_parts, TNEF: _tnef_parts}[kind]
    children = opener(part.data, limits, budget)
    if kind != ARCHIVE:  # a zip's members were counted before they were inflated
        budget.take(len(children), sum(len(c.data) for c in children), _WORDS[kind])
    for child in children:
        child.filename = f"{prefix}/{child.filename}" if child.filename else None
    return children


# --- zip ------------------------------------------------------------------------


def _zip_parts(data: bytes, limits: Limits, budget: Budget) -> list[Part]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as error:
        raise ContainerRefused("压缩包已损坏，无法打开") from error
    with zf:
        members = [(info, member_name(info)) for info in zf.infolist() if not info.is_dir()]
        # Finder's AppleDouble copies (__MACOSX/._name) are metadata, not files anyone sent.
        members = [(info, name) for info, name in members if not name.startswith("__MACOSX/")]
        for info, name in members:
            _check_member(info, name, limits)
        budget.take(len(members), sum(info.file_size for info, _ in members), _WORDS[ARCHIVE])
        return [Part(name, _type_of(name), _inflate(zf, info, name, limits)) for info, name in members]


def _check_member(info: zipfile.ZipInfo, name: str, limits: Limits) -> None:
    if info.flag_bits & _ENCRYPTED or info.compress_type == _AES:
        raise ContainerRefused(f"压缩包中的 {name} 设有密码，无法打开，请取消密码后重新发送")
    if info.file_size > limits.attachment_bytes:
        shown, cap = over(info.file_size, limits.attachment_bytes)
        raise ContainerRefused(f"压缩包中的 {name} 解压后 {shown}，超过单个附件上限 {cap}")


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: Limits) -> bytes:
    """A member's bytes, read in chunks and never past its declared size or the per-attachment cap."""
    cap = min(info.file_size, limits.attachment_bytes)
    chunks, size = [], 0
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise ContainerRefused(f"压缩包中的 {name} 解压后超过声明的大小，疑似“压缩炸弹”")
                chunks.append(chunk)
    except NotImplementedError as error:
        raise ContainerRefused(f"压缩包中的 {name} 使用了无法解压的压缩方式，请改用普通 ZIP 压缩") from error
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError, zlib.error) as error:
        raise ContainerRefused(f"压缩包已损坏，{name} 无法解压") from error
    return b"".join(chunks)


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its sender's zip tool meant it.

    Without the UTF-8 flag, zipfile decodes the name as cp437; Windows' compressed folders,
    WinRAR and 360压缩 on Chinese Windows write GBK there, macOS and Linux UTF-8. A Unicode
    Path extra field, when its CRC matches the name, wins over both.
    """
    if info.flag_bits & _UTF8_NAME:
        name = info.orig_filename
    else:
        raw = info.orig_filename.encode("cp437")
        name = _unicode_path(info.extra, raw) or _legacy_name(raw)
    # Only after decoding: 0x5C is a valid GBK trail byte, not always a backslash.
    return clean_name(name.replace("\\", "/")) or "未命名文件"


def _legacy_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(raw, "gb18030")


def _unicode_path(extra: bytes, raw: bytes) -> str | None:
    offset = 0
    while offset + 4 <= len(extra):
        key, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4: offset + 4 + size]
        offset += 4 + size
        if key == _UNICODE_PATH and len(body) > 5 and body[0] == 1:
            if struct.unpack_from("<I", body, 1)[0] == zlib.crc32(raw):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def _type_of(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


# --- forwarded mail -----------------------------------------------------------


def _looks_like_mail(data: bytes) -> bool:
    """Whether bytes are an RFC 5322 message (an .eml sent as octet-stream): a header block with From and more."""
    head = data[:8192].lstrip(b"\r\n")
    if not _HEADER_LINE.match(head):  # the first line (a header line never spans two): most files stop here
        return False
    block = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    lines = block.splitlines()
    if not all(_HEADER_LINE.match(line) or line[:1] in (b" ", b"\t") for line in lines):
        return False
    found = {m.group(1).lower() for m in _MAIL_HEADERS.finditer(block)}
    return b"from" in found and len(found) >= 2  # every message has From; a note with a Date: line is none


def _mail_parts(data: bytes, limits: Limits, budget: Budget) -> list[Part]:
    # decode never raises; a message it cannot read has no parts.
    return list(decode(data).parts)


def _msg_parts(data: bytes, limits: Limits, budget: Budget) -> list[Part]:
    import extract_msg  # imported here: a large package only a .msg needs

    try:
        msg = extract_msg.openMsg(data, strict=False)
    except Exception as error:  # noqa: BLE001 - extract_msg raises many types on damaged files
        raise ContainerRefused("Outlook 邮件（.msg）已损坏，无法打开") from error
    try:
        return [_msg_attachment(att) for att in msg.attachments]
    except Exception as error:  # noqa: BLE001
        raise ContainerRefused("Outlook 邮件（.msg）已损坏，无法读取其中的附件") from error
    finally:
        msg.close()


def _msg_attachment(att: Any) -> Part:  # an extract_msg attachment of any of its classes
    name = next((clean_name(str(n).strip("\x00")) for n in (
        getattr(att, "longFilename", None), getattr(att, "shortFilename", None), getattr(att, "name", None))
        if n), None)
    data = getattr(att, "data", None)
    if data is not None and not isinstance(data, bytes):
        # An attached Outlook item: kept as a .msg of its own, named by its subject.
        name = name or clean_name(f"{getattr(data, 'subject', '') or 'message'}.msg")
        if not name.lower().endswith(".msg"):
            name += ".msg"
        data = data.exportBytes()
        return Part(name, "application/vnd.ms-outlook", data)
    # A link to a cloud file has no bytes: listed, recognised as nothing.
    return Part(name, _type_of(name or ""), data or b"")


def _tnef_parts(data: bytes, limits: Limits, budget: Budget) -> list[Part]:
    from tnefparse.tnef import TNEF as Tnef

    try:
        tnef = Tnef(data, do_checksum=False)
    except Exception as error:  # noqa: BLE001 - tnefparse raises many types on damaged files
        raise ContainerRefused("winmail.dat 已损坏，无法打开") from error
    parts = []
    for att in tnef.attachments:
        name = _tnef_name(att, tnef.codepage)
        parts.append(Part(name, _type_of(name or ""), bytes(att.data)))
    return parts


def _tnef_name(att: Any, codepage: str | None) -> str | None:  # att: a tnefparse TNEFAttachment
    """The long (MAPI) file name, else attAttachTitle in the sender's OEM code page.

    tnefparse's own `name` decodes the title as UTF-8 and raises on a GBK name, so the raw
    title is read and decoded here.
    """
    try:
        long_name = att.long_filename()
    except (UnicodeDecodeError, AttributeError):
        long_name = None
    if isinstance(long_name, str) and long_name.strip("\x00").strip():
        return clean_name(long_name.strip("\x00"))
    raw = getattr(att, "_name", b"")
    if isinstance(raw, str):
        return clean_name(raw.strip("\x00"))
    return clean_name(decode_bytes(bytes(raw).rstrip(b"\x00"), codepage)) if raw else None
