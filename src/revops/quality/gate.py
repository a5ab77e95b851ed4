"""The publish gate: validate the raw layer and the marts with Great Expectations and decide if
the report ships.

``run_gate`` first reads the extract runs (``revops.quality.extracts``: a source whose newest
incremental extract failed, or whose data ends too early, is a blocking failure naming the
system and its error), then reads dbt's newest build and test results for the published marts
(``revops.quality.dbt_results``: a failed, skipped or missing build or test blocks), then runs
one GX checkpoint with two layers of suites: the raw layer (one suite per source for freshness
and one per stream table for volume, keys, money and currencies, built at run time by
``revops.quality.raw``) and the marts (the gate's own checks on them: period coverage and the
reconciliations dbt does not state, ``revops.quality.suites``).
Each suite is a validation definition over a whole-table batch. It builds Data Docs into a
local directory and returns a ``GateResult``: passed when no blocking expectation failed. Each
failure names its check, table, expectation, what was observed against what was expected, and
the Data Docs page of its validation. ``require_pass`` turns a failed result into
``GateFailed``, whose message is that summary.

``as_of`` is the moment the gate judges freshness and complete days against (in Airflow the
run's logical moment, so a rerun judges the same way); ``periods`` are the report periods the
run clears, which the marts must cover.

The GX context is ephemeral: nothing is written outside ``docs_dir``. The warehouse URL reaches
GX only as a runtime substitution variable, and every message the gate writes is scrubbed of the
password, so the password never appears in results, Data Docs, logs or exceptions.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

import great_expectations as gx
import sqlalchemy as sa
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from revops.config import private_dir
from revops.quality import dbt_results, raw
from revops.quality.suites import (
    PUBLISHED_MARTS,
    Catalog,
    GateConfig,
    GateContext,
    PeriodLike,
    load_config,
    mart_suite,
)
from revops.warehouse import Warehouse, WarehouseError, redact

log = logging.getLogger(__name__)

DOCS_SITE = "revops_gate"
CHECKPOINT = "revops_publish_gate"
_URL_VARIABLE = "REVOPS_GATE_WAREHOUSE_SQLALCHEMY_URL"
_SAMPLE_ROWS = 3
_PARTIAL_UNEXPECTED = 5


@dataclass(frozen=True)
class Failure:
    """One failed expectation (or a mart missing altogether)."""

    table: str
    expectation_type: str
    column: str
    severity: str
    observed: str
    expected: str
    check: str
    docs_page: str = ""
    """The Data Docs page of the validation that failed (a local path), when there is one."""
    plain: str = ""
    """The failure in the words of the report's readers (which table and column, what rule, how
    many rows of how many), for the report's footer; '' where the gate has none. The check, the
    expectation and the observed text stay for engineers (summary, log, JSON)."""

    def describe(self) -> str:
        """Three lines for a person on call: what failed where, what was seen, what should be."""
        return (
            f"{self.severity.upper()} {self.table}: {self.expectation_type} on {self.column} "
            f"[{self.check}]\n"
            f"    observed: {self.observed}\n"
            f"    expected: {self.expected}"
        )


@dataclass
class GateResult:
    """The outcome of one gate run.

    ``failures`` holds every failed expectation, blocking and warning alike (each says which);
    ``passed`` is True when none of them is blocking.
    """

    passed: bool
    failures: list[Failure]
    docs_index: Path
    checks_run: int = 0
    marts: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    config_source: str = ""
    raw_tables: list[str] = field(default_factory=list)
    """The raw tables checked (``raw_<system>.<table>``)."""
    not_run: list[str] = field(default_factory=list)
    """Raw checks that did not apply (a stream never loaded, a configured column absent)."""
    as_of: str = ""
    """The moment freshness was judged against (ISO 8601, UTC)."""
    periods: list[str] = field(default_factory=list)
    """The report periods this run clears (``2026-W46``, ``2026-11``)."""

    @property
    def failed_tables(self) -> list[str]:
        """The tables with a blocking failure, in the order of the failures."""
        return list(dict.fromkeys(f.table for f in self.blocking))

    @property
    def blocking(self) -> list[Failure]:
        """The failures that stop the report."""
        return [f for f in self.failures if f.severity == "blocking"]

    @property
    def warnings(self) -> list[Failure]:
        """The failures reported but not stopping the report."""
        return [f for f in self.failures if f.severity != "blocking"]

    def summary(self) -> str:
        """Human-readable outcome: one block per failure naming mart, expectation, observed
        and expected, then where the Data Docs are."""
        n_block, n_warn = len(self.blocking), len(self.warnings)
        tables = _plural(len(self.marts), "mart")
        if self.raw_tables:
            tables += f" and {_plural(len(self.raw_tables), 'raw table')}"
        scope = f"{_plural(self.checks_run, 'check')} on {tables} ({self.duration_seconds:.1f} s)"
        if self.passed:
            head = f"Quality gate PASSED: no blocking failure in {scope}"
            if n_warn:
                head += f"; {_plural(n_warn, 'warning')}"
        else:
            counts = _plural(n_block, "blocking failure")
            if n_warn:
                counts += f" and {_plural(n_warn, 'warning')}"
            head = f"Quality gate FAILED: {counts} in {scope}; the report must not be published"
        lines = [head + "."]
        lines.extend(f.describe() for f in self.blocking + self.warnings)
        if self.skipped:
            lines.append(f"Not run because a mart they read is missing: {', '.join(self.skipped)}")
        lines.append(f"Data Docs: {self.docs_index}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "passed": self.passed,
            "blocking_count": len(self.blocking),
            "warning_count": len(self.warnings),
            "failures": [asdict(f) for f in self.failures],
            "checks_run": self.checks_run,
            "marts": list(self.marts),
            "skipped": list(self.skipped),
            "duration_seconds": round(self.duration_seconds, 3),
            "docs_index": str(self.docs_index),
            "config": self.config_source,
            "raw_tables": list(self.raw_tables),
            "not_run": list(self.not_run),
            "as_of": self.as_of,
            "periods": list(self.periods),
        }


class GateFailed(RuntimeError):
    """The gate found a blocking failure; ``result`` holds the details, the message the summary."""

    def __init__(self, result: GateResult) -> None:
        super().__init__(result.summary())
        self.result = result


def require_pass(result: GateResult) -> GateResult:
    """Return ``result`` if it passed, else raise ``GateFailed`` carrying it."""
    if not result.passed:
        raise GateFailed(result)
    return result


def run_gate(
    warehouse_url: str,
    docs_dir: Path,
    config: GateConfig | None = None,
    *,
    periods: Sequence[PeriodLike] = (),
    as_of: dt.datetime | None = None,
) -> GateResult:
    """Validate the raw layer and the marts at ``warehouse_url``; build Data Docs in ``docs_dir``.

    A mart that does not exist is a blocking failure (unless ``optional_marts`` lists it); checks
    on other marts that read it are not run (and listed as skipped). A source in
    ``raw_required_sources`` that was never loaded is a blocking failure. ``as_of`` (default:
    now) is when freshness is judged; ``periods`` are the report periods the marts must cover.
    Raises ``WarehouseError`` (password redacted) when the warehouse cannot be reached at all.
    """
    started = time.perf_counter()
    config = config or load_config()
    as_of = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    scrub = _Scrubber(warehouse_url)
    docs_dir = private_dir(Path(docs_dir).resolve())  # Data Docs show sample rows: 0700
    sa_url = sqlalchemy_url(warehouse_url)

    engine = sa.create_engine(sa_url, poolclass=sa.NullPool)
    try:
        catalog = _catalog(engine, config, warehouse_url, scrub)
        ctx = GateContext(as_of=as_of, periods=tuple(periods), catalog=catalog)
        marts = PUBLISHED_MARTS
        present = {m for m in marts if catalog.has(config.schema, m)}
        missing = [m for m in marts if m not in present and m not in config.optional_marts]
        optional_gone = [m for m in marts if m not in present and m in config.optional_marts]
        raw_plan = raw.plan(config, ctx)
        failures = _extract_failures(warehouse_url, as_of, periods, config, scrub)
        failures += [_missing_source(config, system) for system in raw_plan.missing_sources]
        failures += [_missing_mart(config, m) for m in missing]
        dbt_failures, dbt_checks = _dbt_failures(
            warehouse_url, [m for m in marts if m in present], config, scrub, catalog
        )
        failures += dbt_failures
        order = {f.check: i for i, f in enumerate(failures)}
        context = _context(sa_url, docs_dir)
        validations: list[Any] = []
        skipped: list[str] = []
        checks = 0
        source = None

        def validate(asset_name: str, schema: str, table: str, suite: gx.ExpectationSuite) -> None:
            nonlocal source, checks
            source = source or context.data_sources.add_postgres(
                name="warehouse", connection_string="${" + _URL_VARIABLE + "}"
            )
            checks += len(suite.expectations)
            for expectation in suite.expectations:
                order.setdefault((expectation.meta or {}).get("check", ""), len(order))
            batch = source.add_table_asset(
                name=asset_name, table_name=table, schema_name=schema
            ).add_batch_definition_whole_table(name="whole_table")
            validations.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=suite.name, data=batch, suite=context.suites.add(suite)
                    )
                )
            )

        for planned in raw_plan.suites:
            validate(
                f"{planned.schema}__{planned.batch_table}",
                planned.schema,
                planned.batch_table,
                planned.suite,
            )
        for mart in marts:
            if mart not in present:
                continue
            gone = [*missing, *optional_gone]
            suite, not_run = _runnable(mart_suite(mart, config, ctx), config, gone)
            skipped.extend(not_run)
            if suite.expectations:
                validate(mart, config.schema, mart, suite)
        if validations:
            checkpoint = context.checkpoints.add(
                gx.Checkpoint(
                    name=CHECKPOINT,
                    validation_definitions=validations,
                    actions=[],
                    result_format={
                        "result_format": "SUMMARY",
                        "partial_unexpected_count": _PARTIAL_UNEXPECTED,
                    },
                )
            )
            outcome = checkpoint.run(run_id=RunIdentifier(run_name="publish_gate"))
            # once for the whole run: GX's UpdateDataDocsAction rebuilds the site per validation
            context.build_data_docs(site_names=[DOCS_SITE])
            for identifier, suite_result in outcome.run_results.items():
                page = _docs_page(context, identifier)
                for res in suite_result.results:
                    if not res.success:
                        failures.append(_failure(res, engine, config, scrub, page))
        else:
            context.build_data_docs(site_names=[DOCS_SITE])
    finally:
        engine.dispose()

    failures.sort(key=lambda f: (f.severity != "blocking", order.get(f.check, len(order))))
    result = GateResult(
        passed=not any(f.severity == "blocking" for f in failures),
        failures=failures,
        docs_index=docs_dir / "index.html",
        checks_run=checks + dbt_checks + len(missing) + len(raw_plan.missing_sources),
        marts=[config.table(m) for m in marts if m in present or m in missing],
        skipped=skipped,
        duration_seconds=time.perf_counter() - started,
        config_source=config.source,
        raw_tables=raw_plan.tables,
        not_run=[
            *raw_plan.not_run,
            *(f"{config.table(m)} (optional, not built)" for m in optional_gone),
        ],
        as_of=as_of.isoformat(),
        periods=[p.label for p in periods],
    )
    log.info(
        "quality gate %s: %d blocking, %d warnings, %.1f s",
        "passed" if result.passed else "failed",
        len(result.blocking),
        len(result.warnings),
        result.duration_seconds,
    )
    return result


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy URL (driver: psycopg 3) of a warehouse URL, in any libpq form
    (:meth:`revops.warehouse.Warehouse.sqlalchemy_url`); a bad URL raises ``WarehouseError``
    with its password redacted.

    Timestamps in messages and Data Docs read in UTC, whatever the server's default.
    """
    return Warehouse.parse(url).sqlalchemy_url("psycopg", utc=True)


