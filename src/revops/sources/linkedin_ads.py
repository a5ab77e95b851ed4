"""LinkedIn Marketing API (versioned REST, Rest.li 2.0): ad accounts, campaign groups,
campaigns and daily campaign analytics.

* Ad accounts (``q=search``), campaign groups and campaigns (``q=search`` under each account,
  every status including ``REMOVED`` so removed ones stay, flagged by their status) are re-read
  in full every run, paged with ``pageSize``/``pageToken``.
* ``adAnalytics`` with ``q=analytics``, ``pivot=CAMPAIGN``, ``timeGranularity=DAILY`` gives one
  row per campaign and day with activity (LinkedIn reports days in UTC). It has no paging and
  LinkedIn documents at most 15,000 elements per response; above that the excess is dropped
  without an error. So every request names a batch of campaigns (``campaigns=List(...)``) and a
  date range small enough that ``days x campaigns`` - the most rows it can hold - stays under
  :data:`MARGIN` of the cap (:func:`plan`); a response that still comes back with the cap's
  number of elements is not trusted but split in two (campaigns first, then days) and re-read
  (:func:`read_capped`). A batch also keeps the query string under LinkedIn's 4 KB limit.
* The analytics cursor (per account) is the day after the newest day a response actually held
  rows for, never the window's end; each run re-reads :data:`LOOKBACK_DAYS` behind it, because
  LinkedIn restates recent days. Each row keeps ``costInLocalCurrency`` (a string, as sent) and
  gains the account's currency and ``UTC`` as its day's time zone.

Rest.li query values (``List(...)``, ``(start:(year:...))``) are sent unencoded but for the
URNs inside them, as LinkedIn requires. ``REVOPS_LINKEDIN_ADS_API_VERSION`` sets the
``LinkedIn-Version`` header (YYYYMM); its default is LinkedIn's dated list in
:mod:`revops.sources.versions`. The former name ``REVOPS_LINKEDIN_ADS_VERSION`` is refused with
a message naming the new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import dlt

from revops.settings import current
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
from revops.sources.http import ApiClient, SourceError
from revops.sources.settings import (
    api_url,
    id_list,
    oauth_token,
    optional,
    start_date,
)
from revops.sources.versions import api_version

log = logging.getLogger(__name__)

SYSTEM = "linkedin_ads"
DEFAULT_URL = "https://api.linkedin.com"
HISTORY_DAYS = 365
LOOKBACK_DAYS = 14
PAGES = PageTokenPaginator(page_size=100)

MAX_ELEMENTS = 15_000
"""LinkedIn's documented ceiling on the elements of one adAnalytics response (Ads Reporting,
*Restrictions*); ``REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS`` may lower it, never raise it."""
MARGIN = 0.8
"""A request is planned to hold at most this share of the cap."""
MAX_CAMPAIGNS_PER_CALL = 80
"""Campaign URNs per request: 80 encoded URNs (ids up to 12 digits, 44 characters each) and the
other parameters stay under LinkedIn's 4 KB query-string limit (longer ones get 414)."""
MAX_DAYS_PER_CALL = 90
"""Days per request at most, however few the campaigns (a killed run redoes one range)."""

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
        "&dateRange={date_range}&campaigns=List({campaign_urns})&fields=" + ANALYTICS_FIELDS,
        SinglePage("elements"),
        lookback_days=LOOKBACK_DAYS,
    ),
}


def linkedin_version() -> str:
    """The ``LinkedIn-Version`` to send: ``REVOPS_LINKEDIN_ADS_API_VERSION`` or the dated
    list's default. The former ``REVOPS_LINKEDIN_ADS_VERSION`` is refused, naming the new one
    (:data:`revops.settings.RETIRED`: a pinned version from before the rename is most likely
    sunset by now)."""
    return api_version(SYSTEM)


def analytics_cap() -> int:
    """The element cap requests are planned against: LinkedIn's documented 15,000, or lower
    through ``REVOPS_LINKEDIN_ADS_ANALYTICS_MAX_ELEMENTS``."""
    return current().linkedin_ads_analytics_max_elements


