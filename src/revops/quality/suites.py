"""The publish gate's own checks on the marts, as data, and the gate's configuration
(``expectations/gate.yml``) of both layers it checks (raw and marts).

Which layer owns which check (expectations/README.md has the table): dbt's tests own structure,
keys, relationships, contracts and build-time reconciliations, and the gate reads their results
(:mod:`revops.quality.dbt_results`) instead of re-running them. The gate itself owns what decides
publishing: the raw layer (:mod:`revops.quality.raw`), the extract runs, period coverage (no
period missing, the report's own periods present) and the business reconciliations across marts
that dbt does not state. :data:`MART_CHECKS` lists those, one :class:`RowCheck` each; every one
is an :class:`OffendingRowsExpectation` whose SQL returns the offending rows.

Each expectation carries ``meta`` that the gate reads back from the validation results:

- ``check``: a stable name ``<mart>.<what>`` (what ``expectations/gate.yml`` refers to),
- ``table``: the mart, schema-qualified (``marts.fct_funnel``),
- ``severity``: ``blocking`` (the report would be wrong: do not publish) or ``warning``
  (publish, but say so in the report's footer); a check is a warning when ``gate.yml`` lists
  it under ``warnings``. The same severity is set as GX's own ``FailureSeverity`` (critical or
  warning), so Data Docs show it too,
- ``expected``: what a passing mart looks like, in words, for the on-call message,
- ``requires`` (cross-table checks only): the other tables the check's SQL reads.
"""

from __future__ import annotations

import fnmatch
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Protocol

import great_expectations as gx
import yaml
from great_expectations import expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

CONFIG_ENV = "REVOPS_GATE_CONFIG"
"""Environment variable naming a gate.yml to use instead of ``expectations/gate.yml``."""

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


class OffendingRowsExpectation(gxe.UnexpectedRowsExpectation):
    """GX's ``UnexpectedRowsExpectation`` that runs its query once: only the count of offending
    rows. GX's own also fetches the rows (a second run of the query, whose rows the gate never
    read: it samples a failed check's rows itself), which doubled the gate's time in SQL."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict:
        count = metrics["unexpected_rows_query.row_count"]
        return {"success": count == 0, "result": {"observed_value": count}}


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


def _shipped(key: str) -> Any:
    """A default of the gate: the shipped ``expectations/gate.yml``'s value of ``key`` (the one
    place each threshold is written; a gate.yml of one's own overrides what it names)."""
    return field(default_factory=lambda: shipped_config()[key])


@dataclass(frozen=True)
class GateConfig:
    """The tunable thresholds of the gate (``expectations/gate.yml``); every field a given
    gate.yml leaves out has the shipped file's value."""

    schema: str = _shipped("schema")
    money_tolerance: float = _shipped("money_tolerance")
    required_models: tuple[str, ...] = _shipped("required_models")
    optional_marts: tuple[str, ...] = _shipped("optional_marts")
    rates_table: str = _shipped("rates_table")
    raw_required_sources: tuple[str, ...] = _shipped("raw_required_sources")
    raw_freshness_hours: float = _shipped("raw_freshness_hours")
    raw_freshness_hours_by_source: Mapping[str, float] = _shipped("raw_freshness_hours_by_source")
    volume_min_fraction: float = _shipped("volume_min_fraction")
    volume_history_weeks: int = _shipped("volume_history_weeks")
    volume_min_history: int = _shipped("volume_min_history")
    volume_min_rows: int = _shipped("volume_min_rows")
    raw_money_columns: Mapping[str, tuple[str, ...]] = _shipped("raw_money_columns")
    raw_currency_columns: Mapping[str, tuple[str, ...]] = _shipped("raw_currency_columns")
    warnings: frozenset[str] = _shipped("warnings")
    source: str = "expectations/gate.yml (shipped)"

    @property
    def reporting_currency(self) -> str:
        """The reporting currency: dbt's var ``reporting_currency`` (the one place it is set)."""
        from revops.vocabulary import dbt_vars

        return str(dbt_vars()["reporting_currency"])

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
    from revops.settings import current

    configured = current().gate_config  # CONFIG_ENV, checked to name a file
    if configured:
        return configured
    for candidate in (Path.cwd() / "expectations" / "gate.yml", shipped_config_path()):
        if candidate.is_file():
            return candidate
    return None


