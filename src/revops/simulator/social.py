"""Paid social for the synthetic company: one Meta ad account and one LinkedIn ad account.

Both platforms run lead-generation campaigns whose clicks bring PAID_SOCIAL people to the site:

* **Meta** (ad account ``act_1189450230212345``, EUR, ``Europe/Berlin``): campaigns -> ad sets
  -> ads; daily insights per ad on Berlin days. A person's click carries an ``fbclid`` that
  HubSpot captures (``hs_facebook_click_id``) with the landing page's UTM tags
  (``utm_source=facebook&utm_medium=paid_social&utm_campaign=<slug>&utm_content=<ad id>``).
* **LinkedIn** (ad account ``508912345``, USD, days in UTC): campaign groups -> campaigns;
  daily analytics per campaign. A click leaves ``li_fat_id`` (HubSpot property ``li_fat_id``)
  and ``utm_source=linkedin&utm_medium=paid_social&utm_campaign=<slug>&utm_content=<campaign>``.

Which platform a PAID_SOCIAL person came through is the HubSpot drill-down the company already
drew (``Facebook`` or ``LinkedIn``); the campaign, ad and click id come from the person's own
key, so nothing else about them changes. On the platform side a day's clicks on an ad are the
people's clicks plus anonymous ones (never fewer than the people), spend is the sum of per-click
costs (CPM campaigns: per thousand impressions) and the platform's own lead count is the people
plus view-through claims it makes up, as platforms do.

Platforms **restate** recent days: invalid activity is filtered out over the first few days
(Meta: spend, impressions and clicks shrink by up to 2% within 3 days; LinkedIn: clicks and
cost by up to 3% within 2 days) and conversions arrive late (each lead is reported 10 minutes
to 3 days after it happened). A day older than that never changes again.
"""

from __future__ import annotations

import base64
import bisect
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from revops.simulator._gen import (
    DAY,
    MINUTE,
    SECOND,
    cumulative,
    day_bounds,
    lag,
    ms_of,
    poisson,
    restate_down,
    restate_up,
    season,
    unit,
)

if TYPE_CHECKING:
    from revops.simulator.company import _Raw

__all__ = [
    "LINKEDIN_ACCOUNT_ID",
    "META_ACCOUNT_ID",
    "LinkedInCampaign",
    "LinkedInGroup",
    "MetaAd",
    "MetaAdSet",
    "MetaCampaign",
    "Social",
    "SocialClick",
    "SocialDaily",
    "Totals",
    "in_window",
    "report_span",
]

META_ACCOUNT_ID = "1189450230212345"
META_ACCOUNT_NAME = "Lumenary EMEA"
META_CURRENCY = "EUR"
META_TIME_ZONE = "Europe/Berlin"
META_TZ = ZoneInfo(META_TIME_ZONE)
LINKEDIN_ACCOUNT_ID = "508912345"
LINKEDIN_ACCOUNT_NAME = "Lumenary Inc. - LinkedIn Ads"
LINKEDIN_CURRENCY = "USD"
LINKEDIN_ORG = "urn:li:organization:76543210"
_DOW = (1.05, 1.1, 1.1, 1.05, 0.95, 0.55, 0.5)
_DOW_MEAN = sum(_DOW) / 7
_HOURS = (2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 12, 12, 12, 11, 10, 9, 8, 7, 6, 4, 3)
_HOURS_CUM = cumulative(_HOURS)
_EPOCH = datetime(2024, 2, 5, 9, 0, tzinfo=UTC)
"""When the ad accounts' structure starts (the first campaigns' creation), for a history that
starts after it; a longer history moves it back in whole steps of :data:`_EPOCH_STEP_DAYS`."""
_EPOCH_STEP_DAYS = 364  # whole weeks: the same weekday and hour


