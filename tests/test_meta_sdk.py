"""Meta's official Python client, facebook-business 26.0.3, against the simulator: the ad
account, its campaigns, synchronous insights and an async insights report run (submitted with
``get_insights(is_async=True)``, polled with ``remote_read`` until complete, read with
``get_result``).

The SDK is pointed at the simulator by its base URL and CA bundle only, through the two public
attributes of its ``FacebookSession``: ``GRAPH`` (documented as "the graph url without an ending
forward-slash"; a class attribute, set here on the session instance) and ``requests.verify``
(the SDK's own ``requests.Session``, which it points at Meta's bundled CA chain). Nothing of the
SDK is patched. ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are unset for these tests because
requests lets them override a session's ``verify``; with the variable set to the simulator's CA
instead, the SDK trusts the simulator the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from revops.simulator import Company, SimulatorServer
from revops.sources.versions import vendor

facebook_business = pytest.importorskip("facebook_business")
from facebook_business.adobjects.adaccount import AdAccount  # noqa: E402
from facebook_business.adobjects.adreportrun import AdReportRun  # noqa: E402
from facebook_business.adobjects.adsinsights import AdsInsights  # noqa: E402
from facebook_business.adobjects.campaign import Campaign  # noqa: E402
from facebook_business.api import FacebookAdsApi  # noqa: E402
from facebook_business.exceptions import FacebookRequestError  # noqa: E402
from facebook_business.session import FacebookSession  # noqa: E402

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SINCE, UNTIL = date(2026, 10, 20), date(2026, 10, 26)
FIELDS = [
    AdsInsights.Field.ad_id,
    AdsInsights.Field.date_start,
    AdsInsights.Field.impressions,
    AdsInsights.Field.spend,
    AdsInsights.Field.actions,
]
PARAMS = {
    "level": "ad",
    "time_increment": 1,
    "time_range": {"since": SINCE.isoformat(), "until": UNTIL.isoformat()},
}


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=9, scale=0.02, as_of=AS_OF)


@pytest.fixture(scope="module")
def server(company: Company, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    certs = tmp_path_factory.mktemp("tls")
    with SimulatorServer(company, cert_dir=certs) as running:
        yield running


@pytest.fixture(scope="module")
def account(server: SimulatorServer, tmp_path_factory) -> Iterator[AdAccount]:
    """The ad account through an SDK session pointed at the simulator (URL and CA only)."""
    env = server.env()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        session = FacebookSession(access_token=env["REVOPS_META_ADS_TOKEN"])
        session.GRAPH = env["REVOPS_META_ADS_URL"]
        session.requests.verify = str(Path(env["REQUESTS_CA_BUNDLE"]))
        api = FacebookAdsApi(session)  # the SDK's own default API version
        yield AdAccount(f"act_{env['REVOPS_META_ADS_ACCOUNT_IDS']}", api=api)


def truth(company: Company) -> dict[tuple[str, str], int]:
    return {
        (r.entity_id, r.day.isoformat()): r.impressions
        for r in company.social.meta_daily
        if SINCE <= r.day <= UNTIL and r.impressions > 0
    }


def test_the_sdk_speaks_the_connectors_default_version(account: AdAccount) -> None:
    assert account.get_api_assured()._api_version == FacebookAdsApi.API_VERSION == "v26.0"
    assert vendor("meta_ads").default == FacebookAdsApi.API_VERSION


def test_ad_account_and_every_campaign(account: AdAccount, company: Company) -> None:
    read = account.api_get(fields=[AdAccount.Field.name, AdAccount.Field.currency])
    assert read[AdAccount.Field.currency] == "EUR" and read[AdAccount.Field.name]
    campaigns = account.get_campaigns(
        fields=[Campaign.Field.name, Campaign.Field.effective_status],
        params={"limit": 2, "effective_status": ["ACTIVE", "PAUSED", "ARCHIVED", "DELETED"]},
    )
    ids = [c[Campaign.Field.id] for c in campaigns]  # pages of 2, cursor after cursor
    expected = {c.id for c in company.social.meta_campaigns if c.created_ms < company.as_of_ms}
    assert len(ids) == len(expected) > 2 and set(ids) == expected


def test_synchronous_insights(account: AdAccount, company: Company) -> None:
    rows = account.get_insights(fields=FIELDS, params={**PARAMS, "limit": 50})
    got = {(r[AdsInsights.Field.ad_id], r[AdsInsights.Field.date_start]): r for r in rows}
    assert {k: int(r[AdsInsights.Field.impressions]) for k, r in got.items()} == truth(company)


def test_an_async_report_run_polled_then_read(account: AdAccount, company: Company) -> None:
    job = account.get_insights(fields=FIELDS, params=PARAMS, is_async=True)
    assert isinstance(job, AdReportRun) and job[AdReportRun.Field.id]
    states = []
    while True:
        job.remote_read()
        states.append(job[AdReportRun.Field.async_status])
        if states[-1] == "Job Completed" and job[AdReportRun.Field.async_percent_completion] == 100:
            break
        assert states[-1] in ("Job Not Started", "Job Started", "Job Running"), states
        assert len(states) < 10
        time.sleep(0.01)
    assert len(states) >= 2  # the simulator's jobs need several polls, as Meta's do
    rows = job.get_result(params={"limit": 25})
    got = {(r[AdsInsights.Field.ad_id], r[AdsInsights.Field.date_start]) for r in rows}
    assert got == set(truth(company))


def test_a_failed_report_run_shows_metas_error_fields(
    account: AdAccount, server: SimulatorServer
) -> None:
    server.simulator.apis["meta_ads"].fail_first_jobs = 10**6
    try:
        job = account.get_insights(fields=FIELDS, params=PARAMS, is_async=True)
        for _ in range(10):
            job.remote_read()
            if job[AdReportRun.Field.async_status] in ("Job Failed", "Job Skipped"):
                break
        assert job[AdReportRun.Field.async_status] in ("Job Failed", "Job Skipped")
        assert job[AdReportRun.Field.error_code] == -2
        assert job[AdReportRun.Field.error_subcode] == 2490547
        with pytest.raises(FacebookRequestError) as err:
            list(job.get_result())
        assert err.value.api_error_code() == 100
    finally:
        del server.simulator.apis["meta_ads"].fail_first_jobs
