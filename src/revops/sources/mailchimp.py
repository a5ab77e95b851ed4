"""Mailchimp Marketing API 3.0: audiences, members, campaigns, reports and email activity.

Paged with ``count``/``offset``. Members are incremental per audience on
``since_last_changed``; email activity per campaign on ``since`` (each event's timestamp), one
row per event (open, click, bounce). Each audience's and each campaign's cursor moves to the
newest record read from it (``last_changed``, an event's ``timestamp``), once that audience or
campaign has been read to the end, so a run stopped midway re-reads just what it had not
finished; each run re-reads :data:`OVERLAP` behind a cursor (Mailchimp's open statistics take
up to 30 minutes to show), merged on the keys so nothing doubles.

Email activity is read only for campaigns that can still change: a campaign whose activity has
been read up to :func:`activity_days` (``REVOPS_MAILCHIMP_ACTIVITY_DAYS``, default 30) days
after its ``send_time`` is *closed*; later incremental runs make no call for it, and its rows
stay in the warehouse (merged, never deleted). A campaign never read (the first run, or one a
run stopped before) is read in full whatever its age, and a backfill reads every campaign sent
before its window ends. Campaigns and reports are small and their counters change, so they are
re-read in full.

``REVOPS_MAILCHIMP_URL`` defaults to the API key's data centre (``-us1`` ->
``https://us1.api.mailchimp.com/3.0``); the key travels as HTTP basic auth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt

from revops.sources.base import (
    Newest,
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
OVERLAP = timedelta(hours=1)
"""Re-read behind each cursor: Mailchimp says open statistics can take 15-30 minutes to update
(clicks update at once, bounces are checked every minute but can lag under heavy traffic), so
an event can surface after a later one was read; twice the longest documented delay."""
BOUNDARY = timedelta(
    seconds=1
)  # ``since`` filters are "after": a backfill re-reads its first second
DEFAULT_ACTIVITY_DAYS = 30
"""Days after ``send_time`` during which a campaign's email activity is read again each run."""

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

# The fields Mailchimp's API reference types as "number" (rates, amounts, coordinates). JSON
# carries a whole number without a decimal point (0, 1, 40), and a column typed from such a first
# value (bigint) refuses every later fraction: the load fails on every run after. They are
# declared double, whatever arrives first. (Flattened names: dlt joins nested keys with "__".)
NUMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "lists": tuple(
        f"stats__{name}"
        for name in ("avg_sub_rate", "avg_unsub_rate", "target_sub_rate", "open_rate", "click_rate")
    ),
    "members": (
        "stats__avg_open_rate",
        "stats__avg_click_rate",
        "stats__ecommerce_data__total_revenue",
        "location__latitude",
        "location__longitude",
    ),
    "campaigns": (
        "report_summary__open_rate",
        "report_summary__click_rate",
        "report_summary__ecommerce__total_revenue",
        "report_summary__ecommerce__total_spent",
    ),
    "reports": (
        "opens__open_rate",
        "clicks__click_rate",
        *(f"list_stats__{name}" for name in ("sub_rate", "unsub_rate", "open_rate", "click_rate")),
        *(
            f"industry_stats__{name}"
            for name in (
                "open_rate",
                "click_rate",
                "bounce_rate",
                "unopen_rate",
                "unsub_rate",
                "abuse_rate",
            )
        ),
        "ecommerce__total_revenue",
        "ecommerce__total_spent",
    ),
}


def number_columns(stream: str) -> dict[str, dict[str, str]]:
    """The dlt column hints that type ``stream``'s number fields double."""
    return {name: {"data_type": "double"} for name in NUMBER_FIELDS.get(stream, ())}


