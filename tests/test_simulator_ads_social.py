"""Vendor simulator, Meta and LinkedIn: account structure, paging, daily metrics, errors, and
the coherence of paid-social people (fbclid, li_fat_id) with what the platforms report."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from revops.simulator import Company, SimulatorServer
from revops.simulator.linkedin_ads import parse_restli
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
META_VERSION = vendor("meta_ads").default  # the connector's default, served on AS_OF


@pytest.fixture(scope="module", autouse=True)
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The simulator's certificates for this module; requests trusts its CA meanwhile."""
    path = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(path / "ca.pem"))
        yield path


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.1, as_of=AS_OF)


@pytest.fixture(scope="module")
def env(company: Company, certs: Path) -> Iterator[dict[str, str]]:
    with SimulatorServer(company, cert_dir=certs) as server:
        yield server.env()


def meta(env: dict[str, str], path: str, **params: object) -> requests.Response:
    params = {"access_token": env["REVOPS_META_ADS_TOKEN"], **params}
    return requests.get(
        f"{env['REVOPS_META_ADS_URL']}/{META_VERSION}/{path}", params=params, timeout=30
    )


def meta_all(env: dict[str, str], path: str, **params: object) -> list[dict]:
    out: list[dict] = []
    answer = meta(env, path, **params).json()
    while True:
        out.extend(answer["data"])
        nxt = answer.get("paging", {}).get("next")
        if not nxt:
            return out
        answer = requests.get(nxt, timeout=30).json()


LI_HEADERS = {
    "LinkedIn-Version": vendor("linkedin_ads").default,
    "X-Restli-Protocol-Version": "2.0.0",
}


def linkedin(env: dict[str, str], path: str) -> requests.Response:
    headers = {**LI_HEADERS, "Authorization": f"Bearer {env['REVOPS_LINKEDIN_ADS_TOKEN']}"}
    return requests.get(f"{env['REVOPS_LINKEDIN_ADS_URL']}{path}", headers=headers, timeout=30)


def account_id(env: dict[str, str]) -> str:
    return env["REVOPS_META_ADS_ACCOUNT_IDS"]


# ------------------------------------------------------------------------ Meta


def test_meta_account_structure_and_cursor_paging(company: Company, env: dict[str, str]) -> None:
    acct = meta(
        env,
        f"act_{account_id(env)}",
        fields="id,account_id,name,currency,timezone_name,timezone_offset_hours_utc",
    ).json()
    assert acct["currency"] == "EUR" and acct["timezone_name"] == "Europe/Berlin"
    assert acct["timezone_offset_hours_utc"] == 1.0 and acct["id"] == f"act_{account_id(env)}"
    assert meta(env, f"act_{account_id(env)}/campaigns").json()["data"][0].keys() == {"id"}
    ads = meta_all(
        env,
        f"act_{account_id(env)}/ads",
        limit=3,
        fields="id,name,adset_id,campaign_id,effective_status,creative,created_time",
    )
    assert sorted(a["id"] for a in ads) == sorted(a.id for a in company.social.meta_ads)
    assert len({a["id"] for a in ads}) == len(ads) == 10
    paused = [a for a in ads if a["effective_status"] == "CAMPAIGN_PAUSED"]
    assert len(paused) == 1 and paused[0]["created_time"].endswith(("+0100", "+0200"))
    active = meta(
        env,
        f"act_{account_id(env)}/campaigns",
        fields="name,status",
        effective_status=json.dumps(["ACTIVE"]),
    ).json()["data"]
    assert len(active) == 3 and all(c["status"] == "ACTIVE" for c in active)
    first = meta(env, f"act_{account_id(env)}/campaigns", limit=2).json()
    assert set(first["paging"]["cursors"]) == {"before", "after"} and "next" in first["paging"]
    last = meta(
        env, f"act_{account_id(env)}/campaigns", limit=2, after=first["paging"]["cursors"]["after"]
    ).json()
    assert "next" not in last["paging"] and len(first["data"] + last["data"]) == 4


