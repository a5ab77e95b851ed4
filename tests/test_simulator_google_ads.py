"""Vendor simulator, Google Ads: OAuth, GAQL parsing and errors, searchStream results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from revops.simulator import SIM_CREDENTIALS, Company, SimulatorServer
from revops.simulator.gaql import Condition, GaqlError, OrderBy, parse
from revops.simulator.google_ads import failure_type
from revops.sources.versions import api_version, vendor

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
CREDS = SIM_CREDENTIALS["google_ads"]
VERSION = api_version("google_ads")  # the connector's default
FAILURE = failure_type(VERSION)


@pytest.fixture(scope="module", autouse=True)
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The simulator's certificates for this module; requests trusts its CA meanwhile."""
    path = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(path / "ca.pem"))
        yield path


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture(scope="module")
def env(company: Company, certs: Path) -> Iterator[dict[str, str]]:
    with SimulatorServer(company, cert_dir=certs) as server:
        yield server.env()


def token(env: dict[str, str], **overrides: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": CREDS["client_id"],
        "client_secret": CREDS["client_secret"],
        "refresh_token": CREDS["refresh_token"],
        **overrides,
    }
    return requests.post(env["REVOPS_GOOGLE_ADS_TOKEN_URL"], data=form, timeout=10)


@pytest.fixture(scope="module")
def headers(env: dict[str, str]) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token(env).json()['access_token']}",
        "developer-token": CREDS["developer_token"],
    }


def stream(
    env: dict[str, str], headers: dict[str, str], query: str, customer: str = "1234567890"
) -> requests.Response:
    url = f"{env['REVOPS_GOOGLE_ADS_URL']}/{VERSION}/customers/{customer}/googleAds:searchStream"
    return requests.post(url, headers=headers, json={"query": query}, timeout=30)


