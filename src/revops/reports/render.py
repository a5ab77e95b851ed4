"""The leadership report: its numbers, read from the warehouse's marts only, and its rendering.

:func:`build_report` reads ``marts.fct_funnel``, ``marts.rpt_funnel_weekly``,
``marts.fct_ad_spend_daily`` and ``marts.fct_attribution`` for a period and the one before it;
:func:`render_html` turns those numbers into an e-mail (HTML for mail clients, plain text, and
PNG charts referenced from the HTML as ``cid:`` images) with the Jinja templates in
``reports/templates/``. Rendering is deterministic: the same numbers give the same e-mail.

Definitions (DOMAIN.md): a stage count is the number of people who *entered* that stage in the
period (UTC). The MQL -> SQL figure in the headline is the plain ratio SQLs / MQLs of the period,
not the cohort conversion rate, and the e-mail says so. Spend stays in its own currency, on the
ad platform's own day. MQLs by channel come from ``fct_attribution`` under ``last_touch``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from revops.reports.periods import Period, previous

TEMPLATES_DIR = Path(__file__).parent / "templates"
ATTRIBUTION_MODEL = "last_touch"
CHART_WEEKS = 12
NO_CHANNEL = "(none)"

# Stages shown in the report: (Metrics attribute, label).
HEADLINE_STAGES: tuple[tuple[str, str], ...] = (
    ("leads", "Leads"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("customers", "Customers"),
)


class ReportError(RuntimeError):
    """The report cannot be built from the warehouse; the message says what is missing."""


# -- the numbers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """The numbers of one period."""

    leads: int = 0
    mqls: int = 0
    sqls: int = 0
    customers: int = 0
    spend: Mapping[str, Decimal] = field(default_factory=dict)
    """Ad spend per ISO currency code, not converted."""
    mqls_by_channel: Mapping[str, float] = field(default_factory=dict)
    """MQL credit per channel under the ``last_touch`` model (largest first)."""

    @property
    def mql_to_sql_ratio(self) -> float | None:
        """SQLs / MQLs entered in the period (a plain ratio, not a cohort rate); None if no MQL."""
        return self.sqls / self.mqls if self.mqls else None

    @property
    def attributed_mqls(self) -> float:
        """The MQL credit that ``fct_attribution`` hands out in the period."""
        return math.fsum(self.mqls_by_channel.values())


@dataclass(frozen=True)
class WeekCounts:
    """Stage entries of one ISO week (all source channels)."""

    week_start: date
    leads: int = 0
    mqls: int = 0
    sals: int = 0
    sqls: int = 0
    opportunities: int = 0
    customers: int = 0


@dataclass(frozen=True)
class Change:
    """A number in the period against the previous period."""

    current: float
    previous: float

    @property
    def delta(self) -> float:
        """current - previous."""
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """delta / previous; None when previous is zero (no base to compare with)."""
        return self.delta / self.previous if self.previous else None


@dataclass(frozen=True)
class Report:
    """Everything the leadership e-mail shows, for ``period`` and the period before it."""

    period: Period
    previous_period: Period
    current: Metrics
    previous: Metrics
    weeks: tuple[WeekCounts, ...]
    """The last :data:`CHART_WEEKS` ISO weeks up to the period's last week, oldest first."""

    def change(self, metric: str) -> Change:
        """The change of a count (``leads``, ``mqls``, ``sqls``, ``customers``)."""
        return Change(getattr(self.current, metric), getattr(self.previous, metric))

    @property
    def currencies(self) -> list[str]:
        """Currencies with spend in either period, sorted."""
        return sorted(set(self.current.spend) | set(self.previous.spend))

    @property
    def channels(self) -> list[str]:
        """Channels with MQL credit in either period, largest in the period first."""
        cur, prev = self.current.mqls_by_channel, self.previous.mqls_by_channel
        return sorted(set(cur) | set(prev), key=lambda c: (-cur.get(c, 0.0), -prev.get(c, 0.0), c))

    @property
    def is_empty(self) -> bool:
        """True when the period has no funnel entry, no spend and no attributed MQL."""
        m = self.current
        return not any((m.leads, m.mqls, m.sqls, m.customers, m.spend, m.mqls_by_channel))


