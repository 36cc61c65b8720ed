"""Builders for the layout corpus: .docx files made with python-docx, and a PDF holding only an image."""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import docx
import opencc

OPINION = "该同志政治立场坚定，工作认真负责，能够团结班子成员，较好地完成了分管工作，廉洁自律方面表现良好。"
OPINION_2 = "该同志业务熟悉，敢于担当，安全生产管理扎实；今后需加强理论学习，进一步改进工作作风。"
TEAM_OPINION = "班子团结协作，作风务实，全年生产经营指标完成较好，职工认可度高。"
REPORT_BODY = (
    "一、职务、职责、分管的主要工作及年度KPI目标",
    "本人任现职以来，负责分管范围内的生产、安全和设备管理工作，年度KPI目标明确。",
    "二、年度KPI目标预计完成情况及采取的主要措施",
    "全年各项指标预计全面完成，重点抓了装置长周期运行和“四好”班子创建。",
    "三、存在的主要问题和教训",
    "理论学习不够系统，创新意识有待加强。",
    "四、今后努力的方向及工作打算",
    "明年将进一步加强学习，狠抓安全环保，确保完成各项任务。",
)
TEAM_BODY = (
    "一、班子在政治素质、领导能力、工作业绩、团结协作、作风形象等方面的情况",
    "班子坚持民主集中制，团结协作，全年安全生产无事故。",
    "二、本单位采取的主要措施",
    "狠抓装置平稳运行，推进节能降耗。",
    "三、本单位及班子存在的主要问题、薄弱环节和改进措施",
    "人才培养有短板，下一步加强青年骨干培养。",
)

_S2T = opencc.OpenCC("s2t")


@dataclass(frozen=True)
class Table:
    """A table's rows, and cells merged across (row, first column, last column) or down (column, first row, last row)."""

    rows: tuple[tuple[str, ...], ...]
    across: tuple[tuple[int, int, int], ...] = ()
    down: tuple[tuple[int, int, int], ...] = ()


def table(*rows: tuple[str, ...] | list[str], across=(), down=()) -> Table:
    return Table(tuple(tuple(r) for r in rows), tuple(across), tuple(down))


@dataclass(frozen=True)
class Word:
    """A .docx: paragraphs (str) and tables in order, with an optional page header and footer."""

    blocks: tuple[str | Table, ...]
    header: str = ""
    footer: str = ""
    traditional: bool = False

    def data(self) -> bytes:
        say = _S2T.convert if self.traditional else (lambda s: s)
        document = docx.Document()
        for block in self.blocks:
            if isinstance(block, str):
                document.add_paragraph(say(block))
            else:
                _add_table(document, block, say)
        section = document.sections[0]
        if self.header:
            section.header.paragraphs[0].text = say(self.header)
        if self.footer:
            section.footer.paragraphs[0].text = say(self.footer)
        buffer = io.BytesIO()
        document.save(buffer)
        return buffer.getvalue()


def word(*blocks: str | Table, header: str = "", footer: str = "", traditional: bool = False) -> Word:
    return Word(tuple(blocks), header, footer, traditional)


def _add_table(document, spec: Table, say) -> None:
    width = max(len(r) for r in spec.rows)
    grid = document.add_table(rows=len(spec.rows), cols=width)
    grid.style = "Table Grid"
    for r, row in enumerate(spec.rows):
        for c, text in enumerate(row):
            grid.cell(r, c).text = say(text)
    # Merging concatenates the cells' texts: the merged cell is written again with the first one's.
    for r, first, last in spec.across:
        text = spec.rows[r][first]
        merged = grid.cell(r, first).merge(grid.cell(r, last))
        merged.text = say(text)
    for c, first, last in spec.down:
        text = spec.rows[first][c]
        merged = grid.cell(first, c).merge(grid.cell(last, c))
        merged.text = say(text)


def image_pdf(width: int = 120, height: int = 160) -> bytes:
    """A one-page PDF whose page is a grey image and nothing else: what a scanner sends."""
    pixels = bytes((x * 7 + y * 3) % 256 for y in range(height) for x in range(width))
    image = zlib.compress(pixels)
    content = f"q {width * 4} 0 0 {height * 4} 20 20 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        (f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray"
         f" /BitsPerComponent 8 /Filter /FlateDecode /Length {len(image)} >>\nstream\n").encode() + image
        + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
