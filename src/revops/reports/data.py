"""The leadership report's numbers: metrics of the dbt semantic layer, nothing computed here.

:func:`build_report` reads one period (an ISO week or a calendar month) and the one before it
in a single read-only snapshot. Every number is a metric defined in
``dbt_project/models/marts/*/_*__semantic.yml``, which MetricFlow compiles into SQL
(:mod:`revops.reports.semantic`); ``mf query`` with the same metrics, group-by and period
gives the same numbers:

=======================  ===========================================================
section                  metrics (semantic model: mart)
=======================  ===========================================================
headline numbers         :data:`HEADLINE`: ``pipeline_created``, ``won_revenue``
                         (opportunities: ``fct_opportunities``), ``cac`` (``spend`` /
                         ``customers``), ``mqls``, ``mql_to_sql_rate`` (funnel:
                         ``fct_funnel``), ``handoff_sla_share`` (lead_handoff:
                         ``rpt_lead_handoff``)
funnel                   ``leads`` ... ``customers`` and ``<a>_to_<b>_rate`` (cohort), and
                         the stage counts of the 12 weeks up to the period
attribution by channel   ``attributed_pipeline``, ``attributed_revenue``,
                         ``attributed_opportunities``, ``attributed_customers`` by
                         ``credit__channel`` and ``credit__model`` (``fct_attribution``)
spend and ROAS           ``spend`` by ``ad_spend__channel`` (``fct_ad_spend_daily``); ROAS
                         per model = the channel's attributed revenue / its spend
lead quality             ``mqls``, ``mqls_accepted``, ``mqls_rejected``,
                         ``mql_acceptance_rate`` by ``person__channel``; ``disqualified``
                         by reason and channel
handoff SLA by owner     ``handoff_*`` metrics by ``handoff__owner`` (``rpt_lead_handoff``)
=======================  ===========================================================

A mart (or a column) a section's metrics read that does not exist yet makes the section "not
available yet" with the reason, never an error: the rest of the report still renders. A
period is ``metric_time`` at the edition's grain (week or month, UTC); the handoff metrics
count by MQL week, so a month takes the weeks that start in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.pq import TransactionStatus

from revops import vocabulary
from revops.reports import semantic
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


def _stage_label(stage: str, plural: bool = False) -> str:
    """How the report writes a funnel stage: acronyms in capitals (MQL, SAL, SQL), words
    capitalised (Lead, Opportunity); ``plural`` from the stage's count column (MQLs, Leads)."""
    if len(stage) == 3:
        return stage.upper() + ("s" if plural else "")
    return vocabulary.STAGE_COUNTS[stage].capitalize() if plural else stage.capitalize()


STAGE_MEASURES: tuple[tuple[str, str], ...] = tuple(
    (count, _stage_label(stage, plural=True)) for stage, count in vocabulary.STAGE_COUNTS.items()
)
"""Each funnel stage's count column and label, in funnel order (the dbt var funnel_stages)."""
STEPS: tuple[tuple[str, str], ...] = tuple(
    (f"{a}_to_{b}", f"{_stage_label(a)} \u2192 {_stage_label(b)}")
    for a, b in zip(vocabulary.STAGES, vocabulary.STAGES[1:], strict=False)
)
"""Each step between consecutive stages (its cohort-rate metric is ``<step>_rate``) and label."""
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
    totals: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """``pipeline`` and ``revenue`` over every channel, per model (the same metrics by model)."""

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
        """``pipeline`` or ``revenue`` over every channel under ``model``."""
        return self.totals.get(measure, {}).get(model, 0.0)


@dataclass(frozen=True)
class SpendRow:
    """Ad spend of one channel (reporting currency), attributed revenue and ROAS per model."""

    channel: str
    spend: float
    previous_spend: float
    revenue: Mapping[str, float]
    roas_by_model: Mapping[str, float | None] = field(default_factory=dict)
    """Attributed revenue / spend per model (metric ``attributed_roas``)."""

    def roas(self, model: str) -> float | None:
        """Attributed revenue / spend under ``model``; None without spend."""
        return self.roas_by_model.get(model)


@dataclass(frozen=True)
class LeadQualityRow:
    """Sales' verdict on one channel's MQLs of the period."""

    channel: str
    mqls: int
    accepted: int
    rejected: int
    acceptance_rate: float | None
    """accepted / (accepted + rejected) (metric ``mql_acceptance_rate``); None before sales
    decided on any."""


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
    sla_decided: int
    """MQLs whose SLA is decided: handed off, or waiting past the SLA."""
    still_waiting: int
    median_hours: float | None
    sla_met_rate: float | None
    """MQLs handed off within the SLA / MQLs whose SLA is decided (metric
    ``handoff_sla_share``); None before any is decided."""


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
    spend_totals: tuple[float, float] = (0.0, 0.0)
    """Ad spend over every channel in the period and the one before (metric ``spend``)."""
    spend_roas: Mapping[str, float | None] = field(default_factory=dict)
    """Per model, ROAS over the channels with spend (metric ``attributed_roas``)."""

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