def client() -> ApiClient:
    """An API client for ``REVOPS_LINKEDIN_ADS_URL`` with OAuth and Rest.li headers."""
    version = linkedin_version()
    oauth = oauth_token(SYSTEM, "https://www.linkedin.com/oauth/v2/accessToken")
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


def campaign_urn(campaign_id: str | int) -> str:
    """``urn:li:sponsoredCampaign:<id>``, encoded for use inside a Rest.li value."""
    return quote(f"urn:li:sponsoredCampaign:{campaign_id}", safe="")


def date_range(first: date, last: date) -> str:
    """A Rest.li ``dateRange`` value for the inclusive days ``first`` .. ``last``."""
    return (
        f"(start:(year:{first.year},month:{first.month},day:{first.day}),"
        f"end:(year:{last.year},month:{last.month},day:{last.day}))"
    )


# -- adAnalytics requests under the cap -----------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """One adAnalytics request: the inclusive days ``first`` .. ``last`` of ``campaigns``."""

    first: date
    last: date
    campaigns: tuple[str, ...]

    @property
    def days(self) -> int:
        """Days in the range."""
        return (self.last - self.first).days + 1

    @property
    def most(self) -> int:
        """The most elements it can return: one per campaign and day (``pivot=CAMPAIGN``,
        ``DAILY``)."""
        return self.days * len(self.campaigns)