def rows(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [r for batch in response.json() for r in batch.get("results", [])]


def failure(response: requests.Response, http: int = 400) -> tuple[dict, str]:
    assert response.status_code == http, response.text
    error = response.json()["error"]
    assert error["code"] == http
    detail = next(d for d in error["details"] if d["@type"] == FAILURE)
    first = detail["errors"][0]
    return first["errorCode"], first["message"]


def test_gaql_parser_structure() -> None:
    q = parse(
        "select campaign.id, metrics.cost_micros FROM campaign "
        "WHERE segments.date BETWEEN '2026-10-01' AND '2026-10-31' AND campaign.status IN "
        "('ENABLED', PAUSED) "
        "AND metrics.clicks >= 10 AND campaign.name LIKE '%Brand%' AND segments.date DURING "
        "last_7_days "
        "ORDER BY metrics.cost_micros DESC, campaign.id LIMIT 5 PARAMETERS include_drafts = true"
    )
    assert q.fields == ("campaign.id", "metrics.cost_micros")
    assert q.resource == "campaign"
    assert q.conditions == (
        Condition("segments.date", "BETWEEN", ("2026-10-01", "2026-10-31")),
        Condition("campaign.status", "IN", ("ENABLED", "PAUSED")),
        Condition("metrics.clicks", ">=", (10,)),
        Condition("campaign.name", "LIKE", ("%Brand%",)),
        Condition("segments.date", "DURING", ("LAST_7_DAYS",)),
    )
    assert q.order_by == (OrderBy("metrics.cost_micros", True), OrderBy("campaign.id", False))
    assert q.limit == 5 and q.parameters == {"include_drafts": "true"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "EXPECTED_SELECT"),
        ("campaign.id FROM campaign", "EXPECTED_SELECT"),
        ("SELECT campaign.id", "EXPECTED_FROM"),
        ("SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"),
        ("SELECT campaign.id FROM campaign WHERE campaign.name = 'abc", "STRING_NOT_TERMINATED"),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_3_DAYS",
            "INVALID_VALUE_WITH_DURING_OPERATOR",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-10-01' "
            "'2026-10-02'",
            "EXPECTED_AND",
        ),
        ("SELECT campaign.id FROM campaign LIMIT 0", "BAD_LIMIT_VALUE"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.id IN ()",
            "PROHIBITED_EMPTY_LIST_IN_CONDITION",
        ),
        ("SELECT campaign.id FROM campaign ORDER campaign.id", "EXPECTED_BY"),
        ("SELECT campaign.id FROM campaign extra", "UNEXPECTED_INPUT"),
    ],
)
def test_gaql_syntax_errors(query: str, code: str) -> None:
    with pytest.raises(GaqlError) as err:
        parse(query)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT campaign.foo FROM campaign", {"queryError": "UNRECOGNIZED_FIELD"}),
        ("SELECT campaign.id FROM campaigns", {"queryError": "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"}),
        (
            "SELECT ad_group.name FROM campaign",
            {"queryError": "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"},
        ),
        (
            "SELECT campaign.id, segments.date, metrics.clicks FROM campaign",
            {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"},
        ),
        (
            "SELECT campaign.id, segments.date FROM campaign WHERE segments.date >= '2026-10-01'",
            {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"},
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date = '10/01/2026'",
            {"queryError": "INVALID_DATE_FORMAT"},
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.status = 'RUNNING'",
            {"queryError": "BAD_ENUM_CONSTANT"},
        ),
        (
            "SELECT click_view.gclid FROM click_view",
            {"clickViewError": "EXPECTED_FILTER_ON_A_SINGLE_DAY"},
        ),
        (
            "SELECT click_view.gclid FROM click_view WHERE segments.date DURING LAST_7_DAYS",
            {"clickViewError": "EXPECTED_FILTER_ON_A_SINGLE_DAY"},
        ),
        (
            "SELECT click_view.gclid FROM click_view WHERE segments.date = '2026-07-01'",
            {"clickViewError": "DATE_TOO_OLD"},
        ),
        (
            "SELECT click_view.gclid, metrics.impressions FROM click_view WHERE segments.date "
            "= '2026-10-01'",
            {"queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"},
        ),
    ],
)
def test_rejected_queries_answer_the_real_error_shape(
    env: dict, headers: dict, query: str, code: dict
) -> None:
    response = stream(env, headers, query)
    error_code, message = failure(response)
    assert error_code == code
    assert message
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_unrecognized_field_message_names_the_field(env: dict, headers: dict) -> None:
    _, message = failure(stream(env, headers, "SELECT campaign.foo FROM campaign"))
    assert message == "Unrecognized field in the query: 'campaign.foo'."


def test_customer_and_campaign_catalog(company: Company, env: dict, headers: dict) -> None:
    customer = rows(
        stream(
            env,
            headers,
            "SELECT customer.id, customer.descriptive_name, customer.currency_code, "
            "customer.time_zone FROM customer",
        )
    )
    assert customer == [
        {
            "customer": {
                "resourceName": "customers/1234567890",
                "id": "1234567890",
                "descriptiveName": "Lumenary Inc.",
                "currencyCode": "USD",
                "timeZone": "America/New_York",
            }
        }
    ]
    campaigns = rows(
        stream(
            env,
            headers,
            "SELECT campaign.id, campaign.name, campaign.status, "
            "campaign.advertising_channel_type FROM campaign",
        )
    )
    assert [c["campaign"]["advertisingChannelType"] for c in campaigns] == [
        "PERFORMANCE_MAX",
        "SEARCH",
        "VIDEO",
        "DISPLAY",
        "SEARCH",
        "SEARCH",
    ]
    assert all(
        c["campaign"]["resourceName"] == f"customers/1234567890/campaigns/{c['campaign']['id']}"
        for c in campaigns
    )
    groups = rows(
        stream(
            env,
            headers,
            "SELECT campaign.id, ad_group.id, ad_group.name, ad_group.status FROM ad_group",
        )
    )
    assert len(groups) == 11
    assert {g["campaign"]["id"] for g in groups} == {
        c.id for c in company.ad_campaigns if c.channel_type != "PERFORMANCE_MAX"
    }


