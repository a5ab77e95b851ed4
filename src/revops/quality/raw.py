"""The raw layer's suites: what dlt loaded into ``raw_<system>``, checked before anything built
on it is published.

Built at run time from two sources of truth, so a new stream or source is checked without
editing this file: the connectors' stream declarations (``revops.sources.<system>.STREAMS``:
table name, primary key, cursor) and the warehouse's catalog (which tables and columns exist).

Per source (``raw_<system>``, batch: dlt's ``_dlt_loads``):

- ``raw_<system>.freshness``: the newest completed load is at most ``raw_freshness_hours``
  (per source: ``raw_freshness_hours_by_source``) older than the gate's ``as_of``.

Per stream table (batch: the table):

- ``raw_<system>.<table>.volume`` (streams with a cursor): the rows of the newest complete day
  of the cursor (before ``as_of``'s UTC day) are at least ``volume_min_fraction`` of the median
  of the same weekday over the previous ``volume_history_weeks`` weeks. Skipped while fewer
  than ``volume_min_history`` such days exist or their median is below ``volume_min_rows``
  (too little history to judge). Same weekday, because B2B data has quiet weekends.
- ``raw_<system>.<table>.primary_key_present`` / ``primary_key_unique``: the stream's key.
- ``raw_<system>.<table>.<column>_not_negative`` (``raw_money_columns``): spend and amounts
  are numbers >= 0 (vendors send some as text; text that is not a number fails too; an empty
  value is no amount, like null).
- ``raw_<system>.<table>.<column>_known_currency`` (``raw_currency_columns``): every currency
  code has rates in ``rates_table`` (or is the reporting currency); a null code fails.

A configured table that was never loaded (dlt creates tables with their first rows) or a
configured column the table does not have is listed as not run; a source listed in
``raw_required_sources`` without a schema is a blocking failure.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import great_expectations as gx

from revops.quality.suites import (
    GateConfig,
    GateContext,
    SuiteBuilder,
    sql_timestamp,
)

log = logging.getLogger(__name__)

LOADS_TABLE = "_dlt_loads"
_NUMBER = r"^[-+]?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$"
_DAY = r"^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$"


@dataclass(frozen=True)
class StreamInfo:
    """What the gate needs from a connector's stream: table, key and cursor (as dlt names
    the columns)."""

    table: str
    key: tuple[str, ...]
    cursor: str | None


@dataclass
class RawSuite:
    """One raw suite and the table GX reads as its batch."""

    schema: str
    batch_table: str
    suite: gx.ExpectationSuite


@dataclass
class RawPlan:
    """The raw layer of one gate run: suites to run, sources missing, checks not run."""

    suites: list[RawSuite] = field(default_factory=list)
    missing_sources: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


def systems() -> dict[str, str]:
    """The connectors' systems: name -> ``module:factory`` (``revops.sources.SYSTEMS``)."""
    from revops.sources import SYSTEMS

    return dict(SYSTEMS)


