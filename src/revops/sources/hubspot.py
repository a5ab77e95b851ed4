"""HubSpot CRM v3: contacts, incremental on ``lastmodifieddate``.

The search endpoint stops at 10,000 results per query, so a window is read in id order and,
when a query nears the cap, a new query continues after the last id seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt

from revops.sources.base import Stream, default_until, epoch_ms, parse_ts
from revops.sources.http import ApiClient
from revops.sources.settings import setting

SYSTEM = "hubspot"
SEARCH_CAP = 10_000
PAGE_SIZE = 200

CONTACT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "company",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
    "lifecyclestage",
    "hs_lifecyclestage_lead_date",
    "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date",
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
    "hs_google_click_id",
    "hubspot_owner_id",
    "hs_lead_status",
]

# Declared so every property gets a column even while no record has a value for it yet.
CONTACT_COLUMNS = {
    **{name: {"data_type": "text"} for name in ["id", *CONTACT_PROPERTIES]},
    "archived": {"data_type": "bool"},
}

STREAMS = {
    "contacts": Stream(
        name="contacts",
        primary_key="id",
        cursor="lastmodifieddate",
        path="crm/v3/objects/contacts/search",
    ),
}


def client() -> ApiClient:
    """An API client from ``REVOPS_HUBSPOT_BASE_URL`` and ``REVOPS_HUBSPOT_TOKEN``."""
    token = setting(SYSTEM, "token")
    return ApiClient(
        system=SYSTEM,
        base_url=setting(SYSTEM, "base_url", "https://api.hubapi.com"),
        headers=lambda: {"Authorization": f"Bearer {token}"},
    )


def search_window(
    api: ApiClient,
    stream: Stream,
    properties: list[str],
    since: datetime,
    until: datetime,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of records modified in ``[since, until)``, in id order, past the 10,000 cap."""
    after_id = 0
    while True:
        after: str | None = None
        read = 0
        last_id = after_id
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": stream.cursor,
                                "operator": "GTE",
                                "value": str(epoch_ms(since)),
                            },
                            {
                                "propertyName": stream.cursor,
                                "operator": "LT",
                                "value": str(epoch_ms(until)),
                            },
                            {
                                "propertyName": "hs_object_id",
                                "operator": "GT",
                                "value": str(after_id),
                            },
                        ]
                    }
                ],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": properties,
                "limit": page_size,
            }
            if after is not None:
                body["after"] = after
            page = api.post_json(stream.path, stream.name, json=body)
            results = page.get("results", [])
            if results:
                yield results
                last_id = int(results[-1]["id"])
                read += len(results)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or not results:
                return
            if read + page_size > SEARCH_CAP:  # the next page would cross the cap: re-query
                break
        after_id = last_id


def contact_row(record: dict[str, Any]) -> dict[str, Any]:
    """One contact as a row: HubSpot's property names as columns, plus id and archive flags."""
    row = dict(record.get("properties") or {})
    row["id"] = record["id"]
    row["archived"] = bool(record.get("archived", False))
    row["created_at"] = record.get("createdAt")
    row["updated_at"] = record.get("updatedAt")
    return row


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_source(until: datetime | None = None, initial: str = "2000-01-01T00:00:00.000Z"):
    """The HubSpot streams, each merged on its primary key into ``raw_hubspot``."""
    api = client()
    end = until or default_until()
    stream = STREAMS["contacts"]

    @dlt.resource(
        name="contacts",
        primary_key=stream.primary_key,
        write_disposition="merge",
        columns=CONTACT_COLUMNS,
    )
    def contacts(
        modified=dlt.sources.incremental(stream.cursor, initial_value=initial),
    ) -> Iterator[list[dict[str, Any]]]:
        since = parse_ts(modified.start_value)
        for page in search_window(api, stream, CONTACT_PROPERTIES, since, end):
            yield [contact_row(record) for record in page]

    return contacts
