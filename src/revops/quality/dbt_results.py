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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def relied_on(results: Sequence[NodeResult], marts: Iterable[str]) -> list[NodeResult]:
    """The newest results of the tests that read any of ``marts``."""
    ids = {model_id(m) for m in marts}
    return [r for r in results if r.resource_type == "test" and ids & set(r.depends_on)]


def judge(results: Sequence[NodeResult] | None, marts: Iterable[str], schema: str) -> list[Finding]:
    """What the newest dbt results say about the published ``marts`` (pure: no database)."""
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
            findings.append(
                Finding(
                    f"{CHECK_PREFIX}{test.name}",
                    table,
                    test.name,
                    "warning" if test.status == "warn" else "blocking",
                    f"{test.status}: {test.message or found}"[:300],
                    "passes in the newest `dbt build` (dbt_project: models' data_tests, tests/)",
                )
            )
    return findings
