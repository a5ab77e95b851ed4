"""Meta Marketing API (Graph): ad accounts, campaigns, ad sets, ads and daily ad insights.

* The ad account (currency, time zone), campaigns, ad sets and ads are re-read in full every
  run, deleted and archived ones included (``effective_status`` lists every status), so a
  deleted campaign stays in ``raw_meta_ads`` with its status.
* Insights are read at ad level, one row per ad and day (``time_increment=1``), in chunks of
  :data:`CHUNK_DAYS` days, re-reading 28 days behind the cursor because Meta restates recent
  days (attribution windows). Each row keeps Meta's ``account_currency`` and gains the
  account's ``account_timezone``: ``date_start`` is a day in that time zone.

Meta sends metrics as strings (``"spend": "12.34"``) and they are kept so; ``actions`` is kept
as the list Meta sends. The token goes in the ``Authorization`` header, never in a URL, and
``paging.next`` links are followed as given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import dlt

from revops.sources.base import (
    NextLinkPaginator,
    SinglePage,
    Stream,
    Window,
    day_chunks,
    earliest,
    flatten,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient
from revops.sources.settings import api_url, id_list, setting, start_date

SYSTEM = "meta_ads"
DEFAULT_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
CHUNK_DAYS = 14
HISTORY_DAYS = 365
PAGES = NextLinkPaginator(items="data", next_link="paging.next", limit_param="limit", limit=500)

EVERY_STATUS = [
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "ARCHIVED",
    "PENDING_REVIEW",
    "DISAPPROVED",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "IN_PROCESS",
    "WITH_ISSUES",
]

FIELDS = {
    "ad_accounts": "id,account_id,name,currency,timezone_name,timezone_offset_hours_utc,"
    "account_status,business_name,created_time",
    "campaigns": "id,account_id,name,objective,status,effective_status,buying_type,"
    "daily_budget,lifetime_budget,start_time,stop_time,created_time,updated_time",
    "ad_sets": "id,account_id,campaign_id,name,status,effective_status,optimization_goal,"
    "billing_event,bid_strategy,daily_budget,start_time,end_time,created_time,updated_time",
    "ads": "id,account_id,campaign_id,adset_id,name,status,effective_status,creative,"
    "tracking_specs,created_time,updated_time",
    "ad_insights": "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,"
    "ad_id,ad_name,objective,date_start,date_stop,spend,impressions,clicks,inline_link_clicks,"
    "reach,actions",
}

STREAMS = {
    "ad_accounts": Stream("ad_accounts", "id", None, "{account}", SinglePage()),
    "campaigns": Stream("campaigns", "id", None, "{account}/campaigns", PAGES),
    "ad_sets": Stream("ad_sets", "id", None, "{account}/adsets", PAGES),
    "ads": Stream("ads", "id", None, "{account}/ads", PAGES),
    "ad_insights": Stream(
        "ad_insights",
        ("ad_id", "date_start"),
        "date_start",
        "{account}/insights",
        PAGES,
        lookback_days=28,
    ),
}


def client() -> ApiClient:
    """An API client for ``REVOPS_META_ADS_URL`` with the access token in a header."""
    token = setting(SYSTEM, "token")
    return ApiClient(
        system=SYSTEM,
        base_url=api_url(SYSTEM, DEFAULT_URL, setting(SYSTEM, "api_version", DEFAULT_API_VERSION)),
        headers=lambda: {"Authorization": f"Bearer {token}"},
    )


def account_ids() -> list[str]:
    """``REVOPS_META_ADS_ACCOUNT_IDS`` as Graph node ids (``act_<id>``)."""
    return [
        raw if raw.startswith("act_") else f"act_{raw}" for raw in id_list(SYSTEM, "account_ids")
    ]


def insight_row(record: dict[str, Any], time_zone: str | None) -> dict[str, Any]:
    """One ad-day of insights: Meta's fields, plus the account's time zone beside the day."""
    row = flatten(record)
    for column in ("date_start", "date_stop"):
        try:
            row[column] = date.fromisoformat(row[column])
        except (KeyError, TypeError, ValueError):
            pass  # left as sent; a bad value lands in a variant column, logged
    row["account_timezone"] = time_zone
    return row


@dlt.source(name="meta_ads", max_table_nesting=0)
def meta_ads_source(
    until: datetime | None = None, first_day: date | None = None, since: datetime | None = None
):
    """The Meta Ads streams, each merged on its primary key into ``raw_meta_ads``; ``since``:
    a backfill of the days of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    accounts = account_ids()
    window = Window.of(since, until)
    end_day = window.end_day
    initial = first_day or start_date(SYSTEM, end_day - timedelta(days=HISTORY_DAYS))
    time_zones: dict[str, str | None] = {}

    def account_time_zone(account: str) -> str | None:
        if account not in time_zones:
            body = api.get_json(account, "ad_accounts", params={"fields": "timezone_name"})
            time_zones[account] = body.get("timezone_name")
        return time_zones[account]

    def entities(stream: Stream):
        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            with tracked_stream(SYSTEM, stream.name):
                for account in accounts:
                    params: dict[str, Any] = {"fields": FIELDS[stream.name]}
                    if stream.name != "ad_accounts":
                        params["effective_status"] = json.dumps(EVERY_STATUS)
                    for page in stream.pages(api, stream.path.format(account=account), **params):
                        if stream.name == "ad_accounts":
                            time_zones[account] = page[0].get("timezone_name") if page else None
                        yield from screened(stream, [flatten(r) for r in page])

        return read

    insights = STREAMS["ad_insights"]

    @dlt.resource(
        **resource_hints(
            insights,
            columns={"date_start": {"data_type": "date"}, "date_stop": {"data_type": "date"}},
        )
    )
    def ad_insights() -> Iterator[Any]:
        cursors: dict[str, str] = window.state().setdefault("cursors", {})
        first = window.first_day(None, initial, 0).isoformat()  # an account not read before
        # complete up to the earliest account's cursor (the first day it has not read)
        with tracked_stream(
            SYSTEM, insights.name, position=lambda: earliest(cursors, accounts, first)
        ):
            for account in accounts:
                cursor = date.fromisoformat(cursors[account]) if account in cursors else None
                start = window.first_day(cursor, initial, insights.lookback_days)
                time_zone = account_time_zone(account)
                for first, last in day_chunks(start, end_day, CHUNK_DAYS):
                    params = {
                        "level": "ad",
                        "time_increment": 1,
                        "time_range": json.dumps(
                            {"since": first.isoformat(), "until": last.isoformat()}
                        ),
                        "fields": FIELDS["ad_insights"],
                    }
                    path = insights.path.format(account=account)
                    for page in insights.pages(api, path, **params):
                        yield from screened(insights, [insight_row(r, time_zone) for r in page])
                    cursors[account] = (last + timedelta(days=1)).isoformat()

    return (
        entities(STREAMS["ad_accounts"]),
        entities(STREAMS["campaigns"]),
        entities(STREAMS["ad_sets"]),
        entities(STREAMS["ads"]),
        ad_insights,
    )