def _normalise(name: str) -> str:
    """A field name as dlt names its column (``SystemModstamp`` -> ``system_modstamp``)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return str(NamingConvention().normalize_path(name))


def streams(system: str) -> dict[str, StreamInfo]:
    """The declared streams of ``system``, keyed by table name; empty when the connector
    declares none or cannot be imported (logged)."""
    target = systems().get(system)
    if target is None:
        return {}
    module_name = target.partition(":")[0]
    try:
        declared: Mapping[str, Any] = getattr(importlib.import_module(module_name), "STREAMS", {})
    except Exception as err:  # a broken connector must not hide the rest of the raw layer
        log.warning("quality gate: cannot read the streams of %s: %s", system, err)
        return {}
    found: dict[str, StreamInfo] = {}
    for stream in declared.values():
        key = (
            stream.primary_key
            if isinstance(stream.primary_key, tuple | list)
            else (stream.primary_key,)
        )
        table = _normalise(stream.name)
        found[table] = StreamInfo(
            table=table,
            key=tuple(_normalise(k) for k in key if k),
            cursor=_normalise(stream.cursor) if stream.cursor else None,
        )
    return found


def plan(config: GateConfig, ctx: GateContext) -> RawPlan:
    """The raw suites for every source loaded into the warehouse (``ctx.catalog``)."""
    result = RawPlan()
    for system in sorted(set(systems()) | set(config.raw_required_sources)):
        schema = f"raw_{system}"
        tables = ctx.catalog.tables.get(schema, {})
        if not tables:
            if system in config.raw_required_sources:
                result.missing_sources.append(system)
            else:
                result.not_run.append(f"{schema}.* (source not loaded; not required)")
            continue
        if LOADS_TABLE in tables:
            result.suites.append(_freshness_suite(system, config, ctx))
        elif system in config.raw_required_sources:
            result.missing_sources.append(system)
        declared = streams(system)
        for table in sorted(set(declared) & set(tables)):
            suite = _table_suite(system, declared[table], config, ctx, result.not_run)
            result.suites.append(RawSuite(schema, table, suite))
            result.tables.append(f"{schema}.{table}")
        configured = {
            key.partition(".")[2]
            for key in (*config.raw_money_columns, *config.raw_currency_columns)
            if key.partition(".")[0] == system
        }
        for table in sorted(configured - set(tables)):
            result.not_run.append(f"{schema}.{table} (never loaded)")
        for table in sorted((configured & set(tables)) - set(declared)):
            suite = _table_suite(system, StreamInfo(table, (), None), config, ctx, result.not_run)
            result.suites.append(RawSuite(schema, table, suite))
            result.tables.append(f"{schema}.{table}")
    return result


def missing_source_check(system: str) -> str:
    """The name under which a required source that was never loaded fails."""
    return f"raw_{system}.freshness"


def _freshness_suite(system: str, config: GateConfig, ctx: GateContext) -> RawSuite:
    schema = f"raw_{system}"
    hours = config.freshness_hours(system)
    as_of = sql_timestamp(ctx.as_of)
    s = SuiteBuilder(schema, config, table=f"{schema}.{LOADS_TABLE}")
    s.rows(
        "freshness",
        f"newest completed load of {schema}",
        f"a load at most {hours:g} h before {ctx.as_of:%Y-%m-%d %H:%M} UTC",
        f"""
        with newest as (
            select max(inserted_at) as newest_load from {{batch}} where status = 0
        )
        select '{schema}'::text as source, newest_load,
            round((extract(epoch from ({as_of} - newest_load)) / 3600)::numeric, 1)
                as age_hours
        from newest
        where newest_load is null or newest_load < {as_of} - interval '{hours:g} hours'
        """,
    )
    return RawSuite(schema, LOADS_TABLE, s.build())


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _table_suite(
    system: str,
    stream: StreamInfo,
    config: GateConfig,
    ctx: GateContext,
    not_run: list[str],
) -> gx.ExpectationSuite:
    schema = f"raw_{system}"
    table = stream.table
    qualified = f"{schema}.{table}"
    columns = set(ctx.catalog.columns(schema, table))
    s = SuiteBuilder(f"{schema}.{table}", config, table=qualified)
    key = [c for c in stream.key]
    if key:
        key_sql = ", ".join(_quoted(c) for c in key)
        s.rows(
            "primary_key_present",
            f"primary key ({', '.join(key)})",
            "set on every row",
            f"select {key_sql} from {{batch}} "
            f"where {' or '.join(f'{_quoted(c)} is null' for c in key)}",
        )
        s.rows(
            "primary_key_unique",
            f"primary key ({', '.join(key)})",
            "one row per key (dlt merges on it)",
            f"select {key_sql}, count(*) as copies from {{batch}} "
            f"group by {key_sql} having count(*) > 1 order by copies desc, {key_sql}",
        )
    if stream.cursor and stream.cursor in columns:
        _volume(s, stream.cursor, config, ctx)
    elif stream.cursor:
        not_run.append(f"{qualified}.volume (no cursor column {stream.cursor})")
    sample_key = ", ".join(_quoted(c) for c in key if c in columns)
    for configured, kind, rule in (
        (config.raw_money_columns, "not_negative", _not_negative),
        (config.raw_currency_columns, "known_currency", _known_currency),
    ):
        for column in configured.get(f"{system}.{table}", ()):
            if column not in columns:
                not_run.append(f"{qualified}.{column}_{kind} (no such column)")
                continue
            expected, sql, requires = rule(column, sample_key, config)
            s.rows(f"{column}_{kind}", column, expected, sql, requires=requires)
    return s.build()


def _not_negative(column: str, sample_key: str, config: GateConfig) -> tuple[str, str, list[str]]:
    """Spend or an amount: a number >= 0 (text that is not a number fails; empty is no amount)."""
    value = f"trim({_quoted(column)}::text)"
    return (
        "a number >= 0",
        f"select {sample_key + ', ' if sample_key else ''}{_quoted(column)} from {{batch}} "
        f"where nullif({value}, '') is not null and case when {value} ~ '{_NUMBER}' "
        f"then {value}::numeric < 0 else true end",
        [],
    )


def _known_currency(column: str, sample_key: str, config: GateConfig) -> tuple[str, str, list[str]]:
    """A currency code with rates (or the reporting currency); never missing."""
    code = f"upper(trim({_quoted(column)}::text))"
    return (
        f"a currency with rates in {config.rates_table} (or {config.reporting_currency}); "
        "never missing",
        f"""
        select {code} as currency, count(*) as rows_with_it
        from {{batch}}
        where {_quoted(column)} is null
            or {code} not in (
                select currency from {config.rates_table} as rates
                union select '{config.reporting_currency}'
            )
        group by 1
        order by 1
        """,
        [config.rates_table],
    )


def _volume(s: SuiteBuilder, cursor: str, config: GateConfig, ctx: GateContext) -> None:
    as_of_day = ctx.as_of.date().isoformat()
    days_back = 7 * config.volume_history_weeks
    # only the rows of the days the rule can compare (the history before a newest complete day
    # up to two weeks old; a stream quiet for longer fails freshness): the check's cost follows
    # the weeks it judges, not the table's years (a cursor's ISO text orders with an ISO day;
    # text that is no ISO time, epoch digits say, falls outside, as the day pattern below
    # leaves it out too)
    window_start = (ctx.as_of.date() - timedelta(days=days_back + 14)).isoformat()
    fraction = config.volume_min_fraction
    s.rows(
        "volume",
        f"rows of the newest complete day of {cursor}",
        f"at least {fraction:.0%} of the median of the same weekday over the previous "
        f"{config.volume_history_weeks} weeks",
        f"""
        with per_day as (
            select left({_quoted(cursor)}::text, 10) as day_text, count(*) as row_count
            from {{batch}} as raw_rows
            where {_quoted(cursor)}::text >= '{window_start}'
            group by 1
        ),
        days as (
            select day_text::date as day, row_count from per_day where day_text ~ '{_DAY}'
        ),
        complete as (select day, row_count from days where day < date '{as_of_day}'),
        latest as (select day, row_count from complete order by day desc limit 1),
        history as (
            select complete.row_count
            from complete cross join latest
            where complete.day < latest.day
                and complete.day >= latest.day - {days_back}
                and extract(isodow from complete.day) = extract(isodow from latest.day)
        ),
        stats as (
            select count(*) as history_days,
                percentile_cont(0.5) within group (order by row_count) as usual_rows
            from history
        )
        select latest.day as newest_day, latest.row_count as rows_that_day,
            stats.usual_rows as usual_rows_that_weekday, stats.history_days
        from latest cross join stats
        where stats.history_days >= {config.volume_min_history}
            and stats.usual_rows >= {config.volume_min_rows}
            and latest.row_count < {fraction!r} * stats.usual_rows
        """,
    )