def test_daily_metrics_types_ranges_and_totals(company: Company, env: dict, headers: dict) -> None:
    response = stream(
        env,
        headers,
        "SELECT campaign.id, segments.date, metrics.impressions, metrics.clicks, "
        "metrics.cost_micros, metrics.conversions FROM campaign "
        "WHERE segments.date BETWEEN '2026-10-01' AND '2026-10-31'",
    )
    batch = response.json()[0]
    assert (
        batch["fieldMask"] == "campaign.id,segments.date,metrics.impressions,metrics.clicks,"
        "metrics.costMicros,metrics.conversions"
    )
    assert len(batch["requestId"]) == 22
    data = rows(response)
    assert len(data) == 6 * 31
    first = data[0]
    assert isinstance(first["metrics"]["costMicros"], str) and isinstance(
        first["metrics"]["clicks"], str
    )
    assert isinstance(first["metrics"]["conversions"], float)
    total = sum(int(r["metrics"]["costMicros"]) for r in data)
    truth = sum(
        r.cost_micros for r in company.ad_daily if date(2026, 10, 1) <= r.date <= date(2026, 10, 31)
    )
    assert total == truth == 3_076_920_000
    # No date segment: one total row per campaign over the range.
    totals = rows(
        stream(
            env,
            headers,
            "SELECT campaign.id, metrics.cost_micros FROM campaign "
            "WHERE segments.date BETWEEN '2026-10-01' AND '2026-10-31' "
            "ORDER BY metrics.cost_micros DESC LIMIT 2",
        )
    )
    assert len(totals) == 2
    assert int(totals[0]["metrics"]["costMicros"]) >= int(totals[1]["metrics"]["costMicros"])
    yesterday = rows(
        stream(
            env,
            headers,
            "SELECT segments.date, metrics.clicks FROM customer "
            "WHERE segments.date DURING YESTERDAY",
        )
    )
    assert yesterday == [
        {
            "customer": {"resourceName": "customers/1234567890"},
            "metrics": {
                "clicks": str(
                    sum(r.clicks for r in company.ad_daily if r.date == date(2026, 10, 31))
                )
            },
            "segments": {"date": "2026-10-31"},
        }
    ]


def test_click_view_rows_and_performance_max_without_ad_group(
    company: Company, env: dict, headers: dict
) -> None:
    day = company.today - timedelta(days=3)
    data = rows(
        stream(
            env,
            headers,
            "SELECT click_view.gclid, click_view.ad_group_ad, segments.date, campaign.id, "
            f"ad_group.id FROM click_view WHERE segments.date = '{day.isoformat()}'",
        )
    )
    truth = company.clicks_on(day)
    assert len(data) == len(truth) == 36
    pmax = next(c.id for c in company.ad_campaigns if c.channel_type == "PERFORMANCE_MAX")
    for row in data:
        assert row["segments"]["date"] == day.isoformat()
        assert row["clickView"]["gclid"].startswith("Cj0KCQ")
        if row["campaign"]["id"] == pmax:
            assert "adGroup" not in row and "adGroupAd" not in row["clickView"]
        else:
            group = row["adGroup"]["id"]
            assert row["clickView"]["adGroupAd"].startswith(
                f"customers/1234567890/adGroupAds/{group}~"
            )


