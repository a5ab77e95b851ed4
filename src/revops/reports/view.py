"""What the report shows, formatted once for every medium: the HTML e-mail, its plain-text
part and the PDF all render the same :class:`View`, so they carry the same numbers. The CSV
attachments (:func:`csv_tables`) carry the same tables unformatted, for analysts.

Sections, in the order leadership reads them: headline numbers, attributed pipeline and
revenue by channel under several models (and where they disagree), the funnel, spend and ROAS
by channel, lead quality (Sales' feedback), handoff SLA by owner; then definitions and the
quality gate's warnings in the footer. A section whose mart is not built yet says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from revops.reports.charts import Chart
from revops.reports.data import (
    MODEL_LABELS,
    STAGE_MEASURES,
    STEPS,
    AttributionSection,
    Report,
)
from revops.reports.format import (
    Change,
    fmt_change,
    fmt_count,
    fmt_hours,
    fmt_money,
    fmt_rate,
    fmt_roas,
    fmt_value,
)

if TYPE_CHECKING:
    from revops.quality.runs import GateRun

DISAGREEMENT_SHARE = 0.05
"""Models "disagree" on a channel when their credits differ by at least this share of the
period's total (under the reference model)."""


@dataclass(frozen=True)
class Table:
    """A table as every medium shows it: header, alignment (``l``/``r``), rows, a total."""

    headers: list[str]
    align: list[str]
    rows: list[list[str]]
    total: list[str] | None = None
    title: str | None = None


@dataclass(frozen=True)
class Section:
    """One section of the report."""

    key: str
    title: str
    intro: str = ""
    unavailable: str | None = None
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    bullets_title: str = ""


@dataclass(frozen=True)
class Tile:
    """A headline number."""

    label: str
    value: str
    previous: str
    change: str
    trend: str
    arrow: str
    missing: str | None


@dataclass(frozen=True)
class View:
    """The whole report, formatted."""

    title: str
    heading: str
    period_label: str
    previous_label: str
    period_days: str
    previous_days: str
    empty: bool
    tiles: list[Tile]
    sections: list[Section]
    notes: list[str]
    gate_status: str
    gate_warnings: list[str]
    attachments: list[str]

    @property
    def tile_rows(self) -> list[list[Tile]]:
        """The tiles three to a row (for table layout in mail clients)."""
        return [self.tiles[i : i + 3] for i in range(0, len(self.tiles), 3)]


def fmt_days(report: Report, which: str = "period") -> str:
    """``Mon 9 Nov 2026 to Sun 15 Nov 2026``."""
    period = report.period if which == "period" else report.previous_period
    first, last = period.start, period.last_day
    return f"{first:%a} {first.day} {first:%b %Y} to {last:%a} {last.day} {last:%b %Y}"


def _tiles(report: Report) -> list[Tile]:
    tiles = []
    for kpi in report.kpis:
        change = Change(kpi.current, kpi.previous, kpi.higher_is_better)
        tiles.append(
            Tile(
                label=kpi.label,
                value=fmt_value(kpi.current, kpi.kind, report.currency),
                previous=fmt_value(kpi.previous, kpi.kind, report.currency),
                change=fmt_change(change, kpi.kind, report.currency),
                trend=change.trend,
                arrow=change.arrow,
                missing=kpi.missing,
            )
        )
    return tiles


def _model_labels(models: Sequence[str]) -> list[str]:
    return [MODEL_LABELS.get(m, m) for m in models]


def _attribution_table(
    section: AttributionSection, measure: str, currency: str, title: str
) -> Table | None:
    table = getattr(section, measure)
    channels = [c for c in section.channels if any(table.get(c, {}).values())]
    if not channels:
        return None
    rows = []
    for channel in channels:
        values = [table.get(channel, {}).get(m, 0.0) for m in section.models]
        rows.append(
            [
                channel,
                *(fmt_money(v, currency) for v in values),
                fmt_money(max(values) - min(values), currency),
            ]
        )
    totals = [section.total(measure, m) for m in section.models]
    return Table(
        headers=["Channel", *_model_labels(section.models), "Spread"],
        align=["l", *("r" for _ in section.models), "r"],
        rows=rows,
        total=["Total", *(fmt_money(v, currency) for v in totals), ""],
        title=title,
    )


