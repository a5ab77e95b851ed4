"""The gate's reading of dbt's own test results: what dbt tested is not tested again.

dbt owns the checks of structure, keys, relationships, contracts and build-time reconciliations
(``dbt_project/models/**/_*__models.yml``, ``dbt_project/tests/``). Every dbt invocation records
its results in ``revops_meta.dbt_results`` (the ``record_dbt_results`` on-run-end hook): one row
per model, seed and test result. The gate reads the newest result of each node and, for every
mart the report publishes (``revops.quality.suites.PUBLISHED_MARTS``), fails:

- ``dbt.results_recorded`` (blocking) when dbt never recorded a result here (the marts built by
  something else);
- ``dbt.<mart>.built`` (blocking) when the mart's newest build did not succeed (a failed model
  keeps the previous day's table), or dbt has no build of it;
- ``dbt.<mart>.tested`` (blocking) when no test that reads the mart ran after its newest build
  (``dbt run`` without ``dbt test``);
- ``dbt.<test name>`` for every test that reads a published mart whose newest result is not a
  pass: blocking for ``fail``, ``error`` and ``skipped`` (a test that did not run proves
  nothing), a warning for ``warn`` (the test's own ``severity: warn``). The severity of a dbt
  test is set in dbt, once; ``gate.yml`` cannot change it.

Each test finding also says what it means in the words of the report's readers
(:func:`for_readers`: which mart and column, which rule, how many rows of how many), for the
report's footer; the dbt test name stays in the check, the table and the dbt message, for the
engineers who read the gate's summary, log and JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TABLE = "revops_meta.dbt_results"
COLUMNS = (
    "invocation_id",
    "unique_id",
    "resource_type",
    "name",
    "status",
    "severity",
    "failures",
    "message",
    "depends_on",
    "recorded_at",
)
"""The columns the hook writes (``dbt_project/macros/record_dbt_results.sql``) and this reads."""

PROJECT = "revops"
EXPECTATION = "dbt_test"
CHECK_PREFIX = "dbt."


@dataclass(frozen=True)
class NodeResult:
    """The newest recorded result of one dbt node."""

    invocation_id: str
    unique_id: str
    resource_type: str
    name: str
    status: str
    severity: str | None
    failures: int | None
    message: str
    depends_on: tuple[str, ...]
    recorded_at: datetime


def model_id(mart: str) -> str:
    """dbt's unique id of a mart model."""
    return f"model.{PROJECT}.{mart}"


