"""The leadership report's numbers, read from the warehouse's marts only.

:func:`build_report` reads one period (an ISO week or a calendar month) and the one before it
in a single read-only snapshot:

=======================  ===========================================================
section                  marts read
=======================  ===========================================================
headline numbers         ``rpt_pipeline`` (pipeline created, won revenue),
                         ``fct_ad_spend_daily`` + ``rpt_funnel_conversion`` (CAC),
                         ``rpt_funnel_conversion`` (MQLs), ``fct_funnel`` (MQL -> SQL
                         cohort rate), ``rpt_lead_handoff`` (handoff SLA met)
funnel                   ``rpt_funnel_conversion`` (stage entries, cohort rates, 12 weeks)
attribution by channel   ``rpt_channel_attribution`` (pipeline = opportunity revenue,
                         revenue = customer revenue, per model)
spend and ROAS           ``fct_ad_spend_daily`` (spend) and the attribution above
lead quality             ``rpt_lead_quality``, ``rpt_lead_rejections``
handoff SLA by owner     ``rpt_lead_handoff``
=======================  ===========================================================

A mart (or a column) that does not exist yet makes its section "not available yet" with the
reason, never an error: the rest of the report still renders. Monthly editions read the
marts' ``month`` rows; ``rpt_lead_handoff`` has weeks only, so a month takes the weeks that
start in it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import psycopg
from psycopg.pq import TransactionStatus

from revops.reports.periods import Period, previous

SCHEMA = "marts"
REPORT_MODELS: tuple[str, ...] = ("last_touch", "w_shaped", "markov")
"""The attribution models the report compares, the first one the reference."""
MODEL_LABELS: dict[str, str] = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "last_non_direct": "Last non-direct",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "U-shaped",
    "w_shaped": "W-shaped",
    "full_path": "Full path",
    "markov": "Markov",
    "shapley": "Shapley",
}
STAGE_MEASURES: tuple[tuple[str, str], ...] = (
    ("leads", "Leads"),
    ("mqls", "MQLs"),
    ("sals", "SALs"),
    ("sqls", "SQLs"),
    ("opportunities", "Opportunities"),
    ("customers", "Customers"),
)
STEPS: tuple[tuple[str, str], ...] = (
    ("lead_to_mql", "Lead \u2192 MQL"),
    ("mql_to_sal", "MQL \u2192 SAL"),
    ("sal_to_sql", "SAL \u2192 SQL"),
    ("sql_to_opportunity", "SQL \u2192 Opportunity"),
    ("opportunity_to_customer", "Opportunity \u2192 Customer"),
)
CHART_WEEKS = 12
DEFAULT_CURRENCY = "USD"
NO_OWNER = "(unassigned)"

Kind = Literal["money", "count", "rate"]


class ReportError(RuntimeError):
    """The report cannot be built at all (no marts schema); the message says what to do."""


@dataclass(frozen=True)
class Kpi:
    """One headline number in the period and the one before."""

    key: str
    label: str
    kind: Kind
    current: float | None
    previous: float | None
    higher_is_better: bool = True
    missing: str | None = None
    """Why it is not available (a mart not built yet), else None."""


@dataclass(frozen=True)
class StageCounts:
    """People who entered each stage in a period."""

    leads: int = 0
    mqls: int = 0
    sals: int = 0
    sqls: int = 0
    opportunities: int = 0
    customers: int = 0

    def get(self, measure: str) -> int:
        """The count of ``measure`` (``leads`` ... ``customers``)."""
        return int(getattr(self, measure))


@dataclass(frozen=True)
class FunnelSection:
    """Stage entries and cohort conversion rates, this period and the last; a weekly trend."""

    current: StageCounts
    previous: StageCounts
    rates: Mapping[str, float | None]
    previous_rates: Mapping[str, float | None]
    weeks: tuple[tuple[date, StageCounts], ...]


@dataclass(frozen=True)
class AttributionSection:
    """Attributed pipeline (opportunity value) and revenue (customer value) per channel and
    model; ``conversions`` holds attributed opportunities and customers the same way."""

    models: tuple[str, ...]
    pipeline: Mapping[str, Mapping[str, float]]
    revenue: Mapping[str, Mapping[str, float]]
    opportunities: Mapping[str, Mapping[str, float]]
    customers: Mapping[str, Mapping[str, float]]

    @property
    def channels(self) -> list[str]:
        """Channels with attributed pipeline or revenue, largest revenue then pipeline first."""
        ref = self.models[0]
        names = set(self.pipeline) | set(self.revenue)
        return sorted(
            names,
            key=lambda c: (
                -self.revenue.get(c, {}).get(ref, 0.0),
                -self.pipeline.get(c, {}).get(ref, 0.0),
                c,
            ),
        )

    def total(self, measure: str, model: str) -> float:
        """The sum over channels of ``pipeline`` or ``revenue`` under ``model``."""
        table: Mapping[str, Mapping[str, float]] = getattr(self, measure)
        return math.fsum(v.get(model, 0.0) for v in table.values())


@dataclass(frozen=True)
class SpendRow:
    """Ad spend of one channel (reporting currency), and attributed revenue per model."""

    channel: str
    spend: float
    previous_spend: float
    revenue: Mapping[str, float]

    def roas(self, model: str) -> float | None:
        """Attributed revenue / spend under ``model``; None without spend."""
        return self.revenue.get(model, 0.0) / self.spend if self.spend else None


@dataclass(frozen=True)
class LeadQualityRow:
    """Sales' verdict on one channel's MQLs of the period."""

    channel: str
    mqls: int
    accepted: int
    rejected: int

    @property
    def acceptance_rate(self) -> float | None:
        """accepted / (accepted + rejected); None before sales decided on any."""
        decided = self.accepted + self.rejected
        return self.accepted / decided if decided else None


@dataclass(frozen=True)
class RejectionRow:
    """MQLs rejected for one reason, and the channel that sent most of them."""

    reason: str
    rejected: int
    top_channel: str
    top_channel_rejected: int


@dataclass(frozen=True)
class HandoffRow:
    """One sales owner's handoff of the period's MQLs."""

    owner: str
    mqls: int
    handed_off: int
    within_sla: int
    still_waiting: int
    median_hours: float | None

    @property
    def sla_met_rate(self) -> float | None:
        """MQLs handed off within the SLA / MQLs; None without MQLs."""
        return self.within_sla / self.mqls if self.mqls else None


@dataclass(frozen=True)
class Report:
    """Everything the leadership report shows, for ``period`` and the period before it."""

    period: Period
    previous_period: Period
    currency: str
    kpis: tuple[Kpi, ...]
    funnel: FunnelSection | None
    attribution: AttributionSection | None
    spend: tuple[SpendRow, ...] | None
    lead_quality: tuple[LeadQualityRow, ...] | None
    rejections: tuple[RejectionRow, ...] | None
    handoff: tuple[HandoffRow, ...] | None
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Section -> why it is not available yet (a mart or column not built)."""

    def kpi(self, key: str) -> Kpi:
        """The headline number ``key`` (``pipeline_created``, ``won_revenue``, ``cac``,
        ``mqls``, ``mql_to_sql_rate``, ``handoff_sla_met``)."""
        return next(k for k in self.kpis if k.key == key)

    @property
    def is_empty(self) -> bool:
        """True when the period has no funnel entry, no spend and no pipeline."""
        funnel = self.funnel.current if self.funnel else StageCounts()
        return not (
            any(funnel.get(m) for m, _ in STAGE_MEASURES)
            or any(row.spend for row in self.spend or ())
            or any(
                (k.current or 0) for k in self.kpis if k.key in ("pipeline_created", "won_revenue")
            )
        )