def disagreements(section: AttributionSection, currency: str, limit: int = 4) -> list[str]:
    """Sentences naming the channels where the models' credit differs the most."""
    found: list[tuple[float, str]] = []
    for measure, what in (("revenue", "won revenue"), ("pipeline", "pipeline")):
        table = getattr(section, measure)
        reference_total = section.total(measure, section.models[0])
        threshold = max(1.0, DISAGREEMENT_SHARE * reference_total)
        for channel in section.channels:
            values = {m: table.get(channel, {}).get(m, 0.0) for m in section.models}
            if not any(values.values()):
                continue
            high = max(values, key=lambda m: (values[m], m))
            low = min(values, key=lambda m: (values[m], m))
            spread = values[high] - values[low]
            if spread < threshold:
                continue
            found.append(
                (
                    spread,
                    (
                        f"{channel}: {MODEL_LABELS.get(high, high)} credits "
                        f"{fmt_money(values[high], currency)} of {what}, "
                        f"{MODEL_LABELS.get(low, low)} {fmt_money(values[low], currency)} "
                        f"({fmt_money(spread, currency)} apart)."
                    ),
                )
            )
    found.sort(key=lambda item: -item[0])
    return [text for _, text in found[:limit]]


def _attribution_section(report: Report, charts: dict[str, Chart]) -> Section:
    title = "Attributed pipeline and revenue by channel"
    section = report.attribution
    if section is None:
        return Section("attribution", title, unavailable=report.unavailable.get("attribution"))
    labels = ", ".join(_model_labels(section.models))
    tables = [
        t
        for t in (
            _attribution_table(
                section, "pipeline", report.currency, "Pipeline (value of opportunities created)"
            ),
            _attribution_table(
                section, "revenue", report.currency, "Won revenue (value of new customers)"
            ),
        )
        if t is not None
    ]
    bullets = disagreements(section, report.currency)
    if tables and not bullets:
        bullets = [
            f"The models agree within {DISAGREEMENT_SHARE:.0%} of the total on every channel."
        ]
    return Section(
        "attribution",
        title,
        intro=f"Who gets the credit for {report.period.label}'s pipeline and won revenue, "
        f"under {labels}. Each model splits every conversion's value over the touches before "
        "it; the totals are the same, the split is not.",
        tables=tables,
        charts=[charts[k] for k in ("attribution",) if k in charts],
        bullets=bullets if tables else [],
        bullets_title="Where the models disagree",
        unavailable=None
        if tables
        else f"No attributed pipeline or revenue in {report.period.label}.",
    )


def _compared(
    label: str,
    now: float | None,
    before: float | None,
    kind: str,
    currency: str = "",
    higher_is_better: bool = True,
) -> list[str]:
    """A row comparing two periods: ``label``, this period, the one before, the change."""
    change = Change(now, before, higher_is_better)
    return [
        label,
        fmt_value(now, kind, currency),
        fmt_value(before, kind, currency),
        fmt_change(change, kind, currency),
    ]


def _funnel_section(report: Report, charts: dict[str, Chart]) -> Section:
    title = "Funnel"
    funnel = report.funnel
    if funnel is None:
        return Section("funnel", title, unavailable=report.unavailable.get("funnel"))
    p, q = report.period.label, report.previous_period.label
    stages = Table(
        headers=["Stage entered", p, q, "Change"],
        align=["l", "r", "r", "r"],
        rows=[
            _compared(label, funnel.current.get(m), funnel.previous.get(m), "count")
            for m, label in STAGE_MEASURES
        ],
    )
    steps = Table(
        headers=["Cohort conversion", p, q, "Change"],
        align=["l", "r", "r", "r"],
        rows=[
            _compared(label, funnel.rates.get(step), funnel.previous_rates.get(step), "rate")
            for step, label in STEPS
        ],
    )
    return Section(
        "funnel",
        title,
        tables=[stages, steps],
        charts=[charts[k] for k in ("funnel", "trend") if k in charts],
    )


