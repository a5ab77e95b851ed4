"""Salesforce connector: Bulk API 2.0 for large windows, the dated API version, the cursor's
overlap.

* An object whose window holds more rows than ``REVOPS_SALESFORCE_BULK_THRESHOLD`` is read
  through a Bulk API 2.0 ``queryAll`` job (create, poll, CSV result sets by ``Sforce-Locator``)
  and lands exactly as the REST read lands (threshold 0 against a very high one), also through
  injected faults; a job that ends ``Failed`` is submitted again, and one that keeps failing
  fails the run with the job's id, never silently.
* The connector's default API version is the dated list's and the simulator serves it; a retired
  one is refused with Salesforce's ``410 GONE``.
* A record whose ``SystemModstamp`` is older than the newest one already read (its transaction
  committed late) is still loaded by the next run: the cursor re-reads ``OVERLAP`` behind it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from test_sources_e2e import pointed_at, snapshot
from warehouse_checks import new_database

from revops.simulator import Company, FaultConfig, SimulatorServer
from revops.simulator.wire import fmt_salesforce
from revops.sources import run_extract
from revops.sources.http import SourceError
from revops.sources.salesforce import OVERLAP, table_name
from revops.sources.versions import vendor

SEED = 11
SCALE = 0.02
AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BULK = {
    "REVOPS_SALESFORCE_BULK_THRESHOLD": "0",  # every object with a row goes through Bulk
    "REVOPS_SALESFORCE_BULK_PAGE_ROWS": "200",  # several result sets per large object
    "REVOPS_SALESFORCE_BULK_POLL_SECONDS": "0.01",
}
REST = {"REVOPS_SALESFORCE_BULK_THRESHOLD": str(10**9)}


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def db(server_url: str) -> Iterator[str]:
    with new_database(server_url, prefix="revops_sfbulk") as url:
        yield url


def extract(server: SimulatorServer, url: str, home: Path, **extra: str):
    with pointed_at(server, home, **extra):
        return run_extract("salesforce", url, until=server.company.as_of)


def paths(server: SimulatorServer) -> list[tuple[str, str]]:
    """The (method, path) of every request the Salesforce simulator answered."""
    return list(server.simulator.apis["salesforce"].log)


def jobs_used(log: list[tuple[str, str]]) -> dict[str, int]:
    """How often each endpoint was called: Bulk API 2.0 query jobs, and REST queryAll."""
    kinds = {"create": 0, "poll": 0, "results": 0, "delete": 0, "queryAll": 0}
    for method, path in log:
        if re.search(r"/jobs/query$", path) and method == "POST":
            kinds["create"] += 1
        elif re.search(r"/jobs/query/[^/]+/results$", path) and method == "GET":
            kinds["results"] += 1
        elif re.search(r"/jobs/query/[^/]+$", path) and method == "GET":
            kinds["poll"] += 1
        elif re.search(r"/jobs/query/[^/]+$", path) and method == "DELETE":
            kinds["delete"] += 1
        elif re.search(r"/queryAll(/[^/]+)?$", path):
            kinds["queryAll"] += 1
    return kinds


def test_bulk_and_rest_load_the_same_rows(
    company: Company, tls_dir: Path, server_url: str, tmp_path: Path
) -> None:
    with (
        new_database(server_url, prefix="revops_sfbulk") as rest_db,
        new_database(server_url, prefix="revops_sfbulk") as bulk_db,
        SimulatorServer(company, cert_dir=tls_dir) as server,
    ):
        extract(server, rest_db, tmp_path / "rest", **REST)
        rest_log = paths(server)
        server.simulator.apis["salesforce"].log.clear()
        extract(server, bulk_db, tmp_path / "bulk", **BULK)
        bulk_log = paths(server)
        rest_tables, bulk_tables = snapshot(rest_db, "salesforce"), snapshot(bulk_db, "salesforce")

    rest = jobs_used(rest_log)
    assert rest["create"] == rest["results"] == 0 and rest["queryAll"] >= 2 * 12
    used = jobs_used(bulk_log)
    objects = [o for o, rows in company.crm.sf.items() if rows]
    assert used["create"] == len(objects) == 12  # one queryAll job per object
    assert used["queryAll"] == 12  # REST only for each window's SELECT COUNT()
    assert used["poll"] >= 3 * used["create"]  # each job needs a few polls
    sets = sum(-(-len(rows) // 200) for rows in company.crm.sf.values())
    assert used["results"] == sets > used["create"]  # several sets, read by Sforce-Locator
    assert used["delete"] == used["create"]
    # exactly the same tables: every row and column, types included
    expected = {table_name(o): len(rows) for o, rows in company.crm.sf.items()}
    assert {t: len(rows) for t, (_, rows) in bulk_tables.items() if t in expected} == expected
    assert bulk_tables == rest_tables


def test_bulk_through_faults_loads_the_clean_rows(
    company: Company, tls_dir: Path, server_url: str, tmp_path: Path
) -> None:
    faults = FaultConfig(rate=0.25, seed=SEED, retry_after=1, slow_seconds=0.02)
    with (
        new_database(server_url, prefix="revops_sfbulk") as clean_db,
        new_database(server_url, prefix="revops_sfbulk") as faulty_db,
    ):
        with SimulatorServer(company, cert_dir=tls_dir) as server:
            extract(server, clean_db, tmp_path / "clean", **REST)
        with SimulatorServer(company, cert_dir=tls_dir, faults=faults) as faulty:
            extract(
                faulty,
                faulty_db,
                tmp_path / "faulty",
                REVOPS_HTTP_BASE_DELAY="0.01",
                REVOPS_HTTP_MAX_ATTEMPTS="12",
                **BULK,
            )
            injected = sum(faulty.simulator.faults.injected.values())
            used = jobs_used(paths(faulty))
        assert injected > 20 and used["results"] > 0
        assert snapshot(faulty_db, "salesforce") == snapshot(clean_db, "salesforce")


def test_a_failed_job_is_submitted_again_then_fails_the_run(
    company: Company, tls_dir: Path, db: str, tmp_path: Path
) -> None:
    with SimulatorServer(company, cert_dir=tls_dir) as server:
        api = server.simulator.apis["salesforce"]
        api.job_fates.extend(["Failed"])
        extract(server, db, tmp_path / "once", **BULK)  # the second submission completes
        assert jobs_used(paths(server))["create"] == 13
        api.job_fates.extend(["Failed", "Aborted"])
        with pytest.raises(SourceError) as err:
            extract(server, db, tmp_path / "twice", **BULK)
    message = str(err.value)
    assert "Bulk API 2.0 query job 750" in message and "ended Aborted" in message
    assert "REVOPS_SALESFORCE_BULK_THRESHOLD" in message


def test_the_default_version_is_served_and_a_retired_one_refused(
    company: Company, tls_dir: Path, db: str, tmp_path: Path
) -> None:
    default = vendor("salesforce").default
    assert vendor("salesforce").get(default).served_on(AS_OF.date())
    with SimulatorServer(company, cert_dir=tls_dir) as server:
        extract(server, db, tmp_path / "default", **REST)
        assert all(
            p.startswith(f"/services/data/v{default}/")
            for _, p in paths(server)
            if p.startswith("/services/data/v")
        )
        with pytest.raises(SourceError) as err:
            extract(server, db, tmp_path / "old", REVOPS_SALESFORCE_API_VERSION="30.0", **REST)
    assert err.value.status == 410 and "GONE" in str(err.value)


def test_a_late_commit_behind_the_cursor_is_read_by_the_next_run(
    company: Company, tls_dir: Path, db: str, tmp_path: Path
) -> None:
    """A lead whose change was stamped before the newest lead already read (a transaction that
    started earlier and committed after the first run) lands in the second run."""
    leads = [r for r in company.crm.sf["Lead"] if r.modstamp < company.as_of_ms]
    newest = max(r.modstamp for r in leads)
    late = next(r for r in leads if r.modstamp < newest - OVERLAP / timedelta(milliseconds=1))
    before = dict(late.fields)
    with SimulatorServer(company, cert_dir=tls_dir) as server:
        extract(server, db, tmp_path, **REST)
        try:
            stamp = newest - 10 * 60_000  # 10 minutes behind the cursor: inside the overlap
            late.fields["SystemModstamp"] = stamp
            late.fields["Status"] = "Working - Contacted Late"
            extract(server, db, tmp_path, **REST)
        finally:
            late.fields.clear()
            late.fields.update(before)
    with psycopg.connect(db) as conn:
        status, modstamp = conn.execute(
            "select status, system_modstamp from raw_salesforce.lead where id = %s", (late.id,)
        ).fetchone()
    assert status == "Working - Contacted Late"
    assert modstamp == fmt_salesforce(stamp)


def test_a_bulk_run_that_dies_and_is_rerun_loads_the_clean_rows(
    company: Company, tls_dir: Path, server_url: str, tmp_path: Path
) -> None:
    """A run that fails half-way through the objects (the sixth object's job fails on both
    submissions, after five objects were read through Bulk) loads nothing it would have to
    undo, and its rerun ends with exactly the clean run's tables."""
    with (
        new_database(server_url, prefix="revops_sfbulk") as clean_db,
        new_database(server_url, prefix="revops_sfbulk") as rerun_db,
        SimulatorServer(company, cert_dir=tls_dir) as server,
    ):
        extract(server, clean_db, tmp_path / "clean", **REST)
        api = server.simulator.apis["salesforce"]
        api.job_fates.extend(["JobComplete"] * 5 + ["Failed", "Failed"])
        api.log.clear()
        with pytest.raises(SourceError, match="ended Failed"):
            extract(server, rerun_db, tmp_path / "rerun", **BULK)
        assert jobs_used(paths(server))["create"] == 7 and not api.job_fates
        extract(server, rerun_db, tmp_path / "rerun", **BULK)
        assert snapshot(rerun_db, "salesforce") == snapshot(clean_db, "salesforce")


def test_before_api_47_every_object_is_read_through_rest(
    company: Company, tls_dir: Path, db: str, tmp_path: Path
) -> None:
    """Bulk API 2.0 query jobs exist from API version 47.0: with an older version set, even a
    threshold of 0 reads through REST, and loads every row."""
    with SimulatorServer(company, cert_dir=tls_dir) as server:
        extract(server, db, tmp_path, REVOPS_SALESFORCE_API_VERSION="46.0", **BULK)
        used = jobs_used(paths(server))
    assert used["create"] == 0 and used["queryAll"] >= 24
    loaded = {t: len(rows) for t, (_, rows) in snapshot(db, "salesforce").items()}
    assert all(loaded[table_name(o)] == len(rows) for o, rows in company.crm.sf.items())
