"""The documents of the generated season: filled forms padded to a realistic size, notices, opaque files."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib
from functools import lru_cache

from bench import words

KB = 1024
MB = 1024 * 1024

# What Word 2013+ does not write and python-docx's template carries: left out, so a filled form
# starts near 22 KB like a real one, and the size range comes from text and an embedded picture.
_DROPPED = ("word/stylesWithEffects.xml", "docProps/thumbnail.jpeg")
_MAGIC = {
    ".pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    ".jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    ".zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
    ".xlsx": b"PK\x03\x04\x14\x00\x06\x00\x08\x00",
    ".pptx": b"PK\x03\x04\x14\x00\x06\x00\x08\x00",
    ".rar": b"Rar!\x1a\x07\x01\x00",
}


def sentences(rng: random.Random, pool: tuple[str, ...], count: int) -> list[str]:
    return [rng.choice(pool).format(n=rng.randint(2, 60), m=rng.randint(10, 990), p=round(rng.uniform(90, 99.9), 1))
            for _ in range(count)]


def personal_report(rng: random.Random, unit: str, name: str, post: str, size: int, big_bytes: int = 0) -> bytes:
    """附件2 filled in with the sample parts plus report sentences, about `size` bytes as a .docx."""
    from parsers import forms, samples

    parts = {}
    for n in (1, 2, 3, 4):
        text = [line.format(unit=unit, post=post) for line in samples.PERSONAL_PARTS[n]]
        if n in (2, 4):
            text += sentences(rng, words.REPORT_SENTENCES, rng.randint(15, 100))
        parts[n] = "\n".join(text)
    return _sized(rng, forms.fill_personal_report(unit, name, post, parts=parts), size, big_bytes)


def team_report(rng: random.Random, unit: str, head: str, size: int) -> bytes:
    from parsers import forms

    return _sized(rng, forms.fill_team_report(unit, head), size)


def review(rng: random.Random, unit: str, reviewed: str, post: str, reviewer: str, reviewer_post: str,
           size: int) -> bytes:
    from parsers import forms

    opinion = "".join(sentences(rng, words.OPINION_SENTENCES, rng.randint(3, 7)))
    layout = rng.choice(REVIEW_LAYOUTS)
    if layout == "form":
        return _sized(rng, forms.fill_review(unit, reviewed, post, reviewer, reviewer_post, opinion=opinion), size)
    return _sized(rng, _review_layout(layout, unit, reviewed, post, reviewer, reviewer_post, opinion), size)


# The plan's own form, and the layouts units really send instead (tests/layouts: the recognition accepts them).
REVIEW_LAYOUTS = ("form", "form", "across", "column", "one-cell", "paragraphs")


def _review_layout(layout: str, unit: str, reviewed: str, post: str, reviewer: str, reviewer_post: str,
                   opinion: str) -> bytes:
    from tests.layouts.build import table, word

    from bench.season import YEAR

    day = f"{YEAR}年12月12日"
    if layout == "across":  # label, value, label, value across a row; the opinion merged across
        return word("民主评议考核表", table(("单位", unit, "日期", day), ("被评议人", reviewed, "职务", post),
                                          ("评价意见", opinion, opinion, opinion),
                                          ("评议人", reviewer, "评议人职务", reviewer_post), across=[(2, 1, 3)])).data()
    if layout == "column":  # labels in one column, values in the next
        return word("民主评议考核表", table(("单位", unit), ("被评议人", reviewed), ("职务", post), ("评价意见", opinion),
                                          ("评议人", reviewer), ("日期", day))).data()
    if layout == "one-cell":  # label and value in one cell
        return word("民主评议考核表", table((f"单位：{unit}", f"日期：{day}"), (f"被评议人：{reviewed}", f"职务：{post}"),
                                          (f"评价意见：{opinion}", f"评价意见：{opinion}"), across=[(2, 0, 1)])).data()
    return word("民主评议考核表", f"单位：{unit}", f"被评议人：{reviewed}        职务：{post}", f"评价意见：{opinion}",
                f"评议人：{reviewer}", day).data()  # paragraphs, no table


def union_review(rng: random.Random, unit: str, chair: str, members: tuple[str, ...], size: int) -> bytes:
    from parsers import forms

    opinions = {name: "".join(sentences(rng, words.OPINION_SENTENCES, 2)) for name in members}
    return _sized(rng, forms.fill_union_review(unit, chair, opinions), size)


@lru_cache(maxsize=None)
def notice(index: int) -> bytes:
    """One of a few circulated notices (关于…的通知.docx) from offices off the roster."""
    from docx import Document

    rng = random.Random(index)
    doc = Document()
    doc.add_paragraph(words.NOTICE_TITLES[index % len(words.NOTICE_TITLES)])
    doc.add_paragraph("各单位：")
    for line in sentences(rng, words.MAIL_SENTENCES + words.REPORT_SENTENCES, 40 + 10 * index):
        doc.add_paragraph(line)
    table = doc.add_table(rows=6, cols=4)
    for row in table.rows:
        for cell in row.cells:
            cell.text = str(rng.randint(1, 999))
    buffer = io.BytesIO()
    doc.save(buffer)
    return slim(buffer.getvalue())


def opaque(rng: random.Random, extension: str, size: int) -> bytes:
    """A file that only its name and first bytes say what it is: random content, incompressible like a scan."""
    magic = _MAGIC.get(extension, b"")
    return magic + rng.randbytes(max(0, size - len(magic)))


def slim(data: bytes) -> bytes:
    """The .docx without the parts Word itself would not write (see _DROPPED)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in _DROPPED:
                continue
            body = zin.read(info.filename)
            if info.filename in ("word/_rels/document.xml.rels", "_rels/.rels"):
                body = re.sub(rb'<Relationship [^>]*(stylesWithEffects\.xml|thumbnail\.jpeg)"\s*/>', b"", body)
            elif info.filename == "[Content_Types].xml":
                body = re.sub(rb'<Override PartName="/word/stylesWithEffects\.xml"[^>]*/>', b"", body)
            # A fixed timestamp keeps the generated bytes the same from run to run.
            zout.writestr(zipfile.ZipInfo(info.filename, (2025, 11, 1, 8, 0, 0)), body,
                          compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _sized(rng: random.Random, data: bytes, size: int, big_bytes: int = 0) -> bytes:
    """Slimmed, then grown to about `size` with an embedded picture (a signature scan, a chart),
    which is what makes real reports heavier than their text; big_bytes adds a photo that large."""
    slimmed = slim(data)
    picture = max(0, size - len(slimmed)) + big_bytes
    if picture < 2 * KB:
        return slimmed
    from docx import Document
    from docx.shared import Cm

    doc = Document(io.BytesIO(data))
    doc.add_picture(io.BytesIO(png(rng, picture)), width=Cm(12))
    buffer = io.BytesIO()
    doc.save(buffer)
    return slim(buffer.getvalue())


def png(rng: random.Random, size: int) -> bytes:
    """A PNG whose header is valid (python-docx reads its size) and whose pixel data is noise."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1600, 1200, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rng.randbytes(size)) + chunk(b"IEND", b"")
