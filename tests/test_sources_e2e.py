"""Connectors against the vendor simulator into a real PostgreSQL: nothing lost, nothing doubled.

Each test compares what landed in ``raw_*`` with the simulator's ground truth.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from revops.simulator import Company, FaultConfig, SimulatorServer, env_exports
from revops.sources import SYSTEMS, run_extract
from revops.sources.http import SourceError

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
SCALE = 0.03


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=7, scale=SCALE, as_of=AS_OF)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """dlt's working state in a temporary REVOPS_HOME, connectors pointed at a simulator."""
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "state"))

    def point_at(server: SimulatorServer) -> None:
        for key, value in env_exports(server.base_url).items():
            monkeypatch.setenv(key, value)

    return point_at


STREAMS = ("raw_hubspot.contacts", "raw_google_ads.campaign_daily",
           "raw_google_ads.click_views", "raw_mailchimp.members",
           "raw_mailchimp.email_activity", "raw_mailchimp.campaigns")


def counts(url: str) -> dict[str, int | None]:
    """Rows per raw table; None for a table that does not exist (its system was not run)."""
    out: dict[str, int | None] = {}
    with psycopg.connect(url) as conn:
        for table in STREAMS:
            exists = conn.execute("select to_regclass(%s)", (table,)).fetchone()[0]
            out[table] = conn.execute(f"select count(*) from {table}").fetchone()[0] if exists \
                else None
    return out


def truth(company: Company, until: datetime) -> dict[str, int]:
    last_day = until.date() - timedelta(days=1)
    first_day = until.date() - timedelta(days=365)  # the connector's default history
    click_days = [last_day - timedelta(days=i) for i in range(89)]
    return {
        "raw_hubspot.contacts": len(company.contacts),
        "raw_google_ads.campaign_daily": len({(r.date, r.campaign_id) for r in company.ad_daily
                                              if first_day <= r.date <= last_day}),
        "raw_google_ads.click_views": sum(len(company.clicks_on(day)) for day in click_days),
        "raw_mailchimp.members": len(company.members),
        "raw_mailchimp.email_activity": len(company.email_events),
        "raw_mailchimp.campaigns": sum(1 for c in company.email_campaigns if c.status == "sent"),
    }


def extract_all(url: str, until: datetime) -> None:
    for system in SYSTEMS:
        run_extract(system, url, until=until)


def test_every_stream_lands_in_full_and_reruns_change_nothing(fresh_db, company, isolated):
    with SimulatorServer(company).start() as server:
        isolated(server)
        extract_all(fresh_db, AS_OF)
        first = counts(fresh_db)
        assert first == truth(company, AS_OF)
        extract_all(fresh_db, AS_OF)  # same window again: merged on keys, no duplicates
        assert counts(fresh_db) == first
    with psycopg.connect(fresh_db) as conn:
        cost = conn.execute(
            "select sum(metrics__cost_micros::bigint) from raw_google_ads.campaign_daily"
        ).fetchone()[0]
        mql = conn.execute(
            "select count(*) from raw_hubspot.contacts "
            "where hs_lifecyclestage_marketingqualifiedlead_date is not null"
        ).fetchone()[0]
    last_day, first_day = AS_OF.date() - timedelta(days=1), AS_OF.date() - timedelta(days=365)
    assert cost == sum(r.cost_micros for r in company.ad_daily
                       if first_day <= r.date <= last_day)
    assert mql == sum(1 for c in company.contacts
                      if c.values.get("hs_lifecyclestage_marketingqualifiedlead_date"))


def test_a_later_run_adds_only_what_is_new(fresh_db, isolated):
    earlier = Company.generate(seed=7, scale=SCALE, as_of=AS_OF - timedelta(days=3))
    with SimulatorServer(earlier).start() as server:
        isolated(server)
        extract_all(fresh_db, earlier.as_of)
        assert counts(fresh_db) == truth(earlier, earlier.as_of)
    later = Company.generate(seed=7, scale=SCALE, as_of=AS_OF)
    with SimulatorServer(later).start() as server:
        isolated(server)
        extract_all(fresh_db, later.as_of)
        landed = counts(fresh_db)
    expected = truth(later, AS_OF)
    # people age out of the simulator's 365-day window but stay in the warehouse
    assert landed["raw_hubspot.contacts"] >= expected["raw_hubspot.contacts"]
    for stream in ("raw_google_ads.campaign_daily", "raw_google_ads.click_views",
                   "raw_mailchimp.email_activity"):
        assert landed[stream] >= expected[stream] > 0
    with psycopg.connect(fresh_db) as conn:
        dupes = conn.execute(
            "select count(*) - count(distinct id) from raw_hubspot.contacts").fetchone()[0]
    assert dupes == 0


def test_a_run_that_dies_midway_is_resumed_without_gap_or_duplicate(fresh_db, company,
                                                                     isolated, monkeypatch):
    # every 5th request fails with a 503 and the client gives up at once: the run dies midway
    monkeypatch.setenv("REVOPS_HTTP_MAX_ATTEMPTS", "1")
    with SimulatorServer(company, faults=FaultConfig(server_error_every=5)).start() as server:
        isolated(server)
        with pytest.raises(SourceError) as err:
            run_extract("mailchimp", fresh_db, until=AS_OF)
        assert "HTTP 503" in str(err.value) and "mailchimp" in str(err.value)
    monkeypatch.delenv("REVOPS_HTTP_MAX_ATTEMPTS")
    with SimulatorServer(company).start() as server:
        isolated(server)
        run_extract("mailchimp", fresh_db, until=AS_OF)
    landed = counts(fresh_db)
    expected = truth(company, AS_OF)
    assert landed["raw_mailchimp.email_activity"] == expected["raw_mailchimp.email_activity"]
    assert landed["raw_mailchimp.members"] == expected["raw_mailchimp.members"]


def test_throttling_is_retried_and_loses_nothing(fresh_db, company, isolated, monkeypatch):
    monkeypatch.setenv("REVOPS_HTTP_BASE_DELAY", "0.01")
    with SimulatorServer(company, faults=FaultConfig(rate_limit_every=4)).start() as server:
        isolated(server)
        run_extract("hubspot", fresh_db, until=AS_OF)
        run_extract("google_ads", fresh_db, until=AS_OF)
    landed = counts(fresh_db)
    expected = truth(company, AS_OF)
    assert landed["raw_hubspot.contacts"] == expected["raw_hubspot.contacts"]
    assert landed["raw_google_ads.click_views"] == expected["raw_google_ads.click_views"]


def test_a_bad_token_fails_at_once_naming_system_and_stream_not_the_token(fresh_db, company,
                                                                           isolated,
                                                                           monkeypatch):
    with SimulatorServer(company).start() as server:
        isolated(server)
        monkeypatch.setenv("REVOPS_HUBSPOT_TOKEN", "pat-wrong-secret-123")
        with pytest.raises(SourceError) as err:
            run_extract("hubspot", fresh_db, until=AS_OF)
    message = str(err.value)
    assert message.startswith("hubspot stream 'contacts': HTTP 401")
    assert "pat-wrong-secret-123" not in message
