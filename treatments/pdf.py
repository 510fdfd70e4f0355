"""What the PDFs we make share (the continuation evidence, treatments/evidence.py, and the
patient's record, treatments/record_pdf.py): A4 with 15 mm margins, one set of styles, and
tables of plain-text cells with a grey header row. ReportLab: pure-Python wheels, no system
Pango or Cairo, and we need tables and text (which screen readers and pdftotext read), not
HTML layout."""

import io
from collections.abc import Callable, Sequence

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

_STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=11.5)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8, leading=10, alignment=TA_LEFT)
HEAD = ParagraphStyle("head", parent=CELL, fontName="Helvetica-Bold")
H1 = ParagraphStyle("h1", parent=_STYLES["Heading1"], fontSize=14, leading=17, spaceAfter=4)
H2 = ParagraphStyle("h2", parent=_STYLES["Heading2"], fontSize=11, leading=14, spaceBefore=8)

GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
)


def text(value: object) -> str:
    """Plain text for a ReportLab paragraph (its markup is XML-like: escape it)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def paragraph(value: object, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(text(value), style)


def table(
    head: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float] | None = None,
) -> Table:
    """A grid with `head` repeated on every page; `widths` in mm, or ReportLab's own."""
    data = [[Paragraph(text(h), HEAD) for h in head]]
    data += [[Paragraph(text(cell), CELL) for cell in row] for row in rows]
    col_widths = [w * mm for w in widths] if widths is not None else None
    grid = Table(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT")
    grid.setStyle(GRID)
    return grid


def build(story: list, *, title: str, on_page: Callable | None = None) -> bytes:
    """The story laid out on A4 pages; `on_page(canvas, document)` draws on each (a footer)."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="Cadence",
    )
    if on_page is not None:
        document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    else:
        document.build(story)
    return buffer.getvalue()
