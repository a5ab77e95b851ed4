"""LinkedIn's official Python client (``linkedin-api-client`` 0.3.0, package ``linkedin_api``)
against the simulator: the ``search`` finders on ad accounts and campaigns, and adAnalytics'
``analytics`` finder, the client's own Rest.li encoding and query tunneling.

How it is pointed at the simulator (the client has no base-URL option): its URLs are built from
the module constant ``linkedin_api.common.constants.VERSIONED_BASE_URL`` (read at call time by
``linkedin_api.clients.restli.utils.api.build_rest_url``), set here to the simulator's
``<REVOPS_LINKEDIN_ADS_URL>/rest``; the CA bundle goes on ``RestliClient.session.verify`` (the
client sends through ``Session.send``, which does not read ``REQUESTS_CA_BUNDLE``). Nothing
else of the client is changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import linkedin_api.common.constants as li_constants
import pytest
from linkedin_api.clients.restli.client import RestliClient

from revops.simulator import Company, SimulatorServer
from revops.simulator.linkedin_ads import LinkedInAdsAPI
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
OCTOBER = {
    "start": {"year": 2026, "month": 10, "day": 1},
    "end": {"year": 2026, "month": 10, "day": 31},
}


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=7, scale=0.02, as_of=AS_OF)


@pytest.fixture(scope="module")
def env(company: Company, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with SimulatorServer(company, cert_dir=tmp_path_factory.mktemp("tls")) as server:
        yield server.env()


@pytest.fixture
def client(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> RestliClient:
    monkeypatch.setattr(
        li_constants, "VERSIONED_BASE_URL", f"{env['REVOPS_LINKEDIN_ADS_URL']}/rest"
    )
    restli = RestliClient()
    restli.session.verify = env["REQUESTS_CA_BUNDLE"]
    return restli


def call(env: dict[str, str]) -> dict[str, str]:
    return {
        "access_token": env["REVOPS_LINKEDIN_ADS_TOKEN"],
        "version_string": vendor("linkedin_ads").default,
    }


def test_finders_search_ad_accounts_and_page_campaigns(
    company: Company, env: dict[str, str], client: RestliClient
) -> None:
    accounts = client.finder(
        resource_path="/adAccounts",
        finder_name="search",
        query_params={"search": {"status": {"values": ["ACTIVE"]}}},
        **call(env),
    )
    assert accounts.status_code == 200
    assert [a["id"] for a in accounts.elements] == [int(env["REVOPS_LINKEDIN_ADS_ACCOUNT_IDS"])]
    assert accounts.url.startswith(env["REVOPS_LINKEDIN_ADS_URL"])

    seen: list[int] = []
    params: dict = {"search": {"status": {"values": ["ACTIVE", "PAUSED"]}}, "pageSize": 2}
    while True:
        page = client.finder(
            resource_path="/adAccounts/{id}/adCampaigns",
            path_keys={"id": int(env["REVOPS_LINKEDIN_ADS_ACCOUNT_IDS"])},
            finder_name="search",
            query_params=params,
            **call(env),
        )
        assert page.status_code == 200 and len(page.elements) <= 2
        seen.extend(c["id"] for c in page.elements)
        # the client's CollectionResponse.metadata is always None (0.3.0 reads it with
        # getattr on a dict); the page token is in the body
        token = page.response.json()["metadata"].get("nextPageToken")
        if not token:
            break
        params = {**params, "pageToken": token}
    assert sorted(seen) == sorted(int(c.id) for c in company.social.linkedin_campaigns)


def test_ad_analytics_finder_matches_the_simulators_truth(
    company: Company, env: dict[str, str], client: RestliClient
) -> None:
    campaigns = [f"urn:li:sponsoredCampaign:{c.id}" for c in company.social.linkedin_campaigns]
    answer = client.finder(
        resource_path="/adAnalytics",
        finder_name="analytics",
        query_params={
            "pivot": "CAMPAIGN",
            "timeGranularity": "DAILY",
            "dateRange": OCTOBER,
            "campaigns": campaigns,
            "fields": "dateRange,pivotValues,impressions,clicks,costInLocalCurrency",
        },
        **call(env),
    )
    assert answer.status_code == 200, answer.response.text
    truth = {
        (r.entity_id, r.day): r
        for r in company.social.linkedin_daily
        if date(2026, 10, 1) <= r.day <= date(2026, 10, 31) and r.impressions
    }
    got = {
        (e["pivotValues"][0].rsplit(":", 1)[-1], date(**e["dateRange"]["start"])): e
        for e in answer.elements
    }
    assert got.keys() == truth.keys() and len(got) > 100
    assert sum(e["impressions"] for e in got.values()) == sum(r.impressions for r in truth.values())
    assert sum(e["clicks"] for e in got.values()) == sum(r.link_clicks for r in truth.values())


def test_a_long_query_is_tunneled_by_the_client_and_answered_alike(
    company: Company, env: dict[str, str], client: RestliClient
) -> None:
    real = [f"urn:li:sponsoredCampaign:{c.id}" for c in company.social.linkedin_campaigns]
    # over the client's 4,000-character threshold: it sends POST + X-HTTP-Method-Override: GET
    padding = [f"urn:li:sponsoredCampaign:{900_000_000 + i}" for i in range(120)]
    query = {
        "pivot": "CAMPAIGN",
        "timeGranularity": "DAILY",
        "dateRange": OCTOBER,
        "fields": "dateRange,pivotValues,impressions",
    }
    short = client.finder(
        resource_path="/adAnalytics",
        finder_name="analytics",
        query_params={**query, "campaigns": real},
        **call(env),
    )
    long = client.finder(
        resource_path="/adAnalytics",
        finder_name="analytics",
        query_params={**query, "campaigns": real + padding},
        **call(env),
    )
    assert long.response.request.method == "POST"
    assert long.response.request.headers["X-HTTP-Method-Override"] == "GET"
    assert long.status_code == 200 and long.elements == short.elements
    assert short.response.request.method == "GET"


def test_the_cap_and_a_retired_version_reach_the_client_as_linkedin_sends_them(
    company: Company, env: dict[str, str], client: RestliClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LinkedInAdsAPI, "max_elements", 25)
    campaigns = [f"urn:li:sponsoredCampaign:{c.id}" for c in company.social.linkedin_campaigns]
    capped = client.finder(
        resource_path="/adAnalytics",
        finder_name="analytics",
        query_params={
            "pivot": "CAMPAIGN",
            "timeGranularity": "DAILY",
            "dateRange": OCTOBER,
            "campaigns": campaigns,
        },
        **call(env),
    )
    assert capped.status_code == 200 and len(capped.elements) == 25  # silently cut
    retired = client.finder(
        resource_path="/adAccounts",
        finder_name="search",
        access_token=env["REVOPS_LINKEDIN_ADS_TOKEN"],
        version_string="202410",
    )
    assert retired.status_code == 426
    assert retired.response.json()["code"] == "NONEXISTENT_VERSION"
