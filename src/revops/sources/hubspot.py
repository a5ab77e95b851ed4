"""HubSpot CRM v3: contacts, companies, deals (with stage history and contacts), pipelines,
owners; archived records kept and flagged.

* Contacts, companies and deals are read incrementally through the search endpoint on their
  last-modified property (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for the
  others), one window ``[cursor, until)`` per run. Search stops at 10,000 results per query, so
  a window is read in ``hs_object_id`` order and, before a query would cross the cap, a new
  query continues after the last id seen. The cursor moves to the window's end only once the
  whole window has been read.
* Which properties to read: the ones this product needs (declared below, so their columns exist
  from the first load) plus every property the account's properties API lists, so a property
  added in HubSpot arrives as a new column.
* Archived (deleted) records are listed with ``archived=true`` on every run and merged into the
  same tables with ``archived = true``: they stay, flagged, never silently dropped.
* Deal stage history comes from ``propertiesWithHistory=dealstage`` (batch read, for each page
  of changed deals) and deal-contact associations from the v4 associations batch read; both are
  replaced as a set per deal. Contacts' ``lifecyclestage`` and ``hs_lead_status`` histories
  come the same way (``contact_property_history``), beside the per-stage
  ``hs_lifecyclestage_<stage>_date`` properties.
* Pipelines with their stages, and owners, are small and re-read in full every run.

Property values are strings, as HubSpot sends them; timestamps keep HubSpot's ISO format.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt

from revops.sources.base import (
    AfterCursorPaginator,
    PageGuard,
    SinglePage,
    Stream,
    Window,
    dig,
    epoch_ms,
    flatten,
    iso_z,
    page_items,
    parse_ts,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient, PagingError
from revops.sources.settings import oauth_token, setting

SYSTEM = "hubspot"
SEARCH_CAP = 10_000
PAGE_SIZE = 200
BATCH_SIZE = 50  # batch reads with property history
INITIAL = datetime(2000, 1, 1, tzinfo=UTC)

DECLARED_PROPERTIES: dict[str, list[str]] = {
    "contacts": [
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
        "hs_facebook_click_id",
        "hs_linkedin_click_id",
        "hubspot_owner_id",
        "hs_lead_status",
        "associatedcompanyid",
        "salesforcecontactid",
        "salesforceleadid",
    ],
    "companies": [
        "name",
        "domain",
        "industry",
        "country",
        "numberofemployees",
        "annualrevenue",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hubspot_owner_id",
        "lifecyclestage",
    ],
    "deals": [
        "dealname",
        "amount",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "closedate",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hubspot_owner_id",
        "hs_is_closed",
        "hs_is_closed_won",
        "dealtype",
        "hs_analytics_source",
    ],
}

CURSOR_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

STREAMS = {
    "contacts": Stream("contacts", "id", "lastmodifieddate", "crm/v3/objects/contacts/search"),
    "companies": Stream(
        "companies", "id", "hs_lastmodifieddate", "crm/v3/objects/companies/search"
    ),
    "deals": Stream("deals", "id", "hs_lastmodifieddate", "crm/v3/objects/deals/search"),
    "contact_property_history": Stream(
        "contact_property_history",
        ("contact_id", "property", "timestamp"),
        None,
        "crm/v3/objects/contacts/batch/read",
        merge_key="contact_id",
    ),
    "deal_stage_history": Stream(
        "deal_stage_history",
        ("deal_id", "timestamp"),
        None,
        "crm/v3/objects/deals/batch/read",
        merge_key="deal_id",
    ),
    "deal_contacts": Stream(
        "deal_contacts",
        ("deal_id", "contact_id"),
        None,
        "crm/v4/associations/deals/contacts/batch/read",
        merge_key="deal_id",
    ),
    "deal_pipelines": Stream(
        "deal_pipelines", "id", None, "crm/v3/pipelines/deals", SinglePage("results")
    ),
    "deal_pipeline_stages": Stream(
        "deal_pipeline_stages", ("pipeline_id", "id"), None, "crm/v3/pipelines/deals"
    ),
    "owners": Stream("owners", "id", None, "crm/v3/owners", AfterCursorPaginator(limit=100)),
}


def client() -> ApiClient:
    """An API client for ``REVOPS_HUBSPOT_URL`` with a private-app or OAuth token."""
    oauth = oauth_token(SYSTEM, "https://api.hubapi.com/oauth/v1/token")
    return ApiClient(
        system=SYSTEM,
        base_url=setting(SYSTEM, "url", "https://api.hubapi.com"),
        headers=lambda: {"Authorization": f"Bearer {oauth.token()}"},
        oauth=oauth,
    )


def discovered_properties(api: ApiClient, object_type: str) -> list[str]:
    """Every property name of an object type (the properties API), declared ones first."""
    body = api.get_json(f"crm/v3/properties/{object_type}", object_type)
    names = [p["name"] for p in body.get("results", []) if p.get("name")]
    declared = DECLARED_PROPERTIES[object_type]
    return declared + sorted(set(names) - set(declared))


def search_window(
    api: ApiClient,
    stream: Stream,
    properties: list[str],
    since: datetime,
    until: datetime,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of records modified in ``[since, until)``, in id order, past the 10,000 cap.

    Each query's paging is guarded as every paginator's is (:class:`PageGuard`: a repeated
    ``after`` or endless empty pages are errors, a missing ``results`` key is an error); a
    re-query past the cap that does not move past the last id read is an error too.
    """
    after_id = 0
    while True:
        after: str | None = None
        read = 0
        last_id = after_id
        guard = PageGuard(api.system, stream.name, "after")
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
            results = page_items(page, "results", api.system, stream.name, guard.pages + 1)
            guard.page(results)
            if results:
                yield results
                last_id = int(results[-1]["id"])
                read += len(results)
            after = dig(page, "paging.next.after")
            if not guard.follow(after):
                return
            if read + page_size > SEARCH_CAP:  # the next page would cross the cap: re-query
                break
        if last_id <= after_id:
            raise PagingError(
                api.system,
                stream.name,
                f"the search re-query after id {after_id} read nothing past it; its paging is "
                "not advancing",
            )
        after_id = last_id