# -- reading: every number is a metric of the semantic layer ----------------------------------


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _opt(value: Any) -> float | None:
    return float(value) if value is not None else None


def _day(value: Any) -> date:
    """``metric_time`` at a week or month grain as the period's first day."""
    return value.date() if isinstance(value, datetime) else value


def _read(
    conn: psycopg.Connection[Any],
    metrics: Sequence[str],
    grain: str,
    starts: Sequence[date],
    group_by: Sequence[str] = (),
    where: Sequence[str] = (),
) -> list[tuple[date, Mapping[str, Any]]]:
    """``metrics`` of the periods of ``grain`` (week, month) starting on ``starts``, by
    ``group_by``: (period start, row) pairs, read through :mod:`revops.reports.semantic`."""
    time = f"metric_time__{grain}"
    rows = semantic.query(
        conn, metrics, (time, *group_by), (semantic.period_filter(grain, starts), *where)
    )
    return [(_day(row[time]), row) for row in rows]


def _per_period(
    conn: psycopg.Connection[Any], metrics: Sequence[str], periods: Sequence[Period]
) -> dict[date, Mapping[str, Any]]:
    """``metrics`` of each of ``periods`` (one grain), by the period's first day."""
    grain = periods[0].period_type
    return dict(_read(conn, metrics, grain, [p.start for p in periods]))


_STAGE_METRICS = tuple(m for m, _ in STAGE_MEASURES)
_RATE_METRICS = {step: f"{step}_rate" for step, _ in STEPS}


def _stage_counts(row: Mapping[str, Any] | None) -> StageCounts:
    row = row or {}
    return StageCounts(*(int(row.get(m) or 0) for m in _STAGE_METRICS))


def _rates(row: Mapping[str, Any] | None) -> dict[str, float | None]:
    row = row or {}
    return {step: _opt(row.get(metric)) for step, metric in _RATE_METRICS.items()}


def chart_weeks(period: Period, count: int = CHART_WEEKS) -> list[date]:
    """Mondays of the ``count`` ISO weeks up to the one holding the period's last day."""
    last_day = period.last_day
    last = last_day - timedelta(days=last_day.weekday())
    return [last - timedelta(weeks=i) for i in range(count - 1, -1, -1)]


def _weeks(conn: psycopg.Connection[Any], period: Period) -> tuple[tuple[date, StageCounts], ...]:
    mondays = chart_weeks(period)
    found = dict(_read(conn, _STAGE_METRICS, "week", mondays))
    return tuple((monday, _stage_counts(found.get(monday))) for monday in mondays)


_ATTRIBUTED = {
    # metric -> (AttributionSection table, the table of the conversions it credits)
    "attributed_pipeline": ("pipeline", "attributed_opportunities"),
    "attributed_revenue": ("revenue", "attributed_customers"),
    "attributed_opportunities": ("opportunities", "attributed_opportunities"),
    "attributed_customers": ("customers", "attributed_customers"),
}


def _attribution(
    conn: psycopg.Connection[Any], period: Period, models: Sequence[str]
) -> AttributionSection:
    rows = _read(
        conn,
        list(_ATTRIBUTED),
        period.period_type,
        [period.start],
        ("credit__channel", "credit__model"),
        (semantic.dimension_filter("credit__model", models),),
    )
    tables: dict[str, dict[str, dict[str, float]]] = {
        name: defaultdict(dict) for name, _ in _ATTRIBUTED.values()
    }
    for _, row in rows:
        channel, model = row["credit__channel"] or "(none)", row["credit__model"]
        for metric, (table, credited) in _ATTRIBUTED.items():
            # a channel the model credits no such conversion has no entry
            if row[credited]:
                tables[table][channel][model] = _num(row[metric])
    totals: dict[str, dict[str, float]] = {"pipeline": {}, "revenue": {}}
    for _, row in _read(
        conn,
        ["attributed_pipeline", "attributed_revenue"],
        period.period_type,
        [period.start],
        ("credit__model",),
        (semantic.dimension_filter("credit__model", models),),
    ):
        totals["pipeline"][row["credit__model"]] = _num(row["attributed_pipeline"])
        totals["revenue"][row["credit__model"]] = _num(row["attributed_revenue"])
    return AttributionSection(
        tuple(models), **{k: dict(v) for k, v in tables.items()}, totals=totals
    )