_FUNNEL_SQL = """
select
    count(*) filter (where lead_at >= %(start)s and lead_at < %(end)s) as leads,
    count(*) filter (where mql_at >= %(start)s and mql_at < %(end)s) as mqls,
    count(*) filter (where sql_at >= %(start)s and sql_at < %(end)s) as sqls,
    count(*) filter (where customer_at >= %(start)s and customer_at < %(end)s) as customers
from marts.fct_funnel
"""

_SPEND_SQL = """
select
    currency,
    sum(spend) as spend
from marts.fct_ad_spend_daily
where date_day >= %(first_day)s
    and date_day < %(end_day)s
group by currency
order by currency
"""

_CHANNEL_SQL = """
select
    coalesce(channel, %(no_channel)s) as channel,
    sum(credit) as mqls
from marts.fct_attribution
where model = %(model)s
    and conversion_type = 'mql'
    and converted_at >= %(start)s
    and converted_at < %(end)s
group by 1
order by 2 desc, 1
"""

_WEEKLY_SQL = """
select
    week_start,
    sum(leads) as leads,
    sum(mqls) as mqls,
    sum(sals) as sals,
    sum(sqls) as sqls,
    sum(opportunities) as opportunities,
    sum(customers) as customers
from marts.rpt_funnel_weekly
where week_start >= %(first)s
    and week_start <= %(last)s
group by week_start
"""


def _metrics(conn: psycopg.Connection[Any], period: Period) -> Metrics:
    times = {"start": period.start_at, "end": period.end_at}
    leads, mqls, sqls, customers = conn.execute(_FUNNEL_SQL, times).fetchone() or (0, 0, 0, 0)
    spend = {
        currency: Decimal(amount)
        for currency, amount in conn.execute(
            _SPEND_SQL, {"first_day": period.start, "end_day": period.end}
        ).fetchall()
    }
    by_channel = {
        channel: float(credit)
        for channel, credit in conn.execute(
            _CHANNEL_SQL, {**times, "model": ATTRIBUTION_MODEL, "no_channel": NO_CHANNEL}
        ).fetchall()
    }
    return Metrics(
        leads=int(leads),
        mqls=int(mqls),
        sqls=int(sqls),
        customers=int(customers),
        spend=spend,
        mqls_by_channel=by_channel,
    )


def chart_weeks(period: Period, count: int = CHART_WEEKS) -> list[date]:
    """Mondays of the ``count`` ISO weeks up to the one holding the period's last day."""
    last_day = period.last_day
    last = last_day - timedelta(days=last_day.weekday())
    return [last - timedelta(weeks=i) for i in range(count - 1, -1, -1)]


def _weeks(conn: psycopg.Connection[Any], period: Period) -> tuple[WeekCounts, ...]:
    mondays = chart_weeks(period)
    rows = conn.execute(_WEEKLY_SQL, {"first": mondays[0], "last": mondays[-1]}).fetchall()
    found = {row[0]: WeekCounts(row[0], *(int(v or 0) for v in row[1:])) for row in rows}
    return tuple(found.get(monday, WeekCounts(monday)) for monday in mondays)


def build_report(conn: psycopg.Connection[Any], period: Period) -> Report:
    """Read the numbers of ``period`` and of the period before it from the marts.

    Reads in one read-only transaction (a consistent snapshot when ``conn`` has none open).
    Raises :class:`ReportError` when a mart is missing (the transform has not run).
    """
    before = previous(period)
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    try:
        with conn.transaction():
            if fresh:
                conn.execute("set transaction isolation level repeatable read, read only")
            current = _metrics(conn, period)
            earlier = _metrics(conn, before)
            weeks = _weeks(conn, period)
    except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName) as err:
        raise ReportError(
            f"the report reads the marts, and one is missing ({err.diag.message_primary}); "
            "build them first (`revops transform`, i.e. dbt build)"
        ) from err
    return Report(period, before, current, earlier, weeks)


