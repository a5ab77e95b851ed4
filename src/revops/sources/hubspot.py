"""HubSpot CRM v3: contacts, companies, deals (with stage history and contacts), pipelines,
owners; archived records kept and flagged.

* Contacts, companies and deals are read incrementally through the search endpoint on their
  last-modified property (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for the
  others), one window ``[cursor - overlap, until)`` per run. Search stops at 10,000 results
  per query, so a window is read in ``hs_object_id`` order and, before a query would cross the
  cap, a new query continues after the last id seen.
* The cursor moves to the newest last-modified time actually read (:class:`Newest`), once the
  whole window has been read, never to the window's end: HubSpot's search index is eventually
  consistent ("It may take a few moments for newly created or updated CRM objects to appear in
  search results"), so a change can surface after changes made later, and the source's clock
  may be behind this machine's. Each run re-reads ``REVOPS_HUBSPOT_SEARCH_OVERLAP_MINUTES``
  (default 60) behind the cursor; re-read records merge on ``id``, so nothing doubles.
* Which properties to read is configuration, never every property the portal has (real
  portals have hundreds to over a thousand; each would be a column, and PostgreSQL stops at
  1,600): the ones this product reads (:data:`DECLARED_PROPERTIES`, their columns exist from
  the first load) plus an allow-list per object, ``REVOPS_HUBSPOT_<OBJECT>_PROPERTIES``
  (comma-separated internal names). An allow-listed name the portal's properties API does not
  list fails the run at once, naming the setting and the names.
* Search is paced below HubSpot's limit (five requests per second per account; ours
  ``REVOPS_HUBSPOT_SEARCH_PER_SECOND``, default 4) by :class:`HubSpotPacer`, which also reads
  the ``X-HubSpot-RateLimit-*`` headers the other endpoints send and waits before the
  ten-second window runs out. A 429 that still happens is retried by the HTTP layer.
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

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import requests

from revops.settings import current
from revops.sources.base import (
    AfterCursorPaginator,
    BodyCursorPaginator,
    Newest,
    SinglePage,
    Stream,
    Window,
    epoch_ms,
    flatten,
    iso_z,
    parse_ts,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient, IntervalPacer, PagingError
from revops.sources.settings import SettingsError, env_name, oauth_token, optional, setting

SYSTEM = "hubspot"
SEARCH_CAP = 10_000
PAGE_SIZE = 200
BATCH_SIZE = 50  # batch reads with property history
INITIAL = datetime(2000, 1, 1, tzinfo=UTC)
SEARCH_PER_SECOND = 4.0  # HubSpot allows five a second per account: keep one in reserve
OVERLAP = timedelta(minutes=60)  # re-read behind the cursor (search index lag; see docstring)

DECLARED_PROPERTIES: dict[str, list[str]] = {  # the default set: what staging and the gate read
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
        "li_fat_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
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

SEARCH_PAGING = BodyCursorPaginator("results", "paging.next.after", "after", PAGE_SIZE, SEARCH_CAP)
"""CRM search paging (search API v3): a POST whose body holds the query and ``limit``; the next
cursor at ``paging.next.after``, sent back as ``after`` in the next body; at most
:data:`SEARCH_CAP` results per query (then :func:`search_window` re-queries after the last id)."""

STREAMS = {
    "contacts": Stream(
        "contacts",
        "id",
        "lastmodifieddate",
        "crm/v3/objects/contacts/search",
        SEARCH_PAGING,
        overlap=OVERLAP,
    ),
    "companies": Stream(
        "companies",
        "id",
        "hs_lastmodifieddate",
        "crm/v3/objects/companies/search",
        SEARCH_PAGING,
        overlap=OVERLAP,
    ),
    "deals": Stream(
        "deals",
        "id",
        "hs_lastmodifieddate",
        "crm/v3/objects/deals/search",
        SEARCH_PAGING,
        overlap=OVERLAP,
    ),
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


class HubSpotPacer:
    """Paces one HubSpot client below the account's limits.

    * Search: at most ``search_per_second`` requests a second (:class:`IntervalPacer`), below
      HubSpot's documented five per second per account. Search answers carry no rate-limit
      headers, so this is the only way to stay under it.
    * Every other endpoint: its answers say how many requests the rolling window has left
      (``X-HubSpot-RateLimit-Remaining`` of ``-Max`` per ``-Interval-Milliseconds``). When no
      more than ``reserve`` are left, the next request waits until enough of this client's own
      requests have left the window (the whole window when it cannot tell).

    Only successful answers are read: a 429 is the HTTP layer's (``Retry-After``, backoff).
    """

    def __init__(
        self,
        search_per_second: float = SEARCH_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        reserve: int = 1,
    ) -> None:
        self.search = IntervalPacer(search_per_second, "/search", clock=clock)
        self.clock = clock
        self.reserve = reserve
        self.remaining: int | None = None
        self.interval: float | None = None  # seconds
        self.sent: deque[float] = deque()  # this client's non-search request times
        self._lock = threading.Lock()

    def before(self, method: str, url: str) -> float:
        """Seconds to wait before this request."""
        with self._lock:
            if "/search" in url:
                return self.search.before(method, url)
            now = self.clock()
            wait = 0.0
            if self.remaining is not None and self.interval and self.remaining <= self.reserve:
                need = self.reserve - self.remaining + 1  # slots to free before sending
                recent = [t for t in self.sent if t > now - self.interval]
                if len(recent) >= need:
                    wait = max(0.0, recent[need - 1] + self.interval - now)
                else:  # the window holds others' requests: let all of it pass
                    wait = self.interval
                self.remaining += need
            self.sent.append(now + wait)
            horizon = now - (self.interval or 10.0)
            while self.sent and self.sent[0] <= horizon:
                self.sent.popleft()
            return wait

    def after(self, method: str, url: str, response: requests.Response) -> None:
        """Learn the window's state from a successful non-search answer."""
        if "/search" in url or response.status_code >= 400:
            return
        headers = response.headers
        remaining = headers.get("X-HubSpot-RateLimit-Remaining")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            with self._lock:
                if remaining is not None:
                    self.remaining = int(remaining)
                if interval is not None:
                    self.interval = int(interval) / 1000
        except ValueError:  # an unreadable header is no information
            return


