"""Vendor simulator: determinism and cross-vendor coherence, checked over real HTTP.

The company is generated at a small scale (0.05) for a fixed ``as_of`` so every run sees the
same data; the servers listen on port 0.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from revops.simulator import SIM_CREDENTIALS, Company, SimulatorServer
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)  # NY "today" is 2026-11-01, the day DST ends
# the newest version each vendor serves on the simulated day (the simulator refuses retired ones)
VERSION = {
    system: vendor(system).supported(AS_OF.date())[-1].name
    for system in ("google_ads", "meta_ads", "linkedin_ads")
}
GOOGLE_V, META_V = VERSION["google_ads"], VERSION["meta_ads"]
NY = ZoneInfo("America/New_York")
HS_AUTH = {"Authorization": "Bearer sim-hubspot-token"}
MC_AUTH = ("revops", SIM_CREDENTIALS["mailchimp"]["api_key"])
STAGE_DATES = [
    "hs_lifecyclestage_lead_date",
    "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date",
]


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


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
def server(company: Company, certs: Path) -> Iterator[SimulatorServer]:
    with SimulatorServer(company, cert_dir=certs) as srv:
        yield srv


@pytest.fixture(scope="module")
def env(server: SimulatorServer) -> dict[str, str]:
    return server.env()


def google_headers(env: dict[str, str]) -> dict[str, str]:
    creds = SIM_CREDENTIALS["google_ads"]
    token = requests.post(
        env["REVOPS_GOOGLE_ADS_TOKEN_URL"],
        data={
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"],
        },
        timeout=10,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "developer-token": creds["developer_token"]}


def gaql(env: dict[str, str], headers: dict[str, str], query: str) -> list[dict]:
    url = f"{env['REVOPS_GOOGLE_ADS_URL']}/{GOOGLE_V}/customers/1234567890/googleAds:searchStream"
    response = requests.post(url, headers=headers, json={"query": query}, timeout=30)
    assert response.status_code == 200, response.text
    return [row for batch in response.json() for row in batch.get("results", [])]


def all_contacts(env: dict[str, str], properties: list[str]) -> list[dict]:
    url = f"{env['REVOPS_HUBSPOT_URL']}/crm/v3/objects/contacts/search"
    out, after = [], None
    while True:
        body = {
            "properties": properties,
            "limit": 200,
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        }
        if after:
            body["after"] = after
        response = requests.post(url, headers=HS_AUTH, json=body, timeout=30)
        if response.status_code == 429:  # HubSpot's search limit (per second), as documented
            time.sleep(1)
            continue
        page = response.json()
        out.extend(page["results"])
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


def snapshot(server: SimulatorServer) -> list[bytes]:
    """Raw bytes of a spread of answers from every vendor (base URLs masked)."""
    env = server.env()
    headers = google_headers(env)
    mc = env["REVOPS_MAILCHIMP_URL"] + "/3.0"
    out = [
        requests.post(
            f"{env['REVOPS_HUBSPOT_URL']}/crm/v3/objects/contacts/search",
            headers=HS_AUTH,
            json={
                "limit": 50,
                "after": "100",
                "properties": ["email", "lifecyclestage", *STAGE_DATES],
            },
            timeout=30,
        ).content,
        requests.get(
            f"{env['REVOPS_HUBSPOT_URL']}/crm/v3/objects/contacts",
            headers=HS_AUTH,
            params={"limit": 20, "properties": "email,hs_google_click_id"},
            timeout=30,
        ).content,
    ]
    for query in (
        "SELECT campaign.id, campaign.name, segments.date, metrics.impressions, metrics.clicks, "
        "metrics.cost_micros, metrics.conversions FROM campaign WHERE segments.date DURING "
        "LAST_30_DAYS",
        "SELECT click_view.gclid, campaign.id, ad_group.id FROM click_view WHERE segments.date "
        "= '2026-10-28'",
    ):
        out.append(
            requests.post(
                f"{env['REVOPS_GOOGLE_ADS_URL']}/{GOOGLE_V}/customers/1234567890/googleAds:searchStream",
                headers=headers,
                json={"query": query},
                timeout=30,
            ).content
        )
    lists = requests.get(f"{mc}/lists", auth=MC_AUTH, timeout=30)
    list_id = lists.json()["lists"][0]["id"]
    out.append(lists.content)
    out.append(
        requests.get(
            f"{mc}/lists/{list_id}/members", auth=MC_AUTH, params={"count": 200}, timeout=30
        ).content
    )
    campaigns = requests.get(f"{mc}/campaigns", auth=MC_AUTH, params={"count": 1000}, timeout=30)
    out.append(campaigns.content)
    out.append(
        requests.get(f"{mc}/reports", auth=MC_AUTH, params={"count": 1000}, timeout=30).content
    )
    sent = [c["id"] for c in campaigns.json()["campaigns"] if c["status"] == "sent"]
    out.append(
        requests.get(
            f"{mc}/reports/{sent[-2]}/email-activity",
            auth=MC_AUTH,
            params={"count": 1000},
            timeout=30,
        ).content
    )
    hs = env["REVOPS_HUBSPOT_URL"]
    out.append(
        requests.get(
            f"{hs}/crm/v3/objects/deals",
            headers=HS_AUTH,
            params={"limit": 50, "properties": "amount,dealstage", "associations": "contacts"},
            timeout=30,
        ).content
    )
    sf_headers = {"Authorization": f"Bearer {env['REVOPS_SALESFORCE_TOKEN']}"}
    for soql in (
        "SELECT Id, Email, Status, Owner.Name, SystemModstamp FROM Lead ORDER BY Id LIMIT 300",
        "SELECT FIELDS(ALL) FROM Opportunity LIMIT 200",
        "SELECT Id, WhoId, Subject, CreatedDate FROM Task ORDER BY CreatedDate DESC LIMIT 100",
    ):
        out.append(
            requests.get(
                f"{env['REVOPS_SALESFORCE_URL']}/services/data/v59.0/queryAll",
                headers=sf_headers,
                params={"q": soql},
                timeout=30,
            ).content
        )
    out.append(
        requests.get(
            f"{env['REVOPS_META_ADS_URL']}/{META_V}/act_{env['REVOPS_META_ADS_ACCOUNT_IDS']}/insights",
            params={
                "access_token": env["REVOPS_META_ADS_TOKEN"],
                "level": "ad",
                "time_increment": "1",
                "date_preset": "last_7d",
                "fields": "ad_id,impressions,clicks,spend,actions",
                "limit": 500,
            },
            timeout=30,
        ).content
    )
    li = env["REVOPS_LINKEDIN_ADS_URL"]
    out.append(
        requests.get(
            f"{li}/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
            "&dateRange=(start:(year:2026,month:10,day:1))"
            f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{env['REVOPS_LINKEDIN_ADS_ACCOUNT_IDS']})"
            "&fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency",
            headers={
                "Authorization": f"Bearer {env['REVOPS_LINKEDIN_ADS_TOKEN']}",
                "LinkedIn-Version": VERSION["linkedin_ads"],
            },
            timeout=30,
        ).content
    )
    for url in server.urls.values():
        out = [body.replace(url.encode(), b"https://SIM") for body in out]
    return out


def test_same_seed_gives_byte_identical_answers_and_another_seed_differs(
    company: Company, server: SimulatorServer, certs: Path
) -> None:
    twin = Company.generate(seed=42, scale=0.05, as_of=AS_OF)
    other = Company.generate(seed=43, scale=0.05, as_of=AS_OF)
    with (
        SimulatorServer(twin, cert_dir=certs) as twin_server,
        SimulatorServer(other, cert_dir=certs) as other_server,
    ):
        first, second, third = (
            snapshot(server),
            snapshot(twin_server),
            snapshot(other_server),
        )
    assert first == second
    assert all(a != b for a, b in zip(first, third, strict=True))
    assert [p.email for p in twin.people] == [p.email for p in company.people]
    assert twin.people[0] == company.people[0]


def test_ground_truth_pins_for_seed_42(company: Company) -> None:
    # Regression pins: any change to generation shows up here first.
    assert company.today == date(2026, 11, 1)
    assert company.start_day == date(2025, 11, 1)
    assert len(company.people) == 1207
    assert len(company.contacts) == 1208
    assert len(company.archived_contacts) == 6
    assert len(company.accounts) == 150 and len(company.users) == 11
    assert len(company.salesforce("Lead")) == 1162
    assert len(company.salesforce("Opportunity")) == 91
    assert len(company.deals) == 87
    assert len(company.meta_daily) == 3535 and len(company.linkedin_daily) == 1825
    assert len(company.ad_campaigns) == 6
    assert [len(c.ad_groups) for c in company.ad_campaigns] == [2, 3, 2, 2, 2, 1]
    assert len(company.ad_groups) == 11  # Performance Max has no ad groups
    assert len({row.date for row in company.ad_daily}) == 366
    assert len(company.email_campaigns) == 63
    assert Counter(c.status for c in company.email_campaigns) == {"sent": 62, "schedule": 1}


def test_later_as_of_keeps_earlier_days_identical(
    company: Company, env: dict[str, str], certs: Path
) -> None:
    later = Company.generate(seed=42, scale=0.05, as_of=AS_OF + timedelta(days=7))
    day = date(2026, 10, 20)
    with SimulatorServer(later, cert_dir=certs) as later_server:
        later_env = later_server.env()
        window = [
            {
                "filters": [
                    {
                        "propertyName": "createdate",
                        "operator": "GTE",
                        "value": str(ms(datetime(2026, 10, 20, 4, tzinfo=UTC))),
                    },
                    {
                        "propertyName": "createdate",
                        "operator": "LT",
                        "value": "2026-10-21T04:00:00Z",
                    },
                ]
            }
        ]
        props = [
            "email",
            "createdate",
            "hs_analytics_source",
            "hs_google_click_id",
            "hs_lifecyclestage_lead_date",
        ]
        body = {"filterGroups": window, "properties": props, "limit": 200}
        url = "/crm/v3/objects/contacts/search"
        before = requests.post(
            env["REVOPS_HUBSPOT_URL"] + url, headers=HS_AUTH, json=body, timeout=30
        ).json()
        after = requests.post(
            later_env["REVOPS_HUBSPOT_URL"] + url, headers=HS_AUTH, json=body, timeout=30
        ).json()
        # A week later some of that day's contacts may have been deleted (junk, merged
        # duplicates): they are archived, never changed; the others are the same records.
        archived_later = {c.id for c in later.archived_contacts}
        kept = [r for r in before["results"] if r["id"] not in archived_later]
        assert 0 < len(kept) == after["total"] <= before["total"]

        def stable(results: list[dict]) -> list[dict]:  # modification stamps move on
            return [
                {k: v for k, v in r["properties"].items() if k != "lastmodifieddate"}
                for r in results
            ]

        assert stable(kept) == stable(after["results"])
        query = (
            "SELECT campaign.id, segments.date, metrics.impressions, metrics.clicks, "
            "metrics.cost_micros, "
            f"metrics.conversions FROM campaign WHERE segments.date = '{day.isoformat()}'"
        )
        clicks = (
            "SELECT click_view.gclid, campaign.id FROM click_view "
            f"WHERE segments.date = '{day.isoformat()}'"
        )
        assert gaql(env, google_headers(env), query) == gaql(
            later_env, google_headers(later_env), query
        )
        assert gaql(env, google_headers(env), clicks) == gaql(
            later_env, google_headers(later_env), clicks
        )
    # Stage dates visible at the earlier as_of never change; later ones only appear.
    later_people = {p.id: p for p in later.people}
    for person in company.people:
        twin = later_people.get(person.id)
        if twin is None:  # aged out of the 365-day window
            assert person.created_at.astimezone(NY).date() < later.start_day
            continue
        for stage in ("lead_at", "mql_at", "sql_at", "opportunity_at", "customer_at"):
            if getattr(person, stage) is not None:
                assert getattr(twin, stage) == getattr(person, stage)
    assert len(later.people) > len(company.people) - 40


def test_every_paid_search_contact_clicked_on_its_creation_day(
    company: Company, env: dict[str, str]
) -> None:
    headers = google_headers(env)
    contacts = all_contacts(
        env,
        ["hs_analytics_source", "hs_google_click_id", "hs_analytics_source_data_1", "createdate"],
    )
    campaigns = {c.name: c.id for c in company.ad_campaigns}
    paid = [
        c["properties"] for c in contacts if c["properties"]["hs_analytics_source"] == "PAID_SEARCH"
    ]
    oldest = company.today - timedelta(days=89)
    checked = 0
    clicks_by_day: dict[str, dict[str, str]] = {}
    for props in paid:
        day = parse_ts(props["createdate"]).astimezone(NY).date()
        if day < oldest:
            continue
        key = day.isoformat()
        if key not in clicks_by_day:
            rows = gaql(
                env,
                headers,
                "SELECT click_view.gclid, campaign.id FROM click_view WHERE segments.date = "
                f"'{key}'",
            )
            clicks_by_day[key] = {r["clickView"]["gclid"]: r["campaign"]["id"] for r in rows}
        assert (
            clicks_by_day[key][props["hs_google_click_id"]]
            == campaigns[props["hs_analytics_source_data_1"]]
        )
        checked += 1
    assert checked == sum(
        1
        for p in company.people
        if p.source == "PAID_SEARCH" and p.created_at.astimezone(NY).date() >= oldest
    )
    assert checked > 50
    assert all(p["hs_google_click_id"] for p in paid)
    assert not any(
        c["properties"]["hs_google_click_id"]
        for c in contacts
        if c["properties"]["hs_analytics_source"] != "PAID_SEARCH"
    )


def test_campaign_daily_clicks_equal_click_view_rows(company: Company, env: dict[str, str]) -> None:
    headers = google_headers(env)
    daily = gaql(
        env,
        headers,
        "SELECT campaign.id, segments.date, metrics.clicks, metrics.cost_micros, "
        "metrics.conversions FROM campaign WHERE segments.date DURING LAST_7_DAYS",
    )
    assert sorted({r["segments"]["date"] for r in daily}) == [
        (company.today - timedelta(days=i)).isoformat() for i in range(7, 0, -1)
    ]
    for day in sorted({r["segments"]["date"] for r in daily}):
        rows = gaql(
            env,
            headers,
            f"SELECT click_view.gclid, campaign.id FROM click_view WHERE segments.date = '{day}'",
        )
        per_campaign = Counter(r["campaign"]["id"] for r in rows)
        metric_rows = [r for r in daily if r["segments"]["date"] == day]
        assert {
            r["campaign"]["id"]: int(r["metrics"]["clicks"])
            for r in metric_rows
            if int(r["metrics"]["clicks"])
        } == dict(per_campaign)
        truth = {c.gclid: c.cost_micros for c in company.clicks_on(date.fromisoformat(day))}
        assert set(truth) == {r["clickView"]["gclid"] for r in rows}
        for r in metric_rows:
            cost = sum(
                truth[x["clickView"]["gclid"]]
                for x in rows
                if x["campaign"]["id"] == r["campaign"]["id"]
            )
            assert int(r["metrics"]["costMicros"]) == cost
            # Every person a click brought converted; a conversion is reported 5 minutes to 36
            # hours after the form fill, so the last days may still be short of it.
            people = sum(
                1
                for c in company.clicks_on(date.fromisoformat(day))
                if c.person_id is not None and c.campaign_id == r["campaign"]["id"]
            )
            if date.fromisoformat(day) < company.today - timedelta(days=1):
                assert r["metrics"]["conversions"] == float(people)
            else:
                assert r["metrics"]["conversions"] <= float(people)


def test_email_activity_addresses_are_list_members(company: Company, env: dict[str, str]) -> None:
    mc = env["REVOPS_MAILCHIMP_URL"] + "/3.0"
    list_id = requests.get(f"{mc}/lists", auth=MC_AUTH, timeout=30).json()["lists"][0]["id"]
    members = requests.get(
        f"{mc}/lists/{list_id}/members", auth=MC_AUTH, params={"count": 1000}, timeout=30
    ).json()
    assert members["total_items"] == len(company.members) == 578
    by_id = {m["id"]: m for m in members["members"]}
    assert all(
        mid == hashlib.md5(m["email_address"].lower().encode()).hexdigest()
        for mid, m in by_id.items()
    )
    campaigns = requests.get(
        f"{mc}/campaigns", auth=MC_AUTH, params={"count": 1000, "status": "sent"}, timeout=30
    ).json()["campaigns"]
    seen = 0
    for campaign in campaigns[-6:]:
        activity = requests.get(
            f"{mc}/reports/{campaign['id']}/email-activity",
            auth=MC_AUTH,
            params={"count": 1000},
            timeout=30,
        ).json()
        assert activity["total_items"] == campaign["emails_sent"]
        send = parse_ts(campaign["send_time"])
        for email in activity["emails"]:
            member = by_id[email["email_id"]]
            assert member["email_address"] == email["email_address"]
            assert parse_ts(member["timestamp_opt"]) < send
            for event in email["activity"]:
                assert send < parse_ts(event["timestamp"]) < AS_OF
                if event["action"] == "click":
                    assert "utm_source=mailchimp&utm_medium=email&utm_campaign=" in event["url"]
                seen += 1
    assert seen > 200


def test_stage_timestamps_are_never_after_as_of(company: Company, env: dict[str, str]) -> None:
    contacts = all_contacts(env, ["lifecyclestage", "createdate", "lastmodifieddate", *STAGE_DATES])
    assert len(contacts) == len(company.contacts)
    stages = Counter(c["properties"]["lifecyclestage"] for c in contacts)
    assert stages == Counter(p.lifecyclestage for p in company.people) + Counter(
        {"lead": len(company.contacts) - len(company.people)}
    )
    for contact in contacts:
        props = contact["properties"]
        stamps = [parse_ts(props[name]) for name in ["createdate", *STAGE_DATES] if props[name]]
        modified = parse_ts(props["lastmodifieddate"])
        assert all(s < AS_OF for s in stamps)
        assert modified < AS_OF
        assert modified >= max(stamps)
        assert contact["updatedAt"] == props["lastmodifieddate"]
    # Moving backwards keeps the later stage's date (HubSpot's behaviour).
    recycled = [
        c
        for c in contacts
        if c["properties"]["lifecyclestage"] == "lead"
        and c["properties"]["hs_lifecyclestage_marketingqualifiedlead_date"]
    ]
    assert len(recycled) == sum(1 for p in company.people if p.reset_to_lead_at is not None) > 0


# -- a linear simulator: the generated company is kept out of the garbage collector's walks ----


def test_a_generated_company_is_frozen_out_of_the_collector() -> None:
    import gc

    fresh = Company.generate(seed=3, scale=0.01, as_of="2026-11-02T09:30:00+00:00")
    tracked = gc.get_objects()  # every generation the collector walks (not the frozen one)
    assert not any(o is fresh for o in tracked)
    assert not any(o is fresh.crm for o in tracked)
    assert gc.get_freeze_count() > 1000


def test_moving_the_clock_lets_the_former_company_go(tmp_path: Path) -> None:
    import gc
    import weakref

    first = Company.generate(seed=3, scale=0.01, as_of="2026-11-02T09:30:00+00:00")
    with SimulatorServer(first, cert_dir=tmp_path / "tls") as server:
        former = weakref.ref(first)
        del first
        later = server.set_as_of("2026-11-05T09:30:00+00:00")
        assert former() is None  # reclaimed, not kept frozen forever
        assert not any(o is later for o in gc.get_objects())


def test_unsubscribes_per_campaign_are_counted_once_and_stay_right() -> None:
    fresh = Company.generate(seed=3, scale=0.02, as_of="2026-11-02T09:30:00+00:00")
    counted = Counter(
        r.unsub_campaign
        for r in fresh._member_raws
        if r.unsub_campaign and r.unsub_ms is not None and r.unsub_ms < fresh.as_of_ms
    )
    first = fresh.unsubscribes_by_campaign()
    assert first == dict(counted) and sum(first.values()) > 0
    first.clear()  # a caller changing its copy changes nothing for the next
    assert fresh.unsubscribes_by_campaign() == dict(counted)


def test_a_longer_history_is_the_same_company_further_back() -> None:
    """``history_days``: the same people per day over a longer past (the benchmark's 10x
    history); the people of the last year are the same people, from the same sources."""
    from revops.simulator.social import structure_epoch

    short = Company.generate(seed=42, scale=0.02, as_of=AS_OF)
    long = Company.generate(seed=42, scale=0.02, as_of=AS_OF, history_days=3 * 365)
    assert long.start_day == short.start_day - timedelta(days=2 * 365)
    since = datetime.combine(short.start_day, datetime.min.time(), UTC) + timedelta(days=30)

    def last_year(c: Company) -> set[tuple[str, str, str]]:
        return {(p.id, p.email, p.source) for p in c.people if p.created_at >= since}

    assert last_year(long) == last_year(short) and len(last_year(short)) > 100
    assert 2.5 < len(long.people) / len(short.people) < 3.5
    # every paid-social person of the long past came through an ad that existed then
    assert {p.source for p in long.people if p.created_at < since} >= {"PAID_SOCIAL"}
    # the ad accounts' structure starts early enough for the longer past; a year's is unchanged
    assert structure_epoch(3 * 365).date() < long.start_day - timedelta(days=150)
    assert structure_epoch(365) == datetime(2024, 2, 5, 9, tzinfo=UTC)
