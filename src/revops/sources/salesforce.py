"""Salesforce REST: SOQL through ``queryAll``, incremental on ``SystemModstamp``, deletes included.

Each object's fields come from its ``describe`` (so a field added in Salesforce arrives as a
new column); compound fields (address, location) are left out because their parts are fields of
their own. Every object is read with ``queryAll`` (which also returns deleted rows, with
``IsDeleted = true``, while they are in the recycle bin) ordered by its cursor, and the cursor
is checkpointed after every page: the last ``SystemModstamp`` read (history objects, which are
never modified, use ``CreatedDate``). The next run reads from that instant again (``>=``), so
rows sharing it are read twice and merged, never skipped.

``REVOPS_SALESFORCE_URL`` is the instance URL (``https://yourorg.my.salesforce.com``); with an
OAuth refresh flow and no URL, the token answer's ``instance_url`` is used. Values keep the
API's types; ``anyType`` fields (history old/new values) are kept as strings so one column never
changes type from row to row. Amounts keep their ``CurrencyIsoCode`` (a multi-currency org has
it on every record that holds money).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import dlt

from revops.sources.base import (
    NextLinkPaginator,
    Stream,
    Window,
    parse_ts,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient
from revops.sources.settings import SettingsError, oauth_token, optional, setting

SYSTEM = "salesforce"
DEFAULT_API_VERSION = "62.0"
INITIAL = datetime(2000, 1, 1, tzinfo=UTC)
SKIPPED_TYPES = {"address", "location", "base64"}

QUERY_PAGES = NextLinkPaginator(items="records", next_link="nextRecordsUrl")

# object -> cursor field (history objects are append-only and have no SystemModstamp)
OBJECTS: dict[str, str] = {
    "User": "SystemModstamp",
    "Account": "SystemModstamp",
    "Contact": "SystemModstamp",
    "Lead": "SystemModstamp",
    "LeadHistory": "CreatedDate",
    "Campaign": "SystemModstamp",
    "CampaignMember": "SystemModstamp",
    "Opportunity": "SystemModstamp",
    "OpportunityHistory": "SystemModstamp",
    "OpportunityContactRole": "SystemModstamp",
    "Task": "SystemModstamp",
    "Event": "SystemModstamp",
}


def table_name(sobject: str) -> str:
    """``OpportunityContactRole`` -> ``opportunity_contact_role``."""
    from revops.sources.base import snake

    return snake(sobject)


STREAMS = {
    table_name(sobject): Stream(
        name=table_name(sobject),
        primary_key="Id",
        cursor=cursor,
        path="queryAll",
        paginator=QUERY_PAGES,
    )
    for sobject, cursor in OBJECTS.items()
}


def api_prefix() -> str:
    """``services/data/vXX.X`` for ``REVOPS_SALESFORCE_API_VERSION`` (default 62.0)."""
    version = setting(SYSTEM, "api_version", DEFAULT_API_VERSION).lstrip("v")
    return f"services/data/v{version}"


def client() -> ApiClient:
    """An API client for the instance URL with an OAuth access token."""
    oauth = oauth_token(SYSTEM, "https://login.salesforce.com/services/oauth2/token")
    base_url = optional(SYSTEM, "url")
    if base_url is None:
        if not oauth.can_refresh:
            raise SettingsError(
                "salesforce: REVOPS_SALESFORCE_URL (the instance URL) is not set and no OAuth "
                "refresh flow is configured to learn it from"
            )
        oauth.refresh()
        base_url = str(oauth.answer.get("instance_url") or "")
    return ApiClient(
        system=SYSTEM,
        base_url=base_url,
        headers=lambda: {"Authorization": f"Bearer {oauth.token()}"},
        oauth=oauth,
    )


def describe(api: ApiClient, sobject: str) -> dict[str, str]:
    """The object's queryable fields and their types (compound fields left out)."""
    body = api.get_json(f"{api_prefix()}/sobjects/{sobject}/describe", table_name(sobject))
    return {
        field["name"]: field.get("type", "string")
        for field in body.get("fields", [])
        if field.get("type") not in SKIPPED_TYPES
    }


DLT_TYPES = {
    "boolean": "bool",
    "int": "bigint",
    "long": "bigint",
    "double": "double",
    "percent": "double",
    "currency": "decimal",
    "date": "date",
}


def column_types(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    """dlt column types for an object's fields, from their Salesforce types.

    Datetimes stay text, as Salesforce sends them (``2026-11-01T14:03:27.000+0000``); money is
    decimal; every other type not listed is text.
    """
    return {name: {"data_type": DLT_TYPES.get(kind, "text")} for name, kind in fields.items()}


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal, UTC, whole seconds (``2026-01-31T09:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql(sobject: str, fields: list[str], cursor: str, since: datetime, until: datetime) -> str:
    """The query for one object's window ``[since, until)`` in cursor order."""
    return (
        f"SELECT {', '.join(fields)} FROM {sobject} "
        f"WHERE {cursor} >= {soql_datetime(since)} AND {cursor} < {soql_datetime(until)} "
        f"ORDER BY {cursor} ASC, Id ASC"
    )


def record_row(record: dict[str, Any], any_type: set[str]) -> dict[str, Any]:
    """A record as a row: Salesforce's field names, ``anyType`` values as strings."""
    row = {k: v for k, v in record.items() if k != "attributes"}
    for name in any_type:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return row


@dlt.source(name="salesforce", max_table_nesting=0)
def salesforce_source(
    until: datetime | None = None, initial: datetime = INITIAL, since: datetime | None = None
):
    """The Salesforce objects, each merged on ``Id`` into ``raw_salesforce``; ``since``: a
    backfill of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    window = Window.of(since, until)
    end = window.until
    prefix = api_prefix()

    def sobject_resource(sobject: str, cursor: str):
        stream = STREAMS[table_name(sobject)]

        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            state = window.state()
            since = window.start(
                parse_ts(state["cursor"]) if state.get("cursor") else None, initial
            )
            # read in cursor order: complete up to the last cursor value read, and up to the
            # window's end once every page is read
            reached: dict[str, Any] = {"end": None}
            with tracked_stream(
                SYSTEM,
                stream.name,
                position=lambda: reached["end"] or state.get("cursor") or since,
            ):
                fields = describe(api, sobject)
                if cursor not in fields or "Id" not in fields:
                    raise SettingsError(f"salesforce: {sobject} has no Id or {cursor} field")
                any_type = {name for name, kind in fields.items() if kind == "anyType"}
                columns: dict[str, Any] | None = column_types(fields)
                query = soql(sobject, list(fields), cursor, since, end)
                path = f"{prefix}/queryAll?q={quote(query, safe='')}"
                for page in QUERY_PAGES.pages(api, path, stream.name):
                    rows = [record_row(r, any_type) for r in page]
                    yield from screened(stream, rows, columns=columns)
                    columns = None  # declared with the first page
                    last = page[-1].get(cursor)
                    if last:  # ordered by the cursor: everything before it has been read
                        state["cursor"] = last
                reached["end"] = end

        return read

    return tuple(sobject_resource(sobject, cursor) for sobject, cursor in OBJECTS.items())