def shipped_config_path() -> Path:
    """The gate.yml of this repository (``expectations/gate.yml``)."""
    from revops.config import project_root

    return project_root() / "expectations" / "gate.yml"


@cache
def shipped_config() -> dict[str, Any]:
    """Every setting of the shipped gate.yml, converted (the defaults of :class:`GateConfig`)."""
    return _read(shipped_config_path())


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "required_models": _strings,
    "optional_marts": _strings,
    "raw_required_sources": _strings,
    "warnings": lambda v: frozenset(_strings(v)),
    "raw_money_columns": lambda v: {str(t): _strings(cs) for t, cs in (v or {}).items()},
    "raw_currency_columns": lambda v: {str(t): _strings(cs) for t, cs in (v or {}).items()},
    "raw_freshness_hours_by_source": lambda v: {str(s): float(h) for s, h in (v or {}).items()},
    "money_tolerance": float,
    "raw_freshness_hours": float,
    "volume_min_fraction": float,
    "volume_history_weeks": int,
    "volume_min_history": int,
    "volume_min_rows": int,
}


def load_config(path: Path | None = None) -> GateConfig:
    """Read the gate's thresholds from ``path`` (default: ``default_config_path()``).

    Keys left out keep the shipped gate.yml's values; unknown keys are an error.
    """
    path = path or default_config_path()
    if path is None:
        return GateConfig()
    config = GateConfig(**_read(Path(path)), source=str(path))
    _validate(config)
    return config