def object_row(record: dict[str, Any]) -> dict[str, Any]:
    """One CRM object as a row: HubSpot's property names as columns, plus id and archive flags."""
    row = dict(record.get("properties") or {})
    row["id"] = record.get("id")
    row["archived"] = bool(record.get("archived", False))
    row["archived_at"] = record.get("archivedAt")
    row["created_at"] = record.get("createdAt")
    row["updated_at"] = record.get("updatedAt")
    return row


CONTACT_HISTORY = ["lifecyclestage", "hs_lead_status"]


def stage_history_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A deal's ``dealstage`` history, one row per change."""
    history = (record.get("propertiesWithHistory") or {}).get("dealstage") or []
    return [{"deal_id": record.get("id"), **flatten(change)} for change in history]


def contact_history_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A contact's lifecycle stage and lead status history, one row per change."""
    rows = []
    for prop, changes in (record.get("propertiesWithHistory") or {}).items():
        for change in changes or []:
            rows.append({"contact_id": record.get("id"), "property": prop, **flatten(change)})
    return rows


def association_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per contact associated with a deal (v4 batch read answer)."""
    deal_id = str((result.get("from") or {}).get("id"))
    rows = []
    for to in result.get("to") or []:
        types = to.get("associationTypes") or []
        rows.append(
            {
                "deal_id": deal_id,
                "contact_id": str(to.get("toObjectId")),
                "association_type_ids": ",".join(str(t.get("typeId")) for t in types),
                "association_labels": ",".join(str(t["label"]) for t in types if t.get("label")),
            }
        )
    return rows


def batch_read(api: ApiClient, stream: Stream, ids: list[str], body: dict[str, Any]) -> list:
    """The results of a batch read for ``ids``, in batches of :data:`BATCH_SIZE`."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(ids), BATCH_SIZE):
        inputs = [{"id": item} for item in ids[start : start + BATCH_SIZE]]
        answer = api.post_json(stream.path, stream.name, json={"inputs": inputs, **body})
        results.extend(answer.get("results") or [])
    return results


def contact_details(api: ApiClient, contact_ids: list[str]) -> Iterator[Any]:
    """The lifecycle stage and lead status history of some contacts, routed to their table."""
    history = STREAMS["contact_property_history"]
    read = batch_read(
        api,
        history,
        contact_ids,
        {"properties": CONTACT_HISTORY, "propertiesWithHistory": CONTACT_HISTORY},
    )
    rows = [row for r in read for row in contact_history_rows(r)]
    yield from screened(history, rows, route=True)


