"""The expectation suites of the publish gate, as code: one function per mart, and the shared
configuration (``expectations/gate.yml``) of both layers the gate checks (raw and marts).

Each expectation carries ``meta`` that the gate reads back from the validation results:

- ``check``: a stable name ``<mart>.<what>`` (what ``expectations/gate.yml`` refers to),
- ``table``: the mart, schema-qualified (``marts.fct_funnel``),
- ``severity``: ``blocking`` (the report would be wrong: do not publish) or ``warning``
  (publish, but say so in the report's footer); a check is a warning when ``gate.yml`` lists
  it under ``warnings``. The same severity is set as GX's own ``FailureSeverity`` (critical or
  warning), so Data Docs show it too,
- ``expected``: what a passing mart looks like, in words, for the on-call message,
- ``requires`` (cross-table checks only): the other marts the check's SQL reads.

Row-level rules use Great Expectations' built-in expectations; rules across rows or across
tables (credit sums, reconciliations with the funnel, opportunities and raw spend, gap-free
periods) use ``UnexpectedRowsExpectation`` whose SQL returns the offending rows.

The raw layer's suites (freshness, volume, keys, money, currencies) are built from what is in
the warehouse at run time: see :mod:`revops.quality.raw`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import great_expectations as gx
import yaml
from great_expectations import expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

CONFIG_ENV = "REVOPS_GATE_CONFIG"
"""Environment variable naming a gate.yml to use instead of ``expectations/gate.yml``."""

STAGES = ("lead", "mql", "sal", "sql", "opportunity", "customer")
"""Funnel stages in order; ``fct_funnel`` has ``<stage>_at`` for each."""

WEEKLY_MEASURES = ("leads", "mqls", "sals", "sqls", "opportunities", "customers")
"""Count columns of ``rpt_funnel_weekly`` and ``rpt_funnel_conversion``, in ``STAGES`` order."""

STEPS = tuple(f"{a}_to_{b}" for a, b in zip(STAGES, STAGES[1:], strict=False))
"""Consecutive stage pairs, as ``rpt_funnel_conversion`` names its rate columns."""

RAW_CHECK_KINDS = (
    "freshness",
    "volume",
    "primary_key_present",
    "primary_key_unique",
    "not_negative",
    "known_currency",
)
"""What the raw layer checks; raw check names are ``raw_<system>[.<table>].<kind>`` (money and
currency checks put the column first: ``<column>_not_negative``)."""

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_JOIN = re.compile(r"\bjoin\b", re.IGNORECASE)
_ALIASED_BATCH = re.compile(r"\{batch\}\s+as\s+\w+", re.IGNORECASE)
_QUALIFIED = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


class GateConfigError(ValueError):
    """``gate.yml`` is malformed or names a check that does not exist."""


class PeriodLike(Protocol):
    """A report period as the gate needs it (``revops.reports.periods.Period`` is one)."""

    label: str
    start: date
    end: date

    @property
    def period_type(self) -> str: ...


@dataclass(frozen=True)
class Catalog:
    """Which tables exist in the warehouse, and their columns: ``schema -> table -> columns``."""

    tables: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def has(self, schema: str, table: str) -> bool:
        """True when ``schema.table`` exists."""
        return table in self.tables.get(schema, {})

    def columns(self, schema: str, table: str) -> tuple[str, ...]:
        """The columns of ``schema.table`` (empty when it does not exist)."""
        return tuple(self.tables.get(schema, {}).get(table, ()))

    def schemas(self) -> list[str]:
        """Every schema with at least one table."""
        return sorted(self.tables)


@dataclass(frozen=True)
class GateContext:
    """What a gate run knows besides the configuration: when it runs (``as_of``: freshness and
    complete days are measured against it), the report periods it clears, and the catalog."""

    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    periods: tuple[PeriodLike, ...] = ()
    catalog: Catalog = field(default_factory=Catalog)


@dataclass(frozen=True)
class GateConfig:
    """The tunable thresholds of the gate (``expectations/gate.yml``)."""

    schema: str = "marts"
    credit_sum_tolerance: float = 1e-9
    money_tolerance: float = 0.01
    currency_regex: str = r"^[A-Z]{3}$"
    conversion_types: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "customer")
    valued_conversion_types: tuple[str, ...] = ("opportunity", "customer")
    model_conversion_types: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "w_shaped": ("opportunity", "customer"),
            "full_path": ("customer",),
        }
    )
    required_models: tuple[str, ...] = ("last_touch",)
    known_models: tuple[str, ...] = (
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
        "w_shaped",
        "full_path",
        "markov",
        "shapley",
    )
    optional_marts: tuple[str, ...] = ()
    rates_table: str = "seeds.fx_rates_daily"
    reporting_currency: str = "USD"
    raw_required_sources: tuple[str, ...] = ("hubspot", "google_ads", "mailchimp")
    raw_freshness_hours: float = 36.0
    raw_freshness_hours_by_source: Mapping[str, float] = field(default_factory=dict)
    volume_min_fraction: float = 0.6
    volume_history_weeks: int = 4
    volume_min_history: int = 2
    volume_min_rows: int = 20
    raw_money_columns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "google_ads.campaign_daily": ("metrics__cost_micros",),
            "meta_ads.ad_insights": ("spend",),
            "linkedin_ads.campaign_analytics": ("cost_in_local_currency",),
            "hubspot.deals": ("amount",),
            "salesforce.opportunity": ("amount",),
        }
    )
    raw_currency_columns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "google_ads.customers": ("customer__currency_code",),
            "meta_ads.ad_accounts": ("currency",),
            "linkedin_ads.ad_accounts": ("currency",),
            "hubspot.deals": ("deal_currency_code",),
            "salesforce.opportunity": ("currency_iso_code",),
        }
    )
    raw_spend: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {
            "google_ads": {
                "table": "campaign_daily",
                "amount": "metrics__cost_micros::numeric / 1000000",
            },
            "meta_ads": {"table": "ad_insights", "amount": "spend::numeric"},
            "linkedin_ads": {
                "table": "campaign_analytics",
                "amount": "cost_in_local_currency::numeric",
            },
        }
    )
    warnings: frozenset[str] = frozenset(
        {
            "fct_funnel.email_not_null",
            "fct_funnel.disqualification_has_reason",
            "fct_ad_spend_daily.campaign_id_not_null",
            "fct_ad_spend_daily.platform_conversions_not_null",
            "fct_ad_spend_daily.platform_conversions_not_negative",
            "fct_ad_spend_daily.time_zone_not_null",
            "fct_attribution.channel_not_null",
            "fct_attribution.model_known",
            "fct_attribution.touch_not_after_conversion",
            "fct_opportunities.closed_at_not_before_created_at",
            "rpt_pipeline.no_missing_period",
            "rpt_lead_handoff.no_missing_week",
        }
    )
    source: str = "built-in defaults"

    def severity(self, check: str) -> str:
        """``warning`` if the check is listed (or matched by a pattern) under ``warnings``."""
        if check in self.warnings or any(fnmatch.fnmatchcase(check, w) for w in self.warnings):
            return "warning"
        return "blocking"

    def table(self, name: str) -> str:
        """The schema-qualified name of a mart."""
        return f"{self.schema}.{name}"

    def freshness_hours(self, system: str) -> float:
        """The age the newest load of ``raw_<system>`` may have, in hours."""
        return float(self.raw_freshness_hours_by_source.get(system, self.raw_freshness_hours))


def default_config_path() -> Path | None:
    """The gate.yml in effect: ``$REVOPS_GATE_CONFIG``, else ``expectations/gate.yml`` in the
    working directory, else the one next to this source tree; None when there is none."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    for candidate in (
        Path.cwd() / "expectations" / "gate.yml",
        Path(__file__).resolve().parents[3] / "expectations" / "gate.yml",
    ):
        if candidate.is_file():
            return candidate
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "conversion_types": _strings,
    "valued_conversion_types": _strings,
    "required_models": _strings,
    "known_models": _strings,
    "optional_marts": _strings,
    "raw_required_sources": _strings,
    "warnings": lambda v: frozenset(_strings(v)),
    "model_conversion_types": lambda v: {str(m): _strings(ts) for m, ts in (v or {}).items()},
    "raw_money_columns": lambda v: {str(t): _strings(cs) for t, cs in (v or {}).items()},
    "raw_currency_columns": lambda v: {str(t): _strings(cs) for t, cs in (v or {}).items()},
    "raw_spend": lambda v: {
        str(p): {str(k): str(x) for k, x in (spec or {}).items()} for p, spec in (v or {}).items()
    },
    "raw_freshness_hours_by_source": lambda v: {str(s): float(h) for s, h in (v or {}).items()},
    "credit_sum_tolerance": float,
    "money_tolerance": float,
    "raw_freshness_hours": float,
    "volume_min_fraction": float,
    "volume_history_weeks": int,
    "volume_min_history": int,
    "volume_min_rows": int,
}


