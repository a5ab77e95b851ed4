"""LinkedIn Marketing API (versioned REST, Rest.li 2.0): ad accounts, campaign groups,
campaigns and daily campaign analytics.

* Ad accounts (``q=search``), campaign groups and campaigns (``q=search`` under each account,
  every status including ``REMOVED`` so removed ones stay, flagged by their status) are re-read
  in full every run, paged with ``pageSize``/``pageToken``.
* ``adAnalytics`` with ``q=analytics``, ``pivot=CAMPAIGN``, ``timeGranularity=DAILY`` gives one
  row per campaign and day (LinkedIn reports days in UTC); it has no paging, so it is asked for
  :data:`CHUNK_DAYS` days at a time, re-reading 14 days behind the cursor because LinkedIn
  restates recent days. Each row keeps ``costInLocalCurrency`` (a string, as sent) and gains the
  account's currency and ``UTC`` as its day's time zone.

Rest.li query values (``List(...)``, ``(start:(year:...))``) are sent unencoded but for the
URNs inside them, as LinkedIn requires. ``REVOPS_LINKEDIN_ADS_VERSION`` sets the
``LinkedIn-Version`` header (YYYYMM).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import dlt

from revops.sources.base import (
    PageTokenPaginator,
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
from revops.sources.settings import (
    api_url,
    id_list,
    oauth_token,
    optional,
    setting,
    start_date,
)

SYSTEM = "linkedin_ads"
DEFAULT_URL = "https://api.linkedin.com"
DEFAULT_VERSION = "202509"
CHUNK_DAYS = 30
HISTORY_DAYS = 365
PAGES = PageTokenPaginator(page_size=100)

GROUP_STATUSES = "ACTIVE,ARCHIVED,CANCELED,DRAFT,PAUSED,PENDING_DELETION,REMOVED"
CAMPAIGN_STATUSES = "ACTIVE,PAUSED,ARCHIVED,COMPLETED,CANCELED,DRAFT,PENDING_DELETION,REMOVED"
ANALYTICS_FIELDS = (
    "dateRange,pivotValues,impressions,clicks,costInLocalCurrency,costInUsd,"
    "externalWebsiteConversions,landingPageClicks"
)

STREAMS = {
    "ad_accounts": Stream("ad_accounts", "id", None, "adAccounts?q=search", PAGES),
    "campaign_groups": Stream(
        "campaign_groups",
        "id",
        None,
        "adAccounts/{account}/adCampaignGroups?q=search"
        f"&search=(status:(values:List({GROUP_STATUSES})))",
        PAGES,
    ),
    "campaigns": Stream(
        "campaigns",
        "id",
        None,
        "adAccounts/{account}/adCampaigns?q=search"
        f"&search=(status:(values:List({CAMPAIGN_STATUSES})))",
        PAGES,
    ),
    "campaign_analytics": Stream(
        "campaign_analytics",
        ("campaign", "date"),
        "date",
        "adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY"
        "&dateRange={date_range}&accounts=List({account_urn})&fields=" + ANALYTICS_FIELDS,
        SinglePage("elements"),
        lookback_days=14,
    ),
}


def client() -> ApiClient:
    """An API client for ``REVOPS_LINKEDIN_ADS_URL`` with OAuth and Rest.li headers."""
    oauth = oauth_token(SYSTEM, "https://www.linkedin.com/oauth/v2/accessToken")
    version = setting(SYSTEM, "version", DEFAULT_VERSION)
    return ApiClient(
        system=SYSTEM,
        base_url=api_url(SYSTEM, DEFAULT_URL, "rest"),
        headers=lambda: {
            "Authorization": f"Bearer {oauth.token()}",
            "LinkedIn-Version": version,
            "X-Restli-Protocol-Version": "2.0.0",
        },
        oauth=oauth,
    )


def account_urn(account_id: str | int) -> str:
    """``urn:li:sponsoredAccount:<id>``, encoded for use inside a Rest.li value."""
    return quote(f"urn:li:sponsoredAccount:{account_id}", safe="")


def date_range(first: date, last: date) -> str:
    """A Rest.li ``dateRange`` value for the inclusive days ``first`` .. ``last``."""
    return (
        f"(start:(year:{first.year},month:{first.month},day:{first.day}),"
        f"end:(year:{last.year},month:{last.month},day:{last.day}))"
    )


def analytics_row(element: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    """One campaign-day: LinkedIn's fields flattened, plus campaign, day, currency, time zone."""
    row = flatten(element)
    start = (element.get("dateRange") or {}).get("start") or {}
    try:
        row["date"] = date(int(start["year"]), int(start["month"]), int(start["day"]))
    except (KeyError, TypeError, ValueError):
        row["date"] = None  # set aside by the primary-key check
    pivots = element.get("pivotValues") or []
    row["campaign"] = pivots[0] if pivots else None
    row["campaign_id"] = str(pivots[0]).rsplit(":", 1)[-1] if pivots else None
    row["account_id"] = account.get("id")
    row["account_currency"] = account.get("currency")
    row["time_zone"] = "UTC"
    return row


