"""Google Ads API (REST ``googleAds:searchStream`` with GAQL): spend, clicks and the click ids.

* customers (currency, time zone), campaigns and ad groups are re-read in full every run;
* campaign daily performance re-reads the last 14 days behind its cursor (platforms restate
  recent days), in chunks of :data:`CHUNK_DAYS` days, each row carrying the account's currency
  and time zone beside its day and its ``cost_micros``;
* ``click_view`` (gclid -> campaign / ad group) is read one day per query, as the API requires,
  at most 90 days back, re-reading 3 days.

The cursor of a daily stream is the first day not yet read; it moves forward after each chunk
(or day) has been yielded, so a run stopped by a used-up quota resumes where it stopped.
``searchStream`` answers are one JSON array of batches, decoded as they stream in.

The API version is ``REVOPS_GOOGLE_ADS_API_VERSION``, by default the one
:mod:`revops.sources.versions` lists for Google Ads (a version Google serves today, with its
sunset date; a run warns when the version it sends is near or past its sunset).
GAQL returns int64 values (``cost_micros``, ids) as strings and keeps them so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import dlt

from revops.sources.base import (
    NOTES,
    Stream,
    Window,
    day_chunks,
    days,
    flatten,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient
from revops.sources.settings import (
    api_url,
    id_list,
    oauth_token,
    optional,
    setting,
    start_date,
)
from revops.sources.versions import api_version

SYSTEM = "google_ads"
DEFAULT_URL = "https://googleads.googleapis.com"
CLICK_VIEW_MAX_DAYS = 90
CHUNK_DAYS = 31
HISTORY_DAYS = 365

STREAMS = {
    "customers": Stream("customers", "customer__id", None, "customer"),
    "campaigns": Stream("campaigns", "campaign__id", None, "campaign"),
    "ad_groups": Stream("ad_groups", "ad_group__id", None, "ad_group"),
    "campaign_daily": Stream(
        "campaign_daily",
        ("customer__id", "campaign__id", "segments__date"),
        "segments__date",
        "campaign",
        lookback_days=14,
    ),
    "click_views": Stream(
        "click_views", "click_view__gclid", "segments__date", "click_view", lookback_days=3
    ),
}

QUERIES = {
    "customers": "SELECT customer.id, customer.descriptive_name, customer.currency_code, "
    "customer.time_zone FROM customer",
    "campaigns": "SELECT customer.id, campaign.id, campaign.name, campaign.status, "
    "campaign.advertising_channel_type FROM campaign",
    "ad_groups": "SELECT customer.id, campaign.id, ad_group.id, ad_group.name, ad_group.status "
    "FROM ad_group",
    "campaign_daily": "SELECT customer.id, customer.currency_code, customer.time_zone, "
    "campaign.id, segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros, "
    "metrics.conversions FROM campaign WHERE segments.date BETWEEN '{start}' AND '{end}'",
    "click_views": "SELECT customer.id, click_view.gclid, segments.date, campaign.id, "
    "ad_group.id FROM click_view WHERE segments.date = '{day}'",
}


def client() -> ApiClient:
    """An API client for ``REVOPS_GOOGLE_ADS_URL`` with OAuth and developer-token headers."""
    oauth = oauth_token(SYSTEM, "https://oauth2.googleapis.com/token")
    developer_token = setting(SYSTEM, "developer_token")
    login_customer_id = optional(SYSTEM, "login_customer_id")

    def headers() -> dict[str, str]:
        headers = {"Authorization": f"Bearer {oauth.token()}", "developer-token": developer_token}
        if login_customer_id:
            headers["login-customer-id"] = login_customer_id.replace("-", "")
        return headers

    return ApiClient(
        system=SYSTEM,
        base_url=api_url(SYSTEM, DEFAULT_URL, api_version(SYSTEM)),
        headers=headers,
        oauth=oauth,
    )


def search_stream(api: ApiClient, customer_id: str, query: str, stream: str) -> Iterator[dict]:
    """Every result row of one GAQL query, flattened to ``resource__field`` columns."""
    batches = api.json_array_items(
        "POST", f"customers/{customer_id}/googleAds:searchStream", stream, json={"query": query}
    )
    for batch in batches:
        NOTES.count_page(stream)  # one searchStream batch (up to 10,000 rows) counts as a page
        for result in batch.get("results", []) if isinstance(batch, dict) else []:
            row = flatten(result)
            if "segments__date" in row:
                row["segments__date"] = date.fromisoformat(row["segments__date"])
            yield row


@dlt.source(name="google_ads", max_table_nesting=0)
def google_ads_source(
    until: datetime | None = None, first_day: date | None = None, since: datetime | None = None
):
    """The Google Ads streams, each merged on its primary key into ``raw_google_ads``;
    ``since``: a backfill of the days of ``[since, until)`` (:class:`revops.sources.base.Window`).
    """
    api = client()
    customers = id_list(SYSTEM, "customer_ids")
    window = Window.of(since, until)
    end_day = window.end_day  # exclusive: the window ends before it
    initial = first_day or start_date(SYSTEM, end_day - timedelta(days=HISTORY_DAYS))

    def full(stream: Stream):
        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            with tracked_stream(SYSTEM, stream.name):
                for customer_id in customers:
                    rows = list(search_stream(api, customer_id, QUERIES[stream.name], stream.name))
                    yield from screened(stream, rows)

        return read

    daily = STREAMS["campaign_daily"]

    @dlt.resource(**resource_hints(daily, columns={"segments__date": {"data_type": "date"}}))
    def campaign_daily() -> Iterator[Any]:
        state = window.state()
        cursor = date.fromisoformat(state["cursor"]) if state.get("cursor") else None
        start = window.first_day(cursor, initial, daily.lookback_days)
        # complete up to its cursor (the first day not read), or the first day it reads
        with tracked_stream(SYSTEM, daily.name, position=lambda: state.get("cursor") or start):
            for first, last in day_chunks(start, end_day, CHUNK_DAYS):
                query = QUERIES[daily.name].format(start=first.isoformat(), end=last.isoformat())
                for customer_id in customers:
                    rows: list[dict[str, Any]] = []
                    for row in search_stream(api, customer_id, query, daily.name):
                        rows.append(row)
                        if len(rows) >= 5000:
                            yield from screened(daily, rows)
                            rows = []
                    yield from screened(daily, rows)
                state["cursor"] = (last + timedelta(days=1)).isoformat()

    clicks = STREAMS["click_views"]

    @dlt.resource(**resource_hints(clicks, columns={"segments__date": {"data_type": "date"}}))
    def click_views() -> Iterator[Any]:
        state = window.state()
        cursor = date.fromisoformat(state["cursor"]) if state.get("cursor") else None
        oldest = end_day - timedelta(days=CLICK_VIEW_MAX_DAYS - 1)
        start = window.first_day(cursor, initial, clicks.lookback_days, oldest)
        with tracked_stream(SYSTEM, clicks.name, position=lambda: state.get("cursor") or start):
            for one_day in days(start, end_day):
                query = QUERIES[clicks.name].format(day=one_day.isoformat())
                for customer_id in customers:
                    yield from screened(
                        clicks, list(search_stream(api, customer_id, query, clicks.name))
                    )
                state["cursor"] = (one_day + timedelta(days=1)).isoformat()

    return (
        full(STREAMS["customers"]),
        full(STREAMS["campaigns"]),
        full(STREAMS["ad_groups"]),
        campaign_daily,
        click_views,
    )