# -- what exists ------------------------------------------------------------------------------


class _Marts:
    """The marts' columns, to tell what is available before querying it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        rows = conn.execute(
            "select c.relname, a.attname from pg_catalog.pg_class as c "
            "join pg_catalog.pg_namespace as n on n.oid = c.relnamespace "
            "join pg_catalog.pg_attribute as a on a.attrelid = c.oid "
            "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p', 'f') "
            "and a.attnum > 0 and not a.attisdropped",
            (SCHEMA,),
        ).fetchall()
        self.columns: dict[str, set[str]] = defaultdict(set)
        for table, column in rows:
            self.columns[table].add(column)

    def missing(self, table: str, *columns: str) -> str | None:
        """Why ``table`` with ``columns`` cannot be read (not built, or columns absent)."""
        if table not in self.columns:
            return f"{SCHEMA}.{table} has not been built yet"
        absent = [c for c in columns if c not in self.columns[table]]
        if absent:
            return f"{SCHEMA}.{table} has no {', '.join(absent)} yet"
        return None


# -- reading ----------------------------------------------------------------------------------


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _opt(value: Any) -> float | None:
    return float(value) if value is not None else None


def _funnel_counts(conn: psycopg.Connection[Any], period: Period) -> StageCounts:
    sums = ", ".join(f"coalesce(sum({m}), 0)" for m, _ in STAGE_MEASURES)
    row = conn.execute(
        f"select {sums} from {SCHEMA}.rpt_funnel_conversion "
        "where period_type = %s and period_start = %s",
        (period.period_type, period.start),
    ).fetchone()
    return StageCounts(*(int(v) for v in row or ()))


def _cohort_rates(conn: psycopg.Connection[Any], period: Period) -> dict[str, float | None]:
    parts = []
    for step, _ in STEPS:
        cohort = _plural(step.split("_to_")[0])
        parts.append(
            f"sum({cohort} * {step}_rate) filter (where {step}_rate is not null), "
            f"sum({cohort}) filter (where {step}_rate is not null)"
        )
    row = (
        conn.execute(
            f"select {', '.join(parts)} from {SCHEMA}.rpt_funnel_conversion "
            "where period_type = %s and period_start = %s",
            (period.period_type, period.start),
        ).fetchone()
        or ()
    )
    rates: dict[str, float | None] = {}
    for i, (step, _) in enumerate(STEPS):
        converted, cohort = row[2 * i], row[2 * i + 1]
        rates[step] = float(converted) / float(cohort) if cohort else None
    return rates


def _plural(stage: str) -> str:
    return {"opportunity": "opportunities"}.get(stage, f"{stage}s")


def chart_weeks(period: Period, count: int = CHART_WEEKS) -> list[date]:
    """Mondays of the ``count`` ISO weeks up to the one holding the period's last day."""
    last_day = period.last_day
    last = last_day - timedelta(days=last_day.weekday())
    return [last - timedelta(weeks=i) for i in range(count - 1, -1, -1)]