# -- formatting for humans -----------------------------------------------------------------


def fmt_count(value: float) -> str:
    """``1234`` -> ``1,234``; a fractional credit keeps one decimal (``2.5``)."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def fmt_ratio(value: float | None) -> str:
    """``0.42857`` -> ``42.9%``; None -> ``n/a``."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def fmt_money(amount: Decimal | float, currency: str) -> str:
    """``1234.5, 'USD'`` -> ``USD 1,234.50``."""
    return f"{currency} {Decimal(amount):,.2f}"


def fmt_change(change: Change) -> str:
    """``+2 (+40.0%)``, ``-1 (-25.0%)``, ``+3 (new)``, ``no change``."""
    if change.delta == 0:
        return "no change"
    rel = change.relative
    delta = fmt_count(abs(change.delta))
    sign = "+" if change.delta > 0 else "-"
    return f"{sign}{delta} ({'new' if rel is None else f'{rel * 100:+.1f}%'})"


def fmt_money_change(change: Change, currency: str) -> str:
    """``+USD 234.50 (+11.7%)``; ``new`` when there was no spend before."""
    if change.delta == 0:
        return "no change"
    rel = change.relative
    sign = "+" if change.delta > 0 else "-"
    amount = fmt_money(Decimal(str(abs(change.delta))), currency)
    return f"{sign}{amount} ({'new' if rel is None else f'{rel * 100:+.1f}%'})"


def fmt_points(current: float | None, earlier: float | None) -> str:
    """Change of a ratio in percentage points: ``+2.9 pp``; ``n/a`` without both ratios."""
    if current is None or earlier is None:
        return "n/a"
    points = round((current - earlier) * 100, 1)
    return "no change" if points == 0 else f"{points:+.1f} pp"


def fmt_days(period: Period) -> str:
    """``Mon 9 Nov 2026 to Sun 15 Nov 2026``."""
    first, last = period.start, period.last_day
    return f"{first:%a} {first.day} {first:%b %Y} to {last:%a} {last.day} {last:%b %Y}"


def _trend(change: Change) -> str:
    return "up" if change.delta > 0 else "down" if change.delta < 0 else "flat"


def _week_total(week: WeekCounts) -> int:
    return week.leads + week.mqls + week.sals + week.sqls + week.opportunities + week.customers


# -- charts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One PNG chart and how the HTML shows it."""

    cid: str
    png: bytes
    title: str
    alt: str
    width: int
    height: int


_CHART_DPI = 100  # CSS pixels per inch of figure size
_CHART_SCALE = 2  # PNG pixels per CSS pixel (sharp on high-density screens)
_CHART_WIDTH_IN = 5.52  # 552 px: the 600 px e-mail body less its 24 px side padding
_COLOURS = {
    "leads": "#9db4d3",
    "mqls": "#3f6fb5",
    "sqls": "#e08a2c",
    "customers": "#2e9e5b",
}


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_CHART_DPI * _CHART_SCALE, metadata={"Software": None})
    return buffer.getvalue()


def _new_figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=_CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)  # the Agg (file-only) backend, without pyplot's global state
    return figure