def _spend_by_channel(
    conn: psycopg.Connection[Any], periods: Sequence[Period]
) -> dict[date, dict[str, float]]:
    found: dict[date, dict[str, float]] = {p.start: {} for p in periods}
    for start, row in _read(
        conn, ["spend"], periods[0].period_type, list(found), ("ad_spend__channel",)
    ):
        found[start][row["ad_spend__channel"] or "(none)"] = _num(row["spend"])
    return found


def _roas(
    conn: psycopg.Connection[Any],
    period: Period,
    models: Sequence[str],
    together: Sequence[str] = (),
) -> dict[str, dict[str, float | None]]:
    """ROAS per channel and model (channel -> model -> won revenue the model credits / spend);
    with ``together``, per model over those channels as one (under the channel ``""``)."""
    where = [semantic.dimension_filter("attributed_spend__model", models)]
    group_by = ["attributed_spend__model"]
    if together:
        where.append(semantic.dimension_filter("attributed_spend__channel", together))
    else:
        group_by.append("attributed_spend__channel")
    found: dict[str, dict[str, float | None]] = defaultdict(dict)
    for _, row in _read(
        conn, ["attributed_roas"], period.period_type, [period.start], group_by, where
    ):
        channel = "" if together else row["attributed_spend__channel"] or "(none)"
        found[channel][row["attributed_spend__model"]] = _opt(row["attributed_roas"])
    return found


def _lead_quality(conn: psycopg.Connection[Any], period: Period) -> tuple[LeadQualityRow, ...]:
    rows = _read(
        conn,
        ["mqls", "mqls_accepted", "mqls_rejected", "mql_acceptance_rate"],
        period.period_type,
        [period.start],
        ("person__channel",),
    )
    result = [
        LeadQualityRow(
            row["person__channel"] or "(none)",
            int(row["mqls"] or 0),
            int(row["mqls_accepted"] or 0),
            int(row["mqls_rejected"] or 0),
            _opt(row["mql_acceptance_rate"]),
        )
        for _, row in rows
        if row["mqls"]
    ]
    return tuple(sorted(result, key=lambda r: (-r.mqls, r.channel)))


def _rejections(conn: psycopg.Connection[Any], period: Period) -> tuple[RejectionRow, ...]:
    rows = _read(
        conn,
        ["disqualified"],
        period.period_type,
        [period.start],
        ("person__disqualification_reason", "person__channel"),
    )
    by_reason: dict[str, dict[str, int]] = defaultdict(dict)
    for _, row in rows:
        reason = row["person__disqualification_reason"] or "(no reason given)"
        by_reason[reason][row["person__channel"] or "(none)"] = int(row["disqualified"] or 0)
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
    rows = _read(
        conn,
        [
            "handoff_mqls",
            "handed_off",
            "handed_off_within_sla",
            "handoff_sla_decided",
            "handoff_still_waiting",
            "handoff_median_hours",
            "handoff_sla_share",
        ],
        period.period_type,
        [period.start],
        ("handoff__owner", "handoff__owner_name"),
    )
    result = [
        HandoffRow(
            row["handoff__owner_name"] or row["handoff__owner"] or NO_OWNER,
            int(row["handoff_mqls"] or 0),
            int(row["handed_off"] or 0),
            int(row["handed_off_within_sla"] or 0),
            int(row["handoff_sla_decided"] or 0),
            int(row["handoff_still_waiting"] or 0),
            _opt(row["handoff_median_hours"]),
            _opt(row["handoff_sla_share"]),
        )
        for _, row in rows
    ]
    return tuple(sorted(result, key=lambda r: (-r.mqls, r.owner)))


def _currency(conn: psycopg.Connection[Any], marts: _Marts) -> str:
    if marts.missing("fct_ad_spend_daily", "reporting_currency"):
        return DEFAULT_CURRENCY
    row = conn.execute(
        f"select reporting_currency from {SCHEMA}.fct_ad_spend_daily "
        "where reporting_currency is not null limit 1"
    ).fetchone()
    return str(row[0]) if row and row[0] else DEFAULT_CURRENCY


def _first_missing(marts: _Marts, needs: Iterable[tuple[str, ...]]) -> str | None:
    for table, *columns in needs:
        reason = marts.missing(table, *columns)
        if reason:
            return reason
    return None


