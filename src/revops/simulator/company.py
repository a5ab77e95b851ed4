"""The synthetic B2B company behind the simulator: pure, deterministic data generation.

One coherent world ("Lumenary", a RevOps SaaS vendor) seen through six systems - the same
people, accounts, campaigns and money in each:

* **HubSpot** (marketing's CRM): contacts, companies, deals, owners, the deal pipeline;
* **Salesforce** (sales' CRM): leads, contacts, accounts, opportunities, campaigns, tasks,
  events, users, with histories (see :mod:`revops.simulator.crm` for how the two CRMs relate);
* **Google Ads** (one account, USD, New York days), **Meta** (one account, EUR, Berlin days)
  and **LinkedIn** (one account, USD, UTC days) - see :mod:`revops.simulator.social`;
* **Mailchimp**: one newsletter audience, its campaigns and their e-mail activity.

Everything is a function of ``(seed, scale, as_of)``:

* **Keyed randomness.** Each account-time-zone calendar day's new people come from an RNG
  keyed on ``(seed, date, "people")``; each ad group's day of ad activity from ``(seed, date,
  ad group, ...)``; each Mailchimp campaign from its date; each recipient's email activity from
  a hash of ``(seed, campaign, member)``; everything a person does on the sales side from keys
  naming the person. So a day's data never changes when ``as_of`` moves: a later ``as_of``
  only adds newer days, reveals later events, and changes records the way time changes them
  (updates with new modification stamps, deletions, restated ad days).
* **as_of is "now".** Nothing at or after ``as_of`` is visible anywhere: people not yet created
  do not exist, stage dates in the future are null, clicks and email events after it have not
  happened. Today's ad day (in each platform's zone) is partial; the last days restate.
* **History window.** The ``history_days`` (default :data:`HISTORY_DAYS`, 365) account-time-zone
  days before ``as_of``'s day, plus that day.
  People created before the window do not exist, so aggregates that span people (a Mailchimp
  campaign's ``emails_sent``, list member counts) lose those who age out as ``as_of`` moves;
  every individual record (a contact, a lead, a click, one recipient's activity) stays
  identical. People of the 150 days before the window are generated too (never shown) so that
  what they did to people in the window (a colleague's opportunity converting a lead) does not
  change as they age out. People created up to ``LOOKAHEAD_DAYS`` after ``as_of`` are
  generated too, but only their past newsletter subscription (EMAIL_MARKETING people subscribe
  before their form fill) is visible, so Mailchimp never reveals subscriptions "in the past"
  later.

Coherence guarantees (tested in ``tests/test_simulator*.py``):

* every PAID_SEARCH person came through exactly one Google Ads click (their ``gclid``) made on
  their creation day (account time zone) on the campaign/ad group named in HubSpot; every
  PAID_SOCIAL person through one Meta ad click (``fbclid``) or LinkedIn campaign click
  (``li_fat_id``), the ad or campaign named in their UTM tags, on a day when that ad had at
  least that many link clicks;
* a Google Ads campaign's daily ``clicks`` equals its ``click_view`` rows that day,
  ``cost_micros`` is the sum of the per-click costs and ``conversions`` is the number of
  PAID_SEARCH people it brought that day once reported (5 minutes to 36 hours after the form
  fill);
* Mailchimp recipients are exactly the members subscribed at send time; EMAIL_MARKETING people
  clicked the campaign named in ``hs_analytics_source_data_1`` shortly before their form fill;
  a hard bounce cleans the member;
* every HubSpot lead has a Salesforce Lead with the same e-mail; stage dates agree across the
  CRMs up to the sync delay; a mirrored deal has its opportunity's amount, currency and close
  date (once the sync caught up).

Performance Max has no ad groups (as in the real API): its clicks and people have no ad group.
"""

from __future__ import annotations

import base64
import bisect
import gc
import hashlib
import math
import random
import re
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from revops.simulator import _data
from revops.simulator._gen import cumulative, lag, poisson, restate_down, season, unit
from revops.simulator.crm import Account, Crm, HubSpotRecord, SfRecord, User
from revops.simulator.social import Social, SocialClick, SocialDaily
from revops.simulator.wire import ms_to_dt, parse_as_of

__all__ = [
    "ACCOUNT_TIME_ZONE",
    "CUSTOMER_ID",
    "AdCampaign",
    "AdDaily",
    "AdGroup",
    "Click",
    "Company",
    "Contact",
    "EmailCampaign",
    "EmailEvent",
    "Keyword",
    "Member",
    "Person",
    "RecipientActivity",
]

ACCOUNT_TIME_ZONE = "America/New_York"
TZ = ZoneInfo(ACCOUNT_TIME_ZONE)
CUSTOMER_ID = "1234567890"
CUSTOMER_NAME = "Lumenary Inc."
HISTORY_DAYS = 365
LOOKAHEAD_DAYS = 50
GHOST_DAYS = 150
HUBSPOT_RECYCLE_BIN_MS = 90 * 24 * 3600 * 1000  # archived records can be restored for 90 days
CLICK_VIEW_DAYS = 90
PEOPLE_PER_DAY = 70.0
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

SOURCES: tuple[str, ...] = (
    "PAID_SEARCH",
    "ORGANIC_SEARCH",
    "EMAIL_MARKETING",
    "PAID_SOCIAL",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "OTHER_CAMPAIGNS",
)
_SOURCE_WEIGHTS = (0.18, 0.25, 0.08, 0.10, 0.06, 0.09, 0.13, 0.07, 0.04)

# Base probability of becoming an MQL, by original source (scaled by personal engagement).
_MQL_BASE = {
    "PAID_SEARCH": 0.36,
    "ORGANIC_SEARCH": 0.22,
    "EMAIL_MARKETING": 0.42,
    "PAID_SOCIAL": 0.17,
    "SOCIAL_MEDIA": 0.12,
    "REFERRALS": 0.30,
    "DIRECT_TRAFFIC": 0.25,
    "OFFLINE": 0.15,
    "OTHER_CAMPAIGNS": 0.20,
}

# Weekday shape (Mon..Sun): people are weekday-heavy, ads less so.
_PEOPLE_DOW = (1.15, 1.2, 1.2, 1.15, 1.0, 0.3, 0.25)
_ADS_DOW = (1.05, 1.1, 1.1, 1.05, 0.95, 0.55, 0.5)
_PEOPLE_DOW_MEAN = sum(_PEOPLE_DOW) / 7
_ADS_DOW_MEAN = sum(_ADS_DOW) / 7
# Hour-of-day shape in the account time zone.
_PEOPLE_HOURS = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 19, 16, 18, 19, 18, 15, 11, 8, 6, 5, 4, 2, 1)
_ADS_HOURS = (2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 12, 12, 11, 10, 9, 8, 7, 6, 4, 3)


def freeze_generated() -> None:
    """Take every object alive now out of the cyclic garbage collector's walks (``gc.freeze``).

    A generated company is millions of long-lived objects (people, records, events) that never
    form garbage while it is served. Python's collector still walks every tracked object on
    each full (oldest-generation) collection, and serving pages allocates enough to trigger
    them, so without this each page costs more as the company grows. Frozen objects are still
    freed by reference counting; a frozen reference cycle is only reclaimed after
    ``gc.unfreeze()`` (:meth:`revops.simulator.server.SimulatorServer.set_as_of` does that when
    it replaces the company). Called by :meth:`Company.generate` and after each large lazily
    built cache; ``gc.freeze`` itself costs nothing as the heap grows (it moves list heads).
    """
    gc.collect()
    gc.freeze()


_SOURCE_CUM = cumulative(_SOURCE_WEIGHTS)
_PEOPLE_HOURS_CUM = cumulative(_PEOPLE_HOURS)
_ADS_HOURS_CUM = cumulative(_ADS_HOURS)
_DEVICES = ("DESKTOP", "MOBILE", "TABLET")
_DEVICES_CUM = cumulative((0.52, 0.43, 0.05))
_OWNER_COUNT = 8
_UNPACK = struct.Struct(">14I8x").unpack
_INV32 = 1.0 / 4294967296.0


# --------------------------------------------------------------------------------------------
# Public ground-truth records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyword:
    """A search keyword (ad group criterion)."""

    criterion_id: str
    text: str
    match_type: str


@dataclass(frozen=True)
class AdGroup:
    """A Google Ads ad group. ``hidden`` marks Performance Max's internal pseudo-group."""

    id: str
    name: str
    campaign_id: str
    status: str
    type: str
    share: float
    keywords: tuple[Keyword, ...]
    ad_ids: tuple[str, ...]
    hidden: bool = False


@dataclass(frozen=True)
class AdCampaign:
    """A Google Ads campaign with its static settings."""

    id: str
    name: str
    status: str
    channel_type: str
    network_type: str
    base_clicks: float
    cpc: float
    ctr: float
    lead_weight: float
    bidding_strategy_type: str
    ad_groups: tuple[AdGroup, ...]

    @property
    def resource_name(self) -> str:
        """``customers/{customer_id}/campaigns/{id}``."""
        return f"customers/{CUSTOMER_ID}/campaigns/{self.id}"


