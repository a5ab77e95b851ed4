"""Mailchimp Marketing API 3.0: audiences, members, campaigns, reports and email activity.

Paged with ``count``/``offset``. Members are incremental per audience on
``since_last_changed``; email activity per campaign on ``since`` (each event's timestamp), one
row per event (open, click, bounce). Each audience's and each campaign's cursor moves to the
run's end only once that audience or campaign has been read to the end, so a run stopped midway
re-reads just what it had not finished. Campaigns and reports are small and their counters
change, so they are re-read in full.

``REVOPS_MAILCHIMP_URL`` defaults to the API key's data centre (``-us1`` ->
``https://us1.api.mailchimp.com/3.0``); the key travels as HTTP basic auth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt

from revops.sources.base import (
    OffsetPaginator,
    Stream,
    Window,
    earliest,
    flatten,
    parse_ts,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient
from revops.sources.settings import SettingsError, api_url, optional, setting

SYSTEM = "mailchimp"
PAGE_SIZE = 1000
INITIAL = datetime(2000, 1, 1, tzinfo=UTC)
OVERLAP = timedelta(seconds=1)  # ``since`` filters are "after": re-read the boundary second

# Declared so optional event fields (bounce type, click URL) have columns from the first load.
ACTIVITY_COLUMNS = {
    name: {"data_type": "text"}
    for name in (
        "campaign_id",
        "list_id",
        "email_id",
        "email_address",
        "action",
        "type",
        "timestamp",
        "url",
        "ip",
    )
}
ACTIVITY_COLUMNS["occurrence"] = {"data_type": "bigint"}

STREAMS = {
    "lists": Stream("lists", "id", None, "lists", OffsetPaginator("lists", PAGE_SIZE)),
    "members": Stream(
        "members",
        ("list_id", "id"),
        "last_changed",
        "lists/{list_id}/members",
        OffsetPaginator("members", PAGE_SIZE),
    ),
    "campaigns": Stream(
        "campaigns",
        "id",
        None,
        "campaigns",
        OffsetPaginator("campaigns", PAGE_SIZE),
        params={"status": "sent"},
    ),
    "reports": Stream("reports", "id", None, "reports", OffsetPaginator("reports", PAGE_SIZE)),
    "email_activity": Stream(
        "email_activity",
        ("campaign_id", "email_id", "action", "timestamp", "occurrence"),
        "timestamp",
        "reports/{campaign_id}/email-activity",
        OffsetPaginator("emails", PAGE_SIZE),
    ),
}


def base_url(api_key: str) -> str:
    """``REVOPS_MAILCHIMP_URL``, or the data centre's URL from the key's ``-usN`` suffix."""
    if optional(SYSTEM, "url"):
        return api_url(SYSTEM, "", "3.0")
    if "-" not in api_key:
        raise SettingsError(
            "mailchimp: REVOPS_MAILCHIMP_API_KEY has no data-centre suffix (like -us1) "
            "and REVOPS_MAILCHIMP_URL is not set"
        )
    return f"https://{api_key.rsplit('-', 1)[1]}.api.mailchimp.com/3.0"


def client() -> ApiClient:
    """An API client using HTTP basic auth with the API key."""
    api_key = setting(SYSTEM, "api_key")
    return ApiClient(system=SYSTEM, base_url=base_url(api_key), auth=("revops", api_key))


def drop_links(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without Mailchimp's hypermedia ``_links``."""
    return [{k: v for k, v in item.items() if k != "_links"} for item in items]