def _spend_section(report: Report, charts: dict[str, Chart]) -> Section:
    title = "Spend and ROAS by channel"
    if report.spend is None:
        return Section("spend", title, unavailable=report.unavailable.get("spend"))
    models = report.attribution.models if report.attribution else ()
    cur = report.currency
    rows = [
        [
            *_compared(r.channel, r.spend, r.previous_spend, "money", cur, higher_is_better=False),
            *(fmt_roas(r.roas(m)) for m in models),
        ]
        for r in report.spend
        if r.spend or r.previous_spend
    ]
    if not rows:
        return Section(
            "spend",
            title,
            unavailable=f"No ad spend in {report.period.label} or {report.previous_period.label}.",
        )
    spend_now, spend_before = report.spend_totals
    total_roas = [fmt_roas(report.spend_roas.get(m)) for m in models]
    table = Table(
        headers=[
            "Channel",
            f"Spend {report.period.label}",
            report.previous_period.label,
            "Change",
            *(f"ROAS {label}" for label in _model_labels(models)),
        ],
        align=["l", "r", "r", "r", *("r" for _ in models)],
        rows=rows,
        total=[
            *_compared("Total", spend_now, spend_before, "money", cur, higher_is_better=False),
            *total_roas,
        ],
    )
    intro = (
        "ROAS = won revenue the model attributes to the channel / the channel's ad spend."
        if models
        else f"ROAS not available yet: {report.unavailable.get('attribution', 'no attribution')}"
    )
    return Section(
        "spend",
        title,
        intro=intro,
        tables=[table],
        charts=[charts[k] for k in ("spend",) if k in charts],
    )


def _quality_section(report: Report) -> Section:
    title = "Lead quality: Sales' feedback on MQLs"
    tables: list[Table] = []
    reasons = [v for k, v in report.unavailable.items() if k in ("lead_quality", "rejections")]
    if report.lead_quality is not None and report.lead_quality:
        rows = report.lead_quality
        total_accepted = sum(r.accepted for r in rows)
        total_rejected = sum(r.rejected for r in rows)
        decided = total_accepted + total_rejected
        tables.append(
            Table(
                headers=["Channel", "MQLs", "Accepted", "Rejected", "Accepted share"],
                align=["l", "r", "r", "r", "r"],
                rows=[
                    [
                        r.channel,
                        fmt_count(r.mqls),
                        fmt_count(r.accepted),
                        fmt_count(r.rejected),
                        fmt_rate(r.acceptance_rate),
                    ]
                    for r in rows
                ],
                total=[
                    "Total",
                    fmt_count(sum(r.mqls for r in rows)),
                    fmt_count(total_accepted),
                    fmt_count(total_rejected),
                    fmt_rate(total_accepted / decided if decided else None),
                ],
                title="By channel",
            )
        )
    if report.rejections is not None and report.rejections:
        total = sum(r.rejected for r in report.rejections)
        tables.append(
            Table(
                headers=["Reason for rejecting", "Rejected", "Share", "Most from"],
                align=["l", "r", "r", "l"],
                rows=[
                    [
                        r.reason,
                        fmt_count(r.rejected),
                        fmt_rate(r.rejected / total),
                        f"{r.top_channel} ({fmt_count(r.top_channel_rejected)})",
                    ]
                    for r in report.rejections
                ],
                title="Why sales rejected MQLs",
            )
        )
    unavailable = "; ".join(reasons) if reasons and not tables else None
    if not tables and not unavailable:
        unavailable = f"No MQLs accepted or rejected in {report.period.label}."
    intro = (
        "Accepted share = accepted / (accepted + rejected) of the period's MQLs that sales "
        "has decided on."
        if tables
        else ""
    )
    return Section(
        "quality",
        title,
        intro=intro,
        tables=tables,
        unavailable=unavailable,
        bullets=[f"Not available yet: {r}" for r in reasons] if tables else [],
    )