def _read(path: Path) -> dict[str, Any]:
    """The settings of one gate.yml, converted to GateConfig's types."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise GateConfigError(f"cannot read the gate configuration {path}: {err}") from err
    if not isinstance(raw, dict):
        raise GateConfigError(f"{path}: expected a mapping at the top level")
    known = set(GateConfig.__dataclass_fields__) - {"source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GateConfigError(f"{path}: unknown keys {unknown}; allowed: {sorted(known)}")
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            settings[key] = _CONVERTERS.get(key, str)(value)
        except (TypeError, ValueError, AttributeError) as err:
            raise GateConfigError(f"{path}: {key} has an invalid value {value!r}: {err}") from err
    return settings


def _validate(config: GateConfig) -> None:
    words = [
        config.schema,
        config.reporting_currency.lower(),
        *config.required_models,
        *config.optional_marts,
        *config.raw_required_sources,
        *config.raw_freshness_hours_by_source,
    ]
    for columns in (*config.raw_money_columns.values(), *config.raw_currency_columns.values()):
        words.extend(columns)
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
    for name in ("money_tolerance", "raw_freshness_hours"):
        if not getattr(config, name) >= 0:
            raise GateConfigError(f"{config.source}: {name} must be >= 0")
    if not 0 < config.volume_min_fraction <= 1:
        raise GateConfigError(f"{config.source}: volume_min_fraction must be in (0, 1]")
    if config.volume_history_weeks < 1 or config.volume_min_history < 1:
        raise GateConfigError(
            f"{config.source}: volume_history_weeks and volume_min_history must be >= 1"
        )
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
    if name.startswith("dbt."):
        return False  # a dbt test's severity is its own `config: {severity: warn}`
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
            OffendingRowsExpectation,
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


# -- the marts' checks, as data ---------------------------------------------------------------


@dataclass(frozen=True)
class RowCheck:
    """One rule over a mart's rows: ``sql`` (given the configuration and the run) selects the
    offending rows from ``{batch}``, or is None when the rule does not apply to this run."""

    check: str
    subject: str
    expected: str
    sql: Callable[[GateConfig, GateContext], str | None]
    requires: tuple[str, ...] = ()


def _gap_free(check: str, column: str, partition: str | None = None) -> RowCheck:
    """Every period (a week, or per ``partition`` its period type's) between the first and the
    last ``column`` has a row."""
    part = f"{partition}, " if partition else ""
    if partition:
        step = (
            f"case spine_bounds.{partition} when 'month' then interval '1 month' "
            "else interval '1 week' end"
        )
    else:
        step = "interval '1 week'"
    sql = f"""
    with present as (
        select distinct {part}{column} from {{batch}} as batch_rows where {column} is not null
    ),
    spine_bounds as (
        select {part}min({column}) as first_period, max({column}) as last_period
        from present {f"group by {partition}" if partition else ""}
    ),
    spine as (
        select {f"spine_bounds.{partition}, " if partition else ""}
            generate_series(first_period, last_period, {step})::date as {column}
        from spine_bounds
    )
    select {f"spine.{partition}, " if partition else ""}spine.{column} as missing_period
    from spine
    left outer join present on present.{column} = spine.{column}{
        f" and present.{partition} = spine.{partition}" if partition else ""
    }
    where present.{column} is null
    order by 1{", 2" if partition else ""}
    """
    return RowCheck(
        check,
        f"{column} between the first and the last",
        f"a row for every {'period' if partition else 'week'}, none missing",
        lambda config, ctx: sql,
    )


def _report_periods_present(config: GateConfig, ctx: GateContext) -> str | None:
    if not ctx.periods:
        return None
    wanted = " union all ".join(
        f"select '{p.period_type}'::text as period_type, date '{p.start.isoformat()}' "
        f"as period_start, '{p.label}'::text as report_period"
        for p in ctx.periods
    )
    return f"""
    with wanted as ({wanted})
    select distinct wanted.report_period, wanted.period_type, wanted.period_start
    from wanted
    left outer join {{batch}} as batch_rows
        on batch_rows.period_type = wanted.period_type
        and batch_rows.period_start = wanted.period_start
    where batch_rows.period_type is null
    """


def _funnel_monotonic(config: GateConfig, ctx: GateContext) -> str:
    from revops.vocabulary import STAGE_COUNTS

    counts = tuple(STAGE_COUNTS.values())
    pairs = zip(counts, counts[1:], strict=False)
    return f"""
    select period_type, {", ".join(f"sum({m}) as {m}" for m in counts)}
    from {{batch}}
    group by period_type
    having {" or ".join(f"sum({a}) < sum({b})" for a, b in pairs)}
    """


def _rate_known(config: GateConfig, ctx: GateContext) -> str:
    return f"""
    select distinct spend.currency, spend.date_day
    from {{batch}} as spend
    left outer join {config.rates_table} as rates
        on rates.currency = spend.currency and rates.rate_date = spend.date_day
    where spend.currency <> '{config.reporting_currency}' and rates.currency is null
    order by 1, 2
    """


def _spend_at_the_days_rate(config: GateConfig, ctx: GateContext) -> str:
    return f"""
    select spend.date_day, spend.platform, spend.campaign_id, spend.currency, spend.spend,
        spend.spend_reporting, spend.spend * rates.rate_to_usd as at_the_days_rate
    from {{batch}} as spend
    join {config.rates_table} as rates
        on rates.currency = spend.currency and rates.rate_date = spend.date_day
    where abs(spend.spend * rates.rate_to_usd - spend.spend_reporting)
        > {config.money_tolerance!r}
    order by 1, 2, 3
    """


def _conversions_match_funnel(config: GateConfig, ctx: GateContext) -> str:
    from revops.vocabulary import CONVERSION_TYPES, MODEL_CONVERSION_TYPES

    funnel, opportunities = config.table("fct_funnel"), config.table("fct_opportunities")
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
        for t in CONVERSION_TYPES
    )
    limits = (
        " and ".join(
            f"not (models.model = '{m}' and stages.conversion_type not in ({sql_list(ts)}))"
            for m, ts in sorted(MODEL_CONVERSION_TYPES.items())
        )
        or "true"
    )
    required = (
        f"union select model from (values {', '.join(f'({m!r})' for m in config.required_models)})"
        " as required_models (model)"
        if config.required_models
        else ""
    )
    return f"""
    with stages as ({people}),
    models as (
        select distinct model from {{batch}} as batch_models where model is not null {required}
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
    """


def _revenue_only_on_valued(config: GateConfig, ctx: GateContext) -> str:
    from revops.vocabulary import VALUED_CONVERSION_TYPES

    return f"""
    select conversion_type, model, sum(revenue_credit) as revenue_credit
    from {{batch}}
    where conversion_type not in ({sql_list(VALUED_CONVERSION_TYPES)})
    group by 1, 2
    having sum(abs(revenue_credit)) > {config.money_tolerance!r}
    order by 1, 2
    """


def _revenue_per_conversion(config: GateConfig, ctx: GateContext) -> str:
    from revops.vocabulary import VALUED_CONVERSION_TYPES

    return f"""
    with per_model as (
        select conversion_id, model, sum(revenue_credit) as revenue
        from {{batch}}
        where conversion_type in ({sql_list(VALUED_CONVERSION_TYPES)})
        group by 1, 2
    )
    select conversion_id, min(revenue) as lowest_model_total,
        max(revenue) as highest_model_total, count(*) as models
    from per_model
    group by conversion_id
    having max(revenue) - min(revenue) > {config.money_tolerance!r}
    order by conversion_id
    """


def _revenue_totals(config: GateConfig, ctx: GateContext) -> str:
    from revops.vocabulary import VALUED_CONVERSION_TYPES

    return f"""
    with per_conversion as (
        select conversion_type, conversion_id, model, sum(revenue_credit) as revenue
        from {{batch}} as batch_rows
        where conversion_type in ({sql_list(VALUED_CONVERSION_TYPES)})
        group by 1, 2, 3
    ),
    value as (
        select conversion_type, conversion_id, max(revenue) as value
        from per_conversion group by 1, 2
    ),
    totals as (select conversion_type, sum(value) as total_value from value group by 1),
    per_model as (
        select conversion_type, model, sum(revenue) as attributed_revenue
        from per_conversion group by 1, 2
    )
    select per_model.conversion_type, per_model.model, per_model.attributed_revenue,
        totals.total_value
    from per_model
    join totals on totals.conversion_type = per_model.conversion_type
    where abs(per_model.attributed_revenue - totals.total_value) > {config.money_tolerance!r}
    order by 1, 2
    """


def _rejected_matches_reasons(config: GateConfig, ctx: GateContext) -> str:
    return f"""
    with quality as (
        select period_type, sum(rejected) as rejected from {{batch}} as batch_rows group by 1
    ),
    reasons as (
        select period_type, sum(rejected) as rejected
        from {config.table("rpt_lead_rejections")} group by 1
    )
    select coalesce(quality.period_type, reasons.period_type) as period_type,
        quality.rejected as in_lead_quality, reasons.rejected as in_lead_rejections
    from quality
    full outer join reasons on reasons.period_type = quality.period_type
    where coalesce(quality.rejected, 0) <> coalesce(reasons.rejected, 0)
    order by 1
    """


def _fixed(sql: str) -> Callable[[GateConfig, GateContext], str]:
    return lambda config, ctx: sql


_VALUED = "revenue credit of the valued conversion types"

MART_CHECKS: dict[str, tuple[RowCheck, ...]] = {
    "fct_funnel": (),
    "rpt_funnel_weekly": (
        RowCheck(
            "week_start_is_monday",
            "week_start",
            "every week_start is a Monday (ISO week)",
            _fixed(
                "select distinct week_start from {batch} where extract(isodow from week_start) <> 1"
            ),
        ),
        _gap_free("no_missing_week", "week_start"),
    ),
    "rpt_funnel_conversion": (
        RowCheck(
            "funnel_monotonic",
            "stage totals per period type",
            "totals never increase down the funnel (leads >= MQLs >= ... >= customers)",
            _funnel_monotonic,
        ),
        _gap_free("no_missing_period", "period_start", partition="period_type"),
        RowCheck(
            "report_periods_present",
            "the periods the report is about to show",
            "rows for every report period (a missing one means the data stops before it)",
            _report_periods_present,
        ),
    ),
    "fct_ad_spend_daily": (
        RowCheck(
            "rate_known",
            "a rate for every currency and day with spend",
            "a daily rate for each (currency, day) still in the rates table; never 1.0",
            _rate_known,
            requires=("<rates>",),
        ),
        RowCheck(
            "spend_reporting_at_the_days_rate",
            "spend_reporting vs spend x the day's rate",
            "equal within the money tolerance",
            _spend_at_the_days_rate,
            requires=("<rates>",),
        ),
    ),
    "fct_opportunities": (),
    "fct_attribution": (
        RowCheck(
            "conversions_match_fct_funnel",
            "distinct conversion_id per (conversion_type, model) vs fct_funnel",
            "equal to the people in fct_funnel who reached the stage, and to the opportunities "
            "created and won (every model that applies to the conversion type)",
            _conversions_match_funnel,
            requires=("fct_funnel", "fct_opportunities"),
        ),
        RowCheck(
            "revenue_only_on_valued_conversions",
            "revenue_credit of conversion types without a value",
            "0 for every type but the valued ones",
            _revenue_only_on_valued,
        ),
        RowCheck(
            "revenue_per_conversion_equal_across_models",
            f"{_VALUED}, per conversion and model",
            "the conversion's value under every model: credit x value, credits summing to 1",
            _revenue_per_conversion,
        ),
        RowCheck(
            "revenue_totals_match_across_models",
            f"{_VALUED}, per (conversion_type, model)",
            "equal to the total value of the conversions under every model",
            _revenue_totals,
        ),
    ),
    "rpt_channel_attribution": (),
    "rpt_pipeline": (_gap_free("no_missing_period", "period_start", partition="period_type"),),
    "rpt_lead_handoff": (
        RowCheck(
            "counts_nest",
            "handed_off_within_sla, handed_off, still_waiting, mqls",
            "within SLA <= handed off, and handed off + still waiting <= MQLs",
            _fixed(
                "select week_start, owner_id, mqls, handed_off, handed_off_within_sla, "
                "still_waiting from {batch} where handed_off_within_sla > handed_off "
                "or handed_off + still_waiting > mqls order by 1, 2"
            ),
        ),
        _gap_free("no_missing_week", "week_start"),
    ),
    "rpt_lead_quality": (
        RowCheck(
            "accepted_and_rejected_within_mqls",
            "accepted and rejected vs mqls",
            "accepted <= MQLs and rejected <= MQLs (a lead sales worked can still be rejected)",
            _fixed(
                "select period_type, period_start, channel, campaign_name, mqls, accepted, "
                "rejected from {batch} where accepted > mqls or rejected > mqls "
                "order by 1, 2, 3, 4"
            ),
        ),
        RowCheck(
            "rejected_matches_rpt_lead_rejections",
            "rejected MQLs per period type vs rpt_lead_rejections",
            "equal to the rejections by reason (every rejected MQL has a reason row)",
            _rejected_matches_reasons,
            requires=("rpt_lead_rejections",),
        ),
    ),
    "rpt_lead_rejections": (),
}
"""The marts the report publishes, in the order the gate checks them, and the gate's own
checks on each (dbt's tests on them are read from their results, not listed here)."""

PUBLISHED_MARTS: tuple[str, ...] = tuple(MART_CHECKS)
"""The marts the report reads: each must exist, be built and tested by dbt, and pass its
checks above."""


def mart_suite(
    mart: str, config: GateConfig | None = None, ctx: GateContext | None = None
) -> gx.ExpectationSuite:
    """The GX suite of ``mart``'s checks (:data:`MART_CHECKS`) for this configuration and run."""
    config = config or GateConfig()
    ctx = ctx or GateContext()
    s = SuiteBuilder(mart, config)
    for rule in MART_CHECKS[mart]:
        sql = rule.sql(config, ctx)
        if sql is None:
            continue
        requires = [config.rates_table if r == "<rates>" else r for r in rule.requires]
        s.rows(rule.check, rule.subject, rule.expected, sql, requires=requires)
    return s.build()


def all_suites(
    config: GateConfig | None = None, ctx: GateContext | None = None
) -> dict[str, gx.ExpectationSuite]:
    """Every mart suite of the gate, keyed by mart name (without schema)."""
    return {mart: mart_suite(mart, config, ctx) for mart in PUBLISHED_MARTS}


def check_names(config: GateConfig | None = None) -> list[str]:
    """The stable names of every mart check, as ``gate.yml`` refers to them."""
    return [f"{mart}.{rule.check}" for mart, rules in MART_CHECKS.items() for rule in rules]
