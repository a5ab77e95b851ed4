"""Rendering the leadership report: HTML e-mail, plain text, PDF, CSVs, from the marts' numbers.

:func:`build_report` (in :mod:`revops.reports.data`) reads the numbers; :func:`render_report`
draws the charts (:mod:`revops.reports.charts`), formats everything once
(:mod:`revops.reports.view`) and renders it as

- HTML for mail clients (Jinja template ``templates/report.html.j2``: inline styles, tables
  for layout, charts as ``cid:`` images with alt text and sizes, at most 600 px wide),
- the plain-text part (``templates/report.txt.j2``) with the same numbers,
- a PDF of the same report (:mod:`revops.reports.pdf`), and
- the underlying tables as CSV.

Rendering is deterministic: the same numbers give the same e-mail, PDF and CSVs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revops.reports.charts import Chart, all_charts
from revops.reports.data import (
    CHART_WEEKS,
    REPORT_MODELS,
    Report,
    ReportError,
    build_report,
    chart_weeks,
)
from revops.reports.pdf import render_pdf
from revops.reports.view import Table, build_view, csv_tables

if TYPE_CHECKING:
    from revops.quality.runs import GateRun

__all__ = [
    "CHART_WEEKS",
    "REPORT_MODELS",
    "RenderedReport",
    "Report",
    "ReportError",
    "build_report",
    "chart_weeks",
    "pdf_name",
    "render_html",
    "render_report",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedReport:
    """The report in every form it is sent and archived in."""

    html: str
    """The HTML part; images referenced as ``cid:<Content-ID>``."""
    text: str
    """The plain-text part, same numbers."""
    images: dict[str, bytes]
    """PNG bytes per Content-ID (without angle brackets), as the HTML's ``cid:`` refers to."""
    pdf: bytes = b""
    """The PDF of the same report (empty when rendered without it)."""
    csvs: dict[str, str] = field(default_factory=dict)
    """CSV text per attachment file name."""
    pdf_filename: str = "report.pdf"
    charts: tuple[Chart, ...] = ()


def pdf_name(report: Report) -> str:
    """``revops-weekly-2026-W46.pdf``."""
    return f"revops-{report.period.edition}-{report.period.label}.pdf"


def csv_name(report: Report, name: str) -> str:
    """``revops-2026-W46-headline.csv`` for ``headline.csv``."""
    return f"revops-{report.period.label}-{name}"


def text_table(table: Table) -> str:
    """A table in fixed-width columns for the plain-text part."""
    rows = [table.headers, *table.rows, *([table.total] if table.total else [])]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(table.headers))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            str(cell).ljust(w) if table.align[i] == "l" else str(cell).rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or (table.total and n == len(rows) - 2):
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["text_table"] = text_table
    return env


def render_report(
    report: Report,
    gate: GateRun | None = None,
    *,
    with_pdf: bool = True,
) -> RenderedReport:
    """Render ``report`` as HTML and text e-mail parts, PNG charts, a PDF and CSV tables.

    ``gate`` is the passing gate run of the period: its warnings go in the footer.
    """
    charts = all_charts(report)
    csvs = {csv_name(report, name): text for name, text in csv_tables(report).items()}
    attachments: Sequence[str] = ([pdf_name(report)] if with_pdf else []) + list(csvs)
    view = build_view(report, charts, gate, attachments)
    env = _environment()
    html = env.get_template("report.html.j2").render(v=view)
    text = env.get_template("report.txt.j2").render(v=view)
    images = {c.cid: c.png for c in charts}
    pdf = render_pdf(view, images) if with_pdf else b""
    return RenderedReport(
        html=html,
        text=text,
        images=images,
        pdf=pdf,
        csvs=csvs,
        pdf_filename=pdf_name(report),
        charts=tuple(charts),
    )


def render_html(report: Report, gate: GateRun | None = None) -> RenderedReport:
    """:func:`render_report` (kept for callers of the first release)."""
    return render_report(report, gate)