def _weeks(conn: psycopg.Connection[Any], period: Period) -> tuple[tuple[date, StageCounts], ...]:
    mondays = chart_weeks(period)
    sums = ", ".join(f"coalesce(sum({m}), 0)" for m, _ in STAGE_MEASURES)
    rows = conn.execute(
        f"select period_start, {sums} from {SCHEMA}.rpt_funnel_conversion "
        "where period_type = 'week' and period_start >= %s and period_start <= %s "
        "group by period_start",
        (mondays[0], mondays[-1]),
    ).fetchall()
    found = {row[0]: StageCounts(*(int(v) for v in row[1:])) for row in rows}
    return tuple((monday, found.get(monday, StageCounts())) for monday in mondays)


def _spend_total(conn: psycopg.Connection[Any], period: Period) -> float:
    row = conn.execute(
        f"select coalesce(sum(spend_reporting), 0) from {SCHEMA}.fct_ad_spend_daily "
        "where date_day >= %s and date_day < %s",
        (period.start, period.end),
    ).fetchone()
    return _num(row[0] if row else None)


def _spend_by_channel(conn: psycopg.Connection[Any], period: Period) -> dict[str, float]:
    rows = conn.execute(
        f"select coalesce(channel, '(none)'), coalesce(sum(spend_reporting), 0) "
        f"from {SCHEMA}.fct_ad_spend_daily where date_day >= %s and date_day < %s group by 1",
        (period.start, period.end),
    ).fetchall()
    return {channel: _num(spend) for channel, spend in rows}


