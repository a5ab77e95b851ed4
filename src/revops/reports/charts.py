"""The report's charts: PNGs drawn with matplotlib's file-only Agg backend (no pyplot state).

Each chart comes with its Content-ID (the HTML refers to it as ``cid:``), a title and an alt
text that carries its numbers, so a reader without images loses nothing. Sizes are in CSS
pixels of the 600 px e-mail body; the PNG has twice as many pixels for sharp high-density
screens. The same PNGs go into the PDF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from revops.reports.data import MODEL_LABELS, STAGE_MEASURES, STEPS, Report
from revops.reports.format import fmt_count, fmt_money, fmt_rate, fmt_roas

DPI = 100  # CSS pixels per inch of figure size
SCALE = 2  # PNG pixels per CSS pixel
WIDTH_IN = 5.52  # 552 px: the 600 px e-mail body less its 24 px side padding
INK = "#1f2933"
MUTED = "#4a5563"
GRID = "#e5e8ec"
AXIS = "#c8ced6"
STAGE_COLOURS = ("#9db4d3", "#3f6fb5", "#5b8bd0", "#e08a2c", "#c8612a", "#2e9e5b")
MODEL_COLOURS = ("#3f6fb5", "#e08a2c", "#2e9e5b", "#8e5bb5", "#b43f6f")


@dataclass(frozen=True)
class Chart:
    """One PNG chart and how the HTML shows it."""

    cid: str
    png: bytes
    title: str
    alt: str
    width: int
    height: int

    @property
    def filename(self) -> str:
        """``funnel.png`` for ``funnel.2026-W46@revops``."""
        return f"{self.cid.split('.', 1)[0]}.png"


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    """The figure as an opaque (RGB) PNG: no alpha channel, which mail clients and the PDF do
    not need (a PDF would carry it as a second image)."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI * SCALE, facecolor="white")
    buffer.seek(0)
    out = io.BytesIO()
    Image.open(buffer).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _style(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(AXIS)
    axes.tick_params(colors=MUTED, labelsize=7)


def _chart(report: Report, name: str, figure: Any, title: str, alt: str, h: float) -> Chart:
    return Chart(
        cid=f"{name}.{report.period.label}@revops",
        png=_png(figure),
        title=title,
        alt=alt,
        width=round(WIDTH_IN * DPI),
        height=round(h * DPI),
    )


def funnel_chart(report: Report) -> Chart | None:
    """The period's funnel: people entering each stage as centred bars, with the cohort
    conversion rate of each step between them. None without funnel data."""
    funnel = report.funnel
    if funnel is None or not any(funnel.current.get(m) for m, _ in STAGE_MEASURES):
        return None
    counts = [funnel.current.get(m) for m, _ in STAGE_MEASURES]
    labels = [label for _, label in STAGE_MEASURES]
    height = 2.7
    figure = _figure(height)
    axes = figure.add_subplot()
    widest = max(counts) or 1
    ys = list(range(len(counts)))[::-1]
    for y, value, colour in zip(ys, counts, STAGE_COLOURS, strict=True):
        axes.barh(y, value, left=(widest - value) / 2, height=0.62, color=colour)
        axes.text(
            widest / 2,
            y,
            fmt_count(value),
            ha="center",
            va="center",
            fontsize=8,
            color="#ffffff" if value > widest * 0.18 else INK,
            fontweight="bold",
        )
    for i, (step, _) in enumerate(STEPS):
        rate = funnel.rates.get(step)
        axes.text(
            widest * 1.02,
            ys[i] - 0.5,
            f"\u2193 {fmt_rate(rate)}",
            ha="left",
            va="center",
            fontsize=7,
            color=MUTED,
        )
    axes.set_yticks(ys, labels)
    axes.set_xlim(0, widest * 1.22)
    axes.set_xticks([])
    axes.spines["bottom"].set_visible(False)
    axes.set_title(
        "people entering each stage; \u2193 cohort conversion to the next stage",
        fontsize=7,
        color=MUTED,
        loc="left",
    )
    _style(axes)
    alt = "Funnel for {}: {}; cohort conversion: {}".format(
        report.period.label,
        ", ".join(f"{label} {fmt_count(v)}" for label, v in zip(labels, counts, strict=True)),
        ", ".join(f"{label} {fmt_rate(funnel.rates.get(step))}" for step, label in STEPS),
    )
    return _chart(
        report, "funnel", figure, f"Funnel conversion, {report.period.label}", alt, height
    )


def trend_chart(report: Report) -> Chart | None:
    """Weekly stage entries over the last 12 weeks; None without data."""
    funnel = report.funnel
    if funnel is None or not any(c.get(m) for _, c in funnel.weeks for m, _ in STAGE_MEASURES):
        return None
    height = 2.4
    figure = _figure(height)
    axes = figure.add_subplot()
    xs = list(range(len(funnel.weeks)))
    period = report.period
    inside = [
        i
        for i, (monday, _) in enumerate(funnel.weeks)
        if monday < period.end and monday.toordinal() + 7 > period.start.toordinal()
    ]
    if inside:
        axes.axvspan(min(inside) - 0.4, max(inside) + 0.4, color="#eef2f8", zorder=0)
    shown = (
        ("leads", "Leads", 0),
        ("mqls", "MQLs", 1),
        ("sqls", "SQLs", 3),
        ("customers", "Customers", 5),
    )
    for key, label, colour in shown:
        axes.plot(
            xs,
            [c.get(key) for _, c in funnel.weeks],
            marker="o",
            markersize=3,
            linewidth=1.6,
            label=label,
            color=STAGE_COLOURS[colour],
        )
    axes.set_xticks(xs, [f"{m.day} {m:%b}" for m, _ in funnel.weeks])
    axes.set_ylim(bottom=0)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.grid(axis="y", color=GRID, linewidth=0.6)
    axes.set_xlabel("week starting (Monday, UTC)", fontsize=7, color=MUTED)
    axes.legend(fontsize=7, frameon=False, ncols=4, loc="lower left", bbox_to_anchor=(0, 1))
    _style(axes)
    first, last = funnel.weeks[0][0], funnel.weeks[-1][0]
    latest = funnel.weeks[-1][1]
    alt = (
        f"Line chart of leads, MQLs, SQLs and customers per week from {first.day} "
        f"{first:%b %Y} to {last.day} {last:%b %Y}; in the week of {last.day} {last:%b}: "
        f"{latest.leads} leads, {latest.mqls} MQLs, {latest.sqls} SQLs, "
        f"{latest.customers} customers"
    )
    return _chart(
        report,
        "trend",
        figure,
        f"Funnel entries per week, {len(funnel.weeks)} weeks to {period.label}",
        alt,
        height,
    )


def attribution_chart(report: Report) -> Chart | None:
    """Won revenue (or, without any, pipeline) by channel, one bar per model side by side."""
    section = report.attribution
    if section is None:
        return None
    measure = "pipeline"
    if any(section.total("revenue", m) for m in section.models):
        measure = "revenue"
    table = getattr(section, measure)
    channels = [c for c in section.channels if any(table.get(c, {}).values())][:8]
    if not channels:
        return None
    height = 0.75 + 0.42 * len(channels)
    figure = _figure(height)
    axes = figure.add_subplot()
    n = len(section.models)
    bar = 0.8 / n
    ys = list(range(len(channels)))[::-1]
    for j, model in enumerate(section.models):
        values = [table.get(c, {}).get(model, 0.0) for c in channels]
        offsets = [y + 0.4 - bar * (j + 0.5) for y in ys]
        axes.barh(
            offsets,
            values,
            height=bar * 0.92,
            color=MODEL_COLOURS[j % 5],
            label=MODEL_LABELS.get(model, model),
        )
    axes.set_yticks(ys, channels)
    axes.xaxis.set_major_formatter(_money_axis(report.currency))
    axes.set_xlabel(report.currency, fontsize=7, color=MUTED)
    axes.grid(axis="x", color=GRID, linewidth=0.6)
    axes.legend(fontsize=7, frameon=False, ncols=n, loc="lower left", bbox_to_anchor=(0, 1))
    _style(axes)
    what = "won revenue" if measure == "revenue" else "pipeline"
    alt = f"Bar chart of attributed {what} by channel under {n} models: " + "; ".join(
        f"{c} "
        + ", ".join(
            f"{MODEL_LABELS.get(m, m)} {fmt_money(table.get(c, {}).get(m, 0.0), report.currency)}"
            for m in section.models
        )
        for c in channels
    )
    return _chart(
        report,
        "attribution",
        figure,
        f"Attributed {what} by channel and model, {report.period.label}",
        alt,
        height,
    )


def spend_chart(report: Report) -> Chart | None:
    """Ad spend by channel, with the ROAS of each model beside each bar."""
    rows = [r for r in report.spend or () if r.spend > 0]
    if not rows:
        return None
    models = report.attribution.models if report.attribution else ()
    height = 0.7 + 0.36 * len(rows)
    figure = _figure(height)
    axes = figure.add_subplot()
    ys = list(range(len(rows)))[::-1]
    widest = max(r.spend for r in rows)
    axes.barh(ys, [r.spend for r in rows], height=0.6, color="#3f6fb5")
    for y, row in zip(ys, rows, strict=True):
        roas = " \u00b7 ".join(f"{_initials(m)} {fmt_roas(row.roas(m))}" for m in models)
        label = fmt_money(row.spend, report.currency) + (f"   ROAS {roas}" if roas else "")
        axes.text(row.spend + widest * 0.01, y, label, va="center", fontsize=7, color=INK)
    if models:
        axes.set_title(
            "ROAS: " + ", ".join(f"{_initials(m)} = {MODEL_LABELS.get(m, m)}" for m in models),
            fontsize=7,
            color=MUTED,
            loc="left",
        )
    axes.set_yticks(ys, [r.channel for r in rows])
    axes.set_xlim(0, widest * (2.0 if models else 1.25))
    axes.xaxis.set_major_formatter(_money_axis(report.currency))
    axes.set_xlabel(report.currency, fontsize=7, color=MUTED)
    axes.grid(axis="x", color=GRID, linewidth=0.6)
    _style(axes)
    alt = f"Bar chart of ad spend by channel in {report.period.label}: " + "; ".join(
        f"{r.channel} {fmt_money(r.spend, report.currency)}"
        + (
            " (ROAS "
            + ", ".join(f"{MODEL_LABELS.get(m, m)} {fmt_roas(r.roas(m))}" for m in models)
            + ")"
            if models
            else ""
        )
        for r in rows
    )
    return _chart(
        report, "spend", figure, f"Ad spend and ROAS by channel, {report.period.label}", alt, height
    )


def _initials(model: str) -> str:
    """``LT`` for Last touch, ``W`` for W-shaped, ``M`` for Markov."""
    return "".join(word[0] for word in MODEL_LABELS.get(model, model).split()).upper()


def _money_axis(currency: str) -> Any:
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _pos: int) -> str:
        if abs(value) >= 1_000_000:
            return f"{value / 1_000_000:.1f}M"
        if abs(value) >= 1_000:
            return f"{value / 1_000:.0f}k"
        return f"{value:.0f}"

    return FuncFormatter(label)


def all_charts(report: Report) -> list[Chart]:
    """Every chart the report has data for, in the order the report shows them."""
    charts = (
        attribution_chart(report),
        funnel_chart(report),
        trend_chart(report),
        spend_chart(report),
    )
    return [c for c in charts if c is not None]