def activity_rows(
    email: dict[str, Any], until: datetime, since: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per activity event of one recipient, events at or after ``until`` (and, in a
    backfill, before ``since``) left out.

    Mailchimp stamps events to the second, so one recipient can have two events with the same
    action and timestamp (two opens, two clicks on different links): ``occurrence`` numbers
    them in the order Mailchimp lists them, so each stays a row of its own.
    """
    base = {k: v for k, v in email.items() if k not in ("activity", "_links")}
    rows = []
    seen: dict[tuple[Any, Any], int] = {}
    for event in email.get("activity") or []:
        stamp = event.get("timestamp")
        key = (event.get("action"), stamp)
        seen[key] = seen.get(key, 0) + 1
        if stamp and not (parse_ts(stamp) < until and (since is None or parse_ts(stamp) >= since)):
            continue
        rows.append({**base, **flatten(event), "occurrence": seen[key]})
    return rows


def _since(window: Window, cursors: dict[str, str], key: str, initial: datetime) -> str:
    """The ``since`` filter value of one audience or campaign: a second before where its read
    starts (Mailchimp's filter is "after"), or ``initial`` on the first run."""
    cursor = parse_ts(cursors[key]) if key in cursors else None
    start = window.start(cursor, initial)
    return (start - OVERLAP if cursor is not None or window.backfill else start).isoformat()


@dlt.source(name="mailchimp", max_table_nesting=0)
def mailchimp_source(
    until: datetime | None = None, initial: datetime = INITIAL, since: datetime | None = None
):
    """The Mailchimp streams, each merged on its primary key into ``raw_mailchimp``; ``since``:
    a backfill of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    window = Window.of(since, until)
    end = window.until

    def full(stream: Stream):
        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            with tracked_stream(SYSTEM, stream.name):
                for page in stream.pages(api):
                    yield from screened(stream, [flatten(item) for item in drop_links(page)])

        return read

    def per_parent(
        stream: Stream, parents: Stream, key: str, read: Callable[[str, str], Iterator[Any]]
    ) -> Iterator[Any]:
        """Read ``stream`` once per audience or campaign listed by ``parents``, each from its own
        cursor (``read(path, since)`` yields its rows), moving that cursor to the window's end
        once it is read; how far the stream is complete is the earliest cursor, known only once
        every parent is listed."""
        cursors: dict[str, str] = window.state().setdefault("cursors", {})
        ids: list[str] = []
        listed = {"all": False}
        first = window.start(None, initial).isoformat()  # a parent not read before

        def reached() -> str | None:
            return earliest(cursors, ids, first) if listed["all"] else None

        with tracked_stream(SYSTEM, stream.name, position=reached):
            pages = parents.paginator.pages(api, parents.path, stream.name, parents.params)
            found = [item for page in pages for item in page]
            ids.extend(item["id"] for item in found)
            listed["all"] = True
            for item in found:
                path = stream.path.format(**{key: item["id"]})
                yield from read(path, _since(window, cursors, item["id"], initial))
                cursors[item["id"]] = end.isoformat()

    members_stream = STREAMS["members"]

    @dlt.resource(**resource_hints(members_stream))
    def members() -> Iterator[Any]:
        def read(path: str, since: str) -> Iterator[Any]:
            for page in members_stream.pages(api, path, since_last_changed=since):
                rows = [
                    flatten(m)
                    for m in drop_links(page)
                    if not m.get("last_changed") or window.contains(parse_ts(m["last_changed"]))
                ]
                yield from screened(members_stream, rows)

        yield from per_parent(members_stream, STREAMS["lists"], "list_id", read)

    activity_stream = STREAMS["email_activity"]

    @dlt.resource(**resource_hints(activity_stream, columns=ACTIVITY_COLUMNS))
    def email_activity() -> Iterator[Any]:
        def read(path: str, since: str) -> Iterator[Any]:
            for page in activity_stream.pages(api, path, since=since):
                rows = [row for email in page for row in activity_rows(email, end, window.since)]
                yield from screened(activity_stream, rows)

        yield from per_parent(activity_stream, STREAMS["campaigns"], "campaign_id", read)

    return (
        full(STREAMS["lists"]),
        members,
        full(STREAMS["campaigns"]),
        full(STREAMS["reports"]),
        email_activity,
    )