_STAGE_COLUMNS = tuple(f"{stage}_at" for stage in ("lead", "mql", "sal", "sql", "opportunity"))
_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    # section -> the marts (and columns) its metrics read
    "pipeline": (
        ("fct_opportunities", "created_at", "closed_at", "is_closed", "is_won", "amount_reporting"),
    ),
    "cac": (
        ("fct_ad_spend_daily", "date_day", "spend_reporting"),
        ("fct_funnel", "customer_at"),
    ),
    "funnel": (("fct_funnel", "person_id", *_STAGE_COLUMNS, "customer_at", "source_channel"),),
    "mql_to_sql": (("fct_funnel", "mql_at", "sql_at"),),
    "sla": (("rpt_lead_handoff", "week_start", "owner_id", "mqls", "handed_off_within_sla"),),
    "attribution": (
        (
            "fct_attribution",
            "conversion_id",
            "touchpoint_id",
            "converted_at",
            "conversion_type",
            "model",
            "channel",
            "credit",
            "revenue_credit",
        ),
    ),
    "spend": (("fct_ad_spend_daily", "date_day", "channel", "spend_reporting"),),
    "roas": (("fct_attributed_spend_daily", "date_day", "model", "channel", "spend_reporting"),),
    "lead_quality": (("fct_funnel", "mql_at", "sal_at", "disqualified_at", "source_channel"),),
    "rejections": (("fct_funnel", "disqualified_at", "disqualification_reason", "source_channel"),),
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
HEADLINE: tuple[tuple[str, str, Kind, str, str, bool], ...] = (
    # key, label, kind, section (what it needs), the semantic layer's metric, higher is better
    ("pipeline_created", "Pipeline created", "money", "pipeline", "pipeline_created", True),
    ("won_revenue", "Won revenue", "money", "pipeline", "won_revenue", True),
    ("cac", "CAC", "money", "cac", "cac", False),
    ("mqls", "MQLs", "count", "funnel", "mqls", True),
    ("mql_to_sql_rate", "MQL \u2192 SQL rate", "rate", "mql_to_sql", "mql_to_sql_rate", True),
    ("handoff_sla_met", "Handoff SLA met", "rate", "sla", "handoff_sla_share", True),
)
_SUMS = ("pipeline_created", "won_revenue", "mqls")
"""Headline metrics that are sums: a period without rows has 0, not "no value"."""


def _kpis(
    conn: psycopg.Connection[Any], periods: Sequence[Period], unavailable: Mapping[str, str]
) -> tuple[Kpi, ...]:
    metrics = [metric for _, _, _, section, metric, _ in HEADLINE if section not in unavailable]
    found = _per_period(conn, metrics, periods) if metrics else {}

    def value(metric: str, period: Period) -> float | None:
        raw = found.get(period.start, {}).get(metric)
        return _num(raw) if metric in _SUMS else _opt(raw)

    now, before = periods
    return tuple(
        Kpi(key, label, kind, None, None, better, unavailable[section])
        if section in unavailable
        else Kpi(key, label, kind, value(metric, now), value(metric, before), better)
        for key, label, kind, section, metric, better in HEADLINE
    )


def build_report(
    conn: psycopg.Connection[Any], period: Period, models: Sequence[str] = REPORT_MODELS
) -> Report:
    """Read the numbers of ``period`` and of the period before it from the semantic layer.

    Reads in one read-only transaction (a consistent snapshot when ``conn`` has none open).
    Sections whose mart is missing are ``None`` with the reason in ``unavailable``. Raises
    :class:`ReportError` only when there is no ``marts`` schema at all.
    """
    before = previous(period)
    periods = (period, before)
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
        kpis = _kpis(conn, periods, unavailable)
        funnel = None
        if "funnel" not in unavailable:
            stages = _per_period(conn, [*_STAGE_METRICS, *_RATE_METRICS.values()], periods)
            funnel = FunnelSection(
                current=_stage_counts(stages.get(period.start)),
                previous=_stage_counts(stages.get(before.start)),
                rates=_rates(stages.get(period.start)),
                previous_rates=_rates(stages.get(before.start)),
                weeks=_weeks(conn, period),
            )
        attribution = None if "attribution" in unavailable else _attribution(conn, period, models)
        spend, spend_totals, spend_roas = None, (0.0, 0.0), {}
        if "spend" not in unavailable:
            by_period = _spend_by_channel(conn, periods)
            now, earlier = by_period[period.start], by_period[before.start]
            totals = _per_period(conn, ["spend"], periods)
            spend_totals = (
                _num(totals.get(period.start, {}).get("spend")),
                _num(totals.get(before.start, {}).get("spend")),
            )
            roas = {} if "roas" in unavailable or not attribution else _roas(conn, period, models)
            spend = tuple(
                SpendRow(
                    channel,
                    now.get(channel, 0.0),
                    earlier.get(channel, 0.0),
                    dict(attribution.revenue.get(channel, {})) if attribution else {},
                    roas.get(channel, {}),
                )
                for channel in sorted(
                    set(now) | set(earlier),
                    key=lambda c: (-now.get(c, 0.0), -earlier.get(c, 0.0), c),
                )
            )
            if spend and "roas" not in unavailable and attribution:
                spend_roas = _roas(conn, period, models, [r.channel for r in spend]).get("", {})
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
        spend_totals=spend_totals,
        spend_roas=spend_roas,
    )