def structure_epoch(history_days: int) -> datetime:
    """When the ad accounts' structure starts for a company with ``history_days`` of history:
    :data:`_EPOCH` for a year (every ``as_of`` from 2026-03-11 on has its earliest paid-social
    person, ghosts included, after it), as many whole :data:`_EPOCH_STEP_DAYS` earlier as a
    longer history adds. It depends on the history's length only, so a day's data does not
    change as ``as_of`` moves."""
    from revops.simulator.company import HISTORY_DAYS

    extra = history_days - HISTORY_DAYS
    if extra <= 0:
        return _EPOCH
    return _EPOCH - timedelta(days=-(-extra // _EPOCH_STEP_DAYS) * _EPOCH_STEP_DAYS)


@dataclass(frozen=True)
class MetaAd:
    """A Meta ad (the insights grain). ``cpc`` in EUR; ``cpm`` set for reach campaigns."""

    id: str
    name: str
    adset_id: str
    campaign_id: str
    creative_id: str
    created_ms: int
    base_clicks: float
    cpc: float
    ctr: float
    lead_weight: float
    cpm: float | None = None


@dataclass(frozen=True)
class MetaAdSet:
    """A Meta ad set."""

    id: str
    name: str
    campaign_id: str
    optimization_goal: str
    billing_event: str
    daily_budget_cents: int
    countries: tuple[str, ...]
    created_ms: int
    ads: tuple[MetaAd, ...]


@dataclass(frozen=True)
class MetaCampaign:
    """A Meta campaign. ``paused_ms``: when it was paused for good (None: still running)."""

    id: str
    name: str
    objective: str
    utm_campaign: str
    daily_budget_cents: int
    created_ms: int
    adsets: tuple[MetaAdSet, ...]
    paused_ms: int | None = None

    def status_at(self, ms: int) -> str:
        """``ACTIVE`` or ``PAUSED`` at epoch ms ``ms``."""
        return "PAUSED" if self.paused_ms is not None and ms >= self.paused_ms else "ACTIVE"

    def updated_at(self, ms: int) -> int:
        """``updated_time`` as seen at ``ms``."""
        if self.paused_ms is not None and ms > self.paused_ms:
            return self.paused_ms
        return self.created_ms + 3 * 60 * MINUTE


@dataclass(frozen=True)
class LinkedInGroup:
    """A LinkedIn campaign group."""

    id: str
    name: str
    created_ms: int


@dataclass(frozen=True)
class LinkedInCampaign:
    """A LinkedIn campaign (the analytics grain). Costs in USD; ``cpm`` for CPM campaigns."""

    id: str
    name: str
    group_id: str
    objective: str
    format: str
    cost_type: str
    utm_campaign: str
    daily_budget: int
    unit_cost: float
    created_ms: int
    base_clicks: float
    cpc: float
    ctr: float
    lead_weight: float
    group_key: str
    cpm: float | None = None

    @property
    def urn(self) -> str:
        """``urn:li:sponsoredCampaign:{id}``."""
        return f"urn:li:sponsoredCampaign:{self.id}"


@dataclass(frozen=True)
class SocialClick:
    """A person's ad click. ``day`` is the platform's reporting day; ``entity_id`` the Meta ad
    or the LinkedIn campaign; ``cost_micros`` in the account currency."""

    platform: str
    click_id: str
    time_ms: int
    day: date
    entity_id: str
    person_id: str
    cost_micros: int
    utm_campaign: str


@dataclass(frozen=True)
class SocialDaily:
    """One entity's metrics on one platform day, as reported at ``as_of`` (restated)."""

    platform: str
    day: date
    entity_id: str
    impressions: int
    clicks: int
    link_clicks: int
    spend_micros: int
    reach: int
    leads: int
    landing_page_views: int
    people: int = 0


@dataclass(frozen=True)
class Totals:
    """The metrics of a report row: :class:`SocialDaily` facts summed over its bucket."""

    impressions: int
    clicks: int
    link_clicks: int
    spend_micros: int
    reach: int
    leads: int
    landing_page_views: int

    @classmethod
    def of(cls, facts: list[SocialDaily]) -> Totals:
        return cls(*(sum(getattr(f, name) for f in facts) for name in cls.__dataclass_fields__))


def in_window(rows: Iterable[SocialDaily], first: date, last: date) -> Iterator[SocialDaily]:
    """The facts of the days ``first``..``last`` (both included)."""
    return (row for row in rows if first <= row.day <= last)


def report_span(day: date, first: date, last: date, by: str) -> tuple[date, date]:
    """The bucket ``day`` falls in, in a report over ``first``..``last``: the day itself
    (``by="day"``), its calendar month clipped to the range (``"month"``), else the range."""
    if by == "day":
        return (day, day)
    if by == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return (max(start, first), min(end, last))
    return (first, last)


class _Priced(NamedTuple):
    """What a platform's daily facts are drawn from, per ad (Meta) or campaign (LinkedIn)."""

    id: str
    created_ms: int
    paused_ms: int | None
    base_clicks: float
    cpc: float
    ctr: float
    cpm: float | None


@dataclass
class _Day:
    impressions: int
    clicks: int
    spend: int
    anon_times: list[int] = field(default_factory=list)


def _fbclid(rng: random.Random) -> str:
    return "IwAR" + base64.urlsafe_b64encode(rng.randbytes(45)).decode("ascii").rstrip("=")


def _li_fat_id(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4))


class Social:
    """Both ad accounts for one company: static structure, people's clicks, daily facts."""

    def __init__(self, seed: int, scale: float, as_of_ms: int, history_days: int) -> None:
        self.seed = seed
        self.scale = scale
        self.as_of_ms = as_of_ms
        self.history_days = history_days  # the company's: daily facts go back as far
        self.meta_today = datetime.fromtimestamp(as_of_ms / 1000, tz=META_TZ).date()
        self.linkedin_today = datetime.fromtimestamp(as_of_ms / 1000, tz=UTC).date()
        self.epoch = structure_epoch(history_days)
        self._build_static()
        self.clicks: list[SocialClick] = []

    # ---------------------------------------------------------------- structure

    def _build_static(self) -> None:
        rng = random.Random(f"{self.seed}:social-ids")

        def meta_id() -> str:
            return str(rng.randrange(23_850_000_000_000_000, 23_860_000_000_000_000))

        def at(days: int, hours: int = 0) -> int:
            return ms_of(self.epoch + timedelta(days=days, hours=hours))

        campaigns: list[MetaCampaign] = []
        spec = [
            (
                "EMEA - Retargeting - Demo Requests",
                "OUTCOME_LEADS",
                "meta-retargeting-demo",
                12_000,
                0,
                None,
                [
                    (
                        "Website visitors 30d",
                        [
                            ("Demo video 15s", 14, 1.10, 0.011, 0.35),
                            ("Customer quote carousel", 10, 1.25, 0.009, 0.25),
                        ],
                    ),
                    (
                        "Pricing page visitors",
                        [
                            ("Pricing FAQ", 8, 1.40, 0.012, 0.25),
                            ("Free trial static", 6, 1.30, 0.010, 0.15),
                        ],
                    ),
                ],
            ),
            (
                "EMEA - Prospecting - RevOps Leaders",
                "OUTCOME_LEADS",
                "meta-prospecting-revops-leaders",
                20_000,
                40,
                None,
                [
                    (
                        "Lookalike 1% - customers",
                        [
                            ("Metrics handbook lead magnet", 18, 1.90, 0.008, 0.30),
                            ("Attribution explainer video", 14, 1.70, 0.007, 0.20),
                        ],
                    ),
                    (
                        "Interest - Sales operations",
                        [
                            ("Funnel benchmark report", 16, 2.10, 0.007, 0.25),
                            ("Webinar promo", 10, 2.30, 0.006, 0.15),
                        ],
                    ),
                ],
            ),
            (
                "EMEA - Awareness - Product Video",
                "OUTCOME_AWARENESS",
                "meta-awareness-product-video",
                8_000,
                75,
                None,
                [("Broad - EMEA 25-54", [("Product video 30s", 25, 0.0, 0.004, 0.0)])],
            ),
            (
                "EMEA - Prospecting - Lookalike Test",
                "OUTCOME_LEADS",
                "meta-lookalike-test",
                6_000,
                300,
                ms_of(datetime(2026, 6, 30, 15, 12, tzinfo=UTC)),
                [("Lookalike 3% - leads", [("Lookalike test static", 12, 2.50, 0.006, 0.20)])],
            ),
        ]
        for name, objective, utm, budget, offset, paused, adsets in spec:
            cid = meta_id()
            built_sets = []
            for set_name, ads in adsets:
                sid = meta_id()
                built_ads = []
                for ad_name, base, cpc, ctr, weight in ads:
                    aid = meta_id()
                    awareness = objective == "OUTCOME_AWARENESS"
                    built_ads.append(
                        MetaAd(
                            id=aid,
                            name=ad_name,
                            adset_id=sid,
                            campaign_id=cid,
                            creative_id=meta_id(),
                            created_ms=at(offset, 2),
                            base_clicks=base,
                            cpc=cpc,
                            ctr=ctr,
                            lead_weight=weight,
                            cpm=6.5 if awareness else None,
                        )
                    )
                awareness = objective == "OUTCOME_AWARENESS"
                built_sets.append(
                    MetaAdSet(
                        id=sid,
                        name=set_name,
                        campaign_id=cid,
                        optimization_goal="REACH" if awareness else "LEAD_GENERATION",
                        billing_event="IMPRESSIONS",
                        daily_budget_cents=budget // len(adsets),
                        countries=("DE", "GB", "FR", "NL", "SE"),
                        created_ms=at(offset, 1),
                        ads=tuple(built_ads),
                    )
                )
            campaigns.append(
                MetaCampaign(
                    cid, name, objective, utm, budget, at(offset), tuple(built_sets), paused
                )
            )
        self.meta_campaigns: list[MetaCampaign] = campaigns
        self.meta_adsets: list[MetaAdSet] = [s for c in campaigns for s in c.adsets]
        self.meta_ads: list[MetaAd] = [a for s in self.meta_adsets for a in s.ads]
        self._meta_campaign = {c.id: c for c in campaigns}
        self._meta_ad = {a.id: a for a in self.meta_ads}

        def li_id(lo: int, hi: int) -> str:
            return str(rng.randrange(lo, hi))

        groups: list[LinkedInGroup] = []
        li: list[LinkedInCampaign] = []
        li_spec = [
            (
                "ABM - RevOps Leaders",
                "linkedin-abm-revops-leaders",
                10,
                [
                    (
                        "ABM - VP Sales & CROs - Sponsored Content",
                        "WEBSITE_VISIT",
                        "SPONSORED_UPDATES",
                        "CPC",
                        18,
                        11.5,
                        0.0055,
                        0.55,
                        None,
                    ),
                    (
                        "ABM - RevOps Managers - Sponsored Content",
                        "WEBSITE_VISIT",
                        "SPONSORED_UPDATES",
                        "CPC",
                        22,
                        9.0,
                        0.0060,
                        0.45,
                        None,
                    ),
                ],
            ),
            (
                "Lead Gen - Metrics Handbook",
                "linkedin-lead-gen-ebook",
                55,
                [
                    (
                        "Lead Gen - Document Ad - Metrics Handbook",
                        "WEBSITE_CONVERSION",
                        "SPONSORED_UPDATES",
                        "CPC",
                        26,
                        7.5,
                        0.0070,
                        0.65,
                        None,
                    ),
                    (
                        "Lead Gen - Conversation Ad - Demo",
                        "WEBSITE_CONVERSION",
                        "SPONSORED_INMAILS",
                        "CPC",
                        12,
                        8.5,
                        0.0300,
                        0.35,
                        None,
                    ),
                ],
            ),
            (
                "Brand Awareness",
                "linkedin-brand",
                90,
                [
                    (
                        "Brand - Video - Product Tour",
                        "BRAND_AWARENESS",
                        "SPONSORED_UPDATES",
                        "CPM",
                        20,
                        0.0,
                        0.0040,
                        0.0,
                        38.0,
                    ),
                ],
            ),
        ]
        for group_name, key, offset, camps in li_spec:
            gid = li_id(600_000_000, 700_000_000)
            groups.append(LinkedInGroup(gid, group_name, at(offset)))
            for name, objective, ctype, cost_type, base, cpc, ctr, weight, cpm in camps:
                slug = key if cpm is None else "linkedin-brand-video"
                li.append(
                    LinkedInCampaign(
                        id=li_id(300_000_000, 400_000_000),
                        name=name,
                        group_id=gid,
                        objective=objective,
                        format=ctype,
                        cost_type=cost_type,
                        utm_campaign=slug,
                        daily_budget=250 if cpm is None else 150,
                        unit_cost=round(cpc * 1.1, 2) if cpm is None else cpm,
                        created_ms=at(offset, 3),
                        base_clicks=base,
                        cpc=cpc,
                        ctr=ctr,
                        lead_weight=weight,
                        group_key=key,
                        cpm=cpm,
                    )
                )
        self.linkedin_groups: list[LinkedInGroup] = groups
        self.linkedin_campaigns: list[LinkedInCampaign] = li
        self._li_campaign = {c.id: c for c in li}

    def meta_campaign(self, campaign_id: str) -> MetaCampaign | None:
        """A Meta campaign by id."""
        return self._meta_campaign.get(campaign_id)

    def meta_ad(self, ad_id: str) -> MetaAd | None:
        """A Meta ad by id."""
        return self._meta_ad.get(ad_id)

    def linkedin_campaign(self, campaign_id: str) -> LinkedInCampaign | None:
        """A LinkedIn campaign by id."""
        return self._li_campaign.get(campaign_id)

    # ---------------------------------------------------------------- people

    def assign(self, r: _Raw) -> SocialClick:
        """The ad click that brought a PAID_SOCIAL person (sets their UTM drill-down)."""
        rng = random.Random(f"{self.seed}:{r.id}:social")
        click_ms = (r.created_ms - rng.randint(45 * SECOND, 25 * MINUTE)) // SECOND * SECOND
        if r.data_1 == "Facebook":
            ads = [
                a
                for a in self.meta_ads
                if a.lead_weight > 0
                and (self._meta_campaign[a.campaign_id].paused_ms or 2**62) > click_ms
                and a.created_ms < click_ms
            ]
            ad = rng.choices(ads, weights=[a.lead_weight for a in ads])[0]
            camp = self._meta_campaign[ad.campaign_id]
            cost = max(1, int(round(ad.cpc * rng.lognormvariate(-0.08, 0.4) * 100))) * 10_000
            day = datetime.fromtimestamp(click_ms / 1000, tz=META_TZ).date()
            click = SocialClick(
                "meta_ads", _fbclid(rng), click_ms, day, ad.id, r.id, cost, camp.utm_campaign
            )
        else:
            key = r.data_2 or "linkedin-abm-revops-leaders"
            camps = [c for c in self.linkedin_campaigns if c.group_key == key and c.lead_weight]
            if not camps:
                camps = [c for c in self.linkedin_campaigns if c.lead_weight]
            lc = rng.choices(camps, weights=[c.lead_weight for c in camps])[0]
            cost = max(1, int(round(lc.cpc * rng.lognormvariate(-0.08, 0.35) * 1000))) * 1000
            day = datetime.fromtimestamp(click_ms / 1000, tz=UTC).date()
            click = SocialClick(
                "linkedin_ads", _li_fat_id(rng), click_ms, day, lc.id, r.id, cost, lc.utm_campaign
            )
        r.data_2 = click.utm_campaign
        return click

    # ---------------------------------------------------------------- daily facts

    def _entity_day(
        self,
        platform: str,
        day: date,
        entity_id: str,
        base: float,
        cpc: float,
        ctr: float,
        cpm: float | None,
        bounds: tuple[int, int],
        assigned: list[SocialClick],
        unit_micros: int,
    ) -> _Day:
        rng = random.Random(f"{self.seed}:{platform}:{day.isoformat()}:{entity_id}:ads")
        lam = (
            base
            * _DOW[day.weekday()]
            / _DOW_MEAN
            * season(day)
            * self.scale
            * rng.lognormvariate(0, 0.15)
        )
        total = max(poisson(rng, lam), len(assigned))
        rate = ctr * rng.lognormvariate(0, 0.1)
        impressions = max(total, int(round(max(lam, total) / rate)))
        start, end = bounds
        span = end - start
        spend = sum(c.cost_micros for c in assigned)
        times: list[int] = []
        for _ in range(total - len(assigned)):
            hour = bisect.bisect_right(_HOURS_CUM, rng.random() * _HOURS_CUM[-1])
            times.append(start + int((min(hour, 23) + rng.random()) / 24 * span))
            if cpm is None:
                cost = max(1, int(round(cpc * rng.lognormvariate(-0.08, 0.4) * 1_000_000)))
                spend += cost // unit_micros * unit_micros or unit_micros
        if cpm is not None:
            spend = int(round(impressions * cpm * 1000 / unit_micros)) * unit_micros
        return _Day(impressions, total, spend, times)

    def build_daily(self, raws: list[_Raw]) -> None:
        """Daily facts of both platforms over the company's history, as reported at ``as_of``."""
        by_key: dict[tuple[str, date, str], list[SocialClick]] = defaultdict(list)
        for click in self.clicks:
            by_key[(click.platform, click.day, click.entity_id)].append(click)
        created = {r.id: r.created_ms for r in raws}
        # Meta bills impressions: spend is impressions x the ad's effective CPM.
        meta = [
            _Priced(
                ad.id,
                ad.created_ms,
                self._meta_campaign[ad.campaign_id].paused_ms,
                ad.base_clicks,
                ad.cpc,
                ad.ctr,
                ad.cpm if ad.cpm is not None else ad.cpc * ad.ctr * 1000,
            )
            for ad in self.meta_ads
        ]
        linkedin = [
            _Priced(lc.id, lc.created_ms, None, lc.base_clicks, lc.cpc, lc.ctr, lc.cpm)
            for lc in self.linkedin_campaigns
        ]
        self.meta_daily: list[SocialDaily] = self._platform_daily(
            "meta_ads", self.meta_today, META_TZ, meta, by_key, created, 10_000
        )
        self.linkedin_daily: list[SocialDaily] = self._platform_daily(
            "linkedin_ads", self.linkedin_today, ZoneInfo("UTC"), linkedin, by_key, created, 1_000
        )

    def _platform_daily(
        self,
        platform: str,
        today: date,
        tz: ZoneInfo,
        entities: list[_Priced],
        by_key: dict[tuple[str, date, str], list[SocialClick]],
        created: dict[str, int],
        unit_micros: int,
    ) -> list[SocialDaily]:
        """One platform's daily facts over the company's history (its own time zone's days):
        one row per entity and day from its creation until its campaign is paused."""
        rows: list[SocialDaily] = []
        day = today - timedelta(days=self.history_days)
        while day <= today:
            bounds = day_bounds(day, tz)
            for e in entities:
                if e.created_ms >= bounds[1] or (
                    e.paused_ms is not None and e.paused_ms <= bounds[0]
                ):
                    continue
                row = self._daily_row(
                    platform,
                    day,
                    e.id,
                    e.base_clicks,
                    e.cpc,
                    e.ctr,
                    e.cpm,
                    bounds,
                    by_key.get((platform, day, e.id), []),
                    created,
                    unit_micros,
                    paused_ms=e.paused_ms,
                )
                if row is not None:
                    rows.append(row)
            day += timedelta(days=1)
        return rows

    def _daily_row(
        self,
        platform: str,
        day: date,
        entity_id: str,
        base: float,
        cpc: float,
        ctr: float,
        cpm: float | None,
        bounds: tuple[int, int],
        assigned: list[SocialClick],
        created: dict[str, int],
        unit_micros: int,
        paused_ms: int | None = None,
    ) -> SocialDaily | None:
        as_of = self.as_of_ms
        start, end = bounds
        if start >= as_of:
            return None
        facts = self._entity_day(
            platform, day, entity_id, base, cpc, ctr, cpm, bounds, assigned, unit_micros
        )
        stop = min(as_of, paused_ms) if paused_ms is not None else as_of
        fraction = min(1.0, max(0.0, (stop - start) / (end - start)))
        visible = [c for c in assigned if c.time_ms < stop]
        anon = [t for t in facts.anon_times if t < stop]
        clicks = len(visible) + len(anon)
        impressions = facts.impressions
        spend = facts.spend
        if fraction < 1.0:
            impressions = max(clicks, int(impressions * fraction))
            if cpm is not None:
                spend = int(round(impressions * cpm * 1000 / unit_micros)) * unit_micros
            else:
                spend = int(round(spend * (clicks / facts.clicks))) if facts.clicks else 0
                spend = spend // unit_micros * unit_micros
        if impressions <= 0:
            return None
        key = f"{self.seed}:{platform}:{day.isoformat()}:{entity_id}"
        # Leads: the people (each reported after a lag) plus the platform's view-through claims.
        leads = 0
        for c in visible:
            person_created = created.get(c.person_id, c.time_ms)
            if person_created + lag(f"{key}:{c.person_id}:report", 10 * MINUTE, 3 * DAY) < as_of:
                leads += 1
        extra_rng = random.Random(f"{key}:claims")
        claims = poisson(extra_rng, 0.35 * len(assigned) + (0.15 if assigned else 0.0))
        for k in range(claims):
            if start + lag(f"{key}:claim:{k}", 6 * 3600_000, 4 * DAY) < as_of:
                leads += 1
        if platform == "meta_ads":
            pct, days = 0.02, 3.0
        else:
            pct, days = 0.03, 2.0
        link_clicks = restate_up(clicks, end, as_of, key + ":clicks", pct, days)
        spend_r = restate_up(spend // unit_micros, end, as_of, key + ":spend", pct, days)
        impressions_r = restate_up(impressions, end, as_of, key + ":impr", pct, days)
        other = int(round(link_clicks * (0.2 + 0.2 * unit(key + ":other"))))
        frequency = 1.3 + 0.9 * unit(key + ":freq")
        reach = max(1, int(impressions_r / frequency))
        lpv = restate_down(int(link_clicks * 0.82), end, as_of, key + ":lpv", 0.1, 2.0)
        return SocialDaily(
            platform=platform,
            day=day,
            entity_id=entity_id,
            impressions=impressions_r,
            clicks=link_clicks + other,
            link_clicks=link_clicks,
            spend_micros=spend_r * unit_micros,
            reach=reach,
            leads=leads,
            landing_page_views=lpv,
            people=len(visible),
        )