def _style_axes(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color("#c8ced6")
    axes.spines["bottom"].set_color("#c8ced6")
    axes.tick_params(colors="#4a5563", labelsize=7)


def funnel_chart(report: Report) -> Chart | None:
    """Line chart of weekly stage entries over :data:`CHART_WEEKS` weeks; None with no data."""
    weeks = report.weeks
    if not any(_week_total(w) for w in weeks):
        return None
    width_in, height_in = _CHART_WIDTH_IN, 2.8
    figure = _new_figure(width_in, height_in)
    axes = figure.add_subplot()
    xs = list(range(len(weeks)))
    in_period = [
        i
        for i, w in enumerate(weeks)
        if w.week_start < report.period.end
        and w.week_start + timedelta(days=7) > report.period.start
    ]
    if in_period:
        axes.axvspan(min(in_period) - 0.4, max(in_period) + 0.4, color="#eef2f8", zorder=0)
    for key, label in HEADLINE_STAGES:
        axes.plot(
            xs,
            [getattr(w, key) for w in weeks],
            marker="o",
            markersize=3,
            linewidth=1.6,
            label=label,
            color=_COLOURS[key],
        )
    axes.set_xticks(xs, [f"{w.week_start.day} {w.week_start:%b}" for w in weeks])
    axes.set_ylim(bottom=0)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.grid(axis="y", color="#e5e8ec", linewidth=0.6)
    axes.set_xlabel("week starting (Monday, UTC)", fontsize=7, color="#4a5563")
    axes.legend(fontsize=7, frameon=False, ncols=4, loc="lower left", bbox_to_anchor=(0, 1))
    _style_axes(axes)
    first, last = weeks[0].week_start, weeks[-1].week_start
    return Chart(
        cid=f"funnel-weekly.{report.period.label}@revops",
        png=_png(figure),
        title=f"Funnel entries per week, {len(weeks)} weeks to {report.period.label}",
        alt=(
            f"Line chart of leads, MQLs, SQLs and customers per week from {first.day} "
            f"{first:%b %Y} to {last.day} {last:%b %Y}; in the week of {last.day} {last:%b}: "
            f"{weeks[-1].leads} leads, {weeks[-1].mqls} MQLs, {weeks[-1].sqls} SQLs, "
            f"{weeks[-1].customers} customers"
        ),
        width=round(width_in * _CHART_DPI),
        height=round(height_in * _CHART_DPI),
    )


def channel_chart(report: Report) -> Chart | None:
    """Horizontal bars of MQLs by channel (last touch) in the period; None with no MQL credit."""
    by_channel = [(c, v) for c, v in report.current.mqls_by_channel.items() if v > 0]
    if not by_channel:
        return None
    by_channel.sort(key=lambda item: (-item[1], item[0]))
    width_in, height_in = _CHART_WIDTH_IN, 0.7 + 0.32 * len(by_channel)
    figure = _new_figure(width_in, height_in)
    axes = figure.add_subplot()
    names = [c for c, _ in reversed(by_channel)]
    values = [v for _, v in reversed(by_channel)]
    bars = axes.barh(names, values, color=_COLOURS["mqls"], height=0.6)
    axes.bar_label(
        bars, labels=[fmt_count(v) for v in values], padding=3, fontsize=7, color="#1f2933"
    )
    axes.set_xlim(0, max(values) * 1.15)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel(f"MQLs ({ATTRIBUTION_MODEL} attribution)", fontsize=7, color="#4a5563")
    _style_axes(axes)
    return Chart(
        cid=f"mqls-by-channel.{report.period.label}@revops",
        png=_png(figure),
        title=f"MQLs by channel, {report.period.label} ({ATTRIBUTION_MODEL})",
        alt="Bar chart of MQLs by channel (last touch): "
        + ", ".join(f"{c} {fmt_count(v)}" for c, v in by_channel),
        width=round(width_in * _CHART_DPI),
        height=round(height_in * _CHART_DPI),
    )


# -- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedReport:
    """The e-mail bodies: HTML (images as ``cid:`` references), plain text, and the images."""

    html: str
    text: str
    images: dict[str, bytes]
    """PNG bytes per Content-ID (without angle brackets), as the HTML's ``cid:`` refers to."""


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _rows(report: Report) -> dict[str, Any]:
    cur, prev = report.current, report.previous
    funnel = []
    for key, label in HEADLINE_STAGES:
        change = report.change(key)
        funnel.append(
            {
                "label": label,
                "current": fmt_count(change.current),
                "previous": fmt_count(change.previous),
                "change": fmt_change(change),
                "trend": _trend(change),
            }
        )
    ratio_now, ratio_before = cur.mql_to_sql_ratio, prev.mql_to_sql_ratio
    ratio_trend = (
        "flat"
        if ratio_now is None or ratio_before is None
        else _trend(Change(round(ratio_now, 3), round(ratio_before, 3)))
    )
    funnel.append(
        {
            "label": "MQL \u2192 SQL ratio*",
            "current": fmt_ratio(ratio_now),
            "previous": fmt_ratio(ratio_before),
            "change": fmt_points(ratio_now, ratio_before),
            "trend": ratio_trend,
        }
    )
    spend = []
    for currency in report.currencies:
        change = Change(float(cur.spend.get(currency, 0)), float(prev.spend.get(currency, 0)))
        spend.append(
            {
                "currency": currency,
                "current": fmt_money(cur.spend.get(currency, Decimal(0)), currency),
                "previous": fmt_money(prev.spend.get(currency, Decimal(0)), currency),
                "change": fmt_money_change(change, currency),
            }
        )
    total = cur.attributed_mqls
    channels = []
    for channel in report.channels:
        now, before = cur.mqls_by_channel.get(channel, 0.0), prev.mqls_by_channel.get(channel, 0.0)
        channels.append(
            {
                "channel": channel,
                "current": fmt_count(now),
                "previous": fmt_count(before),
                "share": fmt_ratio(now / total if total else None),
            }
        )
    return {"funnel": funnel, "spend": spend, "channels": channels}


def _notes(report: Report) -> list[str]:
    notes = [
        "* MQL \u2192 SQL ratio: SQLs entered in the period divided by MQLs entered in the "
        "period. It is a plain ratio of two counts (SQLs from earlier periods' MQLs can push it "
        "above 100%), not the cohort conversion rate of our shared definitions (the share of "
        "the period's new MQLs who went on to become SQLs).",
        "Stage counts are people who entered the stage in the period (UTC days).",
        "Ad spend is in each account's own currency, not converted, on the ad platform's own "
        "day (the account's time zone).",
        f"MQLs by channel credit each MQL to the channel of its last touch before it "
        f"({ATTRIBUTION_MODEL} model); {NO_CHANNEL} is an MQL with no known touch.",
    ]
    for metrics, period in (
        (report.current, report.period),
        (report.previous, report.previous_period),
    ):
        if metrics.mqls_by_channel and abs(metrics.attributed_mqls - metrics.mqls) > 1e-6:
            credited = fmt_count(metrics.attributed_mqls)
            notes.append(
                f"In {period.label} the attribution model credits {credited} MQLs against "
                f"{fmt_count(metrics.mqls)} in the funnel."
            )
    return notes


def render_html(report: Report) -> RenderedReport:
    """Render ``report`` as an e-mail: HTML for mail clients, plain text and PNG charts."""
    charts = [c for c in (funnel_chart(report), channel_chart(report)) if c is not None]
    edition = report.period.edition
    context = {
        "title": f"revops {edition} report {report.period.label}",
        "heading": f"{edition.capitalize()} report {report.period.label}",
        "period": report.period,
        "previous_period": report.previous_period,
        "period_days": fmt_days(report.period),
        "previous_days": fmt_days(report.previous_period),
        "empty": report.is_empty,
        "funnel_chart": next((c for c in charts if c.cid.startswith("funnel-")), None),
        "channel_chart": next((c for c in charts if c.cid.startswith("mqls-")), None),
        "chart_weeks": len(report.weeks),
        "model": ATTRIBUTION_MODEL,
        "notes": _notes(report),
        **_rows(report),
    }
    env = _environment()
    html = env.get_template("report.html.j2").render(context)
    text = env.get_template("report.txt.j2").render(context)
    return RenderedReport(html=html, text=text, images={c.cid: c.png for c in charts})