# -- internals --------------------------------------------------------------------------------


class _Scrubber:
    """Replaces the URL's password, in any spelling, with ``***``."""

    def __init__(self, url: str) -> None:
        try:
            raw = Warehouse.parse(url).password or ""
        except WarehouseError:
            raw = ""
        self.secrets = sorted({s for s in (raw, quote(raw, safe="")) if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return redact(text)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _context(sa_url: str, docs_dir: Path) -> Any:
    """An ephemeral GX context with one local Data Docs site and no progress bars."""
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
        runtime_environment={_URL_VARIABLE: sa_url},
    )
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def _catalog(engine: sa.Engine, config: GateConfig, url: str, scrub: _Scrubber) -> Catalog:
    """The tables and columns of the marts schema, the rates table's schema and every
    ``raw_<system>`` schema."""
    rates_schema = config.rates_table.partition(".")[0]
    raw_schemas = [f"raw_{system}" for system in raw.systems()] + [
        f"raw_{system}" for system in config.raw_required_sources
    ]
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select n.nspname, c.relname, a.attname "
                    "from pg_catalog.pg_class as c "
                    "join pg_catalog.pg_namespace as n on n.oid = c.relnamespace "
                    "left join pg_catalog.pg_attribute as a "
                    "    on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
                    "where n.nspname = any(:schemas) and c.relkind in ('r', 'v', 'm', 'p', 'f') "
                    "order by n.nspname, c.relname, a.attnum"
                ),
                {"schemas": [config.schema, rates_schema, *raw_schemas]},
            ).all()
    except sa.exc.SQLAlchemyError as err:
        reason = scrub(str(getattr(err, "orig", None) or err)).strip().splitlines()[0]
        raise WarehouseError(
            f"quality gate: cannot connect to the warehouse at {redact(url)}: {reason}"
        ) from None
    tables: dict[str, dict[str, list[str]]] = {}
    for schema, table, column in rows:
        columns = tables.setdefault(schema, {}).setdefault(table, [])
        if column is not None:
            columns.append(column)
    return Catalog({s: {t: tuple(c) for t, c in ts.items()} for s, ts in tables.items()})


