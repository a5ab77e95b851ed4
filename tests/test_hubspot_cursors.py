"""HubSpot cursors through the real connector into a warehouse: they move to the newest record
actually read and each run re-reads an overlap behind them, so neither a search index that
lags (a record surfaces minutes after records changed later) nor a source whose clock is
behind the runner's loses a record. A cursor moved to the window's end loses both.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from test_sources_e2e import pointed_at

import revops.simulator.hubspot as simulated
import revops.sources.hubspot as connector
from revops.simulator import Company, SimulatorServer
from revops.simulator.crm import HubSpotRecord
from revops.simulator.wire import fmt_hubspot
from revops.sources import run_extract

SEED = 7
SCALE = 0.1
START = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)  # a Tuesday afternoon, when the CRM is busy
# minutes a change may take to surface in search, and the overlap the connector re-reads: long
# enough that a few hourly-changing records of a small company are late at each run
LAG = 120
OBJECTS = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}


def records(company: Company, obj: str) -> list[HubSpotRecord]:
    if obj == "contacts":
        return list(company.contacts)
    return list(company.crm.companies if obj == "companies" else company.crm.deals)


def truth(company: Company, obj: str) -> dict[str, str]:
    """The simulator's live records of one object type: id -> last-modified time."""
    return {r.id: fmt_hubspot(r.updated_ms) for r in records(company, obj)}


def warehouse(url: str, obj: str) -> dict[str, str]:
    """The warehouse's live rows of one object type: id -> last-modified time (each id once)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f'select id, "{OBJECTS[obj]}" from raw_hubspot."{obj}" '
            "where not coalesce(archived, false)"
        ).fetchall()
    live = dict(rows)
    assert len(live) == len(rows), f"{obj}: an id twice"
    return live


def assert_holds(url: str, company: Company) -> None:
    """Every live record of the simulator is in the warehouse as the simulator has it (same
    last-modified time). Rows only the warehouse has are history the simulator no longer
    serves (it keeps a year; a deal goes with its contact), as in tests/test_sources_e2e.py."""
    for obj in OBJECTS:
        have, want = warehouse(url, obj), truth(company, obj)
        wrong = {i: (v, have.get(i)) for i, v in want.items() if have.get(i) != v}
        assert not wrong, f"{obj}: {len(wrong)} records missing or stale, e.g. {wrong}"


def extract(server: SimulatorServer, url: str, home: Path, until: datetime) -> None:
    """One incremental run of the three searched streams, the runner's window ending ``until``."""
    with pointed_at(server, home, REVOPS_HUBSPOT_SEARCH_OVERLAP_MINUTES=str(LAG)):
        run_extract("hubspot", url, until=until, streams=list(OBJECTS))


def test_a_lagging_search_index_loses_no_record_over_incremental_runs(
    fresh_db, tmp_path, monkeypatch
) -> None:
    company = Company.generate(seed=SEED, scale=2 * SCALE, as_of=START)
    hidden: set[tuple[str, str]] = set()  # (object, id) a run's search could not see yet
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        limits = server.simulator.apis["hubspot"].limits  # type: ignore[attr-defined]
        limits.search_lag_minutes = LAG
        extract(server, fresh_db, tmp_path, START)  # the first, full load
        # later windows are small: a tiny search cap makes them re-query past it, overlap and all
        monkeypatch.setattr(simulated, "SEARCH_CAP", 4)
        capped = replace(connector.SEARCH_PAGING, cap=4)
        for obj in OBJECTS:
            monkeypatch.setitem(
                connector.STREAMS, obj, replace(connector.STREAMS[obj], paginator=capped)
            )
        monkeypatch.setattr(connector, "PAGE_SIZE", 2)
        limits.search_filters.clear()
        for step in range(1, 4):  # a run every two hours, source and runner clocks agreeing
            at = START + timedelta(hours=2 * step)
            company = server.set_as_of(at)
            assert server.simulator.apis["hubspot"].limits is limits  # knobs outlive set_as_of
            hidden |= {
                (obj, r.id)
                for obj in OBJECTS
                for r in records(company, obj)
                if not limits.surfaced(r, company.as_of_ms)
            }
            extract(server, fresh_db, tmp_path, at)
        requeried = [
            f
            for _, groups in limits.search_filters
            for f in groups[0]["filters"]
            if f["propertyName"] == "hs_object_id" and f["value"] != "0"
        ]
        limits.search_lag_minutes = 0  # the index catches up; the runner's clock has not moved
        extract(server, fresh_db, tmp_path, at)
    assert len(hidden) >= 3, "no change was late to surface: the test proves nothing"
    assert_holds(fresh_db, company)
    assert requeried, "no window was re-queried past the (tiny) search cap"


def test_a_source_clock_a_day_behind_the_runner_loses_no_contacts(fresh_db, tmp_path) -> None:
    runner_end = START.replace(hour=9, minute=30) + timedelta(days=1)
    source_now = runner_end - timedelta(days=1)  # the source's clock a day behind
    company = Company.generate(seed=SEED, scale=SCALE, as_of=source_now)
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        extract(server, fresh_db, tmp_path, runner_end)
        before = set(warehouse(fresh_db, "contacts"))
        later = server.set_as_of(source_now + timedelta(days=1))  # the next day, both clocks
        extract(server, fresh_db, tmp_path, runner_end + timedelta(days=1))
    since = int(source_now.timestamp() * 1000)
    new = {c.id for c in later.contacts if c.created_ms >= since}
    assert len(new) >= 5 and not new & before
    loaded = warehouse(fresh_db, "contacts")
    assert sorted(new - set(loaded), key=int) == []  # the next day's contacts all arrived
    assert_holds(fresh_db, later)


@pytest.mark.parametrize("minutes", ["-1", "x"])
def test_a_bad_overlap_setting_is_refused_naming_it(minutes, monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_HUBSPOT_SEARCH_OVERLAP_MINUTES", minutes)
    with pytest.raises(Exception, match="REVOPS_HUBSPOT_SEARCH_OVERLAP_MINUTES"):
        connector.overlap()