def deal_details(api: ApiClient, deal_ids: list[str]) -> Iterator[Any]:
    """Stage history and associated contacts of some deals, routed to their own tables."""
    history, contacts = STREAMS["deal_stage_history"], STREAMS["deal_contacts"]
    read = batch_read(
        api,
        history,
        deal_ids,
        {"properties": ["dealstage"], "propertiesWithHistory": ["dealstage"]},
    )
    yield from screened(history, [row for r in read for row in stage_history_rows(r)], route=True)
    linked = batch_read(api, contacts, deal_ids, {})
    yield from screened(contacts, [row for r in linked for row in association_rows(r)], route=True)


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_source(
    until: datetime | None = None, initial: datetime = INITIAL, since: datetime | None = None
):
    """The HubSpot streams, each merged on its primary key into ``raw_hubspot``; ``since``:
    a backfill of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    window = Window.of(since, until)
    end = window.until

    def objects(object_type: str):
        stream = STREAMS[object_type]
        columns = {
            **{name: {"data_type": "text"} for name in ["id", *DECLARED_PROPERTIES[object_type]]},
            "archived": {"data_type": "bool"},
            "archived_at": {"data_type": "text"},
        }

        @dlt.resource(**resource_hints(stream, columns=columns))
        def read() -> Iterator[Any]:
            state = window.state()
            cursor = parse_ts(state["cursor"]) if state.get("cursor") else None
            since = window.start(cursor, initial)
            # complete up to the window's start until the search has read the whole window;
            # the archived records are re-read in full each run, so while they are read the
            # stream has no position (cut short there, it is incomplete with no time bound)
            reached: dict[str, Any] = {"at": since}
            with tracked_stream(SYSTEM, stream.name, position=lambda: reached["at"]):
                properties = discovered_properties(api, object_type)
                declared: dict[str, Any] | None = {p: {"data_type": "text"} for p in properties}
                for page in search_window(api, stream, properties, since, end):
                    yield from screened(stream, [object_row(r) for r in page], columns=declared)
                    declared = None  # declared with the first page
                    ids = [str(r["id"]) for r in page if r.get("id")]
                    if object_type == "deals":  # the deal's history and contacts go with it
                        yield from deal_details(api, ids)
                    elif object_type == "contacts":
                        yield from contact_details(api, ids)
                state["cursor"] = iso_z(max(since, end))  # the whole window is read
                reached["at"] = None
                archived = AfterCursorPaginator(limit=100)
                for page in archived.pages(
                    api,
                    f"crm/v3/objects/{object_type}",
                    stream.name,
                    {"archived": "true", "properties": ",".join(DECLARED_PROPERTIES[object_type])},
                ):
                    yield from screened(stream, [object_row(r) for r in page])
                reached["at"] = max(since, end)

        return read

    pipelines_stream, stages_stream = STREAMS["deal_pipelines"], STREAMS["deal_pipeline_stages"]

    @dlt.resource(**resource_hints(pipelines_stream))
    def deal_pipelines() -> Iterator[Any]:
        with tracked_stream(SYSTEM, pipelines_stream.name):
            for page in pipelines_stream.pages(api):
                rows = [flatten({k: v for k, v in p.items() if k != "stages"}) for p in page]
                yield from screened(pipelines_stream, rows)
                stages = [
                    {"pipeline_id": p.get("id"), **flatten(stage)}
                    for p in page
                    for stage in p.get("stages") or []
                ]
                yield from screened(stages_stream, stages, route=True)

    owners_stream = STREAMS["owners"]

    @dlt.resource(**resource_hints(owners_stream))
    def owners() -> Iterator[Any]:
        with tracked_stream(SYSTEM, owners_stream.name):
            for archived in ("false", "true"):
                for page in owners_stream.pages(api, archived=archived):
                    rows = [
                        {
                            **flatten({k: v for k, v in o.items() if k != "teams"}),
                            "teams": ",".join(str(t.get("name")) for t in o.get("teams") or []),
                        }
                        for o in page
                    ]
                    yield from screened(owners_stream, rows)

    return (
        objects("contacts"),
        objects("companies"),
        objects("deals"),
        deal_pipelines,
        owners,
    )