def _pipeline(conn: psycopg.Connection[Any], period: Period) -> tuple[float, float]:
    row = conn.execute(
        f"select coalesce(sum(pipeline_created), 0), coalesce(sum(won_revenue), 0) "
        f"from {SCHEMA}.rpt_pipeline where period_type = %s and period_start = %s",
        (period.period_type, period.start),
    ).fetchone()
    return (_num(row[0]), _num(row[1])) if row else (0.0, 0.0)


def _sla_met(conn: psycopg.Connection[Any], period: Period) -> float | None:
    row = conn.execute(
        f"select sum(handed_off_within_sla), sum(mqls) from {SCHEMA}.rpt_lead_handoff "
        "where week_start >= %s and week_start < %s",
        (period.start, period.end),
    ).fetchone()
    if not row or not row[1]:
        return None
    return _num(row[0]) / float(row[1])


def _attribution(
    conn: psycopg.Connection[Any], period: Period, models: Sequence[str]
) -> AttributionSection:
    rows = conn.execute(
        f"select coalesce(channel, '(none)'), conversion_type, model, "
        "coalesce(sum(attributed_conversions), 0), coalesce(sum(attributed_revenue), 0) "
        f"from {SCHEMA}.rpt_channel_attribution "
        "where period_type = %s and period_start = %s "
        "and conversion_type in ('opportunity', 'customer') and model = any(%s) "
        "group by 1, 2, 3",
        (period.period_type, period.start, list(models)),
    ).fetchall()
    tables: dict[str, dict[str, dict[str, float]]] = {
        name: defaultdict(dict) for name in ("pipeline", "revenue", "opportunities", "customers")
    }
    for channel, conversion_type, model, conversions, revenue in rows:
        money, count = (
            ("pipeline", "opportunities")
            if conversion_type == "opportunity"
            else ("revenue", "customers")
        )
        tables[money][channel][model] = _num(revenue)
        tables[count][channel][model] = _num(conversions)
    return AttributionSection(tuple(models), **{k: dict(v) for k, v in tables.items()})


def _lead_quality(conn: psycopg.Connection[Any], period: Period) -> tuple[LeadQualityRow, ...]:
    rows = conn.execute(
        "select coalesce(channel, '(none)'), coalesce(sum(mqls), 0), coalesce(sum(accepted), 0), "
        f"coalesce(sum(rejected), 0) from {SCHEMA}.rpt_lead_quality "
        "where period_type = %s and period_start = %s group by 1 order by 2 desc, 1",
        (period.period_type, period.start),
    ).fetchall()
    return tuple(LeadQualityRow(c, int(m), int(a), int(r)) for c, m, a, r in rows)


def _rejections(conn: psycopg.Connection[Any], period: Period) -> tuple[RejectionRow, ...]:
    rows = conn.execute(
        "select coalesce(disqualification_reason, '(no reason given)'), "
        "coalesce(channel, '(none)'), coalesce(sum(rejected), 0) "
        f"from {SCHEMA}.rpt_lead_rejections where period_type = %s and period_start = %s "
        "group by 1, 2",
        (period.period_type, period.start),
    ).fetchall()
    by_reason: dict[str, dict[str, int]] = defaultdict(dict)
    for reason, channel, rejected in rows:
        by_reason[reason][channel] = int(rejected)
    result = []
    for reason, channels in by_reason.items():
        total = sum(channels.values())
        if not total:
            continue
        top = sorted(channels.items(), key=lambda item: (-item[1], item[0]))[0]
        result.append(RejectionRow(reason, total, top[0], top[1]))
    result.sort(key=lambda r: (-r.rejected, r.reason))
    return tuple(result)


