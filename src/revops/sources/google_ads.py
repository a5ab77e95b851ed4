"""Google Ads API (REST ``googleAds:searchStream`` with GAQL): spend, clicks and the click ids.

Daily campaign metrics are re-read over a lookback window (platforms restate recent days);
``click_view`` is read one day per query, as the API requires, at most 90 days back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import dlt

from revops.sources.base import Stream, days, default_until, flatten
from revops.sources.http import ApiClient
from revops.sources.settings import setting

SYSTEM = "google_ads"
CLICK_VIEW_MAX_DAYS = 90

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
    "campaign_daily": "SELECT customer.id, campaign.id, segments.date, metrics.impressions, "
    "metrics.clicks, metrics.cost_micros, metrics.conversions FROM campaign "
    "WHERE segments.date BETWEEN '{start}' AND '{end}'",
    "click_views": "SELECT customer.id, click_view.gclid, segments.date, campaign.id, "
    "ad_group.id FROM click_view WHERE segments.date = '{day}'",
}


class GoogleAdsAuth:
    """An OAuth access token: ``REVOPS_GOOGLE_ADS_ACCESS_TOKEN``, or one refreshed on demand."""

    def __init__(self) -> None:
        self._token = setting(SYSTEM, "access_token", "") or None
        self.developer_token = setting(SYSTEM, "developer_token")
        self.login_customer_id = setting(SYSTEM, "login_customer_id", "")

    def headers(self) -> dict[str, str]:
        """Request headers for the Ads API."""
        if self._token is None:
            self._token = self._refresh()
        headers = {
            "Authorization": f"Bearer {self._token}",
            "developer-token": self.developer_token,
        }
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id
        return headers

    def _refresh(self) -> str:
        oauth = ApiClient(
            system=SYSTEM,
            base_url=setting(SYSTEM, "token_url", "https://oauth2.googleapis.com/token"),
        )
        answer = oauth.post_json(
            "",
            "oauth_token",
            data={
                "grant_type": "refresh_token",
                "client_id": setting(SYSTEM, "client_id"),
                "client_secret": setting(SYSTEM, "client_secret"),
                "refresh_token": setting(SYSTEM, "refresh_token"),
            },
        )
        return answer["access_token"]


def client() -> ApiClient:
    """An API client for ``REVOPS_GOOGLE_ADS_BASE_URL`` with OAuth headers."""
    auth = GoogleAdsAuth()
    return ApiClient(
        system=SYSTEM,
        base_url=setting(SYSTEM, "base_url", "https://googleads.googleapis.com/v17"),
        headers=auth.headers,
    )


def customer_ids() -> list[str]:
    """The customer ids to read (``REVOPS_GOOGLE_ADS_CUSTOMER_IDS``, comma-separated)."""
    raw = setting(SYSTEM, "customer_ids")
    return [part.strip().replace("-", "") for part in raw.split(",") if part.strip()]


def search_stream(api: ApiClient, customer_id: str, query: str, stream: str) -> Iterator[dict]:
    """Every result row of one GAQL query, flattened to ``resource__field`` columns."""
    batches = api.post_json(
        f"customers/{customer_id}/googleAds:searchStream", stream, json={"query": query}
    )
    for batch in batches or []:
        for result in batch.get("results", []):
            row = flatten(result)
            if "segments__date" in row:
                row["segments__date"] = date.fromisoformat(row["segments__date"])
            yield row


@dlt.source(name="google_ads", max_table_nesting=0)
def google_ads_source(until: datetime | None = None, start_date: date | None = None):
    """The Google Ads streams, each merged on its primary key into ``raw_google_ads``."""
    api = client()
    customers = customer_ids()
    end_day = (until or default_until()).date()  # exclusive: the window ends before this day
    configured = setting(SYSTEM, "start_date", "")
    first_day = start_date or (
        date.fromisoformat(configured) if configured else end_day - timedelta(days=365)
    )

    def full(stream: Stream):
        @dlt.resource(name=stream.name, primary_key=stream.primary_key, write_disposition="merge")
        def read() -> Iterator[list[dict[str, Any]]]:
            for customer_id in customers:
                yield list(search_stream(api, customer_id, QUERIES[stream.name], stream.name))

        return read

    daily = STREAMS["campaign_daily"]

    @dlt.resource(name=daily.name, primary_key=daily.primary_key, write_disposition="merge")
    def campaign_daily(
        day=dlt.sources.incremental(daily.cursor, initial_value=first_day, lag=daily.lookback_days),
    ) -> Iterator[list[dict[str, Any]]]:
        start = max(day.start_value, first_day)
        last = end_day - timedelta(days=1)
        if start > last:
            return
        query = QUERIES[daily.name].format(start=start.isoformat(), end=last.isoformat())
        for customer_id in customers:
            yield list(search_stream(api, customer_id, query, daily.name))

    clicks = STREAMS["click_views"]

    @dlt.resource(name=clicks.name, primary_key=clicks.primary_key, write_disposition="merge")
    def click_views(
        day=dlt.sources.incremental(
            clicks.cursor, initial_value=first_day, lag=clicks.lookback_days
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        oldest = end_day - timedelta(days=CLICK_VIEW_MAX_DAYS - 1)
        for one_day in days(max(day.start_value, first_day, oldest), end_day):
            query = QUERIES[clicks.name].format(day=one_day.isoformat())
            for customer_id in customers:
                rows = list(search_stream(api, customer_id, query, clicks.name))
                if rows:
                    yield rows

    return (
        full(STREAMS["customers"]),
        full(STREAMS["campaigns"]),
        full(STREAMS["ad_groups"]),
        campaign_daily,
        click_views,
    )