def plan(start: date, end: date, campaigns: Sequence[str], cap: int) -> list[list[Slice]]:
    """The requests for the days ``[start, end)`` of ``campaigns``, grouped by date range (in
    order): each holds at most :data:`MARGIN` of ``cap`` elements and at most
    :data:`MAX_CAMPAIGNS_PER_CALL` campaigns."""
    if not campaigns or start >= end:
        return []
    budget = max(1, int(cap * MARGIN))
    per_call = max(1, min(len(campaigns), budget, MAX_CAMPAIGNS_PER_CALL))
    span = max(1, min(MAX_DAYS_PER_CALL, budget // per_call))
    ids = list(campaigns)
    return [
        [Slice(first, last, tuple(ids[i : i + per_call])) for i in range(0, len(ids), per_call)]
        for first, last in day_chunks(start, end, span)
    ]


def split(part: Slice) -> tuple[Slice, Slice]:
    """``part`` in two: its campaigns halved, or (one campaign) its days halved."""
    if len(part.campaigns) > 1:
        half = len(part.campaigns) // 2
        return (
            Slice(part.first, part.last, part.campaigns[:half]),
            Slice(part.first, part.last, part.campaigns[half:]),
        )
    if part.days > 1:
        middle = part.first + timedelta(days=part.days // 2 - 1)
        return (
            Slice(part.first, middle, part.campaigns),
            Slice(middle + timedelta(days=1), part.last, part.campaigns),
        )
    raise SourceError(
        SYSTEM,
        "campaign_analytics",
        None,
        f"one campaign's one day ({part.campaigns[0]}, {part.first}) came back with LinkedIn's "
        "element cap; it cannot be split further",
    )


def read_capped(
    fetch: Callable[[Slice], list[dict[str, Any]]], part: Slice, cap: int
) -> Iterator[list[dict[str, Any]]]:
    """The elements of ``part``, one response at a time. A response holding ``cap`` elements
    (or more) may have been cut short by LinkedIn without a word: it is dropped and its two
    halves (:func:`split`) are read instead, until every response is below the cap."""
    pending = [part]
    while pending:
        current = pending.pop()
        elements = fetch(current)
        if len(elements) >= cap:
            first, second = split(current)
            log.info(
                "%s campaign_analytics: %d elements for %d campaign(s) x %d day(s) from %s "
                "reach the cap of %d; reading it in two halves",
                SYSTEM,
                len(elements),
                len(current.campaigns),
                current.days,
                current.first,
                cap,
            )
            pending.extend((second, first))
            continue
        yield elements


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
    cap = analytics_cap()
    wanted = set(id_list(SYSTEM, "account_ids")) if optional(SYSTEM, "account_ids") else None
    window = Window.of(since, until)
    end_day = window.end_day
    initial = first_day or start_date(SYSTEM, end_day - timedelta(days=HISTORY_DAYS))
    known: list[dict[str, Any]] = []
    campaigns_read: dict[str, list[dict[str, Any]]] = {}

    def accounts() -> list[dict[str, Any]]:
        if not known:
            for page in STREAMS["ad_accounts"].pages(api):
                known.extend(a for a in page if wanted is None or str(a.get("id")) in wanted)
        return known

    def campaigns_of(account_id: str) -> list[dict[str, Any]]:
        """An account's campaigns (every status), read once per run for both streams."""
        if account_id not in campaigns_read:
            stream = STREAMS["campaigns"]
            found: list[dict[str, Any]] = []
            for page in stream.pages(api, stream.path.format(account=account_id)):
                found.extend(page)
            campaigns_read[account_id] = found
        return campaigns_read[account_id]

    accounts_stream = STREAMS["ad_accounts"]

    @dlt.resource(**resource_hints(accounts_stream))
    def ad_accounts() -> Iterator[Any]:
        with tracked_stream(SYSTEM, accounts_stream.name):
            yield from screened(accounts_stream, [flatten(a) for a in accounts()])

    groups_stream = STREAMS["campaign_groups"]

    @dlt.resource(**resource_hints(groups_stream))
    def campaign_groups() -> Iterator[Any]:
        with tracked_stream(SYSTEM, groups_stream.name):
            for account in accounts():
                path = groups_stream.path.format(account=account["id"])
                for page in groups_stream.pages(api, path):
                    yield from screened(groups_stream, [flatten(r) for r in page])

    campaigns_stream = STREAMS["campaigns"]

    @dlt.resource(**resource_hints(campaigns_stream))
    def campaigns() -> Iterator[Any]:
        with tracked_stream(SYSTEM, campaigns_stream.name):
            for account in accounts():
                found = campaigns_of(str(account["id"]))
                yield from screened(campaigns_stream, [flatten(r) for r in found])

    analytics = STREAMS["campaign_analytics"]

    @dlt.resource(**resource_hints(analytics, columns={"date": {"data_type": "date"}}))
    def campaign_analytics() -> Iterator[Any]:
        cursors: dict[str, str] = window.state().setdefault("cursors", {})
        first = window.first_day(None, initial, 0).isoformat()  # an account not read before

        def reached() -> str | None:  # the earliest account's cursor, once accounts are known
            ids = [str(a["id"]) for a in known]
            return earliest(cursors, ids, first) if ids else None

        def fetch(part: Slice) -> list[dict[str, Any]]:
            path = analytics.path.format(
                date_range=date_range(part.first, part.last),
                campaign_urns=",".join(campaign_urn(c) for c in part.campaigns),
            )
            return [e for page in analytics.pages(api, path) for e in page]

        with tracked_stream(SYSTEM, analytics.name, position=reached):
            for account in accounts():
                key = str(account["id"])
                cursor = date.fromisoformat(cursors[key]) if key in cursors else None
                start = window.first_day(cursor, initial, analytics.lookback_days)
                ids = sorted({str(c["id"]) for c in campaigns_of(key) if c.get("id") is not None})
                newest: date | None = None
                for ranges in plan(start, end_day, ids, cap):
                    for part in ranges:
                        for elements in read_capped(fetch, part, cap):
                            rows = [analytics_row(e, account) for e in elements]
                            days_read = [r["date"] for r in rows if r["date"] is not None]
                            if days_read:
                                newest = max([*days_read, *([newest] if newest else [])])
                            yield from screened(analytics, rows)
                    # the date range is read for every campaign: the cursor follows the data
                    if newest is not None:
                        moved = (newest + timedelta(days=1)).isoformat()
                        if key not in cursors or moved > cursors[key]:
                            cursors[key] = moved

    return (ad_accounts, campaign_groups, campaigns, campaign_analytics)