def _docs_page(context: Any, identifier: Any) -> str:
    """The local path of the Data Docs page of one validation result ('' if unknown)."""
    try:
        sites = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
    except Exception:  # Data Docs are a convenience: never fail the gate over a link
        return ""
    for site in sites or []:
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return url2pathname(urlsplit(url).path)
        if url:
            return url
    return ""


def _extract_failures(
    url: str,
    as_of: dt.datetime,
    periods: Sequence[PeriodLike],
    config: GateConfig,
    scrub: _Scrubber,
) -> list[Failure]:
    """The extract runs' blocking failures (``revops.quality.extracts``), scrubbed."""
    from dataclasses import replace

    from revops.quality.extracts import read_failures
    from revops.warehouse import connect

    with connect(url) as conn:
        found = read_failures(conn, as_of, periods, config)
    return [replace(f, observed=scrub(f.observed)) for f in found]


def _dbt_failures(
    url: str, marts: list[str], config: GateConfig, scrub: _Scrubber, catalog: Catalog
) -> tuple[list[Failure], int]:
    """What dbt's newest results say about the published marts present, and how many dbt
    results (builds and tests) were judged. A mart with a test that did not pass is counted
    now, so its finding can say how many of its rows the test found."""
    from psycopg import sql

    from revops.warehouse import connect

    columns = {m: catalog.columns(config.schema, m) for m in marts}
    with connect(url) as conn:
        results = dbt_results.read_newest(conn)

        counted: dict[str, int | None] = {}

        def rows(mart: str) -> int | None:
            if mart not in counted:
                query = sql.SQL("select count(*) from {}").format(
                    sql.Identifier(config.schema, mart)
                )
                known = catalog.has(config.schema, mart)
                counted[mart] = int(conn.execute(query).fetchone()[0]) if known else None
            return counted[mart]

        findings = dbt_results.judge(results, marts, config.schema, columns, rows)
    judged = dbt_results.relied_on(results or [], marts)
    failures = [Failure(**{**asdict(f), "observed": scrub(f.observed)}) for f in findings]
    return failures, len(judged) + len(marts)