@dataclass(frozen=True)
class Click:
    """One Google Ads click (a ``click_view`` row). ``date`` is in the account time zone."""

    gclid: str
    date: date
    time_ms: int
    campaign_id: str
    ad_group_id: str | None
    ad_id: str | None
    keyword: Keyword | None
    device: str
    cost_micros: int
    person_id: str | None

    @property
    def time(self) -> datetime:
        """When the click happened (UTC)."""
        return ms_to_dt(self.time_ms)


@dataclass(frozen=True)
class AdDaily:
    """Daily metrics of one campaign (or one ad group when ``ad_group_id`` is set)."""

    date: date
    campaign_id: str
    campaign_name: str
    ad_group_id: str | None
    impressions: int
    clicks: int
    cost_micros: int
    conversions: float


@dataclass(frozen=True)
class Person:
    """A person as visible at ``as_of`` (HubSpot's primary contact for them)."""

    id: str
    hubspot_contact_id: str
    email: str
    first_name: str
    last_name: str
    company: str | None
    created_at: datetime
    source: str
    source_data_1: str | None
    source_data_2: str | None
    gclid: str | None
    ad_campaign_id: str | None
    ad_group_id: str | None
    mailchimp_member_id: str | None
    subscribed_at: datetime | None
    lifecyclestage: str
    subscriber_at: datetime | None
    lead_at: datetime | None
    mql_at: datetime | None
    sql_at: datetime | None
    opportunity_at: datetime | None
    customer_at: datetime | None
    reset_to_lead_at: datetime | None
    owner_id: str | None
    lead_status: str | None
    last_modified_at: datetime
    duplicate_contact_ids: tuple[str, ...]
    fbclid: str | None = None
    li_fat_id: str | None = None
    social_platform: str | None = None
    social_campaign_id: str | None = None
    social_ad_id: str | None = None
    account_index: int | None = None
    salesforce_lead_id: str | None = None
    salesforce_contact_id: str | None = None
    utm: tuple[tuple[str, str], ...] = ()


Contact = HubSpotRecord


@dataclass(frozen=True)
class Member:
    """A Mailchimp audience member as visible at ``as_of``."""

    id: str
    email: str
    unique_email_id: str
    web_id: int
    first_name: str
    last_name: str
    status: str
    timestamp_opt_ms: int
    last_changed_ms: int
    unsubscribed_at_ms: int | None
    cleaned_at_ms: int | None
    person_id: str
    signup_source: str
    rating: int


@dataclass(frozen=True)
class EmailCampaign:
    """A Mailchimp campaign (regular email) as visible at ``as_of``."""

    id: str
    web_id: int
    kind: str
    title: str
    subject_line: str
    preview_text: str
    slug: str
    create_ms: int
    send_ms: int
    status: str
    links: tuple[str, ...]

    @property
    def send_time(self) -> datetime:
        """When it was (or is scheduled to be) sent."""
        return ms_to_dt(self.send_ms)

    @property
    def create_time(self) -> datetime:
        """When it was created."""
        return ms_to_dt(self.create_ms)


@dataclass(frozen=True)
class EmailEvent:
    """One email activity event (open, click or bounce) of one recipient."""

    campaign_id: str
    member_id: str
    email: str
    action: str
    timestamp_ms: int
    type: str | None = None
    url: str | None = None
    ip: str | None = None

    @property
    def timestamp(self) -> datetime:
        """When it happened (UTC)."""
        return ms_to_dt(self.timestamp_ms)


@dataclass(frozen=True)
class RecipientActivity:
    """One recipient of a campaign and every activity event they will ever have on it."""

    member_id: str
    email: str
    events: tuple[EmailEvent, ...]


# --------------------------------------------------------------------------------------------
# Internal raw records (the full future, before as_of filtering)
# --------------------------------------------------------------------------------------------


@dataclass
class _Campaign:
    id: str
    web_id: int
    kind: str
    title: str
    subject_line: str
    preview_text: str
    slug: str
    create_ms: int
    send_ms: int
    links: tuple[str, ...]


@dataclass(slots=True)
class _Raw:
    id: str
    day: date
    seq: int
    created_ms: int
    first: str
    last: str
    email: str
    company: str | None
    source: str
    data_1: str | None
    data_2: str | None
    engagement: float
    click: Click | None = None
    email_click_campaign: str | None = None
    email_click_ms: int | None = None
    sub_ms: int | None = None
    signup_source: str = ""
    unsub_ms: int | None = None
    unsub_campaign: str | None = None
    bounce_send_ms: int | None = None
    cleaned_ms: int | None = None
    subscriber_ms: int | None = None
    lead_ms: int | None = None
    mql_ms: int | None = None
    sql_ms: int | None = None
    opp_ms: int | None = None
    customer_ms: int | None = None
    reset_ms: int | None = None
    owner_id: str | None = None
    owner_ms: int | None = None
    lead_status: list[tuple[int, str]] = field(default_factory=list)
    touch_ms: int = 0
    dup_id: str | None = None
    dup_ms: int | None = None
    dup_email: str | None = None
    dup_data: tuple[str, str | None] | None = None
    member_id: str = ""
    account_index: int = 0
    social: SocialClick | None = None
    dup_merged_ms: int | None = None
    deleted_ms: int | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _gclid(rng: random.Random) -> str:
    """A gclid-looking token (``Cj0KCQ`` + base64url + ``BwE``), unique per click."""
    return "Cj0KCQ" + base64.urlsafe_b64encode(rng.randbytes(57)).decode("ascii") + "BwE"


def _local_midnight_ms(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=TZ).timestamp() * 1000)


def _ms(dt: datetime) -> int:
    return int(round(dt.timestamp() * 1000))


# --------------------------------------------------------------------------------------------
# The company
# --------------------------------------------------------------------------------------------