def _handoff_section(report: Report) -> Section:
    title = "Handoff SLA by owner"
    if report.handoff is None:
        return Section("handoff", title, unavailable=report.unavailable.get("handoff"))
    rows = report.handoff
    if not rows:
        return Section(
            "handoff", title, unavailable=f"No MQLs to hand off in {report.period.label}."
        )
    mqls = sum(r.mqls for r in rows)
    within = sum(r.within_sla for r in rows)
    decided = sum(r.sla_decided for r in rows)
    return Section(
        "handoff",
        title,
        intro="How fast sales picks up the MQLs of the period: SLA met = handed off within the "
        "SLA / MQLs handed off or waiting past the SLA; still waiting = no sales activity yet.",
        tables=[
            Table(
                headers=[
                    "Owner",
                    "MQLs",
                    "Within SLA",
                    "Still waiting",
                    "Median handoff",
                    "SLA met",
                ],
                align=["l", "r", "r", "r", "r", "r"],
                rows=[
                    [
                        r.owner,
                        fmt_count(r.mqls),
                        fmt_count(r.within_sla),
                        fmt_count(r.still_waiting),
                        fmt_hours(r.median_hours),
                        fmt_rate(r.sla_met_rate),
                    ]
                    for r in rows
                ],
                total=[
                    "Total",
                    fmt_count(mqls),
                    fmt_count(within),
                    fmt_count(sum(r.still_waiting for r in rows)),
                    "",
                    fmt_rate(within / decided if decided else None),
                ],
            )
        ],
    )


def _notes(report: Report) -> list[str]:
    cur = report.currency
    notes = [
        "Stage counts are people who entered the stage in the period (UTC days).",
        "MQL \u2192 SQL rate: of the people who became MQL in the period, the share who have "
        "become SQL so far (the cohort rate of our shared definitions); a recent period's rate "
        "still grows as sales works its MQLs. Cohort conversion in the funnel reads the same "
        "way for each step.",
        f"Money is in {cur}, converted at the rate of the day it belongs to. Pipeline created = "
        "value of the opportunities created in the period; won revenue = value of those won in "
        "it.",
        "CAC = ad spend / new customers in the period. ROAS = attributed won revenue / ad "
        "spend, under the model named.",
        "Handoff SLA met = MQLs handed off within the SLA / MQLs handed off or still waiting "
        "past it (an MQL inside its SLA counts neither way), over the weeks that start in the "
        "period; the median handoff is over those MQLs.",
    ]
    return notes


def gate_warning(failure: Mapping[str, Any]) -> str:
    """One gate warning as the report's readers read it: the gate's own words for them
    (``plain``: which table and column, what rule, how many rows of how many), else what was
    observed against what was expected. The check's technical name stays in the gate's
    summary, log and JSON, not in the e-mail."""
    if failure.get("plain"):
        return str(failure["plain"])
    return (
        f"{failure.get('table')}: {failure.get('observed')} (expected: {failure.get('expected')})"
    )


def build_view(
    report: Report,
    charts: Sequence[Chart],
    gate: GateRun | None = None,
    attachments: Sequence[str] = (),
) -> View:
    """Format ``report`` (with its ``charts``) for the HTML, text and PDF renderers."""
    by_name = {c.cid.split(".", 1)[0]: c for c in charts}
    edition = report.period.edition
    sections = [
        _attribution_section(report, by_name),
        _funnel_section(report, by_name),
        _spend_section(report, by_name),
        _quality_section(report),
        _handoff_section(report),
    ]
    if gate is None:
        status = "Quality gate: no run recorded for this period (a preview, not a sent report)."
        warnings: list[str] = []
    else:
        status = (
            f"Quality gate {'passed' if gate.passed else 'FAILED'} at "
            f"{gate.checked_at:%Y-%m-%d %H:%M} UTC"
            + (
                f" with {gate.warning_count} warning(s):"
                if gate.warning_count
                else " with no warnings."
            )
        )
        warnings = [gate_warning(w) for w in gate.warnings]
    return View(
        title=f"revops {edition} report {report.period.label}",
        heading=f"{edition.capitalize()} report {report.period.label}",
        period_label=report.period.label,
        previous_label=report.previous_period.label,
        period_days=fmt_days(report),
        previous_days=fmt_days(report, "previous"),
        empty=report.is_empty,
        tiles=_tiles(report),
        sections=sections,
        notes=_notes(report),
        gate_status=status,
        gate_warnings=warnings,
        attachments=list(attachments),
    )