def _missing_source(config: GateConfig, system: str) -> Failure:
    schema = f"raw_{system}"
    hours = config.freshness_hours(system)
    return Failure(
        schema,
        "source_loaded",
        "(schema)",
        "blocking",
        f"no {schema} schema (or no {raw.LOADS_TABLE}) in the warehouse: never loaded",
        f"{schema} loaded by `revops extract {system}` within {hours:g} h",
        raw.missing_source_check(system),
    )


def _missing_mart(config: GateConfig, mart: str) -> Failure:
    table = config.table(mart)
    expected = f"{table} exists (built by `dbt build`); none of its checks could run"
    observed = f"no table or view {table} in the warehouse"
    return Failure(
        table, "table_exists", "(table)", "blocking", observed, expected, f"{mart}.exists"
    )


def _runnable(
    suite: gx.ExpectationSuite, config: GateConfig, missing: list[str]
) -> tuple[gx.ExpectationSuite, list[str]]:
    """The suite without the checks that read a missing mart, and those checks' names."""
    gone = {config.table(m) for m in missing}
    keep, skipped = [], []
    for expectation in suite.expectations:
        meta = expectation.meta or {}
        if gone & set(meta.get("requires", [])):
            skipped.append(meta["check"])
        else:
            keep.append(expectation)
    return gx.ExpectationSuite(name=suite.name, expectations=keep, meta=suite.meta), skipped