def test_empty_result_is_one_batch_without_results(env: dict, headers: dict) -> None:
    response = stream(
        env, headers, "SELECT campaign.id FROM campaign WHERE campaign.name = 'no such campaign'"
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 1 and "results" not in body[0]
    assert body[0]["fieldMask"] == "campaign.id"


def test_oauth_and_api_auth_failures(env: dict, headers: dict) -> None:
    good = token(env).json()
    assert good["token_type"] == "Bearer" and good["expires_in"] == 3599
    assert good["scope"] == "https://www.googleapis.com/auth/adwords"
    bad_grant = token(env, refresh_token="nope")
    assert bad_grant.status_code == 400
    assert bad_grant.json() == {"error": "invalid_grant", "error_description": "Bad Request"}
    assert token(env, client_secret="nope").json()["error"] == "invalid_client"
    query = "SELECT customer.id FROM customer"
    no_token = stream(env, {"developer-token": CREDS["developer_token"]}, query)
    assert no_token.status_code == 401 and no_token.json()["error"]["status"] == "UNAUTHENTICATED"
    bad_token = stream(env, {**headers, "Authorization": "Bearer ya29.forged"}, query)
    assert bad_token.status_code == 401 and bad_token.json()["error"]["status"] == "UNAUTHENTICATED"
    code, _ = failure(stream(env, {**headers, "developer-token": "wrong"}, query), 401)
    assert code == {"authenticationError": "DEVELOPER_TOKEN_INVALID"}
    code, _ = failure(stream(env, headers, query, customer="9999999999"), 403)
    assert code == {"authorizationError": "USER_PERMISSION_DENIED"}
    accessible = requests.get(
        f"{env['REVOPS_GOOGLE_ADS_URL']}/{VERSION}/customers:listAccessibleCustomers",
        headers=headers,
        timeout=10,
    ).json()
    assert accessible == {"resourceNames": ["customers/1234567890"]}


def test_paged_search_endpoint(env: dict, headers: dict) -> None:
    url = f"{env['REVOPS_GOOGLE_ADS_URL']}/{VERSION}/customers/1234567890/googleAds:search"
    body = requests.post(
        url,
        headers=headers,
        json={"query": "SELECT campaign.id FROM campaign", "returnTotalResultsCount": True},
        timeout=10,
    ).json()
    assert (
        body["totalResultsCount"] == "6"
        and len(body["results"]) == 6
        and "nextPageToken" not in body
    )


STATIC = {
    "Authorization": f"Bearer {CREDS['token']}",
    "developer-token": CREDS["developer_token"],
}


def at_version(env: dict, version: str, query: str) -> requests.Response:
    return requests.post(
        f"{env['REVOPS_GOOGLE_ADS_URL']}/{version}/customers/1234567890/googleAds:searchStream",
        headers=STATIC,
        json={"query": query},
        timeout=30,
    )


def test_every_served_version_answers_with_its_own_failure_type_and_the_static_token(
    company: Company, env: dict
) -> None:
    served = [v.name for v in vendor("google_ads").supported(company.as_of.date())]
    assert len(served) >= 3 and VERSION in served
    for version in served:
        answer = at_version(
            env, version, "SELECT customer.id, customer.currency_code FROM customer"
        )
        assert answer.status_code == 200, version
        assert answer.json()[0]["results"][0]["customer"]["currencyCode"] == "USD"
        wrong = at_version(env, version, "SELECT campaign.foo FROM campaign").json()["error"]
        assert [d["@type"] for d in wrong["details"]] == [failure_type(version)]


def test_the_connectors_default_version_is_served_on_the_simulators_date_and_today(
    company: Company,
) -> None:
    dated = vendor("google_ads")
    assert not dated.retired(VERSION, company.as_of.date())
    assert VERSION in [v.name for v in dated.supported(company.as_of.date())]
    assert not dated.retired(VERSION, datetime.now(UTC).date()), (
        f"Google Ads {VERSION} is past its sunset today: move the default in versions.py"
    )


def test_a_retired_version_is_refused_as_google_refuses_it(company: Company, env: dict) -> None:
    dated = vendor("google_ads")
    retired = [v.name for v in dated.versions if dated.retired(v.name, company.as_of.date())]
    assert "v21" in retired and "v22" in retired  # the old defaults (sunset Aug and Oct 2026)
    for version in retired:
        answer = at_version(env, version, "SELECT customer.id FROM customer")
        assert answer.status_code == 400, version
        error = answer.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
        [detail] = error["details"]
        assert detail["@type"] == failure_type(version)
        [first] = detail["errors"]
        assert first["errorCode"] == {"requestError": "UNSUPPORTED_VERSION"}
        assert first["message"] == (
            f"Version {version} is deprecated. Requests to this version will be blocked."
        )


@pytest.mark.parametrize("version", ["v9", "v99", "v27"])
def test_a_version_google_never_served_has_no_method(env: dict, version: str) -> None:
    answer = at_version(env, version, "SELECT customer.id FROM customer")
    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == "NOT_FOUND"
