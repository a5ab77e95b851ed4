"""Vendor simulator, HubSpot: contacts, companies, deals, owners, pipelines, associations,
archived records, property histories, paging, the 10,000 cap, filters, auth, the official client.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from revops.simulator import Company, SimulatorServer

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
AUTH = {"Authorization": "Bearer sim-hubspot-token"}


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
def base(company: Company, certs: Path) -> Iterator[str]:
    with SimulatorServer(company, cert_dir=certs) as server:
        # these tests walk pages as fast as they can; the search limit has its own tests
        server.simulator.apis["hubspot"].limits.search_per_second = None  # type: ignore[attr-defined]
        yield server.urls["hubspot"]


def search(base: str, body: dict, headers: dict | None = None) -> requests.Response:
    return requests.post(
        f"{base}/crm/v3/objects/contacts/search", json=body, headers=headers or AUTH, timeout=30
    )


def test_search_paging_walk_returns_every_contact_exactly_once(company: Company, base: str) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body: dict = {"limit": 100, "properties": ["email"]}
        if after is not None:
            body["after"] = after
        page = search(base, body).json()
        assert page["total"] == len(company.contacts)
        seen.extend(r["id"] for r in page["results"])
        pages += 1
        nxt = page.get("paging", {}).get("next")
        if nxt is None:
            break
        assert nxt["after"] == str(100 * pages)
        after = nxt["after"]
    assert pages == (len(company.contacts) + 99) // 100
    assert len(seen) == len(set(seen)) == len(company.contacts) == 1208
    assert seen == sorted(seen, key=int)  # unsorted search answers in hs_object_id order


def test_list_endpoint_cursor_walk_matches_search(company: Company, base: str) -> None:
    seen: list[str] = []
    url = f"{base}/crm/v3/objects/contacts"
    params: dict = {"limit": 100, "properties": "email,lifecyclestage"}
    while True:
        page = requests.get(url, headers=AUTH, params=params, timeout=30).json()
        seen.extend(r["id"] for r in page["results"])
        assert set(page["results"][0]["properties"]) == {
            "email",
            "lifecyclestage",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
        }
        nxt = page.get("paging", {}).get("next")
        if nxt is None:
            break
        assert nxt["link"].startswith(f"{base}/crm/v3/objects/contacts?")
        params["after"] = nxt["after"]
    assert seen == [c.id for c in company.contacts]
    capped = requests.get(url, headers=AUTH, params={"limit": 500}, timeout=30).json()
    assert len(capped["results"]) == 100


def test_the_10000_result_cap_is_a_validation_error(base: str) -> None:
    at_cap = search(base, {"limit": 200, "after": "9800"})
    assert at_cap.status_code == 200
    assert at_cap.json()["results"] == [] and "paging" not in at_cap.json()
    over = search(base, {"limit": 200, "after": "9900"})
    assert over.status_code == 400
    body = over.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert "10000" in body["message"] and body["correlationId"]
    too_big = search(base, {"limit": 201})
    assert too_big.status_code == 400 and too_big.json()["category"] == "VALIDATION_ERROR"


def test_filters_on_dates_ids_and_strings(company: Company, base: str) -> None:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    until = datetime(2026, 10, 15, tzinfo=UTC)
    expected = sorted(
        c.id
        for c in company.contacts
        if since.timestamp() * 1000 <= c.updated_ms < until.timestamp() * 1000
    )
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(int(since.timestamp() * 1000)),
                    },
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "LT",
                        "value": "2026-10-15T00:00:00.000Z",
                    },
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        "limit": 200,
    }
    page = search(base, body).json()
    assert page["total"] == len(expected) > 20
    stamps = [r["properties"]["lastmodifieddate"] for r in page["results"]]
    assert stamps == sorted(stamps, reverse=True)
    assert sorted(r["id"] for r in page["results"]) == expected
    # Numeric hs_object_id comparison, as the connector uses to step past the cap.
    pivot = company.contacts[1000].id
    page = search(
        base,
        {
            "filterGroups": [
                {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": pivot}]}
            ],
            "limit": 200,
        },
    ).json()
    assert page["total"] == len(company.contacts) - 1001
    assert page["results"][0]["id"] == company.contacts[1001].id
    # OR across filter groups.
    both = search(
        base,
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}
                    ]
                },
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "opportunity"}
                    ]
                },
            ]
        },
    ).json()
    assert (
        both["total"]
        == sum(1 for p in company.people if p.lifecyclestage in ("customer", "opportunity"))
        > 50
    )


def test_duplicate_contacts_share_an_email_up_to_case_and_whitespace(
    company: Company, base: str
) -> None:
    person = next(p for p in company.people if p.duplicate_contact_ids)
    page = search(
        base,
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_analytics_source",
                            "operator": "EQ",
                            "value": "OFFLINE",
                        },
                        {
                            "propertyName": "hs_object_id",
                            "operator": "EQ",
                            "value": person.duplicate_contact_ids[0],
                        },
                    ]
                }
            ],
            "properties": ["email", "hs_analytics_source_data_1"],
        },
    ).json()
    assert page["total"] == 1
    dup_email = page["results"][0]["properties"]["email"]
    assert dup_email != person.email and dup_email.strip().lower() == person.email
    # Most duplicates get merged: the duplicate is archived, the survivor lists it.
    merged = [c for c in company.archived_contacts if c.is_duplicate]
    assert merged and all(
        company.person(c.person_id) is None
        or company.person(c.person_id).duplicate_contact_ids == ()  # type: ignore[union-attr]
        for c in merged
    )


def test_properties_are_strings_or_null_and_timestamps_use_milliseconds(
    company: Company, base: str
) -> None:
    person = company.people[0]
    record = requests.get(
        f"{base}/crm/v3/objects/contacts/{person.id}",
        headers=AUTH,
        params={"properties": "email,company,hs_lifecyclestage_customer_date"},
        timeout=30,
    ).json()
    props = record["properties"]
    assert props["email"] == person.email
    assert props["hs_object_id"] == person.id
    assert props["hs_lifecyclestage_customer_date"] is None
    assert (
        props["createdate"]
        == person.created_at.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{person.created_at.microsecond // 1000:03d}Z"
    )
    assert record["archived"] is False and record["createdAt"] == props["createdate"]
    missing = requests.get(f"{base}/crm/v3/objects/contacts/1", headers=AUTH, timeout=30)
    assert missing.status_code == 404


def test_bad_or_missing_token_is_401(base: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.post(
            f"{base}/crm/v3/objects/contacts/search", json={}, headers=headers, timeout=30
        )
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found.")


def test_invalid_filters_are_validation_errors(base: str) -> None:
    unknown = search(
        base,
        {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]},
    )
    assert unknown.status_code == 400 and unknown.json()["category"] == "VALIDATION_ERROR"
    bad_op = search(
        base,
        {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}
            ]
        },
    )
    assert bad_op.status_code == 400
    bad_date = search(
        base,
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "createdate", "operator": "GT", "value": "yesterday"}
                    ]
                }
            ]
        },
    )
    assert bad_date.status_code == 400


# ------------------------------------------------------------------------ companies and deals


def walk(base: str, obj: str, params: dict | None = None) -> list[dict]:
    out: list[dict] = []
    query = {"limit": 100, **(params or {})}
    while True:
        page = requests.get(
            f"{base}/crm/v3/objects/{obj}", headers=AUTH, params=query, timeout=30
        ).json()
        out.extend(page["results"])
        nxt = page.get("paging", {}).get("next")
        if nxt is None:
            return out
        query["after"] = nxt["after"]


def test_companies_and_deals_list_in_id_order_with_string_properties(
    company: Company, base: str
) -> None:
    companies = walk(
        base,
        "companies",
        {"properties": "name,domain,salesforceaccountid,lifecyclestage,numberofemployees"},
    )
    assert [c["id"] for c in companies] == [c.id for c in company.companies]
    assert len(companies) == len(company.accounts) == 150
    first = companies[0]["properties"]
    account = next(a for a in company.accounts if a.hubspot_id == companies[0]["id"])
    assert first["name"] == account.name and first["domain"] == account.domain
    assert first["salesforceaccountid"] == account.sf_id
    assert first["numberofemployees"] == str(account.employees)
    deals = walk(
        base,
        "deals",
        {
            "properties": "dealname,amount,deal_currency_code,closedate,dealstage,pipeline,"
            "hs_is_closed_won,salesforceopportunityid,hubspot_owner_id"
        },
    )
    assert [d["id"] for d in deals] == [d.id for d in company.deals] and len(deals) > 40
    for d in deals:
        props = d["properties"]
        assert props["pipeline"] == "default"
        assert props["deal_currency_code"] in ("USD", "EUR", "GBP")
        assert float(props["amount"]) > 0 and props["amount"] == props["amount"].strip()
        assert props["hs_is_closed_won"] in ("true", "false")
        assert props["closedate"].endswith("T00:00:00.000Z")
        assert props["salesforceopportunityid"].startswith("006")
        assert props["hs_is_closed_won"] == (
            "true" if props["dealstage"] == "closedwon" else "false"
        )
    owners = {u.owner_id for u in company.users if u.owner_id}
    assert {d["properties"]["hubspot_owner_id"] for d in deals} <= owners


def test_deal_stage_history_and_pipeline(company: Company, base: str) -> None:
    won = next(d for d in company.deals if d.values["dealstage"] == "closedwon")
    record = requests.get(
        f"{base}/crm/v3/objects/deals/{won.id}",
        headers=AUTH,
        params={"properties": "dealstage", "propertiesWithHistory": "dealstage,amount"},
        timeout=30,
    ).json()
    history = record["propertiesWithHistory"]["dealstage"]
    assert history[0]["value"] == "closedwon"  # newest first
    stamps = [h["timestamp"] for h in history]
    assert stamps == sorted(stamps, reverse=True) and len(history) >= 3
    assert history[-1]["value"] in ("appointmentscheduled", "qualifiedtobuy")
    assert record["propertiesWithHistory"]["amount"][-1]["timestamp"] == record["createdAt"]
    pipelines = requests.get(f"{base}/crm/v3/pipelines/deals", headers=AUTH, timeout=30).json()
    stages = pipelines["results"][0]["stages"]
    assert pipelines["results"][0]["id"] == "default"
    assert [s["id"] for s in stages] == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    assert stages[5]["metadata"] == {"isClosed": "true", "probability": "1.0"}
    # with history, pages hold at most 50 records
    page = requests.get(
        f"{base}/crm/v3/objects/contacts",
        headers=AUTH,
        params={"limit": 100, "propertiesWithHistory": "lifecyclestage"},
        timeout=30,
    ).json()
    assert len(page["results"]) == 50
    mql = next(r for r in page["results"] if len(r["propertiesWithHistory"]["lifecyclestage"]) > 1)
    values = [h["value"] for h in reversed(mql["propertiesWithHistory"]["lifecyclestage"])]
    assert values[0] in ("lead", "subscriber") and len(values) >= 2


def test_associations_v3_and_v4(company: Company, base: str) -> None:
    deal = max(company.deals, key=lambda d: len(company.crm.deal_contacts.get(d.id, [])))
    contacts = [pid for pid, _ in company.crm.deal_contacts[deal.id]]
    assert len(contacts) >= 2  # a buying group
    v4 = requests.get(
        f"{base}/crm/v4/objects/deals/{deal.id}/associations/contacts", headers=AUTH, timeout=30
    ).json()
    assert [str(r["toObjectId"]) for r in v4["results"]] == sorted(contacts, key=int)
    assert v4["results"][0]["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
    ]
    batch = requests.post(
        f"{base}/crm/v4/associations/contacts/deals/batch/read",
        headers=AUTH,
        json={"inputs": [{"id": contacts[0]}]},
        timeout=30,
    ).json()
    assert batch["results"][0]["to"][0]["toObjectId"] == int(deal.id)
    listed = requests.get(
        f"{base}/crm/v3/objects/deals/{deal.id}",
        headers=AUTH,
        params={"associations": "contacts,companies"},
        timeout=30,
    ).json()
    assert [a["id"] for a in listed["associations"]["contacts"]["results"]] == sorted(
        contacts, key=int
    )
    assert listed["associations"]["companies"]["results"][0]["type"] == "deal_to_company"
    v3 = requests.post(
        f"{base}/crm/v3/associations/deals/companies/batch/read",
        headers=AUTH,
        json={"inputs": [{"id": deal.id}]},
        timeout=30,
    ).json()
    assert v3["results"][0]["to"] == [
        {"id": company.crm.deal_company[deal.id], "type": "deal_to_company"}
    ]
    # contacts on company e-mail domains belong to their company from the start
    corporate = next(
        c for c in company.contacts if c.values.get("associatedcompanyid") and not c.is_duplicate
    )
    primary = requests.get(
        f"{base}/crm/v4/objects/contacts/{corporate.id}/associations/companies",
        headers=AUTH,
        timeout=30,
    ).json()["results"][0]
    assert str(primary["toObjectId"]) == str(corporate.values["associatedcompanyid"])
    assert {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"} in primary[
        "associationTypes"
    ]
    free = [
        c
        for c in company.contacts
        if str(c.values["email"]).endswith("@gmail.com") and not c.values.get("salesforcecontactid")
    ]
    assert free and all(c.values.get("associatedcompanyid") is None for c in free)


def test_owners_and_archived_records(company: Company, base: str) -> None:
    owners = requests.get(f"{base}/crm/v3/owners", headers=AUTH, timeout=30).json()["results"]
    assert {o["id"] for o in owners} == {u.owner_id for u in company.users if u.owner_id}
    sdr = next(o for o in owners if o["firstName"] == "Jordan")
    assert sdr["email"] == "jordan.reyes@lumenary.io" and sdr["teams"][0]["name"] == "SDR"
    archived = walk(base, "contacts", {"archived": "true", "properties": "email"})
    assert [c["id"] for c in archived] == [c.id for c in company.archived_contacts]
    assert archived and all(c["archived"] is True and c["archivedAt"] for c in archived)
    live_ids = {c.id for c in company.contacts}
    assert not live_ids & {c["id"] for c in archived}
    gone = archived[0]["id"]
    assert (
        requests.get(f"{base}/crm/v3/objects/contacts/{gone}", headers=AUTH, timeout=30).status_code
        == 404
    )
    again = requests.get(
        f"{base}/crm/v3/objects/contacts/{gone}",
        headers=AUTH,
        params={"archived": "true"},
        timeout=30,
    ).json()
    assert again["archived"] is True


def test_official_client_pages_contacts_and_deals(company: Company, base: str, certs: Path) -> None:
    from hubspot import HubSpot

    client = HubSpot(access_token="sim-hubspot-token", host=base, ssl_ca_cert=str(certs / "ca.pem"))
    page = client.crm.contacts.basic_api.get_page(limit=100, properties=["email", "lifecyclestage"])
    assert [r.id for r in page.results] == [c.id for c in company.contacts[:100]]
    assert page.paging.next.after == company.contacts[100].id
    every = client.crm.contacts.get_all(properties=["email"])
    assert len(every) == len(company.contacts)
    deals = client.crm.deals.basic_api.get_page(
        limit=10, properties=["amount", "dealstage"], associations=["contacts"]
    )
    assert deals.results[0].properties["amount"] == str(company.deals[0].values["amount"])
    assert deals.results[0].associations["contacts"].results[0].type == "deal_to_contact"
    found = client.crm.contacts.search_api.do_search(
        public_object_search_request={
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}
                    ]
                }
            ],
            "limit": 5,
        }
    )
    assert found.total == sum(1 for p in company.people if p.lifecyclestage == "customer")


def test_owner_team_ids_are_the_same_in_every_process() -> None:
    """Python salts str hashes per process: an id made from hash() changed between runs."""
    script = (
        "from revops.simulator.hubspot import team_id; "
        "print([team_id(t) for t in ('SDR', 'Account Executives', 'Marketing')])"
    )
    answers = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(answers) == 1
    assert len(set(ast.literal_eval(answers.pop()))) == 3
