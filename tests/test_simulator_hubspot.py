"""Vendor simulator, HubSpot: search and list paging, the 10,000 cap, filters, auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from revops.simulator import Company, SimulatorServer

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
AUTH = {"Authorization": "Bearer sim-hubspot-token"}


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture(scope="module")
def base(company: Company) -> Iterator[str]:
    with SimulatorServer(company) as server:
        yield server.base_url + "/hubspot"


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
        assert page["total"] == 1229
        seen.extend(r["id"] for r in page["results"])
        pages += 1
        nxt = page.get("paging", {}).get("next")
        if nxt is None:
            break
        assert nxt["after"] == str(100 * pages)
        after = nxt["after"]
    assert pages == 13
    assert len(seen) == len(set(seen)) == len(company.contacts) == 1229
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
    assert page["total"] == len(expected) == 58
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
    assert page["total"] == 228
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
        == 87
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
    assert sum(1 for p in company.people if p.duplicate_contact_ids) == 4


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
