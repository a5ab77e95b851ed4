"""The expectation suites of the publish gate, as code: one function per mart.

Each expectation carries ``meta`` that the gate reads back from the validation results:

- ``check``: a stable name ``<mart>.<what>`` (what ``expectations/gate.yml`` refers to),
- ``table``: the mart, schema-qualified (``marts.fct_funnel``),
- ``severity``: ``blocking`` (the report would be wrong: do not publish) or ``warning``
  (publish, but say so); a check is a warning when ``gate.yml`` lists it under ``warnings``,
- ``expected``: what a passing mart looks like, in words, for the on-call message,
- ``requires`` (cross-table checks only): the other marts the check's SQL reads.

Row-level rules use Great Expectations' built-in expectations; rules across rows or across
marts (credit sums, reconciliation with the funnel, gap-free weeks) use
``UnexpectedRowsExpectation`` whose SQL returns the offending rows.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import great_expectations as gx
import yaml
from great_expectations import expectations as gxe

CONFIG_ENV = "REVOPS_GATE_CONFIG"
"""Environment variable naming a gate.yml to use instead of ``expectations/gate.yml``."""

STAGES = ("lead", "mql", "sal", "sql", "opportunity", "customer")
"""Funnel stages in order; ``fct_funnel`` has ``<stage>_at`` for each."""

WEEKLY_MEASURES = ("leads", "mqls", "sals", "sqls", "opportunities", "customers")
"""Count columns of ``rpt_funnel_weekly``, one per stage in ``STAGES`` order."""

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class GateConfigError(ValueError):
    """``gate.yml`` is malformed or names a check that does not exist."""


@dataclass(frozen=True)
class GateConfig:
    """The tunable thresholds of the gate (``expectations/gate.yml``)."""

    schema: str = "marts"
    credit_sum_tolerance: float = 1e-9
    currency_regex: str = r"^[A-Z]{3}$"
    conversion_types: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "customer")
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
    warnings: frozenset[str] = frozenset(
        {
            "fct_funnel.email_not_null",
            "fct_ad_spend_daily.campaign_id_not_null",
            "fct_ad_spend_daily.platform_conversions_not_null",
            "fct_ad_spend_daily.platform_conversions_not_negative",
            "fct_ad_spend_daily.time_zone_not_null",
            "fct_attribution.channel_not_null",
            "fct_attribution.model_known",
            "fct_attribution.touch_not_after_conversion",
        }
    )
    source: str = "built-in defaults"

    def severity(self, check: str) -> str:
        """``warning`` if the check is listed under ``warnings``, else ``blocking``."""
        return "warning" if check in self.warnings else "blocking"

    def table(self, name: str) -> str:
        """The schema-qualified name of a mart."""
        return f"{self.schema}.{name}"


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
        if key in ("conversion_types", "required_models", "known_models"):
            kwargs[key] = tuple(str(v) for v in value or ())
        elif key == "warnings":
            kwargs[key] = frozenset(str(v) for v in value or ())
        elif key == "model_conversion_types":
            kwargs[key] = {str(m): tuple(str(t) for t in ts) for m, ts in (value or {}).items()}
        elif key == "credit_sum_tolerance":
            kwargs[key] = float(value)
        else:
            kwargs[key] = str(value)
    config = GateConfig(**kwargs)
    _validate(config)
    return config


def _validate(config: GateConfig) -> None:
    words = [
        config.schema,
        *config.conversion_types,
        *config.known_models,
        *config.required_models,
        *config.model_conversion_types,
    ]
    for types in config.model_conversion_types.values():
        words.extend(types)
    bad = [w for w in words if not _IDENTIFIER.match(w)]
    if bad:
        raise GateConfigError(
            f"{config.source}: names must be lower-case SQL identifiers, got {bad}"
        )
    if not config.credit_sum_tolerance >= 0:
        raise GateConfigError(f"{config.source}: credit_sum_tolerance must be >= 0")
    try:
        re.compile(config.currency_regex)
    except re.error as err:
        raise GateConfigError(f"{config.source}: currency_regex is invalid: {err}") from err
    unknown = sorted(config.warnings - set(check_names(config)))
    if unknown:
        raise GateConfigError(
            f"{config.source}: `warnings` names checks that do not exist: {unknown}; "
            "see revops.quality.suites.check_names()"
        )


# -- building blocks --------------------------------------------------------------------------


class _Suite:
    """Collects the expectations of one mart with their meta."""

    def __init__(self, name: str, config: GateConfig) -> None:
        self.name = name
        self.config = config
        self.table = config.table(name)
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
        full = f"{self.name}.{check}"
        meta: dict[str, Any] = {
            "check": full,
            "table": self.table,
            "severity": self.config.severity(full),
            "expected": expected,
        }
        if subject:
            meta["subject"] = subject
        required = [self.config.table(r) for r in requires]
        if required:
            meta["requires"] = required
        self.expectations.append(expectation(meta=meta, **kwargs))

    def columns(self, columns: Iterable[str]) -> None:
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
        for column in columns:
            self.add(
                f"{column}_not_null", "no nulls", gxe.ExpectColumnValuesToNotBeNull, column=column
            )

    def not_negative(self, *columns: str) -> None:
        for column in columns:
            self.add(
                f"{column}_not_negative",
                ">= 0",
                gxe.ExpectColumnValuesToBeBetween,
                column=column,
                min_value=0,
            )

    def rows(
        self, check: str, subject: str, expected: str, sql: str, requires: Iterable[str] = ()
    ) -> None:
        """A rule over many rows: ``sql`` selects the offending rows from ``{batch}``.

        ``subject`` names what is checked (the message's "on ..."), ``expected`` the rule."""
        self.add(
            check,
            expected,
            gxe.UnexpectedRowsExpectation,
            requires=requires,
            subject=subject,
            unexpected_rows_query=textwrap.dedent(sql).strip(),
            description=f"{subject}: {expected}",
        )

    def build(self) -> gx.ExpectationSuite:
        return gx.ExpectationSuite(
            name=self.table,
            expectations=self.expectations,
            meta={"table": self.table, "config": self.config.source},
        )


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# -- the suites -------------------------------------------------------------------------------


def fct_funnel_suite(config: GateConfig | None = None) -> gx.ExpectationSuite:
    """One row per person with the time they entered each funnel stage."""
    config = config or GateConfig()
    s = _Suite("fct_funnel", config)
    s.columns(["person_id", "email", *(f"{st}_at" for st in STAGES), "source_channel"])
    s.not_null("person_id")
    s.add(
        "person_id_unique",
        "one row per person_id",
        gxe.ExpectColumnValuesToBeUnique,
        column="person_id",
    )
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
    return s.build()


def rpt_funnel_weekly_suite(config: GateConfig | None = None) -> gx.ExpectationSuite:
    """Stage entries per ISO week and source channel, as the report charts them."""
    config = config or GateConfig()
    s = _Suite("rpt_funnel_weekly", config)
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
    funnel_counts = ",\n".join(
        f"count({st}_at) as {m}" for st, m in zip(STAGES, WEEKLY_MEASURES, strict=True)
    )
    report_sums = ",\n".join(f"coalesce(sum({m}), 0) as {m}" for m in WEEKLY_MEASURES)
    compared = "\nunion all\n".join(
        f"select '{m}' as measure, funnel.{m} as in_fct_funnel, report.{m} as in_report "
        "from funnel cross join report"
        for m in WEEKLY_MEASURES
    )
    s.rows(
        "totals_match_fct_funnel",
        f"each measure summed over all weeks vs {config.table('fct_funnel')}",
        f"equal to the number of people in {config.table('fct_funnel')} who reached the stage",
        f"""
        with funnel as (select {funnel_counts} from {config.table("fct_funnel")}),
        report as (select {report_sums} from {{batch}} as batch_rows),
        compared as ({compared})
        select measure, in_fct_funnel, in_report from compared
        where in_fct_funnel <> in_report
        """,
        requires=["fct_funnel"],
    )
    return s.build()


def fct_ad_spend_daily_suite(config: GateConfig | None = None) -> gx.ExpectationSuite:
    """Spend per platform, account, campaign and day in the account's currency."""
    config = config or GateConfig()
    s = _Suite("fct_ad_spend_daily", config)
    s.columns(
        [
            "date_day",
            "platform",
            "account_id",
            "campaign_id",
            "channel",
            "spend",
            "currency",
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
        "campaign_id",
        "platform_conversions",
        "time_zone",
    )
    s.not_negative("spend", "impressions", "clicks", "platform_conversions")
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
    return s.build()


def fct_attribution_suite(config: GateConfig | None = None) -> gx.ExpectationSuite:
    """Credit per conversion, touch and attribution model."""
    config = config or GateConfig()
    tol = config.credit_sum_tolerance
    s = _Suite("fct_attribution", config)
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
    people = "\nunion all\n".join(
        f"select '{t}' as conversion_type, count({t}_at) as people from {funnel}"
        for t in config.conversion_types
    )
    limits = (
        " and ".join(
            f"not (models.model = '{m}' and stages.conversion_type not in ({_sql_list(ts)}))"
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
    return s.build()


SUITES: dict[str, Callable[[GateConfig | None], gx.ExpectationSuite]] = {
    "fct_funnel": fct_funnel_suite,
    "rpt_funnel_weekly": rpt_funnel_weekly_suite,
    "fct_ad_spend_daily": fct_ad_spend_daily_suite,
    "fct_attribution": fct_attribution_suite,
}
"""Mart name -> the function that builds its suite; the gate validates every one."""


def all_suites(config: GateConfig | None = None) -> dict[str, gx.ExpectationSuite]:
    """Every suite of the gate, keyed by mart name (without schema)."""
    config = config or GateConfig()
    return {name: build(config) for name, build in SUITES.items()}


def check_names(config: GateConfig | None = None) -> list[str]:
    """The stable names of every check, as ``gate.yml`` refers to them."""
    return [
        e.meta["check"]
        for suite in all_suites(config).values()
        for e in suite.expectations
        if e.meta
    ]