def load_config(path: Path | None = None) -> GateConfig:
    """Read the gate's thresholds from ``path`` (default: ``default_config_path()``).

    Keys left out keep their built-in defaults; unknown keys are an error.
    """
    path = path or default_config_path()
    if path is None:
        return GateConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise GateConfigError(f"cannot read the gate configuration {path}: {err}") from err
    if not isinstance(raw, dict):
        raise GateConfigError(f"{path}: expected a mapping at the top level")
    known = set(GateConfig.__dataclass_fields__) - {"source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GateConfigError(f"{path}: unknown keys {unknown}; allowed: {sorted(known)}")
    kwargs: dict[str, Any] = {"source": str(path)}
    for key, value in raw.items():
        try:
            kwargs[key] = _CONVERTERS.get(key, str)(value)
        except (TypeError, ValueError, AttributeError) as err:
            raise GateConfigError(f"{path}: {key} has an invalid value {value!r}: {err}") from err
    config = GateConfig(**kwargs)
    _validate(config)
    return config


def _validate(config: GateConfig) -> None:
    words = [
        config.schema,
        config.reporting_currency.lower(),
        *config.conversion_types,
        *config.valued_conversion_types,
        *config.known_models,
        *config.required_models,
        *config.model_conversion_types,
        *config.optional_marts,
        *config.raw_required_sources,
        *config.raw_freshness_hours_by_source,
        *config.raw_spend,
    ]
    for types in config.model_conversion_types.values():
        words.extend(types)
    for columns in (*config.raw_money_columns.values(), *config.raw_currency_columns.values()):
        words.extend(columns)
    words.extend(spec.get("table", "") for spec in config.raw_spend.values())
    bad = [w for w in words if not _IDENTIFIER.match(w)]
    qualified = [
        config.rates_table,
        *config.raw_money_columns,
        *config.raw_currency_columns,
    ]
    bad += [q for q in qualified if not _QUALIFIED.match(q)]
    if bad:
        raise GateConfigError(
            f"{config.source}: names must be lower-case SQL identifiers "
            f"(tables as <schema or system>.<table>), got {bad}"
        )
    for platform, spec in config.raw_spend.items():
        if set(spec) != {"table", "amount"} or ";" in spec.get("amount", ""):
            raise GateConfigError(
                f"{config.source}: raw_spend.{platform} needs exactly `table` and `amount` "
                "(one SQL expression over that table's columns)"
            )
    for name in ("credit_sum_tolerance", "money_tolerance", "raw_freshness_hours"):
        if not getattr(config, name) >= 0:
            raise GateConfigError(f"{config.source}: {name} must be >= 0")
    if not 0 < config.volume_min_fraction <= 1:
        raise GateConfigError(f"{config.source}: volume_min_fraction must be in (0, 1]")
    if config.volume_history_weeks < 1 or config.volume_min_history < 1:
        raise GateConfigError(
            f"{config.source}: volume_history_weeks and volume_min_history must be >= 1"
        )
    try:
        re.compile(config.currency_regex)
    except re.error as err:
        raise GateConfigError(f"{config.source}: currency_regex is invalid: {err}") from err
    names = set(check_names(config))
    unknown = sorted(w for w in config.warnings if not _known_check(w, names))
    if unknown:
        raise GateConfigError(
            f"{config.source}: `warnings` names checks that do not exist: {unknown}; "
            "see revops.quality.suites.check_names() for the marts' checks and "
            "expectations/README.md for the raw layer's names"
        )


def _known_check(name: str, names: set[str]) -> bool:
    """True when ``name`` is a mart check, or a raw check name (or pattern) of a known kind."""
    if name in names:
        return True
    if name.startswith("raw_"):
        kinds = "|".join(re.escape(k) for k in RAW_CHECK_KINDS)
        return (
            re.fullmatch(rf"raw_[a-z0-9_*?]+(\.[a-z0-9_*?]+)?\.([a-z0-9_*?]*_)?({kinds}|\*)", name)
            is not None
        )
    return any(fnmatch.fnmatchcase(check, name) for check in names)


# -- building blocks --------------------------------------------------------------------------


class SuiteBuilder:
    """Collects the expectations of one table with their meta (see the module docstring)."""

    def __init__(self, name: str, config: GateConfig, table: str | None = None) -> None:
        self.name = name
        self.config = config
        self.table = table or config.table(name)
        self.expectations: list[gxe.Expectation] = []

    def add(
        self,
        check: str,
        expected: str,
        expectation: type[gxe.Expectation],
        requires: Iterable[str] = (),
        subject: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Add one expectation named ``<name>.<check>``."""
        full = f"{self.name}.{check}"
        severity = self.config.severity(full)
        meta: dict[str, Any] = {
            "check": full,
            "table": self.table,
            "severity": severity,
            "expected": expected,
        }
        if subject:
            meta["subject"] = subject
        required = [r if "." in r else self.config.table(r) for r in requires]
        if required:
            meta["requires"] = required
        gx_severity = FailureSeverity.WARNING
        if severity == "blocking":
            gx_severity = FailureSeverity.CRITICAL
        self.expectations.append(expectation(meta=meta, severity=gx_severity, **kwargs))

    def columns(self, columns: Iterable[str]) -> None:
        """The table has at least these columns."""
        cols = list(columns)
        self.add(
            "columns_present",
            f"columns {', '.join(cols)} present",
            gxe.ExpectTableColumnsToMatchSet,
            subject="columns",
            column_set=cols,
            exact_match=False,
        )

    def not_null(self, *columns: str) -> None:
        """No nulls in each column."""
        for column in columns:
            self.add(
                f"{column}_not_null", "no nulls", gxe.ExpectColumnValuesToNotBeNull, column=column
            )

    def not_negative(self, *columns: str) -> None:
        """Each column >= 0 where set."""
        for column in columns:
            self.add(
                f"{column}_not_negative",
                ">= 0",
                gxe.ExpectColumnValuesToBeBetween,
                column=column,
                min_value=0,
            )

    def rates(self, *columns: str) -> None:
        """Each column is a share: between 0 and 1 where set."""
        for column in columns:
            self.add(
                f"{column}_between_0_and_1",
                "between 0 and 1",
                gxe.ExpectColumnValuesToBeBetween,
                column=column,
                min_value=0,
                max_value=1,
            )

    def unique(self, *columns: str) -> None:
        """One row per value (or combination) of ``columns``."""
        if len(columns) == 1:
            self.add(
                f"{columns[0]}_unique",
                f"one row per {columns[0]}",
                gxe.ExpectColumnValuesToBeUnique,
                column=columns[0],
            )
            return
        self.add(
            f"{'_'.join(c.removesuffix('_id') for c in columns)}_unique",
            f"one row per ({', '.join(columns)})",
            gxe.ExpectCompoundColumnsToBeUnique,
            column_list=list(columns),
        )

    def rows(
        self,
        check: str,
        subject: str,
        expected: str,
        sql: str,
        requires: Iterable[str] = (),
    ) -> None:
        """A rule over many rows: ``sql`` selects the offending rows from ``{batch}``.

        ``subject`` names what is checked (the message's "on ..."), ``expected`` the rule.
        The SQL must not contain literal braces (GX formats it to substitute ``{batch}``)."""
        query = textwrap.dedent(sql).strip()
        if "{" in query.replace("{batch}", ""):
            raise ValueError(f"{self.name}.{check}: the SQL must not contain literal braces")
        # GX aliases {batch} itself unless the query has a JOIN, when the query must alias it
        joined = _JOIN.search(re.sub(r"'[^']*'", "''", query)) is not None
        aliased = _ALIASED_BATCH.findall(query)
        if joined and len(aliased) != query.count("{batch}"):
            raise ValueError(f"{self.name}.{check}: with a JOIN, alias every {{batch}}")
        if not joined and aliased:
            raise ValueError(f"{self.name}.{check}: without a JOIN, do not alias {{batch}}")
        self.add(
            check,
            expected,
            gxe.UnexpectedRowsExpectation,
            requires=requires,
            subject=subject,
            unexpected_rows_query=query,
            description=f"{subject}: {expected}",
        )

    def no_missing_period(
        self, check: str, column: str, step: str, partition: str | None = None
    ) -> None:
        """Every ``step`` (week, month) between the first and the last ``column`` is present
        (per value of ``partition``, the period type, when given)."""
        part = f"{partition}, " if partition else ""
        join = f" and present.{partition} = spine.{partition}" if partition else ""
        group = f"group by {partition}" if partition else ""
        if partition:
            interval = (
                f"case spine_bounds.{partition} when 'month' then interval '1 month' "
                "else interval '1 week' end"
            )
        else:
            interval = f"interval '1 {step}'"
        self.rows(
            check,
            f"{column} between the first and the last",
            f"a row for every {step if not partition else 'period'}, none missing",
            f"""
            with present as (
                select distinct {part}{column} from {{batch}} as batch_rows
                where {column} is not null
            ),
            spine_bounds as (
                select {part}min({column}) as first_period, max({column}) as last_period
                from present {group}
            ),
            spine as (
                select {"spine_bounds." + partition + ", " if partition else ""}
                    generate_series(first_period, last_period, {interval})::date as {column}
                from spine_bounds
            )
            select {"spine." + partition + ", " if partition else ""}spine.{column}
                as missing_period
            from spine
            left outer join present on present.{column} = spine.{column}{join}
            where present.{column} is null
            order by 1{", 2" if partition else ""}
            """,
        )

    def build(self) -> gx.ExpectationSuite:
        """The GX suite, named after the table."""
        return gx.ExpectationSuite(
            name=self.table,
            expectations=self.expectations,
            meta={"table": self.table, "config": self.config.source},
        )


def sql_list(values: Iterable[str]) -> str:
    """``'a', 'b'`` for an SQL ``in (...)`` list (values are checked identifiers)."""
    return ", ".join(f"'{v}'" for v in values)


def sql_timestamp(moment: datetime) -> str:
    """A UTC timestamptz literal."""
    return f"timestamptz '{moment.astimezone(UTC).isoformat(sep=' ')}'"


# -- the marts' suites ------------------------------------------------------------------------


def fct_funnel_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """One row per person with the time they entered each funnel stage, disqualification and
    handoff."""
    config = config or GateConfig()
    s = SuiteBuilder("fct_funnel", config)
    s.columns(
        [
            "person_id",
            "email",
            *(f"{st}_at" for st in STAGES),
            "source_channel",
            "disqualified_at",
            "disqualification_reason",
            "handoff_hours",
            "handoff_sla_met",
        ]
    )
    s.not_null("person_id")
    s.unique("person_id")
    s.not_null("source_channel", "email")
    for earlier, later in zip(STAGES, STAGES[1:], strict=False):
        s.add(
            f"{later}_at_not_before_{earlier}_at",
            f"{later}_at >= {earlier}_at where both are set",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB,
            column_A=f"{later}_at",
            column_B=f"{earlier}_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    skipped = " or ".join(
        f"({st}_at is null and coalesce({', '.join(f'{x}_at' for x in STAGES[i + 1 :])}) "
        "is not null)"
        for i, st in enumerate(STAGES[:-1])
    )
    s.rows(
        "no_stage_skipped",
        "stages reached",
        "a person who reached a stage has a time for every earlier stage",
        f"select person_id, {', '.join(f'{st}_at' for st in STAGES)} "
        f"from {{batch}} where {skipped}",
    )
    s.not_negative("handoff_hours")
    s.rows(
        "disqualification_has_reason",
        "disqualified_at, disqualification_reason",
        "every disqualified MQL has the reason the CRM records",
        "select person_id, disqualified_at from {batch} "
        "where disqualified_at is not null and disqualification_reason is null",
    )
    return s.build()


def rpt_funnel_weekly_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Stage entries per ISO week and source channel, as the report charts them."""
    config = config or GateConfig()
    s = SuiteBuilder("rpt_funnel_weekly", config)
    s.columns(["week_start", "source_channel", *WEEKLY_MEASURES])
    s.not_null("week_start", "source_channel", *WEEKLY_MEASURES)
    s.not_negative(*WEEKLY_MEASURES)
    s.add(
        "week_channel_unique",
        "one row per (week_start, source_channel)",
        gxe.ExpectCompoundColumnsToBeUnique,
        column_list=["week_start", "source_channel"],
    )
    s.rows(
        "week_start_is_monday",
        "week_start",
        "every week_start is a Monday (ISO week)",
        "select distinct week_start from {batch} where extract(isodow from week_start) <> 1",
    )
    s.rows(
        "no_missing_week",
        "weeks between the first and the last week_start",
        "a row for every week, none missing",
        """
        with present as (
            select distinct week_start from {batch} as batch_rows where week_start is not null
        ),
        expected as (
            select generate_series(min(week_start), max(week_start), interval '1 week')::date
                as week_start
            from present
        )
        select expected.week_start as missing_week
        from expected
        left outer join present on present.week_start = expected.week_start
        where present.week_start is null
        order by 1
        """,
    )
    s.rows(
        "totals_match_fct_funnel",
        f"each measure summed over all weeks vs {config.table('fct_funnel')}",
        f"equal to the number of people in {config.table('fct_funnel')} who reached the stage",
        _totals_vs_funnel(config, "{batch}", None),
        requires=["fct_funnel"],
    )
    return s.build()


def _totals_vs_funnel(config: GateConfig, table: str, period_type: str | None) -> str:
    """SQL: stage totals of ``table`` (all rows, or one period type at a time) that differ from
    the people in ``fct_funnel`` who reached each stage."""
    funnel_counts = ",\n".join(
        f"count({st}_at) as {m}" for st, m in zip(STAGES, WEEKLY_MEASURES, strict=True)
    )
    sums = ",\n".join(f"coalesce(sum({m}), 0) as {m}" for m in WEEKLY_MEASURES)
    by = "period_type" if period_type else "'all'::text"
    compared = "\nunion all\n".join(
        f"select report.period_type, '{m}' as measure, funnel.{m} as in_fct_funnel, "
        f"report.{m} as in_report from funnel cross join report"
        for m in WEEKLY_MEASURES
    )
    return f"""
    with funnel as (select {funnel_counts} from {config.table("fct_funnel")}),
    report as (select {by} as period_type, {sums} from {table} as batch_rows group by 1),
    compared as ({compared})
    select {"period_type, " if period_type else ""}measure, in_fct_funnel, in_report
    from compared
    where in_fct_funnel <> in_report
    order by 1, 2
    """


def rpt_funnel_conversion_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Stage counts, cohort conversion rates and velocity per week/month and source channel."""
    config = config or GateConfig()
    ctx = ctx or GateContext()
    s = SuiteBuilder("rpt_funnel_conversion", config)
    rate_columns = [f"{step}_rate{suffix}" for step in STEPS for suffix in ("", "_in_window")]
    s.columns(["period_type", "period_start", "source_channel", *WEEKLY_MEASURES, *rate_columns])
    s.not_null("period_type", "period_start", "source_channel", *WEEKLY_MEASURES)
    s.add(
        "period_type_known",
        "week or month",
        gxe.ExpectColumnValuesToBeInSet,
        column="period_type",
        value_set=["week", "month"],
    )
    s.unique("period_type", "period_start", "source_channel")
    s.not_negative(*WEEKLY_MEASURES)
    s.rates(*rate_columns)
    for step in STEPS:
        s.add(
            f"{step}_in_window_not_above_ever",
            f"{step}_rate_in_window <= {step}_rate",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB,
            column_A=f"{step}_rate",
            column_B=f"{step}_rate_in_window",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    stage_order = " or ".join(
        f"sum({a}) < sum({b})" for a, b in zip(WEEKLY_MEASURES, WEEKLY_MEASURES[1:], strict=False)
    )
    s.rows(
        "funnel_monotonic",
        "stage totals per period type",
        "totals never increase down the funnel (leads >= MQLs >= ... >= customers)",
        f"""
        select period_type, {", ".join(f"sum({m}) as {m}" for m in WEEKLY_MEASURES)}
        from {{batch}}
        group by period_type
        having {stage_order}
        """,
    )
    s.no_missing_period("no_missing_period", "period_start", "period", partition="period_type")
    s.rows(
        "totals_match_fct_funnel",
        f"each measure summed per period type vs {config.table('fct_funnel')}",
        f"equal to the number of people in {config.table('fct_funnel')} who reached the stage",
        _totals_vs_funnel(config, "{batch}", "period_type"),
        requires=["fct_funnel"],
    )
    if ctx.periods:
        wanted = " union all ".join(
            f"select '{p.period_type}'::text as period_type, date '{p.start.isoformat()}' "
            f"as period_start, '{p.label}'::text as report_period"
            for p in ctx.periods
        )
        s.rows(
            "report_periods_present",
            "the periods the report is about to show",
            "rows for every report period (a missing one means the data stops before it)",
            f"""
            with wanted as ({wanted})
            select distinct wanted.report_period, wanted.period_type, wanted.period_start
            from wanted
            left outer join {{batch}} as batch_rows
                on batch_rows.period_type = wanted.period_type
                and batch_rows.period_start = wanted.period_start
            where batch_rows.period_type is null
            """,
        )
    return s.build()


def fct_ad_spend_daily_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Spend per platform, account, campaign and day in the account's and the reporting
    currency."""
    config = config or GateConfig()
    ctx = ctx or GateContext()
    s = SuiteBuilder("fct_ad_spend_daily", config)
    s.columns(
        [
            "date_day",
            "platform",
            "account_id",
            "campaign_id",
            "channel",
            "spend",
            "currency",
            "spend_reporting",
            "impressions",
            "clicks",
            "platform_conversions",
            "time_zone",
        ]
    )
    s.not_null(
        "date_day",
        "platform",
        "channel",
        "spend",
        "currency",
        "spend_reporting",
        "campaign_id",
        "platform_conversions",
        "time_zone",
    )
    s.not_negative("spend", "spend_reporting", "impressions", "clicks", "platform_conversions")
    s.add(
        "currency_iso_code",
        f"matches {config.currency_regex} (an ISO 4217 code)",
        gxe.ExpectColumnValuesToMatchRegex,
        column="currency",
        regex=config.currency_regex,
    )
    s.add(
        "clicks_not_above_impressions",
        "clicks <= impressions where both are set",
        gxe.ExpectColumnPairValuesAToBeGreaterThanB,
        column_A="impressions",
        column_B="clicks",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    s.add(
        "day_campaign_unique",
        "one row per (date_day, platform, account_id, campaign_id)",
        gxe.ExpectCompoundColumnsToBeUnique,
        column_list=["date_day", "platform", "account_id", "campaign_id"],
    )
    rates = config.rates_table
    s.rows(
        "rate_known",
        f"a {rates} rate for every currency and day with spend",
        "a daily rate for each (currency, day); a missing rate is an error, never 1.0",
        f"""
        select distinct spend.currency, spend.date_day
        from {{batch}} as spend
        left outer join {rates} as rates
            on rates.currency = spend.currency and rates.rate_date = spend.date_day
        where spend.currency <> '{config.reporting_currency}'
            and rates.currency is null
        order by 1, 2
        """,
        requires=[rates],
    )
    s.rows(
        "spend_reporting_at_the_days_rate",
        f"spend_reporting vs spend x the day's {rates} rate",
        f"equal within {config.money_tolerance:g}",
        f"""
        select spend.date_day, spend.platform, spend.campaign_id, spend.currency, spend.spend,
            spend.spend_reporting, spend.spend * rates.rate_to_usd as at_the_days_rate
        from {{batch}} as spend
        join {rates} as rates
            on rates.currency = spend.currency and rates.rate_date = spend.date_day
        where abs(spend.spend * rates.rate_to_usd - spend.spend_reporting)
            > {config.money_tolerance!r}
        order by 1, 2, 3
        """,
        requires=[rates],
    )
    s.rows(
        "spend_matches_raw",
        "total spend per platform vs the raw platform data",
        f"equal within {config.money_tolerance:g} in the platform's currency "
        "(nothing lost or doubled between raw and the mart)",
        _spend_vs_raw_sql(config, ctx),
    )
    return s.build()


def _spend_vs_raw_sql(config: GateConfig, ctx: GateContext) -> str:
    raw_parts = [
        f"select '{platform}'::text as platform, sum({spec['amount']}) as raw_spend "
        f"from raw_{platform}.{spec['table']} as raw_rows"
        for platform, spec in sorted(config.raw_spend.items())
        if ctx.catalog.has(f"raw_{platform}", spec["table"])
    ]
    raw = (
        "\nunion all\n".join(raw_parts)
        or "select null::text as platform, null::numeric as raw_spend where false"
    )
    return f"""
    with raw as ({raw}),
    mart as (select platform, sum(spend) as mart_spend from {{batch}} as batch_rows group by 1)
    select coalesce(mart.platform, raw.platform) as platform,
        raw.raw_spend, mart.mart_spend
    from mart
    full outer join raw on raw.platform = mart.platform
    where raw.raw_spend is null
        or mart.mart_spend is null
        or abs(raw.raw_spend - mart.mart_spend) > {config.money_tolerance!r}
    order by 1
    """


def fct_opportunities_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """One row per opportunity: amounts, created and closed, won or lost."""
    config = config or GateConfig()
    s = SuiteBuilder("fct_opportunities", config)
    s.columns(
        [
            "opportunity_id",
            "account_id",
            "created_at",
            "closed_at",
            "is_closed",
            "is_won",
            "amount",
            "currency",
            "amount_reporting",
        ]
    )
    s.not_null("opportunity_id", "created_at", "amount_reporting", "is_won")
    s.unique("opportunity_id")
    s.not_negative("amount", "amount_reporting")
    s.add(
        "currency_iso_code",
        f"matches {config.currency_regex} (an ISO 4217 code)",
        gxe.ExpectColumnValuesToMatchRegex,
        column="currency",
        regex=config.currency_regex,
    )
    s.add(
        "closed_at_not_before_created_at",
        "closed_at >= created_at where both are set",
        gxe.ExpectColumnPairValuesAToBeGreaterThanB,
        column_A="closed_at",
        column_B="created_at",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    s.rows(
        "won_is_closed",
        "is_won, is_closed, closed_at",
        "a won opportunity is closed and has a close time",
        "select opportunity_id, is_won, is_closed, closed_at from {batch} "
        "where is_won and (not coalesce(is_closed, false) or closed_at is null)",
    )
    return s.build()


def fct_attribution_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Credit and revenue credit per conversion, touch and attribution model."""
    config = config or GateConfig()
    tol = config.credit_sum_tolerance
    money = config.money_tolerance
    s = SuiteBuilder("fct_attribution", config)
    s.columns(
        [
            "conversion_id",
            "conversion_type",
            "person_id",
            "converted_at",
            "touchpoint_id",
            "touched_at",
            "model",
            "credit",
            "revenue_credit",
            "channel",
        ]
    )
    s.not_null(
        "conversion_id",
        "conversion_type",
        "person_id",
        "converted_at",
        "model",
        "credit",
        "revenue_credit",
        "channel",
    )
    s.add(
        "conversion_type_known",
        f"one of {', '.join(config.conversion_types)}",
        gxe.ExpectColumnValuesToBeInSet,
        column="conversion_type",
        value_set=list(config.conversion_types),
    )
    s.add(
        "model_known",
        f"one of {', '.join(config.known_models)}",
        gxe.ExpectColumnValuesToBeInSet,
        column="model",
        value_set=list(config.known_models),
    )
    s.add(
        "credit_between_0_and_1",
        f"between 0 and 1 (tolerance {tol:g})",
        gxe.ExpectColumnValuesToBeBetween,
        column="credit",
        min_value=-tol,
        max_value=1 + tol,
    )
    s.not_negative("revenue_credit")
    s.add(
        "touch_not_after_conversion",
        "converted_at >= touched_at where both are set",
        gxe.ExpectColumnPairValuesAToBeGreaterThanB,
        column_A="converted_at",
        column_B="touched_at",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    s.rows(
        "credit_sums_to_1",
        "sum of credit per (conversion_id, model)",
        f"1 within {tol:g}",
        f"""
        select conversion_id, model, sum(credit) as credit_sum, count(*) as touches
        from {{batch}}
        group by conversion_id, model
        having abs(coalesce(sum(credit), 0) - 1) > {tol!r}
        order by conversion_id, model
        """,
    )
    funnel = config.table("fct_funnel")
    opportunities = config.table("fct_opportunities")
    # lead, mql, sql are people entering the stage; opportunity and customer are account-based:
    # one conversion per opportunity created / won (DECISIONLOG.md: funnel across CRMs)
    account_based = {
        "opportunity": f"select 'opportunity' as conversion_type, count(*) as people "
        f"from {opportunities}",
        "customer": f"select 'customer' as conversion_type, count(*) as people "
        f"from {opportunities} where is_won",
    }
    people = "\nunion all\n".join(
        account_based.get(t)
        or f"select '{t}' as conversion_type, count({t}_at) as people from {funnel}"
        for t in config.conversion_types
    )
    limits = (
        " and ".join(
            f"not (models.model = '{m}' and stages.conversion_type not in ({sql_list(ts)}))"
            for m, ts in sorted(config.model_conversion_types.items())
        )
        or "true"
    )
    required = (
        f"union select model from (values {', '.join(f'({m!r})' for m in config.required_models)})"
        " as required_models (model)"
        if config.required_models
        else ""
    )
    s.rows(
        "conversions_match_fct_funnel",
        f"distinct conversion_id per (conversion_type, model) vs {funnel}",
        f"equal to the number of people in {funnel} who reached the stage (every model that "
        "applies to the conversion type)",
        f"""
        with stages as ({people}),
        models as (
            select distinct model from {{batch}} as batch_models
            where model is not null {required}
        ),
        expected as (
            select models.model, stages.conversion_type, stages.people
            from models cross join stages
            where {limits}
        ),
        attributed as (
            select model, conversion_type, count(distinct conversion_id) as conversions
            from {{batch}} as batch_rows
            group by model, conversion_type
        )
        select
            coalesce(expected.model, attributed.model) as model,
            coalesce(expected.conversion_type, attributed.conversion_type) as conversion_type,
            coalesce(expected.people, 0) as people_in_funnel,
            coalesce(attributed.conversions, 0) as attributed_conversions
        from expected
        full outer join attributed
            on attributed.model = expected.model
            and attributed.conversion_type = expected.conversion_type
        where coalesce(expected.people, 0) <> coalesce(attributed.conversions, 0)
        order by 1, 2
        """,
        requires=["fct_funnel"],
    )
    s.rows(
        "revenue_only_on_valued_conversions",
        "revenue_credit of conversion types without a value",
        f"0 for every type but {', '.join(config.valued_conversion_types)}",
        f"""
        select conversion_type, model, sum(revenue_credit) as revenue_credit
        from {{batch}}
        where conversion_type not in ({sql_list(config.valued_conversion_types)})
        group by 1, 2
        having sum(abs(revenue_credit)) > {money!r}
        order by 1, 2
        """,
    )
    s.rows(
        "revenue_per_conversion_equal_across_models",
        "sum of revenue_credit per conversion, model by model",
        f"the conversion's value under every model (within {money:g}): credit x value, "
        "credits summing to 1",
        f"""
        with per_model as (
            select conversion_id, model, sum(revenue_credit) as revenue
            from {{batch}}
            where conversion_type in ({sql_list(config.valued_conversion_types)})
            group by 1, 2
        )
        select conversion_id, min(revenue) as lowest_model_total,
            max(revenue) as highest_model_total, count(*) as models
        from per_model
        group by conversion_id
        having max(revenue) - min(revenue) > {money!r}
        order by conversion_id
        """,
    )
    s.rows(
        "revenue_totals_match_across_models",
        "attributed revenue per (conversion_type, model)",
        f"equal to the total value of the conversions (every model, within {money:g})",
        f"""
        with per_conversion as (
            select conversion_type, conversion_id, model, sum(revenue_credit) as revenue
            from {{batch}} as batch_rows
            where conversion_type in ({sql_list(config.valued_conversion_types)})
            group by 1, 2, 3
        ),
        value as (
            select conversion_type, conversion_id, max(revenue) as value
            from per_conversion group by 1, 2
        ),
        totals as (
            select conversion_type, sum(value) as total_value from value group by 1
        ),
        per_model as (
            select conversion_type, model, sum(revenue) as attributed_revenue
            from per_conversion group by 1, 2
        )
        select per_model.conversion_type, per_model.model, per_model.attributed_revenue,
            totals.total_value
        from per_model
        join totals on totals.conversion_type = per_model.conversion_type
        where abs(per_model.attributed_revenue - totals.total_value) > {money!r}
        order by 1, 2
        """,
    )
    return s.build()


def rpt_channel_attribution_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Attributed conversions, revenue, spend and ROAS per period, model and channel."""
    config = config or GateConfig()
    s = SuiteBuilder("rpt_channel_attribution", config)
    s.columns(
        [
            "period_type",
            "period_start",
            "conversion_type",
            "model",
            "channel",
            "campaign_id",
            "attributed_conversions",
            "attributed_revenue",
            "spend_reporting",
            "roas",
        ]
    )
    s.not_null("period_type", "period_start", "conversion_type", "model", "channel")
    s.not_negative("attributed_conversions", "attributed_revenue", "spend_reporting", "roas")
    attribution = config.table("fct_attribution")
    money = config.money_tolerance
    s.rows(
        "totals_match_fct_attribution",
        f"attributed conversions and revenue per (period type, conversion type, model) vs "
        f"{attribution}",
        f"equal to {attribution}'s credit and revenue credit (conversions within 1e-6, revenue "
        f"within {money:g})",
        f"""
        with facts as (
            select conversion_type, model, sum(credit) as conversions,
                sum(revenue_credit) as revenue
            from {attribution}
            group by 1, 2
        ),
        report as (
            select period_type, conversion_type, model,
                sum(attributed_conversions) as conversions, sum(attributed_revenue) as revenue
            from {{batch}} as batch_rows
            group by 1, 2, 3
        ),
        period_types as (select distinct period_type from {{batch}} as batch_types),
        expected as (
            select period_types.period_type, facts.*
            from period_types cross join facts
        )
        select coalesce(expected.period_type, report.period_type) as period_type,
            coalesce(expected.conversion_type, report.conversion_type) as conversion_type,
            coalesce(expected.model, report.model) as model,
            expected.conversions as in_fct_attribution, report.conversions as in_report,
            expected.revenue as revenue_in_fct_attribution, report.revenue as revenue_in_report
        from expected
        full outer join report
            on report.period_type = expected.period_type
            and report.conversion_type = expected.conversion_type
            and report.model = expected.model
        where abs(coalesce(expected.conversions, 0) - coalesce(report.conversions, 0)) > 1e-6
            or abs(coalesce(expected.revenue, 0) - coalesce(report.revenue, 0)) > {money!r}
        order by 1, 2, 3
        """,
        requires=["fct_attribution"],
    )
    return s.build()


def rpt_pipeline_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Pipeline created, won revenue, win rate and sales cycle per period and channel."""
    config = config or GateConfig()
    s = SuiteBuilder("rpt_pipeline", config)
    measures = [
        "opportunities_created",
        "pipeline_created",
        "won_count",
        "lost_count",
        "won_revenue",
    ]
    s.columns(
        [
            "period_type",
            "period_start",
            "channel",
            *measures,
            "win_rate",
            "avg_deal_size",
            "avg_sales_cycle_days_won",
            "avg_sales_cycle_days_lost",
        ]
    )
    s.not_null("period_type", "period_start", "channel", *measures)
    s.unique("period_type", "period_start", "channel")
    s.not_negative(
        *measures, "avg_deal_size", "avg_sales_cycle_days_won", "avg_sales_cycle_days_lost"
    )
    s.rates("win_rate")
    s.no_missing_period("no_missing_period", "period_start", "period", partition="period_type")
    opportunities = config.table("fct_opportunities")
    money = config.money_tolerance
    s.rows(
        "won_revenue_matches_fct_opportunities",
        f"won revenue summed per period type vs won opportunities in {opportunities}",
        f"equal to the sum of amount_reporting of won opportunities (within {money:g})",
        f"""
        with won as (
            select coalesce(sum(amount_reporting), 0) as won_revenue, count(*) as won_count
            from {opportunities} where is_won
        ),
        report as (
            select period_type, sum(won_revenue) as won_revenue, sum(won_count) as won_count
            from {{batch}} as batch_rows group by 1
        )
        select report.period_type, won.won_revenue as in_fct_opportunities,
            report.won_revenue as in_report, won.won_count as won_in_fct_opportunities,
            report.won_count as won_in_report
        from report cross join won
        where abs(report.won_revenue - won.won_revenue) > {money!r}
            or report.won_count <> won.won_count
        order by 1
        """,
        requires=["fct_opportunities"],
    )
    s.rows(
        "pipeline_matches_fct_opportunities",
        f"opportunities and pipeline created per period type vs {opportunities}",
        f"equal to the count and the amount_reporting of {opportunities} (within {money:g})",
        f"""
        with created as (
            select count(*) as opportunities, coalesce(sum(amount_reporting), 0) as pipeline
            from {opportunities}
        ),
        report as (
            select period_type, sum(opportunities_created) as opportunities,
                sum(pipeline_created) as pipeline
            from {{batch}} as batch_rows group by 1
        )
        select report.period_type, created.opportunities as in_fct_opportunities,
            report.opportunities as in_report, created.pipeline as pipeline_in_fct_opportunities,
            report.pipeline as pipeline_in_report
        from report cross join created
        where report.opportunities <> created.opportunities
            or abs(report.pipeline - created.pipeline) > {money!r}
        order by 1
        """,
        requires=["fct_opportunities"],
    )
    return s.build()


def rpt_lead_handoff_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """MQLs handed off to sales per week and owner, within the SLA or not."""
    config = config or GateConfig()
    s = SuiteBuilder("rpt_lead_handoff", config)
    counts = ["mqls", "handed_off", "handed_off_within_sla", "still_waiting"]
    s.columns(
        ["week_start", "owner_id", "owner_name", *counts, "median_handoff_hours", "sla_met_rate"]
    )
    s.not_null("week_start", *counts)
    s.unique("week_start", "owner_id")
    s.not_negative(*counts, "median_handoff_hours")
    s.rates("sla_met_rate")
    s.rows(
        "counts_nest",
        "handed_off_within_sla, handed_off, still_waiting, mqls",
        "within SLA <= handed off, and handed off + still waiting <= MQLs",
        "select week_start, owner_id, mqls, handed_off, handed_off_within_sla, still_waiting "
        "from {batch} where handed_off_within_sla > handed_off "
        "or handed_off + still_waiting > mqls order by 1, 2",
    )
    s.no_missing_period("no_missing_week", "week_start", "week")
    return s.build()


def rpt_lead_quality_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Sales' feedback on MQLs: accepted and rejected per period, channel and campaign."""
    config = config or GateConfig()
    s = SuiteBuilder("rpt_lead_quality", config)
    counts = ["mqls", "accepted", "rejected"]
    s.columns(
        [
            "period_type",
            "period_start",
            "channel",
            "campaign_name",
            *counts,
            "mql_to_sql_rate",
            "sql_to_won_rate",
        ]
    )
    s.not_null("period_type", "period_start", "channel", *counts)
    s.not_negative(*counts)
    s.rates("mql_to_sql_rate", "sql_to_won_rate")
    s.rows(
        "accepted_and_rejected_within_mqls",
        "accepted and rejected vs mqls",
        "accepted <= MQLs and rejected <= MQLs (a lead sales worked can still be rejected)",
        "select period_type, period_start, channel, campaign_name, mqls, accepted, rejected "
        "from {batch} where accepted > mqls or rejected > mqls order by 1, 2, 3, 4",
    )
    rejections = config.table("rpt_lead_rejections")
    s.rows(
        "rejected_matches_rpt_lead_rejections",
        f"rejected MQLs per period type vs {rejections}",
        f"equal to the rejections by reason in {rejections} (every rejected MQL has a reason "
        "row, whatever period it is counted in)",
        f"""
        with quality as (
            select period_type, sum(rejected) as rejected
            from {{batch}} as batch_rows group by 1
        ),
        reasons as (
            select period_type, sum(rejected) as rejected from {rejections} group by 1
        )
        select coalesce(quality.period_type, reasons.period_type) as period_type,
            quality.rejected as in_lead_quality, reasons.rejected as in_lead_rejections
        from quality
        full outer join reasons on reasons.period_type = quality.period_type
        where coalesce(quality.rejected, 0) <> coalesce(reasons.rejected, 0)
        order by 1
        """,
        requires=["rpt_lead_rejections"],
    )
    return s.build()


def rpt_lead_rejections_suite(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """Rejected MQLs per period, channel and the reason sales gave."""
    config = config or GateConfig()
    s = SuiteBuilder("rpt_lead_rejections", config)
    s.columns(["period_type", "period_start", "channel", "disqualification_reason", "rejected"])
    s.not_null("period_type", "period_start", "channel", "rejected")
    s.not_negative("rejected")
    return s.build()


SuiteFactory = Callable[[GateConfig | None, GateContext | None], gx.ExpectationSuite]

SUITES: dict[str, SuiteFactory] = {
    "fct_funnel": fct_funnel_suite,
    "rpt_funnel_weekly": rpt_funnel_weekly_suite,
    "rpt_funnel_conversion": rpt_funnel_conversion_suite,
    "fct_ad_spend_daily": fct_ad_spend_daily_suite,
    "fct_opportunities": fct_opportunities_suite,
    "fct_attribution": fct_attribution_suite,
    "rpt_channel_attribution": rpt_channel_attribution_suite,
    "rpt_pipeline": rpt_pipeline_suite,
    "rpt_lead_handoff": rpt_lead_handoff_suite,
    "rpt_lead_quality": rpt_lead_quality_suite,
    "rpt_lead_rejections": rpt_lead_rejections_suite,
}
"""Mart name -> the function that builds its suite; the gate validates every one."""


def all_suites(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> dict[str, gx.ExpectationSuite]:
    """Every mart suite of the gate, keyed by mart name (without schema)."""
    config = config or GateConfig()
    return {name: build(config, ctx) for name, build in SUITES.items()}


def check_names(config: GateConfig | None = None) -> list[str]:
    """The stable names of every mart check, as ``gate.yml`` refers to them."""
    config = config or GateConfig(warnings=frozenset())
    ctx = GateContext(as_of=datetime(2000, 1, 1, tzinfo=UTC))
    return [
        e.meta["check"]
        for suite in all_suites(replace_warnings(config), ctx).values()
        for e in suite.expectations
        if e.meta
    ]


def replace_warnings(config: GateConfig) -> GateConfig:
    """``config`` without warnings (building suites must not depend on validating them)."""
    from dataclasses import replace

    return replace(config, warnings=frozenset())
