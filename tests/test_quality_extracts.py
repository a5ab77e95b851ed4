"""The gate's extract-run check: a source whose newest incremental extract failed, or whose data
ends before the report needs it, blocks the report and the failure names the system and error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from test_publish_data import AS_OF, build_world

from revops.quality.extracts import extract_failures, required_end
from revops.quality.gate import run_gate
from revops.quality.suites import GateConfig
from revops.reports.periods import parse_period
from revops.sources.runlog import ExtractRun, finish_run, start_run

W46 = parse_period("2026-W46")  # 2026-11-09 .. 2026-11-16, AS_OF is 2026-11-16 06:00 UTC
MIDNIGHT = datetime(2026, 11, 16, tzinfo=UTC)
CONFIG = GateConfig()


def run(system: str, status: str, window_end: datetime, error: str | None = None, n: int = 1):
    return ExtractRun(
        extract_run_id=n,
        run_id=f"scheduled__{window_end:%Y-%m-%d}",
        system=system,
        mode="incremental",
        window_start=None,
        window_end=window_end,
        started_at=window_end,
        finished_at=window_end.replace(minute=12),
        status=status,
        rows=None if error else 120,
        error=error,
    )


def test_data_must_reach_the_period_end_and_the_freshness_limit() -> None:
    assert required_end("hubspot", AS_OF, [W46], CONFIG) == MIDNIGHT
    late = datetime(2026, 11, 20, 6, tzinfo=UTC)
    assert required_end("hubspot", late, [W46], CONFIG) == datetime(2026, 11, 18, 18, tzinfo=UTC)


def test_good_runs_pass() -> None:
    newest = {s: run(s, "success", MIDNIGHT) for s in ("hubspot", "google_ads")}
    assert extract_failures(newest, newest, AS_OF, [W46], CONFIG) == []


def test_a_failed_newest_run_blocks_and_names_the_system_and_its_error() -> None:
    error = "HTTPError: hubspot: contacts: 503 Service Unavailable after 5 tries"
    newest = {
        "hubspot": run("hubspot", "failed", MIDNIGHT, error),
        "google_ads": run("google_ads", "success", MIDNIGHT),
    }
    (failure,) = extract_failures(newest, {}, AS_OF, [W46], CONFIG)
    assert failure.table == "raw_hubspot" and failure.check == "raw_hubspot.extract"
    assert failure.severity == "blocking"
    assert failure.observed == (
        "the newest incremental extract failed at 2026-11-16 00:12 UTC (run "
        "scheduled__2026-11-16, data up to 2026-11-16 00:00 UTC): " + error
    )


def test_data_ending_before_the_period_does_blocks_and_running_is_judged_by_the_last_success():
    day_before = datetime(2026, 11, 15, tzinfo=UTC)
    newest = {"mailchimp": run("mailchimp", "running", MIDNIGHT, n=2)}
    success = {"mailchimp": run("mailchimp", "success", day_before)}
    (failure,) = extract_failures(newest, success, AS_OF, [W46], CONFIG)
    assert failure.check == "raw_mailchimp.extract"
    assert failure.observed.endswith("has data up to 2026-11-15 00:00 UTC only")
    assert failure.expected.startswith("data up to 2026-11-16 00:00 UTC")
    # still running, and never succeeded: left to the raw freshness check
    assert extract_failures(newest, {}, AS_OF, [W46], CONFIG) == []


@pytest.fixture
def world(fresh_db: str) -> str:
    build_world(fresh_db)
    return fresh_db


def test_the_gate_blocks_on_a_failed_vendor_and_names_it(world: str, tmp_path: Path) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        ok = start_run(conn, "scheduled__2026-11-16", "google_ads", "incremental", None, MIDNIGHT)
        finish_run(conn, ok, rows=10)
        bad = start_run(conn, "scheduled__2026-11-16", "hubspot", "incremental", None, MIDNIGHT)
        finish_run(conn, bad, error=ConnectionError("hubspot: connection refused"))
        # a backfill says nothing about freshness: it does not hide the failed daily run
        old = datetime(2026, 11, 10, tzinfo=UTC)
        backfill = start_run(conn, "backfill__x", "hubspot", "backfill", old, MIDNIGHT)
        finish_run(conn, backfill, rows=3)
    result = run_gate(world, tmp_path / "docs", periods=[W46], as_of=AS_OF)
    assert result.passed is False
    (failure,) = [f for f in result.blocking if f.check.endswith(".extract")]
    assert failure.table == "raw_hubspot"
    assert "ConnectionError: hubspot: connection refused" in failure.observed
    assert result.failed_tables[0] == "raw_hubspot"
    assert "raw_hubspot" in result.summary()