def _handoff(conn: psycopg.Connection[Any], period: Period) -> tuple[HandoffRow, ...]:
    rows = conn.execute(
        "select coalesce(max(owner_name), max(owner_id), %s), coalesce(sum(mqls), 0), "
        "coalesce(sum(handed_off), 0), coalesce(sum(handed_off_within_sla), 0), "
        "coalesce(sum(still_waiting), 0), "
        "sum(median_handoff_hours * handed_off) filter (where median_handoff_hours is not null) "
        "    / nullif(sum(handed_off) filter (where median_handoff_hours is not null), 0) "
        f"from {SCHEMA}.rpt_lead_handoff where week_start >= %s and week_start < %s "
        "group by coalesce(owner_id, '') order by 2 desc, 1",
        (NO_OWNER, period.start, period.end),
    ).fetchall()
    return tuple(
        HandoffRow(owner, int(m), int(h), int(w), int(s), _opt(med))
        for owner, m, h, w, s, med in rows
    )


def _currency(conn: psycopg.Connection[Any], marts: _Marts) -> str:
    if marts.missing("fct_ad_spend_daily", "reporting_currency"):
        return DEFAULT_CURRENCY
    row = conn.execute(
        f"select max(reporting_currency) from {SCHEMA}.fct_ad_spend_daily"
    ).fetchone()
    return str(row[0]) if row and row[0] else DEFAULT_CURRENCY


def _first_missing(marts: _Marts, needs: Iterable[tuple[str, ...]]) -> str | None:
    for table, *columns in needs:
        reason = marts.missing(table, *columns)
        if reason:
            return reason
    return None


_RATE_COLUMNS = tuple(f"{step}_rate" for step, _ in STEPS)
_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pipeline": (
        ("rpt_pipeline", "period_type", "period_start", "pipeline_created", "won_revenue"),
    ),
    "cac": (
        ("fct_ad_spend_daily", "date_day", "spend_reporting"),
        ("rpt_funnel_conversion", "period_type", "period_start", "customers"),
    ),
    "funnel": (
        (
            "rpt_funnel_conversion",
            "period_type",
            "period_start",
            *(m for m, _ in STAGE_MEASURES),
            *_RATE_COLUMNS,
        ),
    ),
    "mql_to_sql": (("fct_funnel", "mql_at", "sql_at"),),
    "sla": (("rpt_lead_handoff", "week_start", "mqls", "handed_off_within_sla"),),
    "attribution": (
        (
            "rpt_channel_attribution",
            "period_type",
            "period_start",
            "conversion_type",
            "model",
            "channel",
            "attributed_conversions",
            "attributed_revenue",
        ),
    ),
    "spend": (("fct_ad_spend_daily", "date_day", "channel", "spend_reporting"),),
    "lead_quality": (
        (
            "rpt_lead_quality",
            "period_type",
            "period_start",
            "channel",
            "mqls",
            "accepted",
            "rejected",
        ),
    ),
    "rejections": (
        (
            "rpt_lead_rejections",
            "period_type",
            "period_start",
            "channel",
            "disqualification_reason",
            "rejected",
        ),
    ),
    "handoff": (
        (
            "rpt_lead_handoff",
            "week_start",
            "owner_id",
            "owner_name",
            "mqls",
            "handed_off",
            "handed_off_within_sla",
            "still_waiting",
            "median_handoff_hours",
        ),
    ),
}


