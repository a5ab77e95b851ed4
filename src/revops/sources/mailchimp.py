"""Mailchimp Marketing API 3.0: audiences, members, campaigns, reports and email activity.

Paged with ``count``/``offset``. Members are incremental on ``since_last_changed``; email
activity on each event's timestamp (``since``), one row per event (open, click, bounce).
Campaigns and reports are small and their counters change, so they are re-read in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt

from revops.sources.base import Stream, default_until, flatten, parse_ts
from revops.sources.http import ApiClient
from revops.sources.settings import SettingsError, setting

SYSTEM = "mailchimp"
PAGE_SIZE = 1000

# Declared so optional event fields (bounce type, click URL) have columns from the first load.
ACTIVITY_COLUMNS = {
    name: {"data_type": "text"}
    for name in ("campaign_id", "list_id", "email_id", "email_address", "action", "type",
                 "timestamp", "url", "ip")
}

STREAMS = {
    "lists": Stream("lists", "id", None, "lists"),
    "members": Stream("members", ("list_id", "id"), "last_changed", "lists/{list_id}/members"),
    "campaigns": Stream("campaigns", "id", None, "campaigns"),
    "reports": Stream("reports", "id", None, "reports"),
    "email_activity": Stream(
        "email_activity",
        ("campaign_id", "email_id", "action", "timestamp"),
        "timestamp",
        "reports/{campaign_id}/email-activity",
    ),
}


def base_url(api_key: str) -> str:
    """``REVOPS_MAILCHIMP_BASE_URL``, or the data centre's URL from the key's ``-usN`` suffix."""
    try:
        return setting(SYSTEM, "base_url")
    except SettingsError:
        if "-" not in api_key:
            raise SettingsError(
                "mailchimp: REVOPS_MAILCHIMP_API_KEY has no data-centre suffix (like -us1) "
                "and REVOPS_MAILCHIMP_BASE_URL is not set"
            ) from None
        return f"https://{api_key.rsplit('-', 1)[1]}.api.mailchimp.com/3.0"


def client() -> ApiClient:
    """An API client using HTTP basic auth with the API key."""
    api_key = setting(SYSTEM, "api_key")
    return ApiClient(system=SYSTEM, base_url=base_url(api_key), auth=("revops", api_key))


def paged(
    api: ApiClient, path: str, key: str, stream: str, params: dict[str, Any] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a ``count``/``offset`` collection; ``key`` names the list in the body."""
    offset = 0
    while True:
        body = api.get_json(
            path, stream, params={**(params or {}), "count": PAGE_SIZE, "offset": offset}
        )
        items = body.get(key, [])
        if items:
            yield items
        offset += len(items)
        if not items or offset >= int(body.get("total_items", 0)):
            return


def activity_rows(email: dict[str, Any], until: datetime) -> list[dict[str, Any]]:
    """One row per activity event of one recipient, events at or after ``until`` left out."""
    base = {k: v for k, v in email.items() if k not in ("activity", "_links")}
    rows = []
    for event in email.get("activity") or []:
        if parse_ts(event["timestamp"]) >= until:
            continue
        rows.append({**base, **flatten(event)})
    return rows


@dlt.source(name="mailchimp", max_table_nesting=0)
def mailchimp_source(until: datetime | None = None, initial: str = "2000-01-01T00:00:00+00:00"):
    """The Mailchimp streams, each merged on its primary key into ``raw_mailchimp``."""
    api = client()
    end = until or default_until()

    def drop_links(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in item.items() if k != "_links"} for item in items]

    def full(stream: Stream, params: dict[str, Any] | None = None):
        @dlt.resource(name=stream.name, primary_key=stream.primary_key, write_disposition="merge")
        def read() -> Iterator[list[dict[str, Any]]]:
            for page in paged(api, stream.path, stream.name, stream.name, params):
                yield [flatten(item) for item in drop_links(page)]

        return read

    lists = full(STREAMS["lists"])
    members_stream = STREAMS["members"]

    @dlt.resource(name="members", primary_key=members_stream.primary_key, write_disposition="merge")
    def members(
        changed=dlt.sources.incremental(members_stream.cursor, initial_value=initial),
    ) -> Iterator[list[dict[str, Any]]]:
        for list_page in paged(api, "lists", "lists", "lists"):
            for audience in list_page:
                path = members_stream.path.format(list_id=audience["id"])
                for page in paged(
                    api, path, "members", "members", {"since_last_changed": changed.start_value}
                ):
                    yield [
                        flatten(m) for m in drop_links(page) if parse_ts(m["last_changed"]) < end
                    ]

    activity_stream = STREAMS["email_activity"]

    @dlt.resource(
        columns=ACTIVITY_COLUMNS,
        name="email_activity", primary_key=activity_stream.primary_key, write_disposition="merge"
    )
    def email_activity(
        happened=dlt.sources.incremental(activity_stream.cursor, initial_value=initial),
    ) -> Iterator[list[dict[str, Any]]]:
        for campaign_page in paged(api, "campaigns", "campaigns", "campaigns", {"status": "sent"}):
            for campaign in campaign_page:
                path = activity_stream.path.format(campaign_id=campaign["id"])
                for page in paged(
                    api, path, "emails", "email_activity", {"since": happened.start_value}
                ):
                    rows = [row for email in page for row in activity_rows(email, end)]
                    if rows:
                        yield rows

    return (
        lists,
        members,
        full(STREAMS["campaigns"], {"status": "sent"}),
        full(STREAMS["reports"]),
        email_activity,
    )