def read_newest(conn: Any) -> list[NodeResult] | None:
    """The newest result of every node, or None when dbt never recorded any here."""
    exists = conn.execute("select to_regclass(%s)", (TABLE,)).fetchone()[0]
    if exists is None:
        return None
    rows = conn.execute(
        f"select distinct on (unique_id) {', '.join(COLUMNS)} from {TABLE} "
        "order by unique_id, recorded_at desc"
    ).fetchall()
    return [
        NodeResult(
            invocation_id=r[0],
            unique_id=r[1],
            resource_type=r[2],
            name=r[3],
            status=str(r[4]).lower(),
            severity=r[5],
            failures=r[6],
            message=(r[7] or "").strip(),
            depends_on=tuple(r[8] or ()),
            recorded_at=r[9],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Finding:
    """One reason the dbt results do not clear a mart: the fields of the gate's ``Failure``."""

    check: str
    table: str
    column: str
    severity: str
    observed: str
    expected: str
    expectation_type: str = EXPECTATION
    plain: str = ""
    """The finding in the report readers' words (:func:`for_readers`); '' for the checks of
    builds, which never reach a report."""


def relied_on(results: Sequence[NodeResult], marts: Iterable[str]) -> list[NodeResult]:
    """The newest results of the tests that read any of ``marts``."""
    ids = {model_id(m) for m in marts}
    return [r for r in results if r.resource_type == "test" and ids & set(r.depends_on)]


def judge(
    results: Sequence[NodeResult] | None,
    marts: Iterable[str],
    schema: str,
    columns: Mapping[str, Sequence[str]] | None = None,
    rows: Callable[[str], int | None] | None = None,
) -> list[Finding]:
    """What the newest dbt results say about the published ``marts`` (pure: no database).

    ``columns`` (mart -> its columns) and ``rows`` (mart -> its row count, asked only for a
    mart with a test that did not pass) let each test finding say what it means to a reader
    (:func:`for_readers`)."""
    marts = list(marts)
    if results is None or not results:
        return [
            Finding(
                check=f"{CHECK_PREFIX}results_recorded",
                table=TABLE,
                column="(table)",
                severity="blocking",
                observed=f"no dbt results in {TABLE}: dbt never built the marts here",
                expected="`dbt build` recorded the marts' builds and tests",
            )
        ]
    by_id = {r.unique_id: r for r in results}
    findings: list[Finding] = []
    reported: set[str] = set()
    for mart in marts:
        table = f"{schema}.{mart}"
        build = by_id.get(model_id(mart))
        if build is None or build.status != "success":
            observed = (
                "no build recorded"
                if build is None
                else f"{build.status} at {build.recorded_at:%Y-%m-%d %H:%M} UTC: {build.message}"
            )
            findings.append(
                Finding(
                    f"{CHECK_PREFIX}{mart}.built",
                    table,
                    "(model)",
                    "blocking",
                    observed[:300],
                    "the newest `dbt build` of the mart succeeded",
                )
            )
            continue
        tests = relied_on(results, [mart])
        if not any(
            t.invocation_id == build.invocation_id or t.recorded_at > build.recorded_at
            for t in tests
        ):
            findings.append(
                Finding(
                    f"{CHECK_PREFIX}{mart}.tested",
                    table,
                    "(model)",
                    "blocking",
                    f"no dbt test of {mart} ran after its build at "
                    f"{build.recorded_at:%Y-%m-%d %H:%M} UTC",
                    "`dbt build` (or `dbt test`) after the mart was built",
                )
            )
        for test in sorted(tests, key=lambda t: t.name):
            if test.status in ("pass", "success") or test.unique_id in reported:
                continue
            reported.add(test.unique_id)
            found = f"{test.failures} rows" if test.failures else test.status
            subject = mart_of(test, mart)
            count = rows(subject) if rows is not None else None
            plain = for_readers(test, subject, (columns or {}).get(subject, ()), count)
            findings.append(
                Finding(
                    f"{CHECK_PREFIX}{test.name}",
                    table,
                    test.name,
                    "warning" if test.status == "warn" else "blocking",
                    f"{test.status}: {test.message or found}"[:300],
                    "passes in the newest `dbt build` (dbt_project: models' data_tests, tests/)",
                    plain=plain,
                )
            )
    return findings


# -- the readers' words ------------------------------------------------------------------------

_GRAINS = ("daily", "weekly", "monthly")


def mart_label(model: str) -> str:
    """A mart's name as a reader says it: ``fct_ad_spend_daily`` -> ``Ad spend (daily)``,
    ``rpt_lead_handoff`` -> ``Lead handoff`` (the layer prefix dropped, the grain in brackets)."""
    name = re.sub(r"^(fct|dim|rpt)_", "", model)
    grain = next((g for g in _GRAINS if name.endswith(f"_{g}")), None)
    if grain:
        name = name[: -len(grain) - 1]
    text = _words(name).capitalize()
    return f"{text} ({grain})" if grain else text


def _words(identifier: str) -> str:
    return identifier.replace("_", " ").strip()


def mart_of(test: NodeResult, mart: str) -> str:
    """The mart a test's name is about (dbt names a generic test ``<test>_<model>_<args>``):
    the model it depends on that its name names, else ``mart``."""
    names = [u.rsplit(".", 1)[-1] for u in test.depends_on if u.startswith("model.")]
    named = [m for m in names if f"_{m}_" in test.name or test.name.endswith(f"_{m}")]
    return mart if mart in named or not named else max(named, key=len)


def generic_parts(name: str, mart: str, columns: Sequence[str] = ()) -> tuple[str, str, list[str]]:
    """A generic test's ``(rule, column, arguments)`` from dbt's name for it,
    ``<test>_<model>_<column>[__<argument>...]`` (``not_null``, ``platform_conversions``, []);
    ``("", "", [])`` for a singular test (its name names no model). ``columns``: the mart's
    columns, so a column whose name holds ``__`` is read whole."""
    head, sep, rest = name.partition(f"_{mart}_")
    if not sep or not head:
        return "", "", []
    known = sorted((c for c in columns if rest == c or rest.startswith(f"{c}__")), key=len)
    column = known[-1] if known else rest.split("__", 1)[0]
    arguments = [a for a in rest[len(column) :].split("__") if a]
    return head, column, arguments


def _count(n: int, word: str) -> str:
    """``1,304 rows``, ``1 row``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _share(failures: int, rows: int | None) -> str:
    """``on 1,304 of 5,319 rows (24.5%)``; ``on 1,304 rows`` when the total is unknown."""
    if not rows:
        return f"on {_count(failures, 'row')}"
    percent = 100 * failures / rows
    shown = "<0.1%" if 0 < percent < 0.1 else f"{percent:.1f}%"
    return f"on {failures:,} of {rows:,} rows ({shown})"


def rule_broken(label: str, rows: int, rule: str) -> str:
    """``Pipeline: 2 rows break the rule “a row for every period, none missing”``: a rule over
    a table's rows whose query selected ``rows`` offending rows."""
    return f"{label}: {_count(rows, 'row')} {'breaks' if rows == 1 else 'break'} the rule “{rule}”"


def _referenced(argument: str) -> str:
    """The table a ``relationships`` test points to, from dbt's cleaned ``to`` argument
    (``ref_dim_people_`` -> ``People``)."""
    match = re.fullmatch(r"ref_+(\w+?)_*", argument)
    return mart_label(match.group(1)) if match else _words(argument)


def for_readers(
    test: NodeResult, mart: str, columns: Sequence[str] = (), rows: int | None = None
) -> str:
    """What a test that did not pass means, for the report's readers: which mart and column,
    which rule, on how many rows of how many (``rows``: the mart's row count, when known).

    ``Ad spend (daily): platform conversions is empty on 1,304 of 5,319 rows (24.5%)``.
    """
    label = mart_label(mart)
    rule, column, arguments = generic_parts(test.name, mart, columns)
    failures = test.failures
    if failures is None or test.status in ("error", "skipped"):
        what = f"the check of {_words(column)}" if column else f"the check “{_words(test.name)}”"
        return f"{label}: {what} did not run ({test.status})"
    if not column:  # a singular test: its rows are whatever its query selects
        return rule_broken(label, failures, _words(re.sub(r"^assert_", "", test.name)))
    col, share = _words(column), _share(failures, rows)
    if rule == "not_null":
        return f"{label}: {col} is empty {share}"
    if rule == "not_negative":
        return f"{label}: {col} is negative {share}"
    if rule == "between_zero_and_one":
        return f"{label}: {col} is outside 0 to 1 {share}"
    if rule == "not_above" and arguments:
        later = column.endswith("_at") and arguments[0].endswith("_at")
        return (
            f"{label}: {col} is {'later than' if later else 'above'} {_words(arguments[0])} {share}"
        )
    if rule == "relationships" and arguments:
        return f"{label}: {col} matches nothing in {_referenced(arguments[-1])} {share}"
    if rule == "unique":  # dbt counts the values that repeat, not the rows
        verb = "repeats" if failures == 1 else "repeat"
        of = f" (in {rows:,} rows)" if rows else ""
        return f"{label}: {col} is not unique: {_count(failures, 'value')} {verb}{of}"
    if rule in ("accepted_values", "accepted_channel"):  # dbt counts the unexpected values
        return f"{label}: {col} holds {_count(failures, 'value')} outside the accepted list"
    return f"{label}: {col} breaks the rule “{_words(rule)}” {share}"