@dlt.source(name="linkedin_ads", max_table_nesting=0)
def linkedin_ads_source(
    until: datetime | None = None, first_day: date | None = None, since: datetime | None = None
):
    """The LinkedIn Ads streams, each merged on its primary key into ``raw_linkedin_ads``;
    ``since``: a backfill of the days of ``[since, until)`` (:class:`revops.sources.base.Window`).
    """
    api = client()
    wanted = set(id_list(SYSTEM, "account_ids")) if optional(SYSTEM, "account_ids") else None
    window = Window.of(since, until)
    end_day = window.end_day
    initial = first_day or start_date(SYSTEM, end_day - timedelta(days=HISTORY_DAYS))
    known: list[dict[str, Any]] = []

    def accounts() -> list[dict[str, Any]]:
        if not known:
            for page in STREAMS["ad_accounts"].pages(api):
                known.extend(a for a in page if wanted is None or str(a.get("id")) in wanted)
        return known

    accounts_stream = STREAMS["ad_accounts"]

    @dlt.resource(**resource_hints(accounts_stream))
    def ad_accounts() -> Iterator[Any]:
        with tracked_stream(SYSTEM, accounts_stream.name):
            yield from screened(accounts_stream, [flatten(a) for a in accounts()])

    def per_account(stream: Stream):
        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            with tracked_stream(SYSTEM, stream.name):
                for account in accounts():
                    path = stream.path.format(account=account["id"])
                    for page in stream.pages(api, path):
                        yield from screened(stream, [flatten(r) for r in page])

        return read

    analytics = STREAMS["campaign_analytics"]

    @dlt.resource(**resource_hints(analytics, columns={"date": {"data_type": "date"}}))
    def campaign_analytics() -> Iterator[Any]:
        cursors: dict[str, str] = window.state().setdefault("cursors", {})
        first = window.first_day(None, initial, 0).isoformat()  # an account not read before

        def reached() -> str | None:  # the earliest account's cursor, once accounts are known
            ids = [str(a["id"]) for a in known]
            return earliest(cursors, ids, first) if ids else None

        with tracked_stream(SYSTEM, analytics.name, position=reached):
            for account in accounts():
                key = str(account["id"])
                cursor = date.fromisoformat(cursors[key]) if key in cursors else None
                start = window.first_day(cursor, initial, analytics.lookback_days)
                for first, last in day_chunks(start, end_day, CHUNK_DAYS):
                    path = analytics.path.format(
                        date_range=date_range(first, last), account_urn=account_urn(key)
                    )
                    for page in analytics.pages(api, path):
                        yield from screened(analytics, [analytics_row(e, account) for e in page])
                    cursors[key] = (last + timedelta(days=1)).isoformat()

    return (
        ad_accounts,
        per_account(STREAMS["campaign_groups"]),
        per_account(STREAMS["campaigns"]),
        campaign_analytics,
    )