def test_meta_daily_ad_insights_are_strings_and_match_the_ground_truth(
    company: Company, env: dict[str, str]
) -> None:
    rows = meta_all(
        env,
        f"act_{account_id(env)}/insights",
        level="ad",
        time_increment=1,
        limit=100,
        time_range=json.dumps({"since": "2026-10-01", "until": "2026-10-31"}),
        fields="ad_id,campaign_id,impressions,clicks,inline_link_clicks,spend,actions,"
        "date_start,date_stop,account_currency",
    )
    truth = {
        (r.day.isoformat(), r.entity_id): r
        for r in company.meta_daily
        if date(2026, 10, 1) <= r.day <= date(2026, 10, 31)
    }
    assert len(rows) == len(truth) > 200
    for row in rows:
        fact = truth[(row["date_start"], row["ad_id"])]
        assert row["date_start"] == row["date_stop"]
        assert row["impressions"] == str(fact.impressions)
        assert row["inline_link_clicks"] == str(fact.link_clicks)
        assert row["spend"] == f"{fact.spend_micros / 1e6:.2f}"
        assert row["account_currency"] == "EUR"
        actions = {a["action_type"]: a["value"] for a in row.get("actions", [])}
        assert all(isinstance(v, str) for v in actions.values())
        if fact.leads:
            assert actions["lead"] == str(fact.leads)
    monthly = meta(
        env,
        f"act_{account_id(env)}/insights",
        level="campaign",
        time_range=json.dumps({"since": "2026-10-01", "until": "2026-10-31"}),
        fields="campaign_id,spend",
    ).json()["data"]
    assert sum(float(r["spend"]) for r in monthly) == pytest.approx(
        sum(f.spend_micros for f in truth.values()) / 1e6, abs=0.02
    )


def test_meta_async_reports_and_errors(env: dict[str, str]) -> None:
    base = f"{env['REVOPS_META_ADS_URL']}/{META_VERSION}"
    run = requests.post(
        f"{base}/act_{account_id(env)}/insights",
        data={
            "access_token": env["REVOPS_META_ADS_TOKEN"],
            "level": "ad",
            "time_increment": "1",
            "date_preset": "last_7d",
            "fields": "ad_id,spend",
        },
        timeout=30,
    ).json()
    early = meta(env, f"{run['report_run_id']}/insights").json()["error"]
    assert early["code"] == 100 and "not complete" in early["message"]
    states = []
    while not states or states[-1]["async_status"] != "Job Completed":
        states.append(meta(env, run["report_run_id"]).json())
        assert len(states) <= 5, states  # the default job takes 2 to 5 polls
    assert states[0]["async_status"] == "Job Not Started" and len(states) >= 2
    assert {s["async_status"] for s in states[1:-1]} <= {"Job Started", "Job Running"}
    assert [s["async_percent_completion"] for s in states] == sorted(
        s["async_percent_completion"] for s in states
    )
    assert states[-1]["async_percent_completion"] == 100 and not states[-1]["is_running"]
    rows = meta_all(env, f"{run['report_run_id']}/insights", limit=50)
    assert rows and {r["date_start"] for r in rows} <= {
        (date(2026, 11, 2) - timedelta(days=d)).isoformat() for d in range(1, 8)
    }
    bad = meta(env, f"act_{account_id(env)}/insights", fields="ad_id,nonsense").json()["error"]
    assert bad["code"] == 100 and "nonsense" in bad["message"] and bad["fbtrace_id"]
    token = requests.get(f"{base}/act_{account_id(env)}", params={"access_token": "x"}, timeout=30)
    assert token.status_code == 400 and token.json()["error"]["code"] == 190
    other = meta(env, "act_42/campaigns").json()["error"]
    assert other["code"] == 100 and other["error_subcode"] == 33
    old = requests.get(
        f"{env['REVOPS_META_ADS_URL']}/v12.0/act_{account_id(env)}",
        params={"access_token": env["REVOPS_META_ADS_TOKEN"]},
        timeout=30,
    )
    assert old.status_code == 400
    bearer = requests.get(
        f"{base}/act_{account_id(env)}",
        timeout=30,
        headers={"Authorization": f"Bearer {env['REVOPS_META_ADS_TOKEN']}"},
    )
    assert bearer.json() == {"id": f"act_{account_id(env)}", "account_id": account_id(env)}


# ------------------------------------------------------------------------ LinkedIn


def test_restli_values() -> None:
    assert parse_restli("(status:(values:List(ACTIVE,PAUSED)))") == {
        "status": {"values": ["ACTIVE", "PAUSED"]}
    }
    assert parse_restli("(start:(year:2026,month:10,day:1),end:(year:2026,month:10,day:31))") == {
        "start": {"year": "2026", "month": "10", "day": "1"},
        "end": {"year": "2026", "month": "10", "day": "31"},
    }
    assert parse_restli("List(urn:li:sponsoredCampaign:1,urn:li:sponsoredCampaign:2)") == [
        "urn:li:sponsoredCampaign:1",
        "urn:li:sponsoredCampaign:2",
    ]


