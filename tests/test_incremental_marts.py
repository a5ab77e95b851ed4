"""The incremental facts: a later run over changed vendor data (new rows, updates, deletes,
restated ad days) builds the same tables as a full refresh, and writes only what changed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import psycopg
import pytest
from warehouse_checks import table_digest

from revops.simulator import Company, SimulatorServer
from revops.sources import SYSTEMS, run_extract
from revops.transform import run_dbt

pytestmark = pytest.mark.slow

SEED = 11
SCALE = 0.03
AS_OF = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)
LATER = AS_OF + timedelta(days=6, hours=3)
INCREMENTAL = ("marts.fct_touchpoints", "marts.fct_ad_spend_daily")
SELECTION = ["+fct_touchpoints", "+fct_ad_spend_daily"]


def extract_all(server: SimulatorServer, url: str, home) -> None:
    env = {
        **server.env(),
        "REVOPS_HOME": str(home),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
        # ad platforms read 40 days of history instead of a year, to keep the test quick
        **{
            f"REVOPS_{system.upper()}_START_DATE": (AS_OF - timedelta(days=40)).date().isoformat()
            for system in ("google_ads", "meta_ads", "linkedin_ads")
        },
    }
    with mock.patch.dict(os.environ, env):
        for system in SYSTEMS:
            run_extract(system, url, until=server.company.as_of)


def row_versions(url: str, table: str) -> dict[str, str]:
    """touchpoint_id -> the row's xmin (the transaction that wrote it)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"select touchpoint_id, xmin::text from {table}").fetchall()
    return dict(rows)


def edit_two_contacts(url: str) -> tuple[str, str]:
    """As the connector loads HubSpot edits: one contact archived (deleted in HubSpot), another
    given a new email address (so it now belongs to another person). The connector's own tests
    cover loading both; returns the two contact ids."""
    with psycopg.connect(url) as conn:
        archived, renamed = (
            str(row[0])
            for row in conn.execute(
                "select id from raw_hubspot.contacts where not coalesce(archived, false)"
                " and email is not null order by id limit 2"
            ).fetchall()
        )
        conn.execute("update raw_hubspot.contacts set archived = true where id = %s", [archived])
        conn.execute(
            "update raw_hubspot.contacts set email = 'renamed.' || email where id = %s", [renamed]
        )
    return archived, renamed


def test_incremental_runs_over_changed_data_equal_a_full_refresh(fresh_db, tmp_path) -> None:
    company = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        extract_all(server, fresh_db, tmp_path / "state")
        run_dbt(["seed"], fresh_db, quiet=True)
        run_dbt(["run", "--select", *SELECTION], fresh_db, quiet=True)
        before = row_versions(fresh_db, "marts.fct_touchpoints")

        server.set_as_of(LATER)
        extract_all(server, fresh_db, tmp_path / "state")
        archived, renamed = edit_two_contacts(fresh_db)
        run_dbt(["run", "--select", *SELECTION], fresh_db, quiet=True)

    after = row_versions(fresh_db, "marts.fct_touchpoints")
    kept = [t for t, version in after.items() if before.get(t) == version]
    written = [t for t, version in after.items() if before.get(t) != version]
    gone = before.keys() - after.keys()
    # a real incremental run: most rows untouched, the new and changed ones written, the
    # touches whose source was deleted gone
    assert len(kept) > len(written) > 0, (len(kept), len(written))
    assert any(t not in before for t in written)
    assert f"hubspot_form:{archived}" in gone
    assert f"hubspot_form:{renamed}" in written

    incremental = {table: table_digest(fresh_db, table) for table in INCREMENTAL}
    run_dbt(
        ["run", "--select", "fct_touchpoints", "fct_ad_spend_daily", "--full-refresh"],
        fresh_db,
        quiet=True,
    )
    assert {table: table_digest(fresh_db, table) for table in INCREMENTAL} == incremental