def search_per_second() -> float:
    """``REVOPS_HUBSPOT_SEARCH_PER_SECOND``: search requests a second (HubSpot allows 5)."""
    return current().hubspot_search_per_second


def overlap() -> timedelta:
    """``REVOPS_HUBSPOT_SEARCH_OVERLAP_MINUTES``: how far behind the cursor each run re-reads."""
    return timedelta(minutes=current().hubspot_search_overlap_minutes)


def client(pacer: HubSpotPacer | None = None) -> ApiClient:
    """An API client for ``REVOPS_HUBSPOT_URL`` with a private-app or OAuth token, paced."""
    oauth = oauth_token(SYSTEM, "https://api.hubapi.com/oauth/v1/token")
    return ApiClient(
        system=SYSTEM,
        base_url=setting(SYSTEM, "url", "https://api.hubapi.com"),
        headers=lambda: {"Authorization": f"Bearer {oauth.token()}"},
        oauth=oauth,
        pacer=pacer or HubSpotPacer(search_per_second()),
    )


def allow_listed(object_type: str) -> list[str]:
    """``REVOPS_HUBSPOT_<OBJECT>_PROPERTIES``: more properties to read, by internal name."""
    return list(optional(SYSTEM, f"{object_type}_properties") or ())


SEARCH_BODY_MAX = 3000
"""HubSpot answers 400 to a search request body over 3,000 characters (search guide, Limits)."""


def search_body(
    cursor: str,
    properties: list[str],
    since: datetime,
    until: datetime,
    after_id: int,
    page_size: int = PAGE_SIZE,
    after: str | None = None,
) -> dict[str, Any]:
    """One search request: changed in ``[since, until)``, id above ``after_id``, in id order."""

    def where(name: str, operator: str, value: Any) -> dict[str, str]:
        return {"propertyName": name, "operator": operator, "value": str(value)}

    body: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    where(cursor, "GTE", epoch_ms(since)),
                    where(cursor, "LT", epoch_ms(until)),
                    where("hs_object_id", "GT", after_id),
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": properties,
        "limit": page_size,
    }
    if after is not None:
        body["after"] = after
    return body


def longest_search_body(object_type: str, properties: list[str]) -> int:
    """The length of the longest search body these properties make (widest values)."""
    widest = datetime(9999, 12, 31, tzinfo=UTC)
    body = search_body(
        CURSOR_PROPERTY[object_type], properties, widest, widest, 10**18, PAGE_SIZE, "9" * 20
    )
    return len(json.dumps(body))