def test_linkedin_accounts_groups_campaigns_and_page_tokens(
    company: Company, env: dict[str, str]
) -> None:
    acct = env["REVOPS_LINKEDIN_ADS_ACCOUNT_IDS"]
    accounts = linkedin(env, "/rest/adAccounts?q=search").json()["elements"]
    assert accounts[0]["id"] == int(acct) and accounts[0]["currency"] == "USD"
    seen: list[int] = []
    token = ""
    while True:
        page = linkedin(
            env,
            f"/rest/adAccounts/{acct}/adCampaigns?q=search&search=(status:"
            f"(values:List(ACTIVE,PAUSED)))&pageSize=2{token}",
        ).json()
        seen.extend(e["id"] for e in page["elements"])
        nxt = page["metadata"].get("nextPageToken")
        if not nxt:
            break
        token = f"&pageToken={nxt}"
    assert sorted(seen) == sorted(int(c.id) for c in company.social.linkedin_campaigns)
    groups = linkedin(env, f"/rest/adAccounts/{acct}/adCampaignGroups?q=search").json()
    assert {g["name"] for g in groups["elements"]} == {
        "ABM - RevOps Leaders",
        "Lead Gen - Metrics Handbook",
        "Brand Awareness",
    }
    legacy = linkedin(
        env,
        "/rest/adCampaigns?q=search&search=(account:(values:List("
        f"urn%3Ali%3AsponsoredAccount%3A{acct})))",
    ).json()
    assert len(legacy["elements"]) == len(seen)
    one = linkedin(env, f"/rest/adAccounts/{acct}/adCampaigns/{seen[0]}").json()
    assert one["account"] == f"urn:li:sponsoredAccount:{acct}"
    assert one["dailyBudget"]["currencyCode"] == "USD"


def test_linkedin_daily_analytics(company: Company, env: dict[str, str]) -> None:
    ids = ",".join(
        f"urn%3Ali%3AsponsoredCampaign%3A{c.id}" for c in company.social.linkedin_campaigns
    )
    answer = linkedin(
        env,
        "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
        "&dateRange=(start:(year:2026,month:10,day:1),end:(year:2026,month:10,day:31))"
        f"&campaigns=List({ids})&fields=dateRange,pivotValues,impressions,clicks,"
        "costInLocalCurrency,externalWebsiteConversions",
    )
    assert answer.status_code == 200, answer.text
    elements = answer.json()["elements"]
    truth = {
        (r.day, r.entity_id): r
        for r in company.linkedin_daily
        if date(2026, 10, 1) <= r.day <= date(2026, 10, 31)
    }
    assert len(elements) == len(truth) > 100
    for e in elements:
        start = e["dateRange"]["start"]
        day = date(start["year"], start["month"], start["day"])
        fact = truth[(day, e["pivotValues"][0].rsplit(":", 1)[-1])]
        assert e["impressions"] == fact.impressions and e["clicks"] == fact.link_clicks
        assert isinstance(e["costInLocalCurrency"], str)
        assert float(e["costInLocalCurrency"]) == pytest.approx(fact.spend_micros / 1e6)
        assert set(e) == {
            "dateRange",
            "pivotValues",
            "impressions",
            "clicks",
            "costInLocalCurrency",
            "externalWebsiteConversions",
        }
    total = linkedin(
        env,
        "/rest/adAnalytics?q=analytics&pivot=(value:ACCOUNT)&timeGranularity=(value:ALL)"
        "&dateRange=(start:(year:2026,month:10,day:1),end:(year:2026,month:10,day:31))"
        f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{env['REVOPS_LINKEDIN_ADS_ACCOUNT_IDS']})"
        "&fields=impressions,clicks",
    ).json()["elements"]
    assert total == [
        {
            "impressions": sum(f.impressions for f in truth.values()),
            "clicks": sum(f.link_clicks for f in truth.values()),
        }
    ]
    errors = [
        linkedin(
            env,
            "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
            "&dateRange=(start:(year:2026,month:10,day:1))",
        ),
        linkedin(
            env,
            "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
            f"&dateRange=(start:(year:2026,month:10,day:1))&campaigns=List({ids})"
            "&fields=nonsense",
        ),
    ]
    assert all(e.status_code == 400 and e.json()["code"] == "ILLEGAL_ARGUMENT" for e in errors)
    missing = requests.get(
        f"{env['REVOPS_LINKEDIN_ADS_URL']}/rest/adAccounts?q=search",
        headers={"Authorization": f"Bearer {env['REVOPS_LINKEDIN_ADS_TOKEN']}"},
        timeout=30,
    )
    assert missing.status_code == 400 and missing.json()["code"] == "VERSION_MISSING"


# ------------------------------------------------------------------------ coherence