# -- CSV --------------------------------------------------------------------------------------


def _csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return repr(round(value, 6)) if not value.is_integer() else str(int(value))
    return value


def csv_tables(report: Report) -> dict[str, str]:
    """The report's tables as CSV, unformatted (numbers as numbers, money in the reporting
    currency), keyed by file name. Sections not available yet have no file."""
    p = report.period
    files: dict[str, str] = {}
    files["headline.csv"] = _csv(
        ["period", "metric", "current", "previous", "unit", "not_available_because"],
        [
            [
                p.label,
                k.key,
                k.current,
                k.previous,
                report.currency if k.kind == "money" else k.kind,
                k.missing,
            ]
            for k in report.kpis
        ],
    )
    if report.attribution is not None:
        a = report.attribution
        rows = []
        for channel in a.channels:
            for model in a.models:
                rows.append(
                    [
                        p.label,
                        channel,
                        model,
                        a.opportunities.get(channel, {}).get(model, 0.0),
                        a.pipeline.get(channel, {}).get(model, 0.0),
                        a.customers.get(channel, {}).get(model, 0.0),
                        a.revenue.get(channel, {}).get(model, 0.0),
                    ]
                )
        files["attribution_by_channel.csv"] = _csv(
            [
                "period",
                "channel",
                "model",
                "attributed_opportunities",
                f"attributed_pipeline_{report.currency.lower()}",
                "attributed_customers",
                f"attributed_revenue_{report.currency.lower()}",
            ],
            rows,
        )
    if report.funnel is not None:
        f = report.funnel
        files["funnel.csv"] = _csv(
            ["period", "stage", "entered", "entered_previous_period"],
            [[p.label, m, f.current.get(m), f.previous.get(m)] for m, _ in STAGE_MEASURES],
        )
        files["funnel_conversion.csv"] = _csv(
            ["period", "step", "cohort_rate", "cohort_rate_previous_period"],
            [[p.label, step, f.rates.get(step), f.previous_rates.get(step)] for step, _ in STEPS],
        )
    if report.spend is not None:
        models = report.attribution.models if report.attribution else ()
        files["spend_roas_by_channel.csv"] = _csv(
            [
                "period",
                "channel",
                f"spend_{report.currency.lower()}",
                f"spend_previous_period_{report.currency.lower()}",
                *(f"revenue_{m}" for m in models),
                *(f"roas_{m}" for m in models),
            ],
            [
                [
                    p.label,
                    r.channel,
                    r.spend,
                    r.previous_spend,
                    *(r.revenue.get(m, 0.0) for m in models),
                    *(r.roas(m) for m in models),
                ]
                for r in report.spend
            ],
        )
    if report.lead_quality is not None:
        files["lead_quality_by_channel.csv"] = _csv(
            ["period", "channel", "mqls", "accepted", "rejected", "accepted_share"],
            [
                [p.label, r.channel, r.mqls, r.accepted, r.rejected, r.acceptance_rate]
                for r in report.lead_quality
            ],
        )
    if report.rejections is not None:
        files["lead_rejections_by_reason.csv"] = _csv(
            [
                "period",
                "disqualification_reason",
                "rejected",
                "top_channel",
                "top_channel_rejected",
            ],
            [
                [p.label, r.reason, r.rejected, r.top_channel, r.top_channel_rejected]
                for r in report.rejections
            ],
        )
    if report.handoff is not None:
        files["handoff_by_owner.csv"] = _csv(
            [
                "period",
                "owner",
                "mqls",
                "handed_off",
                "handed_off_within_sla",
                "still_waiting",
                "median_handoff_hours",
                "sla_met_rate",
            ],
            [
                [
                    p.label,
                    r.owner,
                    r.mqls,
                    r.handed_off,
                    r.within_sla,
                    r.still_waiting,
                    r.median_hours,
                    r.sla_met_rate,
                ]
                for r in report.handoff
            ],
        )
    return files