def configured_properties(object_type: str) -> list[str]:
    """The properties read for an object type: the default set, then the allow-list.

    Refuses an allow-list that would make the search body longer than HubSpot accepts, naming
    the setting and how many characters to remove (HubSpot would answer 400 mid-run).
    """
    declared = DECLARED_PROPERTIES[object_type]
    names = declared + [n for n in allow_listed(object_type) if n not in declared]
    size = longest_search_body(object_type, names)
    if size > SEARCH_BODY_MAX:
        raise SettingsError(
            f"{SYSTEM}: {env_name(SYSTEM, f'{object_type}_properties')} makes the {object_type} "
            f"search request about {size} characters long; HubSpot refuses search bodies over "
            f"{SEARCH_BODY_MAX}. Remove about {size - SEARCH_BODY_MAX} characters of property "
            "names from it"
        )
    return names


def requested_properties(api: ApiClient, object_type: str) -> list[str]:
    """:func:`configured_properties`, with the allow-list checked against the portal's
    properties API: a name the portal does not have fails here, naming the setting (a typo
    would otherwise be a column that stays empty). The default set is not checked: a portal
    without one of them gets an empty column, as staging expects."""
    wanted = configured_properties(object_type)
    extra = [n for n in wanted if n not in DECLARED_PROPERTIES[object_type]]
    if extra:
        body = api.get_json(f"crm/v3/properties/{object_type}", object_type)
        known = {p.get("name") for p in body.get("results", [])}
        missing = [n for n in extra if n not in known]
        if missing:
            raise SettingsError(
                f"{SYSTEM}: {env_name(SYSTEM, f'{object_type}_properties')} names "
                f"{', '.join(missing)}, which this portal's {object_type} do not have (its "
                f"properties API lists {len(known)}); check the internal names under Settings > "
                "Properties, or remove them"
            )
    return wanted


def search_window(
    api: ApiClient,
    stream: Stream,
    properties: list[str],
    since: datetime,
    until: datetime,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of records modified in ``[since, until)``, in id order, past the 10,000 cap.

    Each query is paged by the stream's paginator (:data:`SEARCH_PAGING`, ``page_size`` a
    page) through the paging loop every stream uses (:class:`PageGuard`: a repeated ``after``
    or endless empty pages are errors, a missing ``results`` key is an error); before a query
    would pass the cap, a new query continues after the last id read, and one that does not
    move past it is an error too.
    """
    paging = replace(stream.paginator, size=page_size)
    after_id = 0
    while True:
        last_id = after_id
        body = search_body(stream.cursor or "", properties, since, until, after_id, paging.size)
        request = paging.request(stream.path, body=body)
        paginator = paging.paginator()
        for results in paging.read(api, stream.name, request, paginator):
            yield results
            last_id = int(results[-1]["id"])
        if not paginator.capped:
            return
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
    behind = overlap()

    def objects(object_type: str):
        stream = replace(STREAMS[object_type], overlap=behind)
        configured = configured_properties(object_type)
        columns = {
            **{name: {"data_type": "text"} for name in ["id", *configured]},
            "archived": {"data_type": "bool"},
            "archived_at": {"data_type": "text"},
        }

        @dlt.resource(**resource_hints(stream, columns=columns))
        def read() -> Iterator[Any]:
            state = window.state()
            cursor = parse_ts(state["cursor"]) if state.get("cursor") else None
            since = window.start(cursor, initial, stream.overlap)
            newest = Newest(cursor)  # where the cursor moves: the newest change read
            # complete up to the window's start until the search has read the whole window;
            # the archived records are re-read in full each run, so while they are read the
            # stream has no position (cut short there, it is incomplete with no time bound)
            reached: dict[str, Any] = {"at": since}
            with tracked_stream(SYSTEM, stream.name, position=lambda: reached["at"]):
                properties = requested_properties(api, object_type)
                for page in search_window(api, stream, properties, since, end, PAGE_SIZE):
                    yield from screened(stream, [object_row(r) for r in page])
                    for record in page:
                        newest.see((record.get("properties") or {}).get(stream.cursor))
                    ids = [str(r["id"]) for r in page if r.get("id")]
                    if object_type == "deals":  # the deal's history and contacts go with it
                        yield from deal_details(api, ids)
                    elif object_type == "contacts":
                        yield from contact_details(api, ids)
                # the whole window is read: the cursor moves to the newest change read (never
                # to the window's end: what the index shows late is re-read next run)
                if newest.value is not None:
                    state["cursor"] = iso_z(newest.value)
                reached["at"] = None
                archived = AfterCursorPaginator(limit=100)
                for page in archived.pages(
                    api,
                    f"crm/v3/objects/{object_type}",
                    stream.name,
                    {"archived": "true", "properties": ",".join(properties)},
                ):
                    yield from screened(stream, [object_row(r) for r in page])
                reached["at"] = newest.value if newest.value is not None else since

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