def build_report(
    conn: psycopg.Connection[Any], period: Period, models: Sequence[str] = REPORT_MODELS
) -> Report:
    """Read the numbers of ``period`` and of the period before it from the marts.

    Reads in one read-only transaction (a consistent snapshot when ``conn`` has none open).
    Sections whose mart is missing are ``None`` with the reason in ``unavailable``. Raises
    :class:`ReportError` only when there is no ``marts`` schema at all.
    """
    before = previous(period)
    fresh = conn.info.transaction_status == TransactionStatus.IDLE
    with conn.transaction():
        if fresh:
            conn.execute("set transaction isolation level repeatable read, read only")
        marts = _Marts(conn)
        if not marts.columns:
            raise ReportError(
                f"the report reads the marts and the warehouse has no {SCHEMA} schema (or it "
                "is empty): build them first (`revops transform`, i.e. dbt build)"
            )
        missing = {name: _first_missing(marts, needs) for name, needs in _NEEDS.items()}
        unavailable = {k: v for k, v in missing.items() if v}

        def kpi(
            key: str, label: str, kind: Kind, section: str, read: Any, higher_is_better: bool = True
        ) -> Kpi:
            if section in unavailable:
                return Kpi(key, label, kind, None, None, higher_is_better, unavailable[section])
            return Kpi(key, label, kind, read(period), read(before), higher_is_better)

        def cac(p: Period) -> float | None:
            customers = _funnel_counts(conn, p).customers
            return _spend_total(conn, p) / customers if customers else None

        kpis = (
            kpi(
                "pipeline_created",
                "Pipeline created",
                "money",
                "pipeline",
                lambda p: _pipeline(conn, p)[0],
            ),
            kpi("won_revenue", "Won revenue", "money", "pipeline", lambda p: _pipeline(conn, p)[1]),
            kpi("cac", "CAC", "money", "cac", cac, higher_is_better=False),
            kpi("mqls", "MQLs", "count", "funnel", lambda p: float(_funnel_counts(conn, p).mqls)),
            kpi(
                "mql_to_sql_rate",
                "MQL \u2192 SQL rate",
                "rate",
                "mql_to_sql",
                lambda p: _mql_to_sql(conn, p),
            ),
            kpi("handoff_sla_met", "Handoff SLA met", "rate", "sla", lambda p: _sla_met(conn, p)),
        )
        funnel = None
        if "funnel" not in unavailable:
            funnel = FunnelSection(
                current=_funnel_counts(conn, period),
                previous=_funnel_counts(conn, before),
                rates=_cohort_rates(conn, period),
                previous_rates=_cohort_rates(conn, before),
                weeks=_weeks(conn, period),
            )
        attribution = None if "attribution" in unavailable else _attribution(conn, period, models)
        spend = None
        if "spend" not in unavailable:
            now, earlier = _spend_by_channel(conn, period), _spend_by_channel(conn, before)
            spend = tuple(
                SpendRow(
                    channel,
                    now.get(channel, 0.0),
                    earlier.get(channel, 0.0),
                    dict(attribution.revenue.get(channel, {})) if attribution else {},
                )
                for channel in sorted(
                    set(now) | set(earlier),
                    key=lambda c: (-now.get(c, 0.0), -earlier.get(c, 0.0), c),
                )
            )
        lead_quality = None if "lead_quality" in unavailable else _lead_quality(conn, period)
        rejections = None if "rejections" in unavailable else _rejections(conn, period)
        handoff = None if "handoff" in unavailable else _handoff(conn, period)
        currency = _currency(conn, marts)
    return Report(
        period=period,
        previous_period=before,
        currency=currency,
        kpis=kpis,
        funnel=funnel,
        attribution=attribution,
        spend=spend,
        lead_quality=lead_quality,
        rejections=rejections,
        handoff=handoff,
        unavailable=unavailable,
    )


def _mql_to_sql(conn: psycopg.Connection[Any], period: Period) -> float | None:
    """Of the people who became MQL in the period, the share who have become SQL (so far):
    DOMAIN.md's cohort rate, "ever", read from ``fct_funnel`` (``rpt_funnel_conversion`` only
    has consecutive steps, and MQL -> SAL x SAL -> SQL mixes two cohorts)."""
    row = conn.execute(
        f"select count(*) filter (where sql_at is not null), count(*) from {SCHEMA}.fct_funnel "
        "where mql_at >= %s and mql_at < %s",
        (period.start_at, period.end_at),
    ).fetchone()
    if not row or not row[1]:
        return None
    return float(row[0]) / float(row[1])