def _failure(
    res: Any, engine: sa.Engine, config: GateConfig, scrub: _Scrubber, page: str = ""
) -> Failure:
    """A Failure from one failed GX ExpectationValidationResult."""
    cfg = res.expectation_config
    meta = cfg.meta or {}
    kwargs = cfg.kwargs
    table = meta.get("table", "?")
    expected = meta.get("expected", "see Data Docs")
    schema, _, name = table.partition(".")
    count = (res.result or {}).get("observed_value")
    plain = ""
    if schema == config.schema and "unexpected_rows_query" in kwargs and isinstance(count, int):
        plain = dbt_results.rule_broken(dbt_results.mart_label(name), count, expected)
    return Failure(
        table=table,
        expectation_type=cfg.type,
        column=_subject(cfg, kwargs),
        severity=meta.get("severity", "blocking"),
        observed=scrub(_observed(res, kwargs, table, engine)),
        expected=expected,
        check=meta.get("check", cfg.type),
        docs_page=page,
        plain=plain,
    )


def _subject(cfg: Any, kwargs: dict[str, Any]) -> str:
    meta = cfg.meta or {}
    if meta.get("subject"):
        return str(meta["subject"])
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if "column_list" in kwargs:
        return ", ".join(kwargs["column_list"])
    return getattr(cfg, "description", None) or "(table)"


def _observed(res: Any, kwargs: dict[str, Any], table: str, engine: sa.Engine) -> str:
    error = _exception_message(res.exception_info or {})
    if error is not None:
        return f"could not be evaluated: {error}"
    result = res.result or {}
    if "unexpected_rows_query" in kwargs:
        count = result.get("observed_value")
        if not isinstance(count, int):
            return "failed (see Data Docs)"
        text = _plural(count, "offending row")
        samples = _sample_rows(kwargs["unexpected_rows_query"], table, engine)
        if not samples:
            return text
        shown = f", first {len(samples)}" if count > len(samples) else ""
        return f"{text}{shown}: {'; '.join(samples)}"
    if "unexpected_count" in result:
        count, total = result["unexpected_count"], result.get("element_count")
        text = f"{count} of {total} rows"
        if isinstance(total, int) and total > 0:
            text += f" ({100 * count / total:.1f}%)"
        examples = [
            _value(e["value"], kwargs) + (f" x{e['count']}" if e.get("count", 1) > 1 else "")
            for e in result.get("partial_unexpected_counts") or []
            if e.get("value") is not None
        ]
        if examples:
            text += "; e.g. " + "; ".join(examples[:_PARTIAL_UNEXPECTED])
        elif res.expectation_config.type == "expect_column_values_to_not_be_null":
            text += " null"
        return text
    mismatched = (result.get("details") or {}).get("mismatched") or {}
    if mismatched.get("missing"):
        return f"missing columns: {', '.join(map(str, mismatched['missing']))}"
    if "observed_value" in result:
        return _value(result["observed_value"], {})
    return "failed (see Data Docs)"


def _exception_message(info: dict[str, Any]) -> str | None:
    """The first line of the error GX caught while evaluating, if it caught one.

    GX reports it either flat or keyed by the metric that raised it."""
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            message = str(candidate.get("exception_message") or "unknown error").strip()
            return (message.splitlines() or ["unknown error"])[0][:300]
    return None


def _sample_rows(query: str, table: str, engine: sa.Engine) -> list[str]:
    """The first offending rows of an unexpected-rows query, each as ``(col=value, ...)``."""
    sql = f"select * from ({query.replace('{batch}', table)}) as offending limit {_SAMPLE_ROWS}"
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(sql)).mappings().all()
    except sa.exc.SQLAlchemyError:
        return []
    return ["(" + ", ".join(f"{k}={_value(v, {})}" for k, v in row.items()) + ")" for row in rows]


def _value(value: Any, kwargs: dict[str, Any]) -> str:
    """A value as an engineer would type it; column pairs as ``(a=.., b=..)``."""
    if isinstance(value, list | tuple) and "column_A" in kwargs and len(value) == 2:
        a, b = value
        return f"({kwargs['column_A']}={_value(a, {})}, {kwargs['column_B']}={_value(b, {})})"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_value(v, {}) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_value(v, {})}" for k, v in value.items()) + ")"
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)
