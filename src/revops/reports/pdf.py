"""The PDF of the report: the same :class:`~revops.reports.view.View` as the e-mail, laid out
on A4 pages with ReportLab (pure Python, no system service or browser needed).

Text is set in DejaVu Sans, the TrueType font matplotlib ships (so arrows and other symbols
render, and nothing depends on fonts installed on the machine); charts are the same PNGs as the
e-mail's. Output is reproducible: ReportLab's invariant mode fixes the document id and dates.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from revops.reports.view import Table as ViewTable
from revops.reports.view import View

FONT = "RevopsSans"
FONT_BOLD = "RevopsSans-Bold"
_INK = "#1f2933"
_MUTED = "#4a5563"
_TREND = {"good": "#1e7b45", "bad": "#b42318", "flat": _MUTED}


def _register_fonts() -> tuple[str, str]:
    """Register DejaVu Sans (from matplotlib) once; fall back to Helvetica without it."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT, FONT_BOLD
    try:
        import matplotlib

        fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont(FONT, str(fonts / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(fonts / "DejaVuSans-Bold.ttf")))
    except Exception:  # pragma: no cover - matplotlib always ships these
        return "Helvetica", "Helvetica-Bold"
    return FONT, FONT_BOLD


def render_pdf(view: View, images: dict[str, bytes]) -> bytes:
    """The report as a PDF (A4): header, headline tiles, every section's tables, bullets and
    charts (``images``: PNG bytes per chart Content-ID), notes and the gate's status."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import (
        Image,
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _register_fonts()
    from reportlab.lib.fonts import addMapping

    addMapping(regular, 0, 0, regular)
    addMapping(regular, 1, 0, bold)  # <b> in paragraphs
    width = A4[0] - 36 * mm
    style = {
        "body": ParagraphStyle("body", fontName=regular, fontSize=9, leading=12, textColor=_MUTED),
        "cell": ParagraphStyle(
            "cell", fontName=regular, fontSize=8.5, leading=10.5, textColor=_INK
        ),
        "cell_r": ParagraphStyle(
            "cell_r",
            fontName=regular,
            fontSize=8.5,
            leading=10.5,
            textColor=_INK,
            alignment=TA_RIGHT,
        ),
        "head": ParagraphStyle("head", fontName=bold, fontSize=7.5, leading=9.5, textColor=_MUTED),
        "head_r": ParagraphStyle(
            "head_r", fontName=bold, fontSize=7.5, leading=9.5, textColor=_MUTED, alignment=TA_RIGHT
        ),
        "h1": ParagraphStyle(
            "h1", fontName=bold, fontSize=18, leading=22, textColor=colors.HexColor("#1f3a60")
        ),
        "h2": ParagraphStyle(
            "h2",
            fontName=bold,
            fontSize=12.5,
            leading=16,
            textColor=_INK,
            spaceBefore=10,
            spaceAfter=4,
        ),
        "h3": ParagraphStyle(
            "h3",
            fontName=bold,
            fontSize=9.5,
            leading=12,
            textColor=_INK,
            spaceBefore=6,
            spaceAfter=2,
        ),
        "small": ParagraphStyle(
            "small", fontName=regular, fontSize=7.5, leading=10, textColor=_MUTED
        ),
        "tile_label": ParagraphStyle(
            "tile_label", fontName=regular, fontSize=7, leading=9, textColor=_MUTED
        ),
        "tile_value": ParagraphStyle(
            "tile_value", fontName=bold, fontSize=14, leading=17, textColor=_INK
        ),
    }

    def para(text: str, name: str = "body") -> Any:
        return Paragraph(escape(text), style[name])

    def table(t: ViewTable) -> Any:
        right = [a == "r" for a in t.align]
        data = [
            [
                Paragraph(escape(h), style["head_r" if r else "head"])
                for h, r in zip(t.headers, right, strict=True)
            ]
        ]
        for row in t.rows:
            data.append(
                [
                    Paragraph(escape(c), style["cell_r" if r else "cell"])
                    for c, r in zip(row, right, strict=True)
                ]
            )
        if t.total:
            data.append(
                [
                    Paragraph(f"<b>{escape(c)}</b>", style["cell_r" if r else "cell"])
                    for c, r in zip(t.total, right, strict=True)
                ]
            )
        # each column as wide as its widest cell (headers may wrap); the first takes the rest
        cells = [*t.rows, *([t.total] if t.total else [])]
        need = [
            max(
                [stringWidth(str(row[i]), bold, 8.5) for row in cells]
                + [stringWidth(h[:12], bold, 7.5)]
            )
            + 14
            for i, h in enumerate(t.headers)
        ]
        others, room = sum(need[1:]), width - need[0]
        if others > room:
            need = [need[0]] + [n * room / others for n in need[1:]]
        widths = [width - sum(need[1:]), *need[1:]]
        grid = Table(data, colWidths=widths, repeatRows=1)
        commands = [
            ("LINEBELOW", (0, 0), (-1, 0), 1, colors.HexColor("#c8ced6")),
            ("LINEBELOW", (0, 1), (-1, -1), 0.4, colors.HexColor("#e5e8ec")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
        if t.total:
            commands.append(("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.HexColor("#c8ced6")))
        grid.setStyle(TableStyle(commands))
        parts = [para(t.title, "h3")] if t.title else []
        return KeepTogether([*parts, grid])

    story: list[Any] = [
        para("REVOPS \u00b7 SALES AND MARKETING", "small"),
        para(view.heading, "h1"),
        para(
            f"{view.period_days} (UTC), compared with {view.previous_label} ({view.previous_days})"
        ),
        Spacer(1, 4 * mm),
    ]
    if view.empty:
        story.append(
            para(
                f"No data for {view.period_label}: the marts hold no funnel entries, "
                "ad spend or pipeline in this period."
            )
        )
    story.append(para("Headline", "h2"))
    cells = []
    for tile in view.tiles:
        if tile.missing:
            body = [
                para(tile.label.upper(), "tile_label"),
                para("n/a", "tile_value"),
                para(f"Not available yet: {tile.missing}", "small"),
            ]
        else:
            change = ParagraphStyle(
                "change",
                parent=style["small"],
                textColor=colors.HexColor(_TREND[tile.trend]),
                fontName=bold,
            )
            body = [
                para(tile.label.upper(), "tile_label"),
                para(tile.value, "tile_value"),
                Paragraph(escape(f"{tile.arrow} {tile.change}".strip()), change),
                para(f"{view.previous_label}: {tile.previous}", "small"),
            ]
        cells.append(body)
    rows = [cells[i : i + 3] for i in range(0, len(cells), 3)]
    rows[-1] += [[""]] * (3 - len(rows[-1]))
    tiles = Table(rows, colWidths=[width / 3] * 3)
    tiles.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.4, colors.HexColor("#e5e8ec")),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#e5e8ec")),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f7f9fb")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    story.append(tiles)
    for section in view.sections:
        story.append(para(section.title, "h2"))
        if section.intro:
            story.append(para(section.intro))
        if section.unavailable:
            text = (
                section.unavailable
                if section.tables
                else (f"Not available yet: {section.unavailable}")
            )
            story.append(para(text))
        for t in section.tables:
            story.append(table(t))
            story.append(Spacer(1, 2 * mm))
        if section.bullets:
            if section.bullets_title:
                story.append(para(section.bullets_title, "h3"))
            story.extend(
                Paragraph(escape(b), style["body"], bulletText="\u2022") for b in section.bullets
            )
        for chart in section.charts:
            png = images.get(chart.cid)
            if png is None:
                continue
            height = width * chart.height / chart.width
            story.append(
                KeepTogether(
                    [
                        para(chart.title, "small"),
                        Image(io.BytesIO(png), width=width, height=height),
                    ]
                )
            )
    story.append(Spacer(1, 5 * mm))
    story.extend(para(note, "small") for note in view.notes)
    story.append(Spacer(1, 2 * mm))
    story.append(para(view.gate_status, "small"))
    story.extend(para(f"Warning: {w}", "small") for w in view.gate_warnings)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.setFillColor(colors.HexColor("#8a94a3"))
        canvas.drawString(18 * mm, 10 * mm, f"{view.title} \u00b7 from the warehouse marts")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=view.title,
        author="revops",
        subject=f"{view.heading}, {view.period_days}",
        creator="revops",
        invariant=True,
        lang="en",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