def test_paid_social_people_are_on_the_platforms(company: Company, env: dict[str, str]) -> None:
    hs = env["REVOPS_HUBSPOT_URL"]
    props = [
        "hs_analytics_source",
        "hs_analytics_source_data_1",
        "hs_facebook_click_id",
        "li_fat_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "createdate",
        "hs_analytics_first_url",
    ]
    contacts = []
    after = None
    while True:
        body = {
            "limit": 200,
            "properties": props,
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_analytics_source",
                            "operator": "EQ",
                            "value": "PAID_SOCIAL",
                        }
                    ]
                }
            ],
        }
        if after:
            body["after"] = after
        page = requests.post(
            f"{hs}/crm/v3/objects/contacts/search",
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {env['REVOPS_HUBSPOT_TOKEN']}"},
        ).json()
        contacts.extend(c["properties"] for c in page["results"])
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    meta_people: Counter[tuple[str, str]] = Counter()
    li_people: Counter[tuple[str, str]] = Counter()
    ads = {a.id: a for a in company.social.meta_ads}
    campaigns = {c.id: c for c in company.social.linkedin_campaigns}
    for p in contacts:
        assert p["utm_medium"] == "paid_social"
        if p["hs_analytics_source_data_1"] == "Facebook":
            assert p["hs_facebook_click_id"].startswith("IwAR") and not p["li_fat_id"]
            ad = ads[p["utm_content"]]
            assert p["utm_source"] == "facebook"
            assert p["utm_campaign"] == company.social.meta_campaign(ad.campaign_id).utm_campaign
            assert f"fbclid={p['hs_facebook_click_id']}" in p["hs_analytics_first_url"]
        else:
            assert len(p["li_fat_id"]) == 36 and not p["hs_facebook_click_id"]
            assert p["utm_source"] == "linkedin" and p["utm_content"] in campaigns
    clicks = company.social_clicks
    assert {c.click_id for c in clicks if c.platform == "meta_ads"} == {
        p["hs_facebook_click_id"] for p in contacts if p["hs_facebook_click_id"]
    } | {
        c.values["hs_facebook_click_id"]
        for c in company.archived_contacts
        if c.values.get("hs_facebook_click_id")
    }
    for c in clicks:
        (meta_people if c.platform == "meta_ads" else li_people)[
            (c.day.isoformat(), c.entity_id)
        ] += 1
    assert sum(meta_people.values()) > 20 and sum(li_people.values()) > 40
    # The platforms' link clicks on the click's day and ad are never fewer than the people.
    reported = {(r.day.isoformat(), r.entity_id): r.link_clicks for r in company.meta_daily}
    assert all(
        reported.get(k, 0) >= n
        for k, n in meta_people.items()
        if k[0] >= (company.today - timedelta(days=364)).isoformat()
    )
    reported = {(r.day.isoformat(), r.entity_id): r.link_clicks for r in company.linkedin_daily}
    assert all(
        reported.get(k, 0) >= n
        for k, n in li_people.items()
        if k[0] >= (company.today - timedelta(days=364)).isoformat()
    )
    day, ad_id = max(meta_people, key=lambda k: (meta_people[k], k))
    rows = meta(
        env,
        f"act_{account_id(env)}/insights",
        level="ad",
        time_increment=1,
        time_range=json.dumps({"since": day, "until": day}),
        fields="ad_id,inline_link_clicks",
    ).json()["data"]
    row = next(r for r in rows if r["ad_id"] == ad_id)
    assert int(row["inline_link_clicks"]) >= meta_people[(day, ad_id)]


def test_meta_fields_as_a_json_array_as_the_sdk_sends_them(env: dict[str, str]) -> None:
    base = f"{env['REVOPS_META_ADS_URL']}/{META_VERSION}"
    token = env["REVOPS_META_ADS_TOKEN"]
    run = requests.post(
        f"{base}/act_{account_id(env)}/insights",
        data={
            "access_token": token,
            "level": "ad",
            "time_increment": "1",
            "date_preset": "last_7d",
            "fields": json.dumps(["ad_id", "spend"]),
        },
        timeout=30,
    ).json()["report_run_id"]
    while meta(env, run).json()["async_status"] != "Job Completed":
        pass
    rows = meta_all(env, f"{run}/insights", limit=50)
    assert rows and {frozenset(r) for r in rows} == {
        frozenset({"ad_id", "spend", "date_start", "date_stop"})
    }
    ads = meta(env, f"act_{account_id(env)}/ads", fields='["name","creative{id}"]', limit=3)
    assert {frozenset(a) for a in ads.json()["data"]} == {frozenset({"id", "name", "creative"})}
    nested = meta(env, f"act_{account_id(env)}/ads", fields="name,creative{id,name}", limit=1)
    assert set(nested.json()["data"][0]) == {"id", "name", "creative"}
    bad = meta(env, f"act_{account_id(env)}/ads", fields='["name", 3]').json()["error"]
    assert bad["code"] == 100 and "fields" in bad["message"]