STREAMS = {
    "lists": Stream("lists", "id", None, "lists", OffsetPaginator("lists", PAGE_SIZE)),
    "members": Stream(
        "members",
        ("list_id", "id"),
        "last_changed",
        "lists/{list_id}/members",
        OffsetPaginator("members", PAGE_SIZE),
        overlap=OVERLAP,
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
        overlap=OVERLAP,
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


def activity_days() -> int:
    """``REVOPS_MAILCHIMP_ACTIVITY_DAYS``: how many days after its send a campaign's email
    activity is still read (whole days, 1 to 3650; default :data:`DEFAULT_ACTIVITY_DAYS`)."""
    from revops.settings import current

    return current().mailchimp_activity_days


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


def _since(window: Window, cursor: str | None, initial: datetime, overlap: timedelta) -> str:
    """The ``since`` filter value of one audience or campaign: its cursor (the newest record
    read from it) less ``overlap``, ``initial`` on the first read, or a second before a
    backfill's start (Mailchimp's filter is "after")."""
    start = window.start(parse_ts(cursor) if cursor else None, initial, overlap)
    return (start - BOUNDARY if window.backfill else start).isoformat()


@dlt.source(name="mailchimp", max_table_nesting=0)
def mailchimp_source(
    until: datetime | None = None, initial: datetime = INITIAL, since: datetime | None = None
):
    """The Mailchimp streams, each merged on its primary key into ``raw_mailchimp``; ``since``:
    a backfill of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    window = Window.of(since, until)
    end = window.until
    open_for = timedelta(days=activity_days())

    def full(stream: Stream):
        @dlt.resource(**resource_hints(stream, columns=number_columns(stream.name)))
        def read() -> Iterator[Any]:
            with tracked_stream(SYSTEM, stream.name):
                for page in stream.pages(api):
                    yield from screened(stream, [flatten(item) for item in drop_links(page)])

        return read

    def per_parent(
        stream: Stream,
        parents: Stream,
        key: str,
        read: Callable[[str, str, Newest], Iterator[Any]],
        closed: Callable[[dict[str, Any], dict[str, str]], bool] = lambda item, read_to: False,
    ) -> Iterator[Any]:
        """Read ``stream`` once per audience or campaign listed by ``parents`` that is not
        ``closed``, each from its own cursor (``read(path, since, newest)`` yields its rows and
        shows ``newest`` each row's change time). Once a parent is read to the end its cursor
        moves to the newest record read (kept where it was when none was) and ``read_to``
        records the window's end. How far the stream is complete: the earliest ``read_to`` of
        the parents read, known only once every parent is listed."""
        state = window.state()
        cursors: dict[str, str] = state.setdefault("cursors", {})
        read_to: dict[str, str] = state.setdefault("read_to", {})
        ids: list[str] = []
        listed = {"all": False}
        first = window.start(None, initial).isoformat()  # a parent not read before

        def reached() -> str | None:
            if not listed["all"]:
                return None
            return earliest(read_to, ids, first) if ids else end.isoformat()

        with tracked_stream(SYSTEM, stream.name, position=reached):
            pages = parents.paginator.pages(api, parents.path, stream.name, parents.params)
            found = [item for page in pages for item in page]
            todo = [item for item in found if not closed(item, read_to)]
            ids.extend(item["id"] for item in todo)
            listed["all"] = True
            for item in todo:
                parent = item["id"]
                path = stream.path.format(**{key: parent})
                newest = Newest()
                start = _since(window, cursors.get(parent), initial, stream.overlap)
                yield from read(path, start, newest)
                if newest.value is not None:
                    cursors[parent] = max(
                        newest.value, parse_ts(cursors[parent]) if parent in cursors else INITIAL
                    ).isoformat()
                read_to[parent] = end.isoformat()

    members_stream = STREAMS["members"]

    @dlt.resource(**resource_hints(members_stream, columns=number_columns("members")))
    def members() -> Iterator[Any]:
        def read(path: str, since: str, newest: Newest) -> Iterator[Any]:
            for page in members_stream.pages(api, path, since_last_changed=since):
                rows = [
                    flatten(m)
                    for m in drop_links(page)
                    if not m.get("last_changed") or window.contains(parse_ts(m["last_changed"]))
                ]
                for row in rows:
                    newest.see(row.get("last_changed"))
                yield from screened(members_stream, rows)

        yield from per_parent(members_stream, STREAMS["lists"], "list_id", read)

    activity_stream = STREAMS["email_activity"]

    def closed(campaign: dict[str, Any], read_to: dict[str, str]) -> bool:
        """A campaign whose activity was read past ``open_for`` after its send (plus the
        overlap an event can take to show): nothing Mailchimp records for it is read again.
        A backfill reads every campaign sent before its window ends."""
        sent, done = campaign.get("send_time"), read_to.get(campaign["id"])
        if sent and parse_ts(sent) >= end:
            return True  # sent after the window: no activity in it yet
        if window.backfill or not sent or not done:
            return False  # never read to the end: read it (the first run reads every campaign)
        return parse_ts(done) - OVERLAP >= parse_ts(sent) + open_for

    @dlt.resource(**resource_hints(activity_stream, columns=ACTIVITY_COLUMNS))
    def email_activity() -> Iterator[Any]:
        def read(path: str, since: str, newest: Newest) -> Iterator[Any]:
            for page in activity_stream.pages(api, path, since=since):
                rows = [row for email in page for row in activity_rows(email, end, window.since)]
                for row in rows:
                    newest.see(row.get("timestamp"))
                yield from screened(activity_stream, rows)

        yield from per_parent(
            activity_stream, STREAMS["campaigns"], "campaign_id", read, closed=closed
        )

    return (
        full(STREAMS["lists"]),
        members,
        full(STREAMS["campaigns"]),
        full(STREAMS["reports"]),
        email_activity,
    )
