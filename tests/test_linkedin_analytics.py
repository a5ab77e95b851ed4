"""LinkedIn adAnalytics under its element cap: no response can reach it, a response that does is
split and re-read, and an account too large for one call loads complete data.

LinkedIn documents no paging for adAnalytics and at most 15,000 elements per response; above
that the excess is dropped with a 200 and nothing saying so (Ads Reporting, *Restrictions*;
OWOX/owox-data-marts#1569). The simulator does the same above ``LinkedInAdsAPI.max_elements``,
which these tests lower so that the small test account exceeds it in one call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import psycopg
import pytest
import requests

from revops.simulator import Company, SimulatorServer
from revops.simulator.linkedin_ads import LinkedInAdsAPI
from revops.sources import linkedin_ads, run_extract
from revops.sources.http import SourceError
from revops.sources.linkedin_ads import MARGIN, Slice, plan, read_capped, split

SEED = 7
SCALE = 0.02
AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
HISTORY_START = (AS_OF - timedelta(days=30)).date()
CAP = 40  # the simulator's cap in these tests: 30 days x 5 campaigns is ~150 elements


# -- planning and splitting (pure) ---------------------------------------------------------------


def covered(slices: list[Slice]) -> list[tuple[str, date]]:
    return [
        (c, s.first + timedelta(days=i)) for s in slices for c in s.campaigns for i in range(s.days)
    ]


@pytest.mark.parametrize(
    ("campaigns", "days", "cap"),
    [(5, 30, 40), (1, 400, 15_000), (700, 365, 15_000), (80, 31, 15_000), (3, 10, 2)],
)
def test_every_planned_request_stays_under_the_cap_and_covers_each_campaign_day_once(
    campaigns: int, days: int, cap: int
) -> None:
    ids = [str(500_000_000 + i) for i in range(campaigns)]
    start = date(2026, 1, 1)
    ranges = plan(start, start + timedelta(days=days), ids, cap)
    slices = [s for r in ranges for s in r]
    assert all(s.most <= max(1, int(cap * MARGIN)) for s in slices)
    assert all(len(s.campaigns) <= linkedin_ads.MAX_CAMPAIGNS_PER_CALL for s in slices)
    assert all(len({s.first for s in r}) == 1 for r in ranges)  # grouped by date range
    got = covered(slices)
    assert len(got) == len(set(got)) == campaigns * days
    # a full batch's query string stays under LinkedIn's 4 KB, even with 12-digit campaign ids
    full = ",".join(
        linkedin_ads.campaign_urn("9" * 12) for _ in range(linkedin_ads.MAX_CAMPAIGNS_PER_CALL)
    )
    query = linkedin_ads.STREAMS["campaign_analytics"].path.format(
        date_range=linkedin_ads.date_range(start, start), campaign_urns=full
    )
    assert len(query.split("?", 1)[1]) < 4096


def test_the_old_single_call_would_exceed_the_cap() -> None:
    # what the connector asked before: 30 days x every campaign in one call
    assert Slice(date(2026, 10, 1), date(2026, 10, 30), tuple("abcde")).most > CAP


def truncating(rows: dict[tuple[str, date], int], cap: int, calls: list[Slice]):
    """A fake adAnalytics: the elements of a slice, cut to the newest ``cap`` as LinkedIn does."""

    def fetch(part: Slice) -> list[dict]:
        calls.append(part)
        found = [
            {"campaign": c, "day": d, "impressions": n}
            for (c, d), n in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            if c in part.campaigns and part.first <= d <= part.last
        ]
        return found[-cap:] if len(found) > cap else found

    return fetch


def test_a_response_at_the_cap_is_split_until_every_row_is_read_once() -> None:
    start = date(2026, 9, 1)
    rows = {(c, start + timedelta(days=i)): i + 1 for c in "abcdefg" for i in range(20)}
    calls: list[Slice] = []
    whole = Slice(start, start + timedelta(days=19), tuple("abcdefg"))  # 140 rows, cap 10
    got = [e for page in read_capped(truncating(rows, 10, calls), whole, 10) for e in page]
    assert len(got) == len(rows) == 140
    assert {(e["campaign"], e["day"]) for e in got} == set(rows)
    assert sum(e["impressions"] for e in got) == sum(rows.values())
    assert calls[0] == whole and len(calls) > 14  # split, campaigns first then days
    # an answer short of the cap is believed: one call
    calls.clear()
    small = Slice(start, start, tuple("abc"))
    assert [len(p) for p in read_capped(truncating(rows, 10, calls), small, 10)] == [3]
    assert calls == [small]


def test_one_campaign_day_at_the_cap_cannot_be_split() -> None:
    with pytest.raises(SourceError, match="cannot be split further"):
        split(Slice(date(2026, 9, 1), date(2026, 9, 1), ("123",)))
    halves = split(Slice(date(2026, 9, 1), date(2026, 9, 4), ("123",)))
    assert [(h.first.day, h.last.day) for h in halves] == [(1, 2), (3, 4)]


# -- the simulator enforces the cap as LinkedIn does -------------------------------------------


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)


@pytest.fixture(scope="module")
def server(company: Company, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    with SimulatorServer(company, cert_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture
def capped() -> Iterator[None]:
    with mock.patch.object(LinkedInAdsAPI, "max_elements", CAP):
        yield


def window_rows(company: Company) -> list:
    end = AS_OF.date()
    return [
        r for r in company.social.linkedin_daily if HISTORY_START <= r.day < end and r.impressions
    ]


def test_the_simulator_drops_the_excess_silently_keeping_the_newest_days(
    company: Company, server: SimulatorServer, capped: None
) -> None:
    env = server.env()
    from revops.sources.versions import vendor

    ids = ",".join(
        f"urn%3Ali%3AsponsoredCampaign%3A{c.id}" for c in company.social.linkedin_campaigns
    )
    answer = requests.get(
        f"{env['REVOPS_LINKEDIN_ADS_URL']}/rest/adAnalytics?q=analytics&pivot=CAMPAIGN"
        "&timeGranularity=DAILY&dateRange=(start:(year:2026,month:10,day:3),end:(year:2026,"
        f"month:11,day:1))&campaigns=List({ids})&fields=dateRange,pivotValues,impressions",
        headers={
            "Authorization": f"Bearer {env['REVOPS_LINKEDIN_ADS_TOKEN']}",
            "LinkedIn-Version": vendor("linkedin_ads").default,
            "X-Restli-Protocol-Version": "2.0.0",
        },
        timeout=30,
        verify=env["REQUESTS_CA_BUNDLE"],
    )
    truth = [r for r in window_rows(company) if r.day >= date(2026, 10, 3)]
    assert len(truth) > CAP
    assert answer.status_code == 200  # no error, no marker: the excess is just gone
    body = answer.json()
    assert len(body["elements"]) == CAP and set(body) == {"paging", "elements"}
    days = sorted(date(**e["dateRange"]["start"]) for e in body["elements"])
    assert days[-1] == date(2026, 11, 1) and days[0] > date(2026, 10, 3)


def test_a_query_string_over_4kb_gets_414_and_the_tunneled_request_is_answered(
    company: Company, server: SimulatorServer
) -> None:
    from revops.sources.versions import vendor

    env = server.env()
    real = [f"urn%3Ali%3AsponsoredCampaign%3A{c.id}" for c in company.social.linkedin_campaigns]
    padding = [f"urn%3Ali%3AsponsoredCampaign%3A{900_000_000 + i}" for i in range(100)]
    query = (
        "q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:(year:2026,"
        "month:10,day:1),end:(year:2026,month:10,day:7))"
        f"&campaigns=List({','.join(real + padding)})&fields=dateRange,pivotValues,impressions"
    )
    assert len(query) > 4096
    headers = {
        "Authorization": f"Bearer {env['REVOPS_LINKEDIN_ADS_TOKEN']}",
        "LinkedIn-Version": vendor("linkedin_ads").default,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    url = f"{env['REVOPS_LINKEDIN_ADS_URL']}/rest/adAnalytics"
    ca = env["REQUESTS_CA_BUNDLE"]
    long = requests.get(f"{url}?{query}", headers=headers, timeout=30, verify=ca)
    assert long.status_code == 414
    tunneled = requests.post(
        url,
        data=query,
        headers={
            **headers,
            "X-HTTP-Method-Override": "GET",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
        verify=ca,
    )
    assert tunneled.status_code == 200, tunneled.text
    week = [
        r
        for r in company.social.linkedin_daily
        if date(2026, 10, 1) <= r.day <= date(2026, 10, 7) and r.impressions
    ]
    assert len(tunneled.json()["elements"]) == len(week) > 0


# -- through the connector into a warehouse -----------------------------------------------------


def extract(server: SimulatorServer, url: str, home: Path, until: datetime, **extra: str):
    env = {
        **server.env(),
        "REVOPS_HOME": str(home),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
        "REVOPS_LINKEDIN_ADS_START_DATE": HISTORY_START.isoformat(),
        **extra,
    }
    with mock.patch.dict(os.environ, env):
        return run_extract("linkedin_ads", url, until=until)


def loaded(url: str) -> list[tuple[str, str, int, int, Decimal]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select campaign_id, date::text, impressions, clicks, "
            "cost_in_local_currency::numeric from raw_linkedin_ads.campaign_analytics"
        ).fetchall()


def check_complete(company: Company, url: str) -> None:
    rows = loaded(url)
    truth = window_rows(company)
    assert len(rows) == len(truth) > CAP
    assert {(c, d) for c, d, *_ in rows} == {(r.entity_id, r.day.isoformat()) for r in truth}
    assert sum(r[2] for r in rows) == sum(r.impressions for r in truth)
    assert sum(r[3] for r in rows) == sum(r.link_clicks for r in truth)
    cost = sum((r[4] for r in rows), Decimal(0))
    assert cost == sum(Decimal(r.spend_micros) for r in truth) / 1_000_000


def test_an_account_above_the_cap_in_one_call_loads_complete_data(
    company: Company,
    server: SimulatorServer,
    capped: None,
    fresh_db: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO"):
        extract(
            server, fresh_db, tmp_path, AS_OF, REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS=str(CAP)
        )
    check_complete(company, fresh_db)
    # planned under the cap: no response reached it, so nothing had to be split
    assert not [r for r in caplog.records if "reach the cap" in r.getMessage()]


def test_a_plan_that_overshoots_the_cap_is_split_and_still_loads_complete_data(
    company: Company,
    server: SimulatorServer,
    capped: None,
    fresh_db: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the planner believes three times the cap fits (a wrong estimate): responses come back
    # with exactly the cap's number of elements, and each is split and re-read
    with mock.patch.object(linkedin_ads, "MARGIN", 3.0), caplog.at_level("INFO"):
        extract(
            server, fresh_db, tmp_path, AS_OF, REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS=str(CAP)
        )
    assert any("reach the cap of 40" in r.getMessage() for r in caplog.records)
    check_complete(company, fresh_db)


def test_the_cap_setting_is_refused_above_linkedins_documented_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from revops.config import ConfigError

    monkeypatch.setenv("REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS", "20000")
    with pytest.raises(ConfigError, match="REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS"):
        linkedin_ads.analytics_cap()
    monkeypatch.setenv("REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS", "lots")
    with pytest.raises(ConfigError, match="not a whole number"):
        linkedin_ads.analytics_cap()
    monkeypatch.delenv("REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS")
    assert linkedin_ads.analytics_cap() == 15_000


# -- the cursor follows the data actually read ---------------------------------------------------


def analytics_cursors(url: str) -> dict[str, str]:
    from dlt.common.versioned_state import decompress_state

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select state from raw_linkedin_ads._dlt_pipeline_state "
            "order by created_at desc, version desc limit 1"
        ).fetchone()
    assert row is not None
    state = decompress_state(row[0])["sources"]["linkedin_ads"]["resources"]
    return state["campaign_analytics"]["cursors"]


def test_a_source_behind_the_runner_loses_no_day_and_the_cursor_stays_on_its_data(
    fresh_db: str, tmp_path: Path
) -> None:
    # LinkedIn's data runs three days behind the runner's window end: the cursor sits on the
    # day after the newest day read, not on the window's end; the next run reads the rest
    behind = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF - timedelta(days=3))
    with SimulatorServer(behind, cert_dir=tmp_path / "tls") as server:
        extract(server, fresh_db, tmp_path / "home", AS_OF)
        newest = max(r.day for r in behind.social.linkedin_daily if r.impressions)
        account = server.env()["REVOPS_LINKEDIN_ADS_ACCOUNT_IDS"]
        assert newest < AS_OF.date() - timedelta(days=1)
        assert analytics_cursors(fresh_db) == {account: (newest + timedelta(days=1)).isoformat()}

        caught_up = server.set_as_of(AS_OF)
        extract(server, fresh_db, tmp_path / "home", AS_OF)
    truth = window_rows(caught_up)
    rows = loaded(fresh_db)
    assert {(c, d) for c, d, *_ in rows} == {(r.entity_id, r.day.isoformat()) for r in truth}
    # restated days were re-read: the partial day of the first run holds its final numbers
    assert sum(r[2] for r in rows) == sum(r.impressions for r in truth)
    assert analytics_cursors(fresh_db)[account] == AS_OF.date().isoformat()