class Company:
    """The synthetic company and its ground truth, as visible at ``as_of``.

    Build it with :meth:`generate`. Ground-truth views for tests - what each API serves:

    * people and HubSpot: :attr:`people`, :attr:`contacts`, :attr:`archived_contacts`,
      :attr:`companies`, :attr:`deals`, :attr:`archived_deals`, :attr:`users` (owners);
    * Salesforce: :meth:`salesforce` (rows per object, ``include_deleted`` for ``queryAll``),
      :attr:`accounts`; :attr:`crm` holds every person's sales-side timeline;
    * Google Ads: :attr:`ad_daily`, :attr:`ad_group_daily`, :attr:`clicks` (last 90 days),
      :meth:`clicks_on`; Meta and LinkedIn: :attr:`meta_daily`, :attr:`linkedin_daily`,
      :attr:`social_clicks`, :attr:`social` (accounts, campaigns, ads);
    * Mailchimp: :attr:`members`, :attr:`email_campaigns`, :attr:`email_events`;
    * :meth:`summary` counts rows per system and stream.
    """

    customer_id = CUSTOMER_ID
    customer_name = CUSTOMER_NAME
    currency_code = "USD"
    time_zone = ACCOUNT_TIME_ZONE
    list_name = "Newsletter"

    def __init__(
        self, seed: int, scale: float, as_of: datetime, history_days: int = HISTORY_DAYS
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        if history_days < 1:
            raise ValueError("history_days must be at least 1")
        self.history_days = history_days
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        self.seed = seed
        self.scale = scale
        self.as_of = as_of.astimezone(UTC)
        self.as_of_ms = _ms(self.as_of)
        self.today: date = self.as_of.astimezone(TZ).date()
        self.start_day: date = self.today - timedelta(days=history_days)
        self.list_id = _md5(f"{seed}:list")[:10]
        self.list_web_id = int(_md5(f"{seed}:list:web")[:6], 16) % 900000 + 100000
        self.list_created_ms = _ms(datetime(2019, 3, 14, 16, 2, 11, tzinfo=UTC))
        self._campaign_day_cache: dict[date, list[_Campaign]] = {}
        self._promo_cache: dict[tuple[int, int], date | None] = {}
        self._activity_cache: dict[str, tuple[RecipientActivity, ...]] = {}
        self._clicks_cache: dict[date, tuple[Click, ...]] = {}
        self._events_cache: list[EmailEvent] | None = None
        self._all_clicks_cache: list[Click] | None = None
        self._unsubs_cache: dict[str, int] | None = None
        self._build_static()
        self._build_people()
        self._build_social()
        self._build_ads()
        self.crm = Crm(self)
        for r in self._raws:
            plan = self.crm.plan(r.id)
            if plan is not None and plan.lead_deleted is not None:
                r.deleted_ms = plan.lead_deleted - lag(f"{seed}:{r.id}:hs-del", MINUTE, 9 * MINUTE)
            elif r.mql_ms is None and r.sql_ms is None:
                r.deleted_ms = self.crm._junk_deleted(r)
        self._build_views()
        visible = {r.id for r in self._raws if r.created_ms < self.as_of_ms}
        self.crm.set_visible(visible)

    # ---------------------------------------------------------------- construction

    @classmethod
    def generate(
        cls,
        seed: int = 42,
        scale: float = 1.0,
        as_of: datetime | date | str | None = None,
        history_days: int = HISTORY_DAYS,
    ) -> Company:
        """Generate the company for ``seed`` and ``scale`` as seen at ``as_of``.

        ``as_of`` is a datetime (naive means UTC), a date (its UTC midnight) or an ISO string;
        it defaults to now, truncated to the whole minute. ``history_days``: how far back its
        people, deals and ad data go (the same company with a longer past: the same people
        per day). The same arguments always give the same company, and so byte-identical API
        answers.
        """
        if as_of is None:
            as_of = datetime.now(UTC).replace(second=0, microsecond=0)
        company = cls(seed, scale, parse_as_of(as_of), history_days)
        freeze_generated()
        return company

    def _build_static(self) -> None:
        rng = random.Random(f"{self.seed}:ids")

        def big(lo: int, hi: int) -> str:
            return str(rng.randrange(lo, hi))

        def keywords(*texts: str) -> tuple[Keyword, ...]:
            kinds = ("EXACT", "PHRASE", "BROAD")
            return tuple(Keyword(big(10**11, 10**12), t, kinds[i % 3]) for i, t in enumerate(texts))

        def group(name: str, share: float, kws: tuple[Keyword, ...], gtype: str) -> dict:
            return {"name": name, "share": share, "keywords": kws, "type": gtype}

        specs = [
            (
                "Brand - Search - US",
                "SEARCH",
                "SEARCH",
                110,
                1.6,
                0.22,
                0.38,
                "TARGET_IMPRESSION_SHARE",
                [
                    group(
                        "Brand - Core",
                        0.6,
                        keywords("lumenary", "lumenary software", "lumenary app"),
                        "SEARCH_STANDARD",
                    ),
                    group(
                        "Brand - Product",
                        0.4,
                        keywords(
                            "lumenary pricing", "lumenary revenue analytics", "lumenary login"
                        ),
                        "SEARCH_STANDARD",
                    ),
                ],
            ),
            (
                "NonBrand - Search - Revenue Analytics",
                "SEARCH",
                "SEARCH",
                170,
                6.2,
                0.055,
                0.32,
                "MAXIMIZE_CONVERSIONS",
                [
                    group(
                        "Revenue Analytics",
                        0.45,
                        keywords(
                            "revenue analytics software",
                            "revops dashboard",
                            "pipeline analytics tool",
                        ),
                        "SEARCH_STANDARD",
                    ),
                    group(
                        "Marketing Attribution",
                        0.35,
                        keywords(
                            "marketing attribution software",
                            "multi touch attribution",
                            "b2b attribution tool",
                        ),
                        "SEARCH_STANDARD",
                    ),
                    group(
                        "Funnel Reporting",
                        0.20,
                        keywords("sales funnel reporting", "lead to customer conversion report"),
                        "SEARCH_STANDARD",
                    ),
                ],
            ),
            (
                "Competitor - Search",
                "SEARCH",
                "SEARCH",
                35,
                9.5,
                0.035,
                0.10,
                "MANUAL_CPC",
                [
                    group(
                        "Competitor - Alternatives",
                        0.6,
                        keywords("revenue analytics alternative", "attribution tool alternative"),
                        "SEARCH_STANDARD",
                    ),
                    group(
                        "Competitor - Comparisons",
                        0.4,
                        keywords("best revops software", "attribution software comparison"),
                        "SEARCH_STANDARD",
                    ),
                ],
            ),
            (
                "Display - Remarketing",
                "DISPLAY",
                "CONTENT",
                140,
                0.75,
                0.004,
                0.0,
                "TARGET_CPA",
                [
                    group("Site Visitors 30d", 0.65, (), "DISPLAY_STANDARD"),
                    group("Pricing Page Visitors", 0.35, (), "DISPLAY_STANDARD"),
                ],
            ),
            (
                "YouTube - Product Demos",
                "VIDEO",
                "YOUTUBE_WATCH",
                55,
                0.35,
                0.006,
                0.0,
                "TARGET_CPM",
                [
                    group("Demo Video - In-Stream", 0.7, (), "VIDEO_TRUE_VIEW_IN_STREAM"),
                    group("Customer Stories - In-Feed", 0.3, (), "VIDEO_TRUE_VIEW_IN_DISPLAY"),
                ],
            ),
            (
                "Performance Max - Demo Requests",
                "PERFORMANCE_MAX",
                "MIXED",
                95,
                3.1,
                0.015,
                0.20,
                "MAXIMIZE_CONVERSION_VALUE",
                [
                    group("(asset group)", 1.0, (), "UNSPECIFIED"),
                ],
            ),
        ]
        campaigns = []
        for name, channel, network, clicks, cpc, ctr, lead_w, bidding, groups in specs:
            cid = big(17_000_000_000, 22_000_000_000)
            ad_groups = []
            for g in groups:
                hidden = channel == "PERFORMANCE_MAX"
                ad_ids = (
                    () if hidden else (big(6 * 10**11, 7 * 10**11), big(6 * 10**11, 7 * 10**11))
                )
                ad_groups.append(
                    AdGroup(
                        id=big(130_000_000_000, 170_000_000_000),
                        name=g["name"],
                        campaign_id=cid,
                        status="ENABLED",
                        type=g["type"],
                        share=g["share"],
                        keywords=g["keywords"],
                        ad_ids=ad_ids,
                        hidden=hidden,
                    )
                )
            campaigns.append(
                AdCampaign(
                    cid,
                    name,
                    "ENABLED",
                    channel,
                    network,
                    clicks,
                    cpc,
                    ctr,
                    lead_w,
                    bidding,
                    tuple(ad_groups),
                )
            )
        self.ad_campaigns: list[AdCampaign] = campaigns
        self.ad_groups: list[AdGroup] = [g for c in campaigns for g in c.ad_groups if not g.hidden]
        self._all_groups: list[AdGroup] = [g for c in campaigns for g in c.ad_groups]
        self._campaign_by_id = {c.id: c for c in campaigns}
        self._group_by_id = {g.id: g for g in self._all_groups}
        lead_campaigns = [c for c in campaigns if c.lead_weight > 0]
        self._lead_campaigns = lead_campaigns
        self._lead_campaign_cum = cumulative(c.lead_weight for c in lead_campaigns)
        self.owner_ids: tuple[str, ...] = tuple(
            big(40_000_000, 90_000_000) for _ in range(_OWNER_COUNT)
        )

        # Companies people work at: a Zipf-ish pool, fixed per (seed, scale).
        crng = random.Random(f"{self.seed}:{self.scale}:companies")
        n = max(40, int(round(3000 * self.scale)))
        names: list[str] = []
        domains: list[str] = []
        seen: set[str] = set()
        while len(names) < n:
            prefix = crng.choice(_data.COMPANY_PREFIXES)
            core = crng.choice(_data.COMPANY_CORES)
            domain = f"{prefix}{core}".lower() + crng.choice(_data.COMPANY_TLDS)
            if domain in seen:
                domain = f"{prefix}{core}{crng.randrange(2, 99)}".lower() + ".com"
                if domain in seen:
                    continue
            seen.add(domain)
            suffix = crng.choice(_data.COMPANY_SUFFIXES)
            names.append(f"{prefix} {core}" + (f" {suffix}" if suffix else ""))
            domains.append(domain)
        self._company_names = names
        self._company_domains = domains
        self._company_cum = cumulative(1.0 / (i + 8) ** 0.9 for i in range(n))
        self._free_cum = cumulative(_data.FREE_MAIL_WEIGHTS)

    # ---------------------------------------------------------------- mailchimp schedule

    def _promo_day(self, year: int, month: int) -> date | None:
        key = (year, month)
        if key not in self._promo_cache:
            rng = random.Random(f"{self.seed}:{year}-{month:02d}:promo")
            chosen = None
            if rng.random() < 0.75:
                first = date(year, month, 1)
                options = [first + timedelta(days=i) for i in range(28)]
                options = [d for d in options if d.weekday() in (2, 3)]
                chosen = rng.choice(options)
            self._promo_cache[key] = chosen
        return self._promo_cache[key]

    def _campaigns_on(self, day: date) -> list[_Campaign]:
        """Campaigns sent on a UTC date (a pure function of the date)."""
        cached = self._campaign_day_cache.get(day)
        if cached is not None:
            return cached
        out: list[_Campaign] = []
        if day.weekday() == 1:
            rng = random.Random(f"{self.seed}:{day.isoformat()}:newsletter")
            topic = rng.choice(_data.NEWSLETTER_TOPICS)
            subject = rng.choice(_data.NEWSLETTER_SUBJECTS).format(topic=topic)
            out.append(
                self._make_campaign(
                    rng,
                    day,
                    "newsletter",
                    f"Weekly Newsletter {day.isoformat()}",
                    subject,
                    f"newsletter-{day.isoformat()}",
                    15,
                )
            )
        if self._promo_day(day.year, day.month) == day:
            rng = random.Random(f"{self.seed}:{day.isoformat()}:promo-content")
            title = rng.choice(_data.PROMO_TITLES)
            out.append(
                self._make_campaign(
                    rng,
                    day,
                    "promo",
                    f"{title} ({day:%b %Y})",
                    title,
                    f"{_slug(title)}-{day:%Y-%m}",
                    16,
                )
            )
        self._campaign_day_cache[day] = out
        return out

    def _make_campaign(
        self,
        rng: random.Random,
        day: date,
        kind: str,
        title: str,
        subject: str,
        slug: str,
        hour: int,
    ) -> _Campaign:
        send = datetime.combine(day, time(hour), tzinfo=UTC)
        create = send - timedelta(
            days=rng.randint(1, 4),
            hours=rng.randint(0, 6),
            minutes=rng.randint(0, 59),
            seconds=rng.randint(0, 59),
        )
        cid = _md5(f"{self.seed}:campaign:{day.isoformat()}:{kind}")[:10]
        web_id = int(_md5(f"{self.seed}:web:{cid}")[:7], 16) % 9_000_000 + 1_000_000
        blog_slug = _slug(subject)[:60]
        links = tuple(
            url.format(slug=blog_slug)
            + f"?utm_source=mailchimp&utm_medium=email&utm_campaign={slug}"
            for url in _data.NEWSLETTER_LINKS
        )
        preview = f"{subject} - and more from Lumenary"
        return _Campaign(
            cid, web_id, kind, title, subject, preview, slug, _ms(create), _ms(send), links
        )

    def _campaigns_between(self, first: date, last: date) -> list[_Campaign]:
        out: list[_Campaign] = []
        day = first
        while day <= last:
            out.extend(self._campaigns_on(day))
            day += timedelta(days=1)
        return out

    def _next_send_after(self, ms: int) -> _Campaign:
        day = datetime.fromtimestamp(ms / 1000, tz=UTC).date()
        while True:
            for c in self._campaigns_on(day):
                if c.send_ms > ms:
                    return c
            day += timedelta(days=1)

    def _last_send_before(self, ms: int) -> _Campaign:
        day = datetime.fromtimestamp(ms / 1000, tz=UTC).date()
        while True:
            for c in reversed(self._campaigns_on(day)):
                if c.send_ms < ms:
                    return c
            day -= timedelta(days=1)

    # ---------------------------------------------------------------- people

    def _build_people(self) -> None:
        raws: list[_Raw] = []
        self._day_bounds: dict[date, tuple[int, int]] = {}
        last = self.today + timedelta(days=LOOKAHEAD_DAYS)
        day = self.start_day
        while day <= last:
            raws.extend(self._people_on(day))
            day += timedelta(days=1)
        # E-mail addresses are unique per person (rare collisions get a numeric tag).
        seen: set[str] = set()
        for r in raws:
            if r.email in seen:
                local, _, domain = r.email.partition("@")
                r.email = f"{local}{int(r.id) % 9973}@{domain}"
            seen.add(r.email)
            r.member_id = _md5(r.email.lower())
            if r.dup_ms is not None and unit(f"{self.seed}:{r.id}:merge") < 0.7:
                r.dup_merged_ms = r.dup_ms + lag(f"{self.seed}:{r.id}:merge-at", DAY, 20 * DAY)
        self._raws = raws
        # People from before the window: invisible, but their opportunities may have made
        # colleagues in the window into contacts, which must not change as they age out.
        ghosts: list[_Raw] = []
        day = self.start_day - timedelta(days=GHOST_DAYS)
        while day < self.start_day:
            ghosts.extend(self._people_on(day))
            day += timedelta(days=1)
        self._ghosts = ghosts

    def _build_social(self) -> None:
        social = Social(self.seed, self.scale, self.as_of_ms, self.history_days)
        clicks = []
        for r in (*self._ghosts, *self._raws):
            if r.source == "PAID_SOCIAL":
                r.social = social.assign(r)
                clicks.append(r.social)
        social.clicks = clicks
        social.build_daily([*self._ghosts, *self._raws])
        self.social = social

    def _bounds(self, day: date) -> tuple[int, int]:
        bounds = self._day_bounds.get(day)
        if bounds is None:
            bounds = (_local_midnight_ms(day), _local_midnight_ms(day + timedelta(days=1)))
            self._day_bounds[day] = bounds
        return bounds

    def _people_on(self, day: date) -> list[_Raw]:
        rng = random.Random(f"{self.seed}:{day.isoformat()}:people")
        lam = (
            PEOPLE_PER_DAY
            * self.scale
            * _PEOPLE_DOW[day.weekday()]
            / _PEOPLE_DOW_MEAN
            * season(day)
        )
        n = poisson(rng, lam)
        if n >= 500_000:
            raise ValueError("scale too large: more than 500,000 people a day")
        start, end = self._bounds(day)
        span = end - start
        times = []
        for _ in range(n):
            hour = bisect.bisect_right(_PEOPLE_HOURS_CUM, rng.random() * _PEOPLE_HOURS_CUM[-1])
            times.append(start + int((min(hour, 23) + rng.random()) / 24 * span))
        times.sort()
        return [self._person(rng, day, seq, t) for seq, t in enumerate(times)]

    def _person(self, rng: random.Random, day: date, seq: int, created: int) -> _Raw:
        first = rng.choice(_data.FIRST_NAMES)
        last = rng.choice(_data.LAST_NAMES)
        ci = bisect.bisect_right(self._company_cum, rng.random() * self._company_cum[-1])
        ci = min(ci, len(self._company_names) - 1)
        company: str | None = self._company_names[ci]
        f, lname = first.lower(), last.lower()
        if rng.random() < 0.2:
            fi = bisect.bisect_right(self._free_cum, rng.random() * self._free_cum[-1])
            domain = _data.FREE_MAIL_DOMAINS[min(fi, 3)]
            style = rng.random()
            if style < 0.5:
                local = f"{f}.{lname}{rng.randint(1, 99)}"
            elif style < 0.8:
                local = f"{f}{lname}{rng.randint(1960, 2004)}"
            else:
                local = f"{f[0]}{lname}{rng.randint(100, 9999)}"
            if rng.random() < 0.4:
                company = None
        else:
            domain = self._company_domains[ci]
            style = rng.random()
            if style < 0.7:
                local = f"{f}.{lname}"
            elif style < 0.85:
                local = f"{f[0]}{lname}"
            elif style < 0.95:
                local = f
            else:
                local = f"{f}{lname[0]}"
        email = f"{local}@{domain}"
        pid = str(day.toordinal() * 1_000_000 + seq)
        si = bisect.bisect_right(_SOURCE_CUM, rng.random() * _SOURCE_CUM[-1])
        source = SOURCES[min(si, len(SOURCES) - 1)]
        engagement = rng.betavariate(2, 3)
        r = _Raw(
            pid, day, seq, created, first, last, email, company, source, None, None, engagement
        )
        r.account_index = ci
        self._source_details(rng, r)
        self._subscription(rng, r)
        self._lifecycle(rng, r)
        if rng.random() < 0.01:
            self._duplicate(rng, r)
        return r

    def _source_details(self, rng: random.Random, r: _Raw) -> None:
        s = r.source
        if s == "PAID_SEARCH":
            ci = bisect.bisect_right(
                self._lead_campaign_cum, rng.random() * self._lead_campaign_cum[-1]
            )
            camp = self._lead_campaigns[min(ci, len(self._lead_campaigns) - 1)]
            groups = camp.ad_groups
            group = rng.choices(groups, weights=[g.share for g in groups])[0]
            keyword = None
            if group.keywords:
                keyword = rng.choices(
                    group.keywords, weights=range(len(group.keywords) + 1, 1, -1)
                )[0]
            start, _ = self._bounds(r.day)
            click_ms = max(start, r.created_ms - rng.randint(45 * SECOND, 25 * MINUTE))
            cost = max(10_000, int(round(camp.cpc * rng.lognormvariate(-0.08, 0.4) * 100)) * 10_000)
            di = bisect.bisect_right(_DEVICES_CUM, rng.random() * _DEVICES_CUM[-1])
            ad_id = rng.choice(group.ad_ids) if group.ad_ids else None
            gclid = _gclid(rng)
            r.click = Click(
                gclid,
                r.day,
                click_ms,
                camp.id,
                None if group.hidden else group.id,
                ad_id,
                keyword,
                _DEVICES[min(di, 2)],
                cost,
                r.id,
            )
            r.data_1 = camp.name
            r.data_2 = keyword.text if keyword else None
        elif s == "ORGANIC_SEARCH":
            r.data_1 = rng.choice(("google", "google", "google", "bing", "duckduckgo"))
            r.data_2 = (
                rng.choice(_data.ORGANIC_KEYWORDS)
                if rng.random() < 0.3
                else "unknown keywords (SSL)"
            )
        elif s == "EMAIL_MARKETING":
            campaign = self._last_send_before(r.created_ms - 10 * MINUTE)
            click = max(
                campaign.send_ms + MINUTE, r.created_ms - rng.randint(30 * SECOND, 15 * MINUTE)
            )
            r.email_click_campaign = campaign.id
            r.email_click_ms = click // SECOND * SECOND
            r.data_1 = campaign.title
            r.data_2 = campaign.slug
        elif s == "PAID_SOCIAL":
            r.data_1, r.data_2 = rng.choice(_data.PAID_SOCIAL)
        elif s == "SOCIAL_MEDIA":
            r.data_1 = rng.choice(_data.SOCIAL_NETWORKS)
        elif s == "REFERRALS":
            site = rng.choice(_data.REFERRAL_SITES)
            r.data_1 = site
            r.data_2 = f"https://{site}/"
        elif s == "DIRECT_TRAFFIC":
            r.data_1 = rng.choice(_data.LANDING_PAGES)
        elif s == "OFFLINE":
            r.data_1, r.data_2 = rng.choice(_data.OFFLINE_KINDS)
        else:
            r.data_1 = rng.choice(_data.OTHER_CAMPAIGNS)

    def _subscription(self, rng: random.Random, r: _Raw) -> None:
        if r.source == "EMAIL_MARKETING":
            # Already on the newsletter before the form fill that created the contact.
            campaign = self._campaign_by_raw_id(r.email_click_campaign, r.email_click_ms)
            r.sub_ms = (campaign.send_ms - rng.randint(1 * DAY, 40 * DAY)) // SECOND * SECOND
            r.signup_source = "Hosted Signup Form"
            bad_email = False
        else:
            if rng.random() >= 0.40:
                return
            if rng.random() < 0.7:
                r.sub_ms = (r.created_ms + rng.randint(1 * SECOND, 5 * SECOND)) // SECOND * SECOND
                r.signup_source = "API - Integration"
            else:
                delay = min(int(rng.expovariate(1 / 30) * DAY), 200 * DAY)
                r.sub_ms = (r.created_ms + 1 * HOUR + delay) // SECOND * SECOND
                r.signup_source = "Hosted Signup Form"
            bad_email = rng.random() < 0.02
        if rng.random() < 0.15:
            target = r.sub_ms + int(rng.expovariate(1 / 100) * DAY)
            if r.email_click_ms is not None:
                target = max(target, r.created_ms)
            c = self._next_send_after(target)
            r.unsub_ms = (c.send_ms + rng.randint(10 * MINUTE, 48 * HOUR)) // SECOND * SECOND
            r.unsub_campaign = c.id
        if bad_email:
            c = self._next_send_after(r.sub_ms)
            if r.unsub_ms is None or c.send_ms < r.unsub_ms:
                r.bounce_send_ms = c.send_ms
                r.cleaned_ms = (
                    (c.send_ms + rng.randint(5 * SECOND, 300 * SECOND)) // SECOND * SECOND
                )
                r.unsub_ms = None
                r.unsub_campaign = None

    def _campaign_by_raw_id(self, cid: str | None, near_ms: int | None) -> _Campaign:
        assert cid is not None and near_ms is not None
        day = datetime.fromtimestamp(near_ms / 1000, tz=UTC).date()
        for offset in range(0, 40):
            for c in self._campaigns_on(day - timedelta(days=offset)):
                if c.id == cid:
                    return c
        raise KeyError(cid)

    def _lifecycle(self, rng: random.Random, r: _Raw) -> None:
        t = r.created_ms
        status: list[tuple[int, str]] = []
        if (
            r.source in ("ORGANIC_SEARCH", "DIRECT_TRAFFIC", "SOCIAL_MEDIA", "REFERRALS")
            and rng.random() < 0.1
        ):
            r.subscriber_ms = t + rng.randint(200, 3000)
            if rng.random() < 0.5:
                r.lead_ms = t + int(rng.expovariate(1 / 20) * DAY) + rng.randint(HOUR, 8 * HOUR)
        else:
            r.lead_ms = t + rng.randint(200, 3000)
        if r.lead_ms is not None:
            base = _MQL_BASE[r.source] * (0.6 + 0.8 * r.engagement)
            roll = rng.random()
            if roll < 0.04:  # demo request: straight to SQL
                r.sql_ms = r.lead_ms + rng.randint(2 * HOUR, 3 * DAY)
            elif roll < 0.04 + base:
                r.mql_ms = (
                    r.lead_ms
                    + min(int(rng.expovariate(1 / 7) * DAY), 30 * DAY)
                    + rng.randint(MINUTE, HOUR)
                )
                if rng.random() < 0.40:
                    r.sql_ms = (
                        r.mql_ms
                        + min(int(rng.expovariate(1 / 4) * DAY), 21 * DAY)
                        + rng.randint(HOUR, 6 * HOUR)
                    )
                elif rng.random() < 0.12:  # sales recycles the MQL back to lead
                    r.reset_ms = r.mql_ms + rng.randint(5 * DAY, 30 * DAY)
        if r.sql_ms is not None:
            roll = rng.random()
            if roll < 0.55:
                r.opp_ms = r.sql_ms + rng.randint(2 * DAY, 20 * DAY)
                if rng.random() < 0.30:
                    r.customer_ms = r.opp_ms + rng.randint(10 * DAY, 60 * DAY)
            elif roll < 0.60:  # closes without an opportunity stage
                r.customer_ms = r.sql_ms + rng.randint(10 * DAY, 40 * DAY)
        if r.customer_ms is not None and rng.random() < 0.04:  # churned, reset to lead
            r.reset_ms = r.customer_ms + rng.randint(30 * DAY, 120 * DAY)
        first_sales = r.mql_ms if r.mql_ms is not None else r.sql_ms
        if first_sales is not None:
            r.owner_id = rng.choice(self.owner_ids)
            r.owner_ms = first_sales + rng.randint(SECOND, 10 * MINUTE)
        if r.mql_ms is not None:
            status.append((r.mql_ms + 2 * SECOND, "NEW"))
            attempt = r.mql_ms + rng.randint(4 * HOUR, 3 * DAY)
            if r.sql_ms is None or attempt < r.sql_ms:
                status.append((attempt, "ATTEMPTED_TO_CONTACT"))
        if r.sql_ms is not None:
            status.append((r.sql_ms + 2 * SECOND, "CONNECTED"))
        if r.opp_ms is not None:
            status.append((r.opp_ms + 2 * SECOND, "OPEN_DEAL"))
        if r.reset_ms is not None:
            status.append(
                (r.reset_ms + 2 * SECOND, "UNQUALIFIED" if r.customer_ms is None else "BAD_TIMING")
            )
        r.lead_status = status
        r.touch_ms = t + rng.randint(2 * SECOND, 40 * SECOND)  # workflows touch new contacts

    def _duplicate(self, rng: random.Random, r: _Raw) -> None:
        if r.seq >= 2000:
            return
        delay = rng.randint(3 * DAY, 120 * DAY)
        dup_ms = r.created_ms + delay
        dup_day = datetime.fromtimestamp(dup_ms / 1000, tz=TZ).date()
        delay_days = (dup_day - r.day).days
        r.dup_id = str(dup_day.toordinal() * 1_000_000 + 500_000 + delay_days * 2000 + r.seq)
        r.dup_ms = dup_ms
        local, _, domain = r.email.partition("@")
        variant = rng.randrange(4)
        if variant == 0:
            r.dup_email = f"{local.title()}@{domain.title()}"
        elif variant == 1:
            r.dup_email = f" {local}@{domain}"
        elif variant == 2:
            r.dup_email = f"{local}@{domain} ".upper()
        else:
            r.dup_email = f"{local[:1].upper()}{local[1:]}@{domain}"
        r.dup_data = rng.choice((("IMPORT", "conference-leads.csv"), ("CRM_UI", None)))

    # ---------------------------------------------------------------- ads

    def _ad_group_day(
        self, day: date, group: AdGroup, assigned: list[Click], detail: bool
    ) -> tuple[int, int, list[tuple[int, int]], list[Click]]:
        """(impressions, total clicks, [(time, cost)] of anonymous clicks, detailed clicks)."""
        camp = self._campaign_by_id[group.campaign_id]
        rng = random.Random(f"{self.seed}:{day.isoformat()}:{group.id}:ads")
        lam = (
            camp.base_clicks
            * group.share
            * _ADS_DOW[day.weekday()]
            / _ADS_DOW_MEAN
            * season(day)
            * self.scale
            * rng.lognormvariate(0, 0.15)
        )
        total = max(poisson(rng, lam), len(assigned))
        ctr = camp.ctr * rng.lognormvariate(0, 0.1)
        impressions = max(total, int(round(max(lam, total) / ctr)))
        start, end = self._bounds(day)
        span = end - start
        anon: list[tuple[int, int]] = []
        for _ in range(total - len(assigned)):
            hour = bisect.bisect_right(_ADS_HOURS_CUM, rng.random() * _ADS_HOURS_CUM[-1])
            t = start + int((min(hour, 23) + rng.random()) / 24 * span)
            cost = max(10_000, int(round(camp.cpc * rng.lognormvariate(-0.08, 0.4) * 100)) * 10_000)
            anon.append((t, cost))
        clicks: list[Click] = []
        if detail:
            idr = random.Random(f"{self.seed}:{day.isoformat()}:{group.id}:clickids")
            weights = list(range(len(group.keywords) + 1, 1, -1))
            for t, cost in anon:
                keyword = (
                    idr.choices(group.keywords, weights=weights)[0] if group.keywords else None
                )
                di = bisect.bisect_right(_DEVICES_CUM, idr.random() * _DEVICES_CUM[-1])
                ad_id = idr.choice(group.ad_ids) if group.ad_ids else None
                clicks.append(
                    Click(
                        _gclid(idr),
                        day,
                        t,
                        camp.id,
                        None if group.hidden else group.id,
                        ad_id,
                        keyword,
                        _DEVICES[min(di, 2)],
                        cost,
                        None,
                    )
                )
        return impressions, total, anon, clicks

    def _build_ads(self) -> None:
        assigned: dict[tuple[date, str], list[Click]] = defaultdict(list)
        people_by_group: dict[tuple[date, str], int] = defaultdict(int)
        for r in self._raws:
            if r.click is None or r.day > self.today:
                continue
            gid = r.click.ad_group_id or self._pmax_group(r.click.campaign_id).id
            assigned[(r.day, gid)].append(r.click)
            # A conversion is reported 5 minutes to 36 hours after the form fill.
            reported = r.created_ms + lag(f"{self.seed}:{r.id}:gads-conv", 5 * MINUTE, 36 * HOUR)
            if reported < self.as_of_ms:
                people_by_group[(r.day, gid)] += 1
        self._assigned = assigned
        rows: list[AdDaily] = []
        group_rows: list[AdDaily] = []
        day = self.start_day
        while day <= self.today:
            start, end = self._bounds(day)
            fraction = min(1.0, max(0.0, (self.as_of_ms - start) / (end - start)))
            for camp in self.ad_campaigns:
                c_impr = c_clicks = c_cost = 0
                c_conv = 0.0
                for group in camp.ad_groups:
                    mine = assigned.get((day, group.id), [])
                    impressions, _total, anon, _ = self._ad_group_day(day, group, mine, False)
                    clicks = cost = 0
                    for t, c in anon:
                        if t < self.as_of_ms:
                            clicks += 1
                            cost += c
                    for click in mine:
                        if click.time_ms < self.as_of_ms:
                            clicks += 1
                            cost += click.cost_micros
                    if fraction < 1.0:
                        impressions = max(clicks, int(impressions * fraction))
                    # Late impressions keep arriving for two days (the day restates upwards).
                    impressions = max(
                        clicks,
                        restate_down(
                            impressions,
                            end,
                            self.as_of_ms,
                            f"{self.seed}:{day.isoformat()}:{group.id}:impr",
                            0.03,
                            2.0,
                        ),
                    )
                    conversions = float(people_by_group.get((day, group.id), 0))
                    if fraction > 0 and not group.hidden:
                        group_rows.append(
                            AdDaily(
                                day,
                                camp.id,
                                camp.name,
                                group.id,
                                impressions,
                                clicks,
                                cost,
                                conversions,
                            )
                        )
                    c_impr += impressions
                    c_clicks += clicks
                    c_cost += cost
                    c_conv += conversions
                if fraction > 0:
                    rows.append(
                        AdDaily(day, camp.id, camp.name, None, c_impr, c_clicks, c_cost, c_conv)
                    )
            day += timedelta(days=1)
        self.ad_daily: list[AdDaily] = rows
        self.ad_group_daily: list[AdDaily] = group_rows

    def _pmax_group(self, campaign_id: str) -> AdGroup:
        return self._campaign_by_id[campaign_id].ad_groups[0]

    def clicks_on(self, day: date) -> tuple[Click, ...]:
        """Every click visible at ``as_of`` on an account-time-zone day, in time order."""
        cached = self._clicks_cache.get(day)
        if cached is not None:
            return cached
        out: list[Click] = []
        if self.start_day <= day <= self.today:
            for group in self._all_groups:
                mine = self._assigned.get((day, group.id), [])
                _, _, _, anon = self._ad_group_day(day, group, mine, True)
                out.extend(c for c in anon if c.time_ms < self.as_of_ms)
                out.extend(c for c in mine if c.time_ms < self.as_of_ms)
        out.sort(key=lambda c: (c.time_ms, c.gclid))
        result = tuple(out)
        self._clicks_cache[day] = result
        return result

    @property
    def clicks(self) -> list[Click]:
        """Every click of the last 90 days (the ``click_view`` window), in time order."""
        if self._all_clicks_cache is None:
            out: list[Click] = []
            for offset in range(CLICK_VIEW_DAYS - 1, -1, -1):
                out.extend(self.clicks_on(self.today - timedelta(days=offset)))
            self._all_clicks_cache = out
            gc.freeze()  # long-lived from here on (see freeze_generated)
        return self._all_clicks_cache

    # ---------------------------------------------------------------- visible views

    def _build_views(self) -> None:
        as_of = self.as_of_ms
        people: list[Person] = []
        contacts: list[Contact] = []
        members: list[Member] = []
        self._person_by_id: dict[str, Person] = {}
        archived: list[Contact] = []
        for r in self._raws:
            if r.sub_ms is not None and r.sub_ms < as_of and r.day >= self.start_day:
                members.append(self._member(r))
            if r.created_ms >= as_of:
                continue
            person, contact = self._person_view(r)
            if contact.archived_ms is not None:
                if contact.archived_ms + HUBSPOT_RECYCLE_BIN_MS >= as_of:
                    archived.append(contact)
            else:
                people.append(person)
                contacts.append(contact)
                self._person_by_id[person.id] = person
            if r.dup_id is not None and r.dup_ms is not None and r.dup_ms < as_of:
                dup = self._dup_contact(r)
                if dup.archived_ms is None:
                    contacts.append(dup)
                elif dup.archived_ms + HUBSPOT_RECYCLE_BIN_MS >= as_of:
                    archived.append(dup)
        archived.sort(key=lambda c: int(c.id))
        self.archived_contacts: list[Contact] = archived
        contacts.sort(key=lambda c: int(c.id))
        members.sort(key=lambda m: (m.timestamp_opt_ms, m.id))
        self.people: list[Person] = people
        self.contacts: list[Contact] = contacts
        self.members: list[Member] = members
        self._member_raws = sorted(
            (r for r in self._raws if r.sub_ms is not None and r.day >= self.start_day),
            key=lambda r: r.member_id,
        )
        self._raw_by_member = {r.member_id: r for r in self._member_raws}
        camps = []
        # From a week before the window: EMAIL_MARKETING people of the first days clicked those.
        for c in self._campaigns_between(
            self.start_day - timedelta(days=8), self.today + timedelta(days=8)
        ):
            if c.create_ms >= as_of:
                continue
            status = "sent" if c.send_ms < as_of else "schedule"
            camps.append(
                EmailCampaign(
                    c.id,
                    c.web_id,
                    c.kind,
                    c.title,
                    c.subject_line,
                    c.preview_text,
                    c.slug,
                    c.create_ms,
                    c.send_ms,
                    status,
                    c.links,
                )
            )
        camps.sort(key=lambda c: (c.create_ms, c.id))
        self.email_campaigns: list[EmailCampaign] = camps
        self._email_campaign_by_id = {c.id: c for c in camps}

    def _stage_state(self, r: _Raw) -> tuple[str, dict[str, int | None], int | None]:
        as_of = self.as_of_ms

        def vis(ms: int | None) -> int | None:
            return ms if ms is not None and ms < as_of else None

        stages = {
            "subscriber": vis(r.subscriber_ms),
            "lead": vis(r.lead_ms),
            "marketingqualifiedlead": vis(r.mql_ms),
            "salesqualifiedlead": vis(r.sql_ms),
            "opportunity": vis(r.opp_ms),
            "customer": vis(r.customer_ms),
        }
        current, current_ms = "subscriber", -1
        for name, ms in stages.items():
            if ms is not None and ms >= current_ms:
                current, current_ms = name, ms
        reset = vis(r.reset_ms)
        if reset is not None and reset >= current_ms:
            current = "lead"
        return current, stages, reset

    def _person_view(self, r: _Raw) -> tuple[Person, Contact]:
        as_of = self.as_of_ms
        stage, stages, reset = self._stage_state(r)
        synced = [(ms, name, value) for ms, name, value in self.crm.contact_timeline(r)]
        visible_sync = [x for x in synced if x[0] < as_of]
        status = None
        status_history: list[tuple[int, object]] = []
        for ms, name, value in visible_sync:
            if name == "hs_lead_status":
                status = value
                status_history.append((ms, value))
        owner = r.owner_id if r.owner_ms is not None and r.owner_ms < as_of else None
        changes = [r.created_ms, r.touch_ms, *(ms for ms in stages.values() if ms is not None)]
        if reset is not None:
            changes.append(reset)
        if owner is not None and r.owner_ms is not None:
            changes.append(r.owner_ms)
        changes.extend(ms for ms, _, _ in visible_sync)
        merged = r.dup_id is not None and r.dup_merged_ms is not None and r.dup_merged_ms < as_of
        if merged:
            assert r.dup_merged_ms is not None
            changes.append(r.dup_merged_ms)
        archived = r.deleted_ms if r.deleted_ms is not None and r.deleted_ms < as_of else None
        if archived is not None:
            changes.append(archived)
        updated = (
            max(ms for ms in changes if ms < as_of)
            if any(ms < as_of for ms in changes)
            else r.created_ms
        )
        member_id = r.member_id if r.sub_ms is not None and r.sub_ms < as_of else None
        click = r.click
        social = r.social
        dups = (
            (r.dup_id,)
            if r.dup_id is not None and r.dup_ms is not None and r.dup_ms < as_of and not merged
            else ()
        )
        plan = self.crm.plan(r.id)
        acct = self.crm.account_of(r)
        sync = {name: value for _, name, value in visible_sync}
        corporate = r.email.rpartition("@")[2].lower() not in _data.FREE_MAIL_DOMAINS
        utm = self._utm(r)
        first_url = self._first_url(r, utm)

        def dt(ms: int | None) -> datetime | None:
            return ms_to_dt(ms) if ms is not None else None

        person = Person(
            id=r.id,
            hubspot_contact_id=r.id,
            email=r.email,
            first_name=r.first,
            last_name=r.last,
            company=r.company,
            created_at=ms_to_dt(r.created_ms),
            source=r.source,
            source_data_1=r.data_1,
            source_data_2=r.data_2,
            gclid=click.gclid if click else None,
            ad_campaign_id=click.campaign_id if click else None,
            ad_group_id=click.ad_group_id if click else None,
            mailchimp_member_id=member_id,
            subscribed_at=dt(r.sub_ms) if member_id else None,
            lifecyclestage=stage,
            subscriber_at=dt(stages["subscriber"]),
            lead_at=dt(stages["lead"]),
            mql_at=dt(stages["marketingqualifiedlead"]),
            sql_at=dt(stages["salesqualifiedlead"]),
            opportunity_at=dt(stages["opportunity"]),
            customer_at=dt(stages["customer"]),
            reset_to_lead_at=dt(reset),
            owner_id=owner,
            lead_status=status,  # type: ignore[arg-type]
            last_modified_at=ms_to_dt(updated),
            duplicate_contact_ids=dups,
            fbclid=social.click_id if social and social.platform == "meta_ads" else None,
            li_fat_id=social.click_id if social and social.platform == "linkedin_ads" else None,
            social_platform=social.platform if social else None,
            social_campaign_id=self._social_campaign(social),
            social_ad_id=social.entity_id if social else None,
            account_index=acct.index,
            salesforce_lead_id=sync.get("salesforceleadid"),  # type: ignore[arg-type]
            salesforce_contact_id=sync.get("salesforcecontactid"),  # type: ignore[arg-type]
            utm=tuple(utm.items()),
        )
        values: dict[str, object] = {
            "email": r.email,
            "firstname": r.first,
            "lastname": r.last,
            "company": r.company,
            "jobtitle": plan.title if plan is not None and plan.lead_id else None,
            "createdate": r.created_ms,
            "lastmodifieddate": updated,
            "hs_object_id": int(r.id),
            "lifecyclestage": stage,
            "hs_lifecyclestage_subscriber_date": stages["subscriber"],
            "hs_lifecyclestage_lead_date": stages["lead"],
            "hs_lifecyclestage_marketingqualifiedlead_date": stages["marketingqualifiedlead"],
            "hs_lifecyclestage_salesqualifiedlead_date": stages["salesqualifiedlead"],
            "hs_lifecyclestage_opportunity_date": stages["opportunity"],
            "hs_lifecyclestage_customer_date": stages["customer"],
            "hs_analytics_source": r.source,
            "hs_analytics_source_data_1": r.data_1,
            "hs_analytics_source_data_2": r.data_2,
            "hs_analytics_first_url": first_url,
            "hs_google_click_id": click.gclid if click else None,
            "hs_facebook_click_id": person.fbclid,
            "li_fat_id": person.li_fat_id,
            "utm_source": utm.get("utm_source"),
            "utm_medium": utm.get("utm_medium"),
            "utm_campaign": utm.get("utm_campaign"),
            "utm_content": utm.get("utm_content"),
            "utm_term": utm.get("utm_term"),
            "hubspot_owner_id": owner,
            "hs_lead_status": status,
            "associatedcompanyid": acct.hubspot_id
            if corporate
            else sync.get("associatedcompanyid"),
            "salesforceleadid": sync.get("salesforceleadid"),
            "salesforcecontactid": sync.get("salesforcecontactid"),
            "hs_merged_object_ids": r.dup_id if merged else None,
        }
        lifecycle: list[tuple[int, object]] = sorted(
            ((ms, name) for name, ms in stages.items() if ms is not None),
            key=lambda x: x[0],
        )
        if reset is not None:
            lifecycle.append((reset, "lead"))
            lifecycle.sort(key=lambda x: x[0])
        owner_history: list[tuple[int, object]] = (
            [(r.owner_ms, owner)] if owner is not None and r.owner_ms is not None else []
        )
        contact = Contact(
            id=r.id,
            created_ms=r.created_ms,
            updated_ms=updated,
            values=values,
            person_id=r.id,
            is_duplicate=False,
            archived_ms=archived,
            history={
                "lifecyclestage": lifecycle,
                "hs_lead_status": status_history,
                "hubspot_owner_id": owner_history,
            },
        )
        return person, contact

    def _social_campaign(self, click: SocialClick | None) -> str | None:
        if click is None:
            return None
        if click.platform == "meta_ads":
            ad = self.social.meta_ad(click.entity_id)
            return ad.campaign_id if ad else None
        return click.entity_id

    def _utm(self, r: _Raw) -> dict[str, str]:
        """UTM tags of the visit that created the contact (paid and e-mail traffic)."""
        if r.click is not None:
            camp = self._campaign_by_id[r.click.campaign_id]
            out = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": _slug(camp.name)}
            if r.click.keyword is not None:
                out["utm_term"] = r.click.keyword.text
            return out
        if r.social is not None:
            source = "facebook" if r.social.platform == "meta_ads" else "linkedin"
            return {
                "utm_source": source,
                "utm_medium": "paid_social",
                "utm_campaign": r.social.utm_campaign,
                "utm_content": r.social.entity_id,
            }
        if r.source == "EMAIL_MARKETING" and r.data_2:
            return {"utm_source": "mailchimp", "utm_medium": "email", "utm_campaign": r.data_2}
        if r.source == "OTHER_CAMPAIGNS" and r.data_1:
            return {
                "utm_source": "partner" if "partner" in r.data_1 else "lumenary",
                "utm_medium": "referral" if "partner" in r.data_1 else "content",
                "utm_campaign": r.data_1,
            }
        return {}

    def _first_url(self, r: _Raw, utm: dict[str, str]) -> str:
        page = _data.LANDING_PAGES[int(r.id) % len(_data.LANDING_PAGES)]
        if r.source == "DIRECT_TRAFFIC" and r.data_1:
            page = r.data_1
        params = list(utm.items())
        if r.click is not None:
            params.append(("gclid", r.click.gclid))
        if r.social is not None:
            key = "fbclid" if r.social.platform == "meta_ads" else "li_fat_id"
            params.append((key, r.social.click_id))
        if not params:
            return page
        return page + "?" + "&".join(f"{k}={quote(v, safe='-_.')}" for k, v in params)

    def _dup_contact(self, r: _Raw) -> Contact:
        assert r.dup_id is not None and r.dup_ms is not None and r.dup_data is not None
        touched = r.dup_ms + 3 * SECOND + int(r.dup_id) % 20_000
        updated = touched if touched < self.as_of_ms else r.dup_ms
        archived = (
            r.dup_merged_ms
            if r.dup_merged_ms is not None and r.dup_merged_ms < self.as_of_ms
            else None
        )
        if archived is not None:
            updated = archived
        values: dict[str, object] = {
            "email": r.dup_email,
            "firstname": r.first,
            "lastname": r.last,
            "company": r.company,
            "createdate": r.dup_ms,
            "lastmodifieddate": updated,
            "hs_object_id": int(r.dup_id),
            "lifecyclestage": "lead",
            "hs_lifecyclestage_subscriber_date": None,
            "hs_lifecyclestage_lead_date": r.dup_ms + 700,
            "hs_lifecyclestage_marketingqualifiedlead_date": None,
            "hs_lifecyclestage_salesqualifiedlead_date": None,
            "hs_lifecyclestage_opportunity_date": None,
            "hs_lifecyclestage_customer_date": None,
            "hs_analytics_source": "OFFLINE",
            "hs_analytics_source_data_1": r.dup_data[0],
            "hs_analytics_source_data_2": r.dup_data[1],
            "hs_google_click_id": None,
            "hubspot_owner_id": None,
            "hs_lead_status": None,
        }
        if values["hs_lifecyclestage_lead_date"] >= self.as_of_ms:  # type: ignore[operator]
            values["hs_lifecyclestage_lead_date"] = None
        history: dict[str, list[tuple[int, object]]] = {"lifecyclestage": []}
        if values["hs_lifecyclestage_lead_date"] is not None:
            history["lifecyclestage"].append((r.dup_ms + 700, "lead"))
        return Contact(
            id=r.dup_id,
            created_ms=r.dup_ms,
            updated_ms=updated,
            values=values,
            person_id=r.id,
            is_duplicate=True,
            archived_ms=archived,
            history=history,
        )

    def _member(self, r: _Raw) -> Member:
        as_of = self.as_of_ms
        assert r.sub_ms is not None
        status, changed = "subscribed", r.sub_ms
        unsub = r.unsub_ms if r.unsub_ms is not None and r.unsub_ms < as_of else None
        cleaned = r.cleaned_ms if r.cleaned_ms is not None and r.cleaned_ms < as_of else None
        if unsub is not None:
            status, changed = "unsubscribed", unsub
        if cleaned is not None:
            status, changed = "cleaned", cleaned
        return Member(
            id=r.member_id,
            email=r.email,
            unique_email_id=_md5(f"{self.seed}:ueid:{r.member_id}")[:10],
            web_id=int(r.member_id[:8], 16) % 900_000_000 + 100_000_000,
            first_name=r.first,
            last_name=r.last,
            status=status,
            timestamp_opt_ms=r.sub_ms,
            last_changed_ms=changed,
            unsubscribed_at_ms=unsub,
            cleaned_at_ms=cleaned,
            person_id=r.id,
            signup_source=r.signup_source,
            rating=min(5, 1 + int(r.engagement * 5)),
        )

    # ---------------------------------------------------------------- email activity

    def email_campaign(self, campaign_id: str) -> EmailCampaign | None:
        """A visible campaign by id."""
        return self._email_campaign_by_id.get(campaign_id)

    def recipients(self, campaign_id: str) -> tuple[RecipientActivity, ...]:
        """Recipients of a sent campaign with all their (future included) activity.

        Callers filter events by ``timestamp_ms < as_of_ms``; :meth:`visible_activity` does it.
        """
        cached = self._activity_cache.get(campaign_id)
        if cached is not None:
            return cached
        campaign = self._email_campaign_by_id.get(campaign_id)
        if campaign is None or campaign.status != "sent":
            return ()
        send = campaign.send_ms
        out: list[RecipientActivity] = []
        for r in self._member_raws:
            assert r.sub_ms is not None
            if r.sub_ms >= send:
                continue
            if r.unsub_ms is not None and r.unsub_ms <= send:
                continue
            if r.bounce_send_ms is not None and r.bounce_send_ms < send:
                continue
            out.append(RecipientActivity(r.member_id, r.email, self._events(campaign, r)))
        result = tuple(out)
        self._activity_cache[campaign_id] = result
        gc.freeze()  # long-lived from here on: no later collection walks it (freeze_generated)
        return result

    def _events(self, c: EmailCampaign, r: _Raw) -> tuple[EmailEvent, ...]:
        digest = hashlib.blake2b(
            f"{self.seed}:{c.id}:{r.member_id}".encode(), digest_size=64
        ).digest()
        u = [x * _INV32 for x in _UNPACK(digest)]
        ip = f"{digest[56] % 200 + 23}.{digest[57]}.{digest[58]}.{digest[59] % 254 + 1}"
        send = c.send_ms
        cid, mid, email = c.id, r.member_id, r.email
        if r.bounce_send_ms == send and r.cleaned_ms is not None:
            return (EmailEvent(cid, mid, email, "bounce", r.cleaned_ms, type="hard"),)
        forced = r.email_click_campaign == c.id and r.email_click_ms is not None
        if u[0] < 0.009 and not forced:
            return (
                EmailEvent(
                    cid, mid, email, "bounce", send + int(5 + u[1] * 600) * SECOND, type="soft"
                ),
            )
        eng = r.engagement
        events: list[EmailEvent] = []
        if forced or u[2] < 0.10 + 0.35 * eng:
            delay = min(-math.log(1 - u[3]) * 3 * HOUR, 7 * DAY)
            first_open = send + 30 * SECOND + int(delay) // SECOND * SECOND
            click_at: int | None = None
            if forced:
                assert r.email_click_ms is not None
                click_at = r.email_click_ms
                first_open = max(send + 20 * SECOND, click_at - int(10 + u[4] * 290) * SECOND)
            elif u[5] < 0.04 + 0.24 * eng:
                click_at = first_open + int(5 + u[6] * 600) * SECOND
            events.append(EmailEvent(cid, mid, email, "open", first_open, ip=ip))
            extra = int(u[7] * 3) if u[8] < 0.45 else 0
            for k in range(extra):
                later = (
                    first_open
                    + int(-math.log(1 - u[9 + k]) * 20 * HOUR) // SECOND * SECOND
                    + SECOND
                )
                events.append(EmailEvent(cid, mid, email, "open", later, ip=ip))
            if click_at is not None:
                url = c.links[int(u[12] * len(c.links)) % len(c.links)]
                events.append(EmailEvent(cid, mid, email, "click", click_at, url=url, ip=ip))
                if u[13] < 0.2:
                    url2 = c.links[(int(u[12] * len(c.links)) + 1) % len(c.links)]
                    events.append(
                        EmailEvent(
                            cid, mid, email, "click", click_at + 45 * SECOND, url=url2, ip=ip
                        )
                    )
        events.sort(key=lambda e: (e.timestamp_ms, e.action))
        return tuple(events)

    def visible_activity(
        self, campaign_id: str
    ) -> list[tuple[RecipientActivity, list[EmailEvent]]]:
        """Each recipient of a campaign with their events before ``as_of``."""
        as_of = self.as_of_ms
        return [
            (rec, [e for e in rec.events if e.timestamp_ms < as_of])
            for rec in self.recipients(campaign_id)
        ]

    @property
    def email_events(self) -> list[EmailEvent]:
        """Every email activity event visible at ``as_of``, campaign by campaign."""
        if self._events_cache is None:
            out: list[EmailEvent] = []
            for c in self.email_campaigns:
                for _, events in self.visible_activity(c.id):
                    out.extend(events)
            self._events_cache = out
            gc.freeze()  # long-lived from here on (see freeze_generated)
        return self._events_cache

    def unsubscribes_by_campaign(self) -> dict[str, int]:
        """How many members unsubscribed after each campaign (visible at ``as_of``); counted
        once per company (a campaign report asks for it per campaign, and the count walks
        every member)."""
        if self._unsubs_cache is None:
            out: dict[str, int] = defaultdict(int)
            for r in self._member_raws:
                if r.unsub_campaign and r.unsub_ms is not None and r.unsub_ms < self.as_of_ms:
                    out[r.unsub_campaign] += 1
            self._unsubs_cache = dict(out)
        return dict(self._unsubs_cache)

    # ---------------------------------------------------------------- lookups

    def person(self, person_id: str) -> Person | None:
        """A visible person by id."""
        return self._person_by_id.get(person_id)

    def campaign(self, campaign_id: str) -> AdCampaign | None:
        """A Google Ads campaign by id."""
        return self._campaign_by_id.get(campaign_id)

    def ad_group(self, ad_group_id: str) -> AdGroup | None:
        """A Google Ads ad group by id (Performance Max's hidden group included)."""
        return self._group_by_id.get(ad_group_id)

    # ---------------------------------------------------------------- other systems

    @property
    def accounts(self) -> list[Account]:
        """The companies of the market (Salesforce Accounts, HubSpot companies)."""
        return self.crm.accounts

    @property
    def users(self) -> list[User]:
        """Salesforce users; those with an ``owner_id`` are HubSpot owners too."""
        return self.crm.users

    @property
    def companies(self) -> list[HubSpotRecord]:
        """HubSpot companies at ``as_of``."""
        return self.crm.companies

    @property
    def deals(self) -> list[HubSpotRecord]:
        """HubSpot deals at ``as_of`` (archived ones in :attr:`archived_deals`)."""
        return self.crm.deals

    @property
    def archived_deals(self) -> list[HubSpotRecord]:
        """HubSpot deals archived before ``as_of``."""
        return self.crm.archived_deals

    def salesforce(self, obj: str, include_deleted: bool = False) -> list[SfRecord]:
        """Salesforce rows of ``obj`` at ``as_of`` (what ``query``, or with
        ``include_deleted`` what ``queryAll``, returns), in id order."""
        rows = self.crm.sf[obj]
        return list(rows) if include_deleted else [r for r in rows if not r.deleted]

    @property
    def meta_daily(self) -> list[SocialDaily]:
        """Meta daily insights per ad (Berlin days), as reported at ``as_of``."""
        return self.social.meta_daily

    @property
    def linkedin_daily(self) -> list[SocialDaily]:
        """LinkedIn daily analytics per campaign (UTC days), as reported at ``as_of``."""
        return self.social.linkedin_daily

    @property
    def social_clicks(self) -> list[SocialClick]:
        """Every PAID_SOCIAL person's ad click (people created before ``as_of``)."""
        visible = {p.id for p in self.people} | {c.person_id for c in self.archived_contacts}
        return [c for c in self.social.clicks if c.person_id in visible]

    def summary(self) -> dict[str, int]:
        """Row counts per system and stream, for logs, reports and the docs."""
        sf = {f"salesforce.{obj}": len(self.salesforce(obj)) for obj in self.crm.sf}
        return {
            "people": len(self.people),
            "hubspot.contacts": len(self.contacts),
            "hubspot.contacts_archived": len(self.archived_contacts),
            "hubspot.companies": len(self.companies),
            "hubspot.deals": len(self.deals),
            "hubspot.deals_archived": len(self.archived_deals),
            "hubspot.owners": len(self.crm.owners),
            **sf,
            "salesforce.deleted_in_recycle_bin": sum(
                1 for rows in self.crm.sf.values() for r in rows if r.deleted
            ),
            "google_ads.campaign_days": len(self.ad_daily),
            "google_ads.clicks_365d": sum(row.clicks for row in self.ad_daily),
            "google_ads.click_views_90d": len(self.clicks),
            "meta_ads.ad_days": len(self.meta_daily),
            "linkedin_ads.campaign_days": len(self.linkedin_daily),
            "mailchimp.members": len(self.members),
            "mailchimp.campaigns": len(self.email_campaigns),
            "mailchimp.email_activity": len(self.email_events),
        }
