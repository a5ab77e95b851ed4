"""The sales side of the synthetic company: Salesforce, and what it syncs to and from HubSpot.

How the two CRMs relate (the setup of many B2B companies, and the one this world follows):

* **Marketing runs HubSpot, Sales runs Salesforce**, joined by the HubSpot-Salesforce sync,
  which is a few minutes behind in both directions (1-9 minutes, per record).
* **Leads.** Every HubSpot contact that becomes a lead is synced to Salesforce as a **Lead**
  with the same e-mail (subscribers who never become leads are not). Leads that sales creates
  in Salesforce first (trade-show scans, imports: HubSpot source ``OFFLINE``) are synced the
  other way, so their Salesforce ``CreatedDate`` is the earlier one. HubSpot's duplicate
  contacts sync as duplicate Leads (same address up to case and spaces).
* **Lead status** (``Lead.Status``) is the sales funnel: ``Open - Not Contacted`` ->
  ``Marketing Qualified`` (set by the sync when HubSpot's lifecycle becomes
  ``marketingqualifiedlead``) -> ``Working - Contacted`` (sales accepted it: set with the first
  sales call or e-mail) -> ``Sales Qualified`` (sales qualified it; the sync sets HubSpot's
  lifecycle to ``salesqualifiedlead``) -> ``Closed - Converted``. Rejected MQLs become
  ``Unqualified`` with ``Unqualified_Reason__c`` (No Budget, Not a Fit, No Response,
  Competitor, Bad Timing, Student/Job Seeker); HubSpot's ``hs_lead_status`` mirrors the status
  (NEW, OPEN, IN_PROGRESS, CONNECTED, OPEN_DEAL, UNQUALIFIED, BAD_TIMING).
* **Sales activities** are Salesforce Tasks (calls, e-mails) and Events (meetings) owned by
  sales users (``User.Department = 'Sales'``) with ``WhoId`` the Lead, or the Contact once
  converted (Salesforce re-parents them). The HubSpot integration user also logs a Task
  ("Form submission: ...") on every new MQL: it is not a sales activity. Reps work New York
  business hours, so an MQL on Friday evening waits until Monday.
* **Opportunities live in Salesforce.** Creating one converts the Lead (``IsConverted``,
  ``ConvertedContactId``, ``ConvertedAccountId``, ``ConvertedOpportunityId``) into a Contact on
  the person's Account; the person is the primary ``OpportunityContactRole``, and up to three
  colleagues (same account, leads created since the person) join as further contact roles,
  their leads converted without an opportunity: the buying group. ``OpportunityHistory`` keeps
  every stage, amount and close-date change. Opportunities close won at the moment HubSpot's
  lifecycle becomes ``customer``; others are lost (``Loss_Reason__c``) or still open, some past
  their close date (reps push it by 30 days each time it passes). Won accounts sometimes buy an
  expansion (``Type = 'Existing Business'``) later.
* **Deals in HubSpot mirror New Business opportunities** (the sync's filter): same amount,
  currency and close date, stage mapped onto HubSpot's default pipeline, contacts and company
  associated; expansions are not mirrored. Deals carry ``salesforceopportunityid``, contacts
  ``salesforceleadid`` / ``salesforcecontactid``, companies ``salesforceaccountid``.
* **Accounts** are one pool of companies seen by both CRMs (Salesforce Account, HubSpot
  company, same name, domain and firmographics, created before the simulated history). Their
  type is their own (``Prospect``, ``Partner``, or ``Customer - Direct`` for customers from
  before the history, lifecycle ``customer`` in HubSpot); customers won in the history are what
  opportunities and deals say, not a rollup on the account (a rollup over people would change
  as they age out of the window without the record's modification stamp moving). A contact is
  associated with the company of its e-mail domain from the start; a free-mail contact only
  once sales converts it onto an account.
* **Campaigns.** Salesforce Campaigns exist per paid campaign (Google, Meta, LinkedIn), for the
  newsletter, partner and content programmes, events and the monthly webinar; people are
  CampaignMembers of the campaign that brought them (``Responded``) and of webinars they
  register for (``Registered`` -> ``Attended`` / ``No Show``). ``Opportunity.CampaignId`` is
  the latest campaign the person responded to before it was created.
* **Deletions.** About 2% of never-qualified contacts are junk and get deleted in both CRMs a
  little after they appear (HubSpot: archived, listed with ``archived=true`` for 90 days;
  Salesforce: ``IsDeleted``, only via ``queryAll``, and purged from the recycle bin 15 days
  later, as Salesforce does). Most
  duplicate contacts are merged: the duplicate HubSpot contact is archived, the duplicate Lead
  deleted with ``MasterRecordId``. Some opportunities are created twice by mistake and the copy
  deleted within days (its deal archived); about 1% of tasks are deleted.

Everything is a function of the seed and each record's own timeline: a record created before
``as_of`` shows its state at ``as_of``; later ``as_of`` values add records, change them
(``SystemModstamp`` / ``hs_lastmodifieddate`` move) and delete some.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from revops.simulator import _data
from revops.simulator._gen import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    business_time,
    lag,
    ms_of,
    sfid,
    unit,
)

if TYPE_CHECKING:
    from revops.simulator.company import Company, _Raw

__all__ = [
    "Account",
    "Crm",
    "DEAL_STAGES",
    "HubSpotRecord",
    "Owner",
    "SF_SCHEMA",
    "SfRecord",
    "User",
]

NY = ZoneInfo("America/New_York")
RECYCLE_BIN_MS = 15 * DAY
ORG_CREATED_MS = ms_of(datetime(2019, 3, 4, 14, 0, tzinfo=UTC))

FREE_MAIL = frozenset(_data.FREE_MAIL_DOMAINS)

# Salesforce: object -> field -> type (the order is the describe order and FIELDS(ALL)).
_AUDIT: list[tuple[str, str]] = [
    ("CreatedDate", "datetime"),
    ("CreatedById", "reference"),
    ("LastModifiedDate", "datetime"),
    ("LastModifiedById", "reference"),
    ("SystemModstamp", "datetime"),
]
SF_SCHEMA: dict[str, dict[str, str]] = {
    "Lead": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("MasterRecordId", "reference"),
            ("FirstName", "string"),
            ("LastName", "string"),
            ("Name", "string"),
            ("Title", "string"),
            ("Company", "string"),
            ("Email", "email"),
            ("Country", "string"),
            ("Industry", "picklist"),
            ("NumberOfEmployees", "int"),
            ("LeadSource", "picklist"),
            ("Status", "picklist"),
            ("OwnerId", "reference"),
            ("IsConverted", "boolean"),
            ("ConvertedDate", "date"),
            ("ConvertedAccountId", "reference"),
            ("ConvertedContactId", "reference"),
            ("ConvertedOpportunityId", "reference"),
            ("IsUnreadByOwner", "boolean"),
            *_AUDIT,
            ("LastActivityDate", "date"),
            ("Unqualified_Reason__c", "picklist"),
        ]
    ),
    "LeadHistory": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("LeadId", "reference"),
            ("CreatedById", "reference"),
            ("CreatedDate", "datetime"),
            ("Field", "picklist"),
            ("DataType", "picklist"),
            ("OldValue", "anyType"),
            ("NewValue", "anyType"),
        ]
    ),
    "Contact": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("MasterRecordId", "reference"),
            ("AccountId", "reference"),
            ("FirstName", "string"),
            ("LastName", "string"),
            ("Name", "string"),
            ("Title", "string"),
            ("Email", "email"),
            ("LeadSource", "picklist"),
            ("MailingCountry", "string"),
            ("OwnerId", "reference"),
            ("HasOptedOutOfEmail", "boolean"),
            *_AUDIT,
            ("LastActivityDate", "date"),
        ]
    ),
    "Account": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("MasterRecordId", "reference"),
            ("Name", "string"),
            ("Type", "picklist"),
            ("Website", "url"),
            ("Industry", "picklist"),
            ("NumberOfEmployees", "int"),
            ("AnnualRevenue", "currency"),
            ("BillingCountry", "string"),
            ("CurrencyIsoCode", "picklist"),
            ("AccountSource", "picklist"),
            ("OwnerId", "reference"),
            *_AUDIT,
            ("LastActivityDate", "date"),
        ]
    ),
    "Opportunity": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("AccountId", "reference"),
            ("Name", "string"),
            ("StageName", "picklist"),
            ("Amount", "currency"),
            ("Probability", "percent"),
            ("ExpectedRevenue", "currency"),
            ("CloseDate", "date"),
            ("Type", "picklist"),
            ("LeadSource", "picklist"),
            ("IsClosed", "boolean"),
            ("IsWon", "boolean"),
            ("ForecastCategory", "picklist"),
            ("ForecastCategoryName", "picklist"),
            ("CurrencyIsoCode", "picklist"),
            ("CampaignId", "reference"),
            ("OwnerId", "reference"),
            *_AUDIT,
            ("LastActivityDate", "date"),
            ("LastStageChangeDate", "datetime"),
            ("FiscalYear", "int"),
            ("FiscalQuarter", "int"),
            ("Loss_Reason__c", "picklist"),
        ]
    ),
    "OpportunityHistory": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("OpportunityId", "reference"),
            ("CreatedById", "reference"),
            ("CreatedDate", "datetime"),
            ("StageName", "picklist"),
            ("Amount", "currency"),
            ("ExpectedRevenue", "currency"),
            ("CloseDate", "date"),
            ("Probability", "percent"),
            ("ForecastCategory", "picklist"),
            ("CurrencyIsoCode", "picklist"),
            ("SystemModstamp", "datetime"),
        ]
    ),
    "OpportunityContactRole": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("OpportunityId", "reference"),
            ("ContactId", "reference"),
            ("Role", "picklist"),
            ("IsPrimary", "boolean"),
            *_AUDIT,
        ]
    ),
    "Campaign": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("Name", "string"),
            ("ParentId", "reference"),
            ("Type", "picklist"),
            ("Status", "picklist"),
            ("StartDate", "date"),
            ("EndDate", "date"),
            ("IsActive", "boolean"),
            ("BudgetedCost", "currency"),
            ("ActualCost", "currency"),
            ("CurrencyIsoCode", "picklist"),
            ("UTM_Campaign__c", "string"),
            ("OwnerId", "reference"),
            *_AUDIT,
        ]
    ),
    "CampaignMember": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("CampaignId", "reference"),
            ("LeadId", "reference"),
            ("ContactId", "reference"),
            ("LeadOrContactId", "reference"),
            ("Type", "picklist"),
            ("Status", "picklist"),
            ("HasResponded", "boolean"),
            ("FirstRespondedDate", "date"),
            *_AUDIT,
        ]
    ),
    "Task": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("WhoId", "reference"),
            ("WhatId", "reference"),
            ("AccountId", "reference"),
            ("Subject", "combobox"),
            ("ActivityDate", "date"),
            ("Status", "picklist"),
            ("Priority", "picklist"),
            ("IsClosed", "boolean"),
            ("OwnerId", "reference"),
            ("Type", "picklist"),
            ("TaskSubtype", "picklist"),
            ("CallDurationInSeconds", "int"),
            ("CallType", "picklist"),
            ("CallDisposition", "string"),
            ("CompletedDateTime", "datetime"),
            *_AUDIT,
        ]
    ),
    "Event": dict(
        [
            ("Id", "id"),
            ("IsDeleted", "boolean"),
            ("WhoId", "reference"),
            ("WhatId", "reference"),
            ("AccountId", "reference"),
            ("Subject", "combobox"),
            ("ActivityDate", "date"),
            ("ActivityDateTime", "datetime"),
            ("StartDateTime", "datetime"),
            ("EndDateTime", "datetime"),
            ("DurationInMinutes", "int"),
            ("Type", "picklist"),
            ("EventSubtype", "picklist"),
            ("OwnerId", "reference"),
            *_AUDIT,
        ]
    ),
    "User": dict(
        [
            ("Id", "id"),
            ("Username", "string"),
            ("FirstName", "string"),
            ("LastName", "string"),
            ("Name", "string"),
            ("Email", "email"),
            ("IsActive", "boolean"),
            ("Title", "string"),
            ("Department", "string"),
            ("UserType", "picklist"),
            ("ManagerId", "reference"),
            ("TimeZoneSidKey", "picklist"),
            *_AUDIT,
        ]
    ),
}
SF_KEY_PREFIX: dict[str, str] = {
    "Lead": "00Q",
    "LeadHistory": "017",
    "Contact": "003",
    "Account": "001",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "OpportunityContactRole": "00K",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Task": "00T",
    "Event": "00U",
    "User": "005",
}

LEAD_STATUSES = (
    "Open - Not Contacted",
    "Marketing Qualified",
    "Working - Contacted",
    "Sales Qualified",
    "Closed - Converted",
    "Unqualified",
)
UNQUALIFIED_REASONS = (
    "No Budget",
    "Not a Fit",
    "No Response",
    "Competitor",
    "Bad Timing",
    "Student/Job Seeker",
)
HS_LEAD_STATUS = {
    "Open - Not Contacted": "NEW",
    "Marketing Qualified": "OPEN",
    "Working - Contacted": "IN_PROGRESS",
    "Sales Qualified": "CONNECTED",
    "Closed - Converted": "OPEN_DEAL",
    "Unqualified": "UNQUALIFIED",
}
# Salesforce stage -> (probability, forecast category, HubSpot deal stage)
OPP_STAGES: dict[str, tuple[int, str, str]] = {
    "Prospecting": (10, "Pipeline", "appointmentscheduled"),
    "Qualification": (20, "Pipeline", "qualifiedtobuy"),
    "Needs Analysis": (40, "Pipeline", "presentationscheduled"),
    "Proposal/Price Quote": (60, "BestCase", "decisionmakerboughtin"),
    "Negotiation/Review": (80, "Commit", "contractsent"),
    "Closed Won": (100, "Closed", "closedwon"),
    "Closed Lost": (0, "Omitted", "closedlost"),
}
OPEN_STAGES = tuple(list(OPP_STAGES)[:5])
FORECAST_NAMES = {
    "Pipeline": "Pipeline",
    "BestCase": "Best Case",
    "Commit": "Commit",
    "Closed": "Closed",
    "Omitted": "Omitted",
}
# HubSpot's default deal pipeline: stage id -> (label, display order, probability, closed)
DEAL_STAGES: dict[str, tuple[str, int, str, bool]] = {
    "appointmentscheduled": ("Appointment Scheduled", 0, "0.2", False),
    "qualifiedtobuy": ("Qualified To Buy", 1, "0.4", False),
    "presentationscheduled": ("Presentation Scheduled", 2, "0.6", False),
    "decisionmakerboughtin": ("Decision Maker Bought-In", 3, "0.8", False),
    "contractsent": ("Contract Sent", 4, "0.9", False),
    "closedwon": ("Closed Won", 5, "1.0", True),
    "closedlost": ("Closed Lost", 6, "0.0", True),
}
LOSS_REASONS = ("Price", "Lost to Competitor", "No Decision", "Timing", "Missing Feature")
ROLES = ("Influencer", "Technical Buyer", "Economic Buyer", "Evaluator")
LEAD_SOURCES = {
    "PAID_SEARCH": "Paid Search",
    "ORGANIC_SEARCH": "Organic Search",
    "EMAIL_MARKETING": "Email",
    "PAID_SOCIAL": "Paid Social",
    "SOCIAL_MEDIA": "Social Media",
    "REFERRALS": "Referral",
    "DIRECT_TRAFFIC": "Web",
}
OTHER_CAMPAIGN_SF = {
    "webinar-attribution": ("Webinar: Attribution for B2B", "Webinar", "Webinar"),
    "partner-cosell": ("Partner Co-Sell Program", "Partners", "Partner Referral"),
    "g2-review-drive": ("G2 Review Drive", "Other", "Other"),
    "ebook-metrics-handbook": ("Ebook: The RevOps Metrics Handbook", "Content", "Content"),
    "conference-booth": ("Conference Booth Giveaway", "Trade Show", "Trade Show"),
}
OFFLINE_SF = {
    "IMPORT": ("RevOps Summit - Booth Scans", "Trade Show", "Trade Show"),
    "INTEGRATION": ("Monthly Product Webinar (Zoom)", "Webinar", "Webinar"),
    "CRM_UI": (None, None, "Sales Prospecting"),
    "API": (None, None, "Other"),
}
TITLES = (
    "VP of Sales",
    "Chief Revenue Officer",
    "Revenue Operations Manager",
    "Director of Marketing",
    "Marketing Operations Manager",
    "Sales Operations Analyst",
    "Head of Growth",
    "Demand Generation Manager",
    "Account Executive",
    "CFO",
    "Founder",
    "Business Analyst",
)
INDUSTRIES = (
    ("Technology", "COMPUTER_SOFTWARE", 0.30),
    ("Finance", "FINANCIAL_SERVICES", 0.12),
    ("Consulting", "MANAGEMENT_CONSULTING", 0.10),
    ("Healthcare", "HOSPITAL_HEALTH_CARE", 0.08),
    ("Retail", "RETAIL", 0.08),
    ("Manufacturing", "INDUSTRIAL_AUTOMATION", 0.09),
    ("Media", "MARKETING_AND_ADVERTISING", 0.08),
    ("Telecommunications", "TELECOMMUNICATIONS", 0.05),
    ("Education", "E_LEARNING", 0.05),
    ("Transportation", "LOGISTICS_AND_SUPPLY_CHAIN", 0.05),
)
COUNTRIES = (
    ("United States", "USD", 0.60),
    ("United Kingdom", "GBP", 0.12),
    ("Germany", "EUR", 0.09),
    ("France", "EUR", 0.05),
    ("Netherlands", "EUR", 0.04),
    ("Canada", "USD", 0.05),
    ("Australia", "USD", 0.05),
)
PRICE_FACTOR = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}
EMAIL_SUBJECTS = (
    "Email: Quick question about {company}'s pipeline reporting",
    "Email: Following up on your interest in Lumenary",
    "Email: Lumenary + {company}",
    "Email: A 15-minute look at your funnel metrics?",
    "Email: Resources on attribution for {company}",
)
CALL_DISPOSITIONS = ("Connected", "Left voicemail", "No answer", "Left voicemail", "No answer")
SALES_PEOPLE = (
    ("Jordan", "Reyes", "Sales Development Representative"),
    ("Priya", "Natarajan", "Sales Development Representative"),
    ("Tom", "Becker", "Sales Development Representative"),
    ("Aisha", "Okafor", "Sales Development Representative"),
    ("Luca", "Romano", "Sales Development Representative"),
    ("Hannah", "Schmidt", "Account Executive"),
    ("Marcus", "Bell", "Account Executive"),
    ("Sofia", "Alvarez", "Account Executive"),
)


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class SfRecord:
    """One Salesforce row as visible at ``as_of``: field values as Python values (datetimes as
    epoch ms, dates as ``date``). ``deleted`` rows are only visible through ``queryAll``."""

    object: str
    id: str
    fields: dict[str, Any]

    @property
    def deleted(self) -> bool:
        """Whether the row is in the recycle bin."""
        return bool(self.fields.get("IsDeleted"))

    @property
    def modstamp(self) -> int:
        """``SystemModstamp`` (``CreatedDate`` for history rows, which have none)."""
        return int(self.fields.get("SystemModstamp") or self.fields["CreatedDate"])


@dataclass
class HubSpotRecord:
    """A HubSpot CRM object: typed property values (timestamps as epoch ms), the history of
    some properties, and when it was archived (deleted) if it was."""

    id: str
    created_ms: int
    updated_ms: int
    values: dict[str, object]
    person_id: str | None = None
    is_duplicate: bool = False
    archived_ms: int | None = None
    history: dict[str, list[tuple[int, object]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    """A company in the market: one Salesforce Account and one HubSpot company."""

    index: int
    name: str
    domain: str
    industry: str
    hs_industry: str
    employees: int
    annual_revenue: int
    country: str
    currency: str
    created_ms: int
    sf_id: str
    hubspot_id: str
    owner_user: int
    type: str = "Prospect"


@dataclass(frozen=True)
class User:
    """A Salesforce user; sales users (and marketing ops) are HubSpot owners too."""

    index: int
    sf_id: str
    first: str
    last: str
    email: str
    title: str
    department: str
    owner_id: str | None
    hubspot_user_id: int
    created_ms: int
    team: str | None

    @property
    def name(self) -> str:
        """First and last name."""
        return f"{self.first} {self.last}"


Owner = User


# --------------------------------------------------------------------------------------------
# Plans (the full future of one person on the sales side)
# --------------------------------------------------------------------------------------------


@dataclass
class _Activity:
    kind: str  # "Task" | "Event"
    id: str
    created_ms: int
    at_ms: int
    owner: int
    subject: str
    type: str | None
    subtype: str
    what_opp: str | None = None
    duration_s: int | None = None
    disposition: str | None = None
    minutes: int = 30
    deleted_ms: int | None = None
    who: str = "person"  # whose activity: the person (lead, then contact)


@dataclass
class _Opp:
    id: str
    person: str
    account: int
    name: str
    type: str
    created_ms: int
    owner: int
    currency: str
    amount_events: list[tuple[int, int]]
    stage_events: list[tuple[int, str]]
    close_events: list[tuple[int, date]]
    loss_reason: str | None
    lead_source: str | None
    deleted_ms: int | None = None
    mirrored: bool = True
    deal_lag: int = 0
    roles: list[tuple[str, int, str, bool]] = field(default_factory=list)
    hubspot_id: str = ""
    campaign: str | None = None


@dataclass
class _Membership:
    campaign: str
    created_ms: int
    statuses: list[tuple[int, str]]
    responded_ms: int | None


@dataclass
class _Plan:
    raw: _Raw
    lead_id: str | None = None
    lead_created: int | None = None
    lead_deleted: int | None = None
    statuses: list[tuple[int, str]] = field(default_factory=list)
    owners: list[tuple[int, int]] = field(default_factory=list)
    reason: str | None = None
    conv_ms: int | None = None
    conv_opp: str | None = None
    contact_id: str | None = None
    opps: list[_Opp] = field(default_factory=list)
    activities: list[_Activity] = field(default_factory=list)
    memberships: list[_Membership] = field(default_factory=list)
    title: str = ""
    lead_source: str = "Web"


@dataclass(frozen=True)
class _Campaign:
    id: str
    name: str
    type: str
    utm: str | None
    created_ms: int
    start: date
    end: date | None
    event_ms: int | None = None  # webinars: when it takes place
    budget: float | None = None


def _free(email: str) -> bool:
    return email.rpartition("@")[2].strip().lower() in FREE_MAIL


def _ny_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=NY).date()


def _weighted(u: float, table: Iterable[tuple[Any, ...]]) -> tuple[Any, ...]:
    rows = list(table)
    total = sum(r[-1] for r in rows)
    acc = 0.0
    for row in rows:
        acc += row[-1] / total
        if u < acc:
            return row
    return rows[-1]


# --------------------------------------------------------------------------------------------
# The sales side
# --------------------------------------------------------------------------------------------


class Crm:
    """Accounts, users, campaigns and each person's sales timeline; views at ``as_of``."""

    def __init__(self, company: Company) -> None:
        self.c = company
        self.seed = company.seed
        self._prefix = f"{company.seed}:"
        self.as_of = company.as_of_ms
        self._views_lock = threading.Lock()
        self._visible_people: set[str] | None = None
        self._views: dict[str, Any] | None = None
        self._build_users()
        self._build_accounts()
        self._build_campaigns()
        self._plans: dict[str, _Plan] = {}
        self._plan_people()

    # ---------------------------------------------------------------- keys

    def _k(self, *parts: object) -> str:
        return self._prefix + ":".join(map(str, parts))

    def _u(self, *parts: object) -> float:
        return unit(self._k(*parts))

    def _lag(self, lo: int, hi: int, *parts: object) -> int:
        return lag(self._k(*parts), lo, hi)

    # ---------------------------------------------------------------- static

    def _build_users(self) -> None:
        owner_ids = self.c.owner_ids
        rng = random.Random(f"{self.seed}:users")
        users: list[User] = []

        def add(
            first: str,
            last: str,
            title: str,
            dept: str,
            owner: str | None,
            team: str | None,
            days: int,
        ) -> None:
            i = len(users)
            created = ORG_CREATED_MS + days * DAY + rng.randint(0, 8 * HOUR)
            users.append(
                User(
                    index=i,
                    sf_id=sfid("005", created * 1000 + i),
                    first=first,
                    last=last,
                    email=f"{first.lower()}.{last.lower()}@lumenary.io",
                    title=title,
                    department=dept,
                    owner_id=owner,
                    hubspot_user_id=rng.randrange(10_000_000, 99_999_999),
                    created_ms=created,
                    team=team,
                )
            )

        add("HubSpot", "Integration", "Integration User", "Marketing", None, None, 0)
        add(
            "Maya",
            "Chen",
            "Marketing Operations Manager",
            "Marketing",
            str(rng.randrange(40_000_000, 90_000_000)),
            "Marketing",
            30,
        )
        add(
            "Daniel",
            "Kim",
            "VP of Sales",
            "Sales",
            str(rng.randrange(40_000_000, 90_000_000)),
            "Sales Leadership",
            60,
        )
        for i, (first, last, title) in enumerate(SALES_PEOPLE):
            team = "SDR" if "Development" in title else "AE"
            add(first, last, title, "Sales", owner_ids[i], team, 120 + 40 * i)
        self.users: list[User] = users
        self.integration = 0
        self.marketing_ops = 1
        self.sales_vp = 2
        self._user_by_owner = {u.owner_id: u.index for u in users if u.owner_id}
        self.aes = [u.index for u in users if u.team == "AE"]

    def _build_accounts(self) -> None:
        names = self.c._company_names
        domains = self.c._company_domains
        out: list[Account] = []
        for i, (name, domain) in enumerate(zip(names, domains, strict=True)):
            rng = random.Random(f"{self.seed}:account:{domain}")
            industry = _weighted(rng.random(), INDUSTRIES)
            country = _weighted(rng.random(), COUNTRIES)
            size = rng.random()
            if size < 0.45:
                employees = rng.randint(11, 50)
            elif size < 0.75:
                employees = rng.randint(51, 200)
            elif size < 0.93:
                employees = rng.randint(201, 1000)
            else:
                employees = rng.randint(1001, 12000)
            revenue = int(round(employees * rng.uniform(90_000, 260_000), -5))
            roll = rng.random()
            kind = "Customer - Direct" if roll < 0.08 else "Partner" if roll < 0.12 else "Prospect"
            created = ORG_CREATED_MS + rng.randint(200, 1700) * DAY + rng.randint(0, DAY)
            out.append(
                Account(
                    index=i,
                    name=name,
                    domain=domain,
                    industry=industry[0],
                    hs_industry=industry[1],
                    employees=employees,
                    annual_revenue=revenue,
                    country=country[0],
                    currency=country[1],
                    created_ms=created,
                    sf_id=sfid("001", created * 1000 + i % 1000),
                    hubspot_id=str(4_100_000_000 + i * 1009),
                    owner_user=self.aes[rng.randrange(len(self.aes))],
                    type=kind,
                )
            )
        self.accounts: list[Account] = out
        self._account_by_domain = {a.domain: a for a in out}

    def _campaign(
        self,
        name: str,
        ctype: str,
        utm: str | None,
        created_ms: int,
        start: date,
        end: date | None = None,
        event_ms: int | None = None,
        budget: float | None = None,
    ) -> _Campaign:
        cid = sfid("701", created_ms * 1000 + int(self._u("campaign", name) * 1000))
        return _Campaign(cid, name, ctype, utm, created_ms, start, end, event_ms, budget)

    def _build_campaigns(self) -> None:
        base = ms_of(datetime(2023, 1, 9, 15, 0, tzinfo=UTC))
        camps: list[_Campaign] = []
        self.source_campaign: dict[str, _Campaign] = {}
        for i, gc in enumerate(self.c.ad_campaigns):
            camp = self._campaign(
                f"Google Ads - {gc.name}",
                "Paid Search",
                _slug(gc.name),
                base + i * HOUR,
                date(2024, 1, 15),
                budget=30000.0,
            )
            camps.append(camp)
            self.source_campaign[f"google:{gc.id}"] = camp
        social = self.c.social
        for i, mc in enumerate(social.meta_campaigns):
            camp = self._campaign(
                f"Meta - {mc.name}",
                "Paid Social",
                mc.utm_campaign,
                mc.created_ms - DAY + i,
                _ny_date(mc.created_ms),
                budget=round(mc.daily_budget_cents * 3.65, 2),
            )
            camps.append(camp)
            self.source_campaign[f"meta:{mc.id}"] = camp
        for i, lc in enumerate(social.linkedin_campaigns):
            camp = self._campaign(
                f"LinkedIn - {lc.name}",
                "Paid Social",
                lc.utm_campaign,
                lc.created_ms - DAY + i,
                _ny_date(lc.created_ms),
                budget=float(lc.daily_budget * 365),
            )
            camps.append(camp)
            self.source_campaign[f"linkedin:{lc.id}"] = camp
        newsletter = self._campaign(
            "Newsletter", "Email", "newsletter", base + 30 * DAY, date(2023, 2, 7)
        )
        camps.append(newsletter)
        self.source_campaign["email"] = newsletter
        for i, (key, (name, ctype, _)) in enumerate(OTHER_CAMPAIGN_SF.items()):
            camp = self._campaign(name, ctype, key, base + (50 + 20 * i) * DAY, date(2023, 3, 1))
            camps.append(camp)
            self.source_campaign[f"other:{key}"] = camp
        for i, (key, (name, ctype, _)) in enumerate(OFFLINE_SF.items()):
            if name is None or ctype is None:
                continue
            camp = self._campaign(name, ctype, None, base + (160 + 10 * i) * DAY, date(2023, 6, 1))
            camps.append(camp)
            self.source_campaign[f"offline:{key}"] = camp
        # Monthly webinars: the second Thursday, 16:00 UTC, set up 30 days before.
        self.webinars: list[_Campaign] = []
        first = self.c.start_day - timedelta(days=200)
        month = date(first.year, first.month, 1)
        last = self.c.today + timedelta(days=120)
        topics = _data.NEWSLETTER_TOPICS
        while month <= last:
            d = month + timedelta(days=(3 - month.weekday()) % 7 + 7)
            event = ms_of(datetime.combine(d, time(16, 0), tzinfo=UTC))
            topic = topics[(month.year * 12 + month.month) % len(topics)]
            camp = self._campaign(
                f"Webinar: {topic.capitalize()} ({d:%b %Y})",
                "Webinar",
                f"webinar-{d:%Y-%m}",
                event - 30 * DAY,
                d,
                d,
                event,
            )
            self.webinars.append(camp)
            camps.append(camp)
            month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        self.campaigns: list[_Campaign] = camps
        self._webinar_times = [w.event_ms or 0 for w in self.webinars]

    # ---------------------------------------------------------------- people

    def account_of(self, r: _Raw) -> Account:
        """The account a person works at (their e-mail domain's, else the one they named)."""
        domain = r.email.rpartition("@")[2].strip().lower()
        acct = self._account_by_domain.get(domain)
        return acct if acct is not None else self.accounts[r.account_index]

    def _lead_created(self, r: _Raw) -> int | None:
        if r.lead_ms is None:
            return None
        if r.source == "OFFLINE":
            return r.created_ms - self._lag(2 * MINUTE, 30 * MINUTE, r.id, "offline")
        return r.lead_ms + self._lag(MINUTE, 9 * MINUTE, r.id, "lead-sync")

    def _junk_deleted(self, r: _Raw) -> int | None:
        if r.mql_ms is not None or r.sql_ms is not None:
            return None
        if self._u(r.id, "junk") >= 0.02:
            return None
        return r.created_ms + self._lag(HOUR, 10 * DAY, r.id, "junk-at")

    def _own_opp_created(self, r: _Raw) -> int | None:
        if r.opp_ms is not None:
            return r.opp_ms - self._lag(MINUTE, 9 * MINUTE, r.id, "opp-sync")
        if r.customer_ms is not None and r.sql_ms is not None:
            return max(r.sql_ms + HOUR, r.customer_ms - self._lag(HOUR, 6 * DAY, r.id, "late-opp"))
        return None

    def _plan_people(self) -> None:
        people = [*self.c._ghosts, *self.c._raws]
        by_account: dict[int, list[_Raw]] = defaultdict(list)
        for r in people:
            if not _free(r.email):
                by_account[self.account_of(r).index].append(r)
        starts = {k: [r.created_ms for r in v] for k, v in by_account.items()}
        # Colleagues joining opportunities (depends only on the opportunity's person and people
        # younger than them, so a person's record never changes when older people age out).
        self._colleagues: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        self._roles_of: dict[str, list[tuple[str, int, str]]] = {}
        for a in people:
            opp_at = self._own_opp_created(a)
            if opp_at is None or _free(a.email) or opp_at - a.created_ms > 140 * DAY:
                continue
            acct = self.account_of(a).index
            rows = by_account[acct]
            i = bisect.bisect_right(starts[acct], a.created_ms)
            chosen: list[tuple[str, int, str]] = []
            while i < len(rows) and rows[i].created_ms < opp_at and len(chosen) < 3:
                b = rows[i]
                i += 1
                lead_at = self._lead_created(b)
                if lead_at is None or lead_at >= opp_at or b.id == a.id:
                    continue
                junk = self._junk_deleted(b)
                if junk is not None and junk < opp_at:
                    continue
                if self._u(a.id, b.id, "colleague") >= 0.6:
                    continue
                role_at = opp_at + self._lag(5 * MINUTE, 2 * HOUR, a.id, b.id, "role")
                role = ROLES[int(self._u(a.id, b.id, "role-name") * len(ROLES))]
                chosen.append((b.id, role_at, role))
                self._colleagues[b.id].append((role_at, a.id, role))
            self._roles_of[a.id] = chosen
        for r in self.c._raws:
            self._plans[r.id] = self._plan(r)

    def plan(self, person_id: str) -> _Plan | None:
        """The sales-side plan of a person in the window."""
        return self._plans.get(person_id)

    def _plan(self, r: _Raw) -> _Plan:
        p = _Plan(r)
        p.title = TITLES[int(self._u(r.id, "title") * len(TITLES))]
        p.lead_source = self._lead_source(r)
        lead_at = self._lead_created(r)
        junk = self._junk_deleted(r)
        own_opp = self._own_opp_created(r)
        colleague = min(self._colleagues.get(r.id, []), default=None)
        conv_candidates = []
        if own_opp is not None:
            conv_candidates.append(own_opp)
        if colleague is not None:
            conv_candidates.append(colleague[0])
        conv = min(conv_candidates) if conv_candidates and lead_at is not None else None
        if lead_at is None:
            return p
        p.lead_id = sfid("00Q", lead_at * 1000 + int(r.id) % 997)
        p.lead_created = lead_at
        p.lead_deleted = junk
        if junk is not None:
            conv = None
        owner_user = self.integration
        p.owners.append((lead_at, owner_user))
        sdr = self._user_by_owner.get(r.owner_id) if r.owner_id else None
        if sdr is not None and r.owner_ms is not None:
            p.owners.append((r.owner_ms + self._lag(SECOND, 2 * MINUTE, r.id, "own"), sdr))
        rep = sdr if sdr is not None else self.users[3 + int(self._u(r.id, "rep") * 5)].index
        events: list[tuple[int, str]] = [(lead_at, "Open - Not Contacted")]
        last = lead_at

        def push(ms: int, status: str) -> int:
            nonlocal last
            ms = max(ms, last + SECOND)
            events.append((ms, status))
            last = ms
            return ms

        mql_sf = sql_sf = touch = disq = None
        if r.mql_ms is not None:
            mql_sf = push(
                r.mql_ms + self._lag(MINUTE, 9 * MINUTE, r.id, "mql-sync"), "Marketing Qualified"
            )
        sql_sf_target = (
            r.sql_ms - self._lag(MINUTE, 9 * MINUTE, r.id, "sql-sync") if r.sql_ms else None
        )
        # First sales touch (the SAL moment).
        if mql_sf is not None:
            if self._u(r.id, "never-touched") >= 0.07 or sql_sf_target is not None:
                delay = int(random.Random(self._k(r.id, "touch")).lognormvariate(8.6, 1.3) * SECOND)
                touch = business_time(mql_sf + min(delay, 20 * DAY), NY, self._k(r.id, "touch-bt"))
                if sql_sf_target is not None and touch >= sql_sf_target - 20 * MINUTE:
                    touch = max(
                        mql_sf + 5 * MINUTE,
                        sql_sf_target - self._lag(30 * MINUTE, 20 * HOUR, r.id, "touch-late"),
                    )
                    touch = min(touch, sql_sf_target - 10 * MINUTE)
        elif sql_sf_target is not None:
            touch = business_time(
                lead_at + self._lag(20 * MINUTE, 6 * HOUR, r.id, "demo-touch"),
                NY,
                self._k(r.id, "demo-bt"),
            )
            touch = min(touch, sql_sf_target - 10 * MINUTE)
            touch = max(touch, lead_at + MINUTE)
        if touch is not None:
            push(touch + MINUTE, "Working - Contacted")
        if sql_sf_target is not None:
            sql_sf = push(sql_sf_target, "Sales Qualified")
        # Disqualification of MQLs that never became SQL.
        if mql_sf is not None and sql_sf is None:
            if r.reset_ms is not None and r.customer_ms is None:
                disq = r.reset_ms - self._lag(MINUTE, 9 * MINUTE, r.id, "disq-sync")
                p.reason = ("Bad Timing", "No Budget", "Not a Fit", "No Response")[
                    int(self._u(r.id, "reason") * 4)
                ]
            elif self._u(r.id, "disq") < 0.55:
                after = touch if touch is not None else mql_sf
                disq = business_time(
                    after + self._lag(DAY, 25 * DAY, r.id, "disq-at"), NY, self._k(r.id, "disq-bt")
                )
                if touch is None:
                    p.reason = ("Not a Fit", "Student/Job Seeker", "Competitor")[
                        int(self._u(r.id, "reason") * 3)
                    ]
                else:
                    p.reason = UNQUALIFIED_REASONS[int(self._u(r.id, "reason") * 6)]
            if disq is not None:
                disq = push(disq, "Unqualified")
        if conv is not None:
            if conv <= last:
                # converted by a colleague's opportunity before its own stages: keep the past
                events = [(ms, s) for ms, s in events if ms < conv]
                last = events[-1][0] if events else lead_at
            conv = max(conv, last + SECOND)
            events.append((conv, "Closed - Converted"))
            p.conv_ms = conv
            p.contact_id = sfid("003", conv * 1000 + int(r.id) % 997)
        p.statuses = events
        # Owners after conversion belong to the contact; keep the lead's while it is a lead.
        self._activities(p, rep, mql_sf, touch, sql_sf, disq)
        acct = self.account_of(r)
        if own_opp is not None and junk is None:
            opp = self._opportunity(p, acct, own_opp, rep, "New Business", 0)
            p.opps.append(opp)
            if p.conv_ms is not None and p.conv_ms >= own_opp:
                p.conv_opp = opp.id
            if self._u(r.id, "dup-opp") < 0.04:
                p.opps.append(self._duplicate_opp(opp))
            won = [e for e in opp.stage_events if e[1] == "Closed Won"]
            if won and self._u(r.id, "expansion") < 0.25:
                p.opps.append(self._expansion(p, acct, won[0][0], opp))
        self._memberships(p)
        for opp in p.opps:
            opp.lead_source = p.lead_source if opp.type == "New Business" else "Existing Customer"
            opp_campaign = self._campaign_for(p, opp.created_ms)
            opp.roles.insert(0, (r.id, opp.created_ms + SECOND, "Decision Maker", True))
            if opp.type == "New Business" and opp.deleted_ms is None:
                for b, role_at, role in self._roles_of.get(r.id, []):
                    opp.roles.append((b, role_at, role, False))
            opp.campaign = opp_campaign
        return p

    def _lead_source(self, r: _Raw) -> str:
        if r.source in LEAD_SOURCES:
            return LEAD_SOURCES[r.source]
        if r.source == "OFFLINE":
            return OFFLINE_SF.get(r.data_1 or "", (None, None, "Other"))[2]
        return OTHER_CAMPAIGN_SF.get(r.data_1 or "", ("", "", "Other"))[2]

    def _activities(
        self,
        p: _Plan,
        rep: int,
        mql_sf: int | None,
        touch: int | None,
        sql_sf: int | None,
        disq: int | None,
    ) -> None:
        r = p.raw
        n = 0

        def new(
            kind: str,
            created: int,
            at: int,
            owner: int,
            subject: str,
            typ: str | None,
            subtype: str,
            **extra: Any,
        ) -> _Activity:
            nonlocal n
            prefix = "00T" if kind == "Task" else "00U"
            act = _Activity(
                kind,
                sfid(prefix, created * 1000 + (int(r.id) * 7 + n) % 1000),
                created,
                at,
                owner,
                subject,
                typ,
                subtype,
                **extra,
            )
            n += 1
            if (
                kind == "Task"
                and self._u(r.id, n, "task-deleted") < 0.01
                and owner != self.integration
            ):
                act.deleted_ms = created + self._lag(HOUR, 2 * DAY, r.id, n, "task-del-at")
            p.activities.append(act)
            return act

        company = r.company or self.account_of(r).name
        if mql_sf is not None:
            at = mql_sf + 30 * SECOND
            source = r.data_1 or r.source.replace("_", " ").title()
            new("Task", at, at, self.integration, f"Form submission: {source}", None, "Task")
        end = min(x for x in (sql_sf, disq, p.conv_ms, p.lead_deleted, 2**62) if x is not None)
        if touch is not None:
            count = 1 + int(self._u(r.id, "touches") * 5)
            t = touch
            for k in range(count):
                if t >= end and k > 0:
                    break
                if self._u(r.id, k, "channel") < 0.6:
                    connected = self._u(r.id, k, "connected") < 0.3
                    disposition = (
                        "Connected"
                        if connected
                        else CALL_DISPOSITIONS[1 + int(self._u(r.id, k, "disp") * 4)]
                    )
                    seconds = (
                        self._lag(120 * SECOND, 900 * SECOND, r.id, k, "dur") // SECOND
                        if connected
                        else self._lag(15 * SECOND, 70 * SECOND, r.id, k, "dur") // SECOND
                    )
                    new(
                        "Task",
                        t,
                        t,
                        rep,
                        "Call",
                        "Call",
                        "Call",
                        duration_s=seconds,
                        disposition=disposition,
                    )
                else:
                    subject = EMAIL_SUBJECTS[int(self._u(r.id, k, "subject") * 5)].format(
                        company=company
                    )
                    new("Task", t, t, rep, subject, "Email", "Email")
                t = business_time(
                    t + self._lag(DAY, 4 * DAY, r.id, k, "next"), NY, self._k(r.id, k, "next-bt")
                )
        if sql_sf is not None:
            start = sql_sf - self._lag(0, 3 * HOUR, r.id, "disc")
            start = start // (15 * MINUTE) * (15 * MINUTE)
            booked = max(touch or start - DAY, start - self._lag(HOUR, 3 * DAY, r.id, "booked"))
            booked = min(booked, start - MINUTE)
            new("Event", booked, start, rep, "Discovery call", "Meeting", "Event", minutes=30)

    def _opportunity(
        self, p: _Plan, acct: Account, created: int, rep: int, otype: str, k: int
    ) -> _Opp:
        r = p.raw
        key = f"{r.id}:{otype}"
        owner = rep if rep in self.aes else self.aes[int(self._u(key, "ae") * len(self.aes))]
        band = acct.employees
        if band <= 50:
            lo, hi = 9_000, 18_000
        elif band <= 200:
            lo, hi = 18_000, 45_000
        elif band <= 1000:
            lo, hi = 40_000, 110_000
        else:
            lo, hi = 90_000, 250_000
        price = PRICE_FACTOR[acct.currency]
        amount = int(round((lo + (hi - lo) * self._u(key, "amount")) * price / 500)) * 500
        if otype != "New Business":
            amount = int(round(amount * (0.2 + 0.2 * self._u(key, "exp-share")) / 500)) * 500
        won_at = None
        if otype == "New Business" and r.customer_ms is not None:
            won_at = max(
                created + DAY, r.customer_ms - self._lag(MINUTE, 9 * MINUTE, r.id, "won-sync")
            )
        elif otype != "New Business" and self._u(key, "exp-won") < 0.6:
            won_at = created + self._lag(20 * DAY, 60 * DAY, key, "exp-close")
        lost_at = None
        if won_at is None and self._u(key, "lost") < 0.75:
            lost_at = created + self._lag(20 * DAY, 120 * DAY, key, "lost-at")
        cycle = (
            won_at or lost_at or created + self._lag(30 * DAY, 150 * DAY, key, "cycle")
        ) - created
        stages = list(OPEN_STAGES[1:] if otype != "New Business" else OPEN_STAGES)
        if lost_at is not None:
            stages = stages[: 1 + int(self._u(key, "lost-stage") * (len(stages) - 1))]
        fractions = sorted(self._u(key, "frac", i) for i in range(len(stages) - 1))
        stage_events = [(created, stages[0])]
        finish = won_at or lost_at
        for i, st in enumerate(stages[1:]):
            at = created + int(cycle * (0.15 + 0.75 * fractions[i]))
            at = business_time(at, NY, self._k(key, "stage", i))
            if finish is not None:
                at = min(at, finish - (len(stages) - 1 - i) * HOUR)
            stage_events.append((max(at, stage_events[-1][0] + MINUTE), st))
        amount_events = [(created, amount)]
        loss = None
        if won_at is not None:
            stage_events.append((max(won_at, stage_events[-1][0] + MINUTE), "Closed Won"))
        elif lost_at is not None:
            stage_events.append((max(lost_at, stage_events[-1][0] + MINUTE), "Closed Lost"))
            loss = LOSS_REASONS[int(self._u(key, "loss") * len(LOSS_REASONS))]
        for at, st in stage_events:
            if st == "Proposal/Price Quote":
                revised = int(round(amount * (0.85 + 0.3 * self._u(key, "revise")) / 500)) * 500
                if revised != amount:
                    amount_events.append((at, revised))
        close_events: list[tuple[int, date]] = []
        end = stage_events[-1]
        if end[1].startswith("Closed"):
            planned = _ny_date(created + max(cycle, 14 * DAY))
            close_events.append((created, planned))
            if _ny_date(end[0]) != planned:
                close_events.append((end[0], _ny_date(end[0])))
        else:
            planned_ms = created + cycle
            close_events.append((created, _ny_date(planned_ms)))
            k = 1
            while planned_ms + 30 * DAY * (k - 1) + DAY < self.as_of and k < 24:
                push_at = business_time(
                    planned_ms + 30 * DAY * (k - 1) + DAY, NY, self._k(key, "push", k)
                )
                close_events.append((push_at, _ny_date(planned_ms + 30 * DAY * k)))
                k += 1
        name = f"{acct.name} - {'New Business' if otype == 'New Business' else 'Expansion'}"
        if otype != "New Business":
            name += f" {_ny_date(created).year}"
        oid = sfid("006", created * 1000 + int(r.id) % 997)
        return _Opp(
            id=oid,
            person=r.id,
            account=acct.index,
            name=name,
            type=otype,
            created_ms=created,
            owner=owner,
            currency=acct.currency,
            amount_events=amount_events,
            stage_events=stage_events,
            close_events=close_events,
            loss_reason=loss,
            lead_source=None,
            mirrored=otype == "New Business",
            deal_lag=self._lag(MINUTE, 9 * MINUTE, key, "deal-lag"),
            hubspot_id=str(int(r.id) * 10 + k),
        )

    def _duplicate_opp(self, opp: _Opp) -> _Opp:
        created = opp.created_ms + self._lag(2 * MINUTE, 60 * MINUTE, opp.id, "dup")
        return _Opp(
            id=sfid("006", created * 1000 + 998),
            person=opp.person,
            account=opp.account,
            name=opp.name,
            type=opp.type,
            created_ms=created,
            owner=opp.owner,
            currency=opp.currency,
            amount_events=[(created, opp.amount_events[0][1])],
            stage_events=[(created, opp.stage_events[0][1])],
            close_events=[(created, opp.close_events[0][1])],
            loss_reason=None,
            lead_source=None,
            deleted_ms=created + self._lag(DAY, 3 * DAY, opp.id, "dup-del"),
            mirrored=True,
            deal_lag=opp.deal_lag,
            hubspot_id=str(int(opp.hubspot_id) + 1),
        )

    def _expansion(self, p: _Plan, acct: Account, won_at: int, first: _Opp) -> _Opp:
        created = business_time(
            won_at + self._lag(60 * DAY, 200 * DAY, p.raw.id, "exp-at"),
            NY,
            self._k(p.raw.id, "exp-bt"),
        )
        return self._opportunity(p, acct, created, first.owner, "Existing Business", 2)

    def _memberships(self, p: _Plan) -> None:
        r = p.raw
        if p.lead_created is None:
            return
        source_key = None
        if r.click is not None:
            source_key = f"google:{r.click.campaign_id}"
        elif r.social is not None:
            platform = "meta" if r.social.platform == "meta_ads" else "linkedin"
            entity = r.social.entity_id
            if platform == "meta":
                ad = self.c.social.meta_ad(entity)
                entity = ad.campaign_id if ad else entity
            source_key = f"{platform}:{entity}"
        elif r.source == "EMAIL_MARKETING":
            source_key = "email"
        elif r.source == "OTHER_CAMPAIGNS":
            source_key = f"other:{r.data_1}"
        elif r.source == "OFFLINE":
            source_key = f"offline:{r.data_1}"
        camp = self.source_campaign.get(source_key or "")
        if camp is not None:
            at = p.lead_created + self._lag(MINUTE, 3 * MINUTE, r.id, "member")
            p.memberships.append(_Membership(camp.id, at, [(at, "Responded")], p.lead_created))
        chance = 0.08 + 0.35 * r.engagement
        u = self._u(r.id, "webinar")
        count = 2 if u < chance * 0.35 else 1 if u < chance else 0
        seen: set[str] = set()
        for k in range(count):
            target = p.lead_created + self._lag(3 * DAY, 90 * DAY, r.id, k, "webinar-at")
            i = bisect.bisect_left(self._webinar_times, target + 2 * DAY)
            if i >= len(self.webinars):
                continue
            web = self.webinars[i]
            if web.id in seen:
                continue
            seen.add(web.id)
            assert web.event_ms is not None
            reg = max(
                p.lead_created + HOUR,
                web.event_ms - self._lag(DAY, 12 * DAY, r.id, k, "registered"),
            )
            if reg >= web.event_ms or (p.lead_deleted is not None and reg >= p.lead_deleted):
                continue
            attended = self._u(r.id, k, "attended") < 0.65
            after = web.event_ms + web_len(web) + self._lag(10 * MINUTE, 3 * HOUR, r.id, k, "sync")
            p.memberships.append(
                _Membership(
                    web.id,
                    reg,
                    [(reg, "Registered"), (after, "Attended" if attended else "No Show")],
                    web.event_ms if attended else None,
                )
            )

    def _campaign_for(self, p: _Plan, before: int) -> str | None:
        best: tuple[int, str] | None = None
        for m in p.memberships:
            if m.responded_ms is not None and m.responded_ms < before:
                if best is None or m.responded_ms > best[0]:
                    best = (m.responded_ms, m.campaign)
        return best[1] if best else None

    # ---------------------------------------------------------------- HubSpot sync outputs

    def contact_timeline(self, r: _Raw) -> list[tuple[int, str, object]]:
        """Property changes the sync makes on a HubSpot contact: (when, property, value)."""
        p = self._plans.get(r.id)
        out: list[tuple[int, str, object]] = []
        if p is None or p.lead_id is None:
            return out
        assert p.lead_created is not None
        out.append(
            (
                max(r.created_ms, p.lead_created) + self._lag(MINUTE, 5 * MINUTE, r.id, "sfid"),
                "salesforceleadid",
                p.lead_id,
            )
        )
        for ms, status in p.statuses:
            value = (
                "BAD_TIMING"
                if status == "Unqualified" and p.reason == "Bad Timing"
                else (HS_LEAD_STATUS[status])
            )
            out.append(
                (ms + self._lag(MINUTE, 9 * MINUTE, r.id, ms, "hs-status"), "hs_lead_status", value)
            )
        if p.conv_ms is not None and p.contact_id is not None:
            at = p.conv_ms + self._lag(MINUTE, 9 * MINUTE, r.id, "conv-sync")
            out.append((at, "salesforcecontactid", p.contact_id))
            if _free(r.email):
                out.append((at, "associatedcompanyid", self.account_of(r).hubspot_id))
        return out

    # ---------------------------------------------------------------- views at as_of

    def set_visible(self, visible_people: set[str]) -> None:
        """The people whose records exist at ``as_of`` (views are built on first use)."""
        self._visible_people = visible_people

    def _view(self, name: str) -> Any:
        with self._views_lock:
            if self._views is None:
                assert self._visible_people is not None, "set_visible() first"
                self._views = self._build_views(self._visible_people)
            return self._views[name]

    def warm(self) -> None:
        """Build the views now (they are otherwise built by the first request that needs them)."""
        self._view("sf")

    @property
    def sf(self) -> dict[str, list[SfRecord]]:
        """Salesforce rows per object at ``as_of`` (deleted ones flagged, in the recycle bin)."""
        return self._view("sf")  # type: ignore[no-any-return]

    @property
    def deals(self) -> list[HubSpotRecord]:
        """HubSpot deals at ``as_of`` (not archived)."""
        return self._view("deals")  # type: ignore[no-any-return]

    @property
    def archived_deals(self) -> list[HubSpotRecord]:
        """HubSpot deals archived (deleted) before ``as_of``."""
        return self._view("archived_deals")  # type: ignore[no-any-return]

    @property
    def companies(self) -> list[HubSpotRecord]:
        """HubSpot companies at ``as_of``."""
        return self._view("companies")  # type: ignore[no-any-return]

    @property
    def owners(self) -> list[User]:
        """HubSpot owners (the users with an owner id)."""
        return [u for u in self.users if u.owner_id]

    @property
    def deal_contacts(self) -> dict[str, list[tuple[str, int]]]:
        """Deal id -> [(contact id, associated since ms)]."""
        return self._view("deal_contacts")  # type: ignore[no-any-return]

    @property
    def deal_company(self) -> dict[str, str]:
        """Deal id -> company id."""
        return self._view("deal_company")  # type: ignore[no-any-return]

    def _build_views(self, visible_people: set[str]) -> dict[str, Any]:
        """Every Salesforce object and the HubSpot companies and deals at ``as_of``."""
        as_of = self.as_of
        sf: dict[str, list[SfRecord]] = {name: [] for name in SF_SCHEMA}
        self._sf_users(sf)
        deals: list[HubSpotRecord] = []
        self._deal_contacts: dict[str, list[tuple[str, int]]] = {}
        self._deal_company: dict[str, str] = {}
        for pid, p in self._plans.items():
            if pid not in visible_people:
                continue
            if p.raw.dup_id is not None:
                self._duplicate_lead(p, sf)
            if p.lead_created is None or p.lead_created >= as_of:
                continue
            self._sf_person(p, sf)
            for opp in p.opps:
                if opp.created_ms >= as_of:
                    continue
                rec = self._sf_opp(p, opp, sf)
                if rec is None:
                    continue
                if opp.mirrored:
                    deal = self._deal(p, opp)
                    if deal is not None:
                        deals.append(deal)
        self._sf_accounts(sf)
        self._sf_campaigns(sf)
        for rows in sf.values():
            rows.sort(key=lambda rec: rec.id)
        deals.sort(key=lambda d: int(d.id))
        return {
            "sf": sf,
            "deals": [d for d in deals if d.archived_ms is None],
            "archived_deals": [d for d in deals if d.archived_ms is not None],
            "companies": self._hs_companies(deals),
            "deal_contacts": self._deal_contacts,
            "deal_company": self._deal_company,
        }

    def _rec(
        self,
        obj: str,
        rid: str,
        created: int,
        modified: int,
        creator: int,
        modifier: int,
        fields: dict[str, Any],
        deleted: int | None = None,
    ) -> SfRecord | None:
        if created >= self.as_of:
            return None
        if deleted is not None and deleted < self.as_of:
            if deleted + RECYCLE_BIN_MS < self.as_of:
                return None
            modified = max(modified, deleted)
            is_deleted = True
        else:
            is_deleted = False
        schema = SF_SCHEMA[obj]
        out: dict[str, Any] = {}
        for name in schema:
            if name == "Id":
                out[name] = rid
            elif name == "IsDeleted":
                out[name] = is_deleted
            elif name == "CreatedDate":
                out[name] = created
            elif name == "CreatedById":
                out[name] = self.users[creator].sf_id
            elif name in ("LastModifiedDate", "SystemModstamp"):
                out[name] = modified
            elif name == "LastModifiedById":
                out[name] = self.users[modifier].sf_id
            else:
                out[name] = fields.get(name)
        return SfRecord(obj, rid, out)

    def _sf_users(self, sf: dict[str, list[SfRecord]]) -> None:
        for u in self.users:
            rec = self._rec(
                "User",
                u.sf_id,
                u.created_ms,
                u.created_ms + DAY,
                self.integration,
                0,
                {
                    "Username": u.email.replace("@", "@sim.")
                    if u.index
                    else "integration@lumenary.io.sim",
                    "FirstName": u.first,
                    "LastName": u.last,
                    "Name": u.name,
                    "Email": u.email,
                    "IsActive": True,
                    "Title": u.title,
                    "Department": u.department,
                    "UserType": "Standard",
                    "ManagerId": self.users[self.sales_vp].sf_id
                    if u.department == "Sales" and u.index != self.sales_vp
                    else None,
                    "TimeZoneSidKey": "America/New_York",
                },
            )
            if rec is not None:
                sf["User"].append(rec)

    def _visible(self, events: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        return [e for e in events if e[0] < self.as_of]

    def _sf_person(self, p: _Plan, sf: dict[str, list[SfRecord]]) -> None:
        r = p.raw
        as_of = self.as_of
        acct = self.account_of(r)
        assert p.lead_id is not None and p.lead_created is not None
        statuses = self._visible(p.statuses)
        owners = self._visible(p.owners)
        converted = p.conv_ms is not None and p.conv_ms < as_of
        deleted = p.lead_deleted
        master = None
        acts = [a for a in p.activities if a.created_ms < as_of]
        live = [a for a in acts if a.deleted_ms is None or a.deleted_ms >= as_of]
        lead_acts = [
            a.at_ms
            for a in live
            if a.at_ms < as_of and (not converted or a.at_ms < (p.conv_ms or 0))
        ]
        last_activity = _ny_date(max(lead_acts)) if lead_acts else None
        # every change of a field, rollups (LastActivityDate, IsUnreadByOwner) included, moves
        # SystemModstamp, so a connector reading by SystemModstamp misses nothing
        changes = [ms for ms, _ in statuses] + [ms for ms, _ in owners] + lead_acts
        changes += [a.created_ms for a in live[:1]]
        status = statuses[-1][1]
        fields = {
            "MasterRecordId": master,
            "FirstName": r.first,
            "LastName": r.last,
            "Name": f"{r.first} {r.last}",
            "Title": p.title,
            "Company": r.company or (acct.name if not _free(r.email) else "[not provided]"),
            "Email": r.email,
            "Country": acct.country,
            "Industry": acct.industry if not _free(r.email) else None,
            "NumberOfEmployees": acct.employees if not _free(r.email) else None,
            "LeadSource": p.lead_source,
            "Status": status,
            "OwnerId": self.users[owners[-1][1]].sf_id,
            "IsConverted": converted,
            "ConvertedDate": _ny_date(p.conv_ms) if converted and p.conv_ms else None,
            "ConvertedAccountId": acct.sf_id if converted else None,
            "ConvertedContactId": p.contact_id if converted else None,
            "ConvertedOpportunityId": p.conv_opp
            if converted
            and p.conv_opp
            and any(o.id == p.conv_opp and o.created_ms < as_of for o in p.opps)
            else None,
            "IsUnreadByOwner": len(owners) > 1 and not acts,
            "LastActivityDate": last_activity,
            "Unqualified_Reason__c": p.reason if status == "Unqualified" else None,
        }
        rec = self._rec(
            "Lead",
            p.lead_id,
            p.lead_created,
            max(changes),
            self.integration,
            self.integration,
            fields,
            deleted,
        )
        if rec is None:
            return
        sf["Lead"].append(rec)
        self._lead_history(p, statuses, owners, sf, deleted)
        # Contact
        if converted and p.contact_id is not None and p.conv_ms is not None:
            contact_acts = [a.at_ms for a in live if p.conv_ms <= a.at_ms < as_of]
            crec = self._rec(
                "Contact",
                p.contact_id,
                p.conv_ms,
                p.conv_ms + SECOND,
                owners[-1][1],
                owners[-1][1],
                {
                    "AccountId": acct.sf_id,
                    "FirstName": r.first,
                    "LastName": r.last,
                    "Name": f"{r.first} {r.last}",
                    "Title": p.title,
                    "Email": r.email,
                    "LeadSource": p.lead_source,
                    "MailingCountry": acct.country,
                    "OwnerId": self.users[owners[-1][1]].sf_id,
                    "HasOptedOutOfEmail": r.unsub_ms is not None and r.unsub_ms < as_of,
                    "LastActivityDate": _ny_date(max(contact_acts)) if contact_acts else None,
                },
            )
            if crec is not None:
                stamps = [p.conv_ms + SECOND, *contact_acts]
                if r.unsub_ms is not None and p.conv_ms < r.unsub_ms < as_of:
                    stamps.append(r.unsub_ms)
                crec.fields["LastModifiedDate"] = crec.fields["SystemModstamp"] = max(stamps)
                sf["Contact"].append(crec)
        for a in acts:
            self._sf_activity(p, a, p.contact_id, acct, sf)
        for m in p.memberships:
            self._sf_member(p, m, sf, converted)

    def _lead_history(
        self,
        p: _Plan,
        statuses: list[tuple[int, Any]],
        owners: list[tuple[int, Any]],
        sf: dict[str, list[SfRecord]],
        deleted: int | None,
    ) -> None:
        assert p.lead_id is not None and p.lead_created is not None
        rows: list[tuple[int, str, str, Any, Any, int]] = [
            (p.lead_created, "created", "Text", None, None, self.integration)
        ]
        for (_, old), (ms, new) in zip(statuses, statuses[1:], strict=False):
            by = (
                self.integration
                if new in ("Marketing Qualified", "Open - Not Contacted")
                else (owners[-1][1])
            )
            field_name = "leadConverted" if new == "Closed - Converted" else "Status"
            if field_name == "leadConverted":
                rows.append((ms, "Status", "Picklist", old, new, by))
                rows.append((ms, "leadConverted", "Text", None, None, by))
            else:
                rows.append((ms, "Status", "Picklist", old, new, by))
        for (_, old), (ms, new) in zip(owners, owners[1:], strict=False):
            rows.append(
                (
                    ms,
                    "Owner",
                    "EntityId",
                    self.users[old].sf_id,
                    self.users[new].sf_id,
                    self.integration,
                )
            )
        for i, (ms, fld, dtype, old, new, by) in enumerate(sorted(rows, key=lambda x: x[0])):
            rid = sfid("017", ms * 1000 + (int(p.raw.id) + i) % 1000)
            rec = self._rec(
                "LeadHistory",
                rid,
                ms,
                ms,
                by,
                by,
                {
                    "LeadId": p.lead_id,
                    "Field": fld,
                    "DataType": dtype,
                    "OldValue": old,
                    "NewValue": new,
                },
                deleted,
            )
            if rec is not None:
                rec.fields.pop("SystemModstamp", None)
                sf["LeadHistory"].append(rec)

    def _duplicate_lead(self, p: _Plan, sf: dict[str, list[SfRecord]]) -> None:
        r = p.raw
        assert r.dup_id is not None and r.dup_ms is not None and r.dup_data is not None
        created = r.dup_ms + 700 + self._lag(MINUTE, 9 * MINUTE, r.dup_id, "lead-sync")
        lid = sfid("00Q", created * 1000 + int(r.dup_id) % 997)
        merged = r.dup_merged_ms
        deleted = (
            merged + self._lag(MINUTE, 9 * MINUTE, r.dup_id, "merge-sync")
            if merged is not None
            else None
        )
        source = "Trade Show" if r.dup_data[0] == "IMPORT" else "Other"
        rec = self._rec(
            "Lead",
            lid,
            created,
            created,
            self.integration,
            self.integration,
            {
                "MasterRecordId": p.lead_id
                if deleted is not None and deleted < self.as_of
                else None,
                "FirstName": r.first,
                "LastName": r.last,
                "Name": f"{r.first} {r.last}",
                "Title": None,
                "Company": r.company or "[not provided]",
                "Email": (r.dup_email or "").strip(),
                "Country": self.account_of(r).country,
                "LeadSource": source,
                "Status": "Open - Not Contacted",
                "OwnerId": self.users[self.integration].sf_id,
                "IsConverted": False,
                "IsUnreadByOwner": True,
            },
            deleted,
        )
        if rec is not None:
            sf["Lead"].append(rec)
            hist = self._rec(
                "LeadHistory",
                sfid("017", created * 1000 + 999),
                created,
                created,
                self.integration,
                self.integration,
                {"LeadId": lid, "Field": "created", "DataType": "Text"},
                deleted,
            )
            if hist is not None:
                hist.fields.pop("SystemModstamp", None)
                sf["LeadHistory"].append(hist)

    def _sf_activity(
        self,
        p: _Plan,
        a: _Activity,
        contact: str | None,
        acct: Account,
        sf: dict[str, list[SfRecord]],
    ) -> None:
        converted_at = p.conv_ms if p.conv_ms is not None and p.conv_ms < self.as_of else None
        who = contact if converted_at is not None else p.lead_id
        modified = a.created_ms
        if converted_at is not None and converted_at > a.created_ms:
            modified = converted_at  # re-parented to the contact on conversion
        fields: dict[str, Any] = {
            "WhoId": who,
            "WhatId": a.what_opp,
            "AccountId": acct.sf_id if converted_at is not None else None,
            "Subject": a.subject,
            "ActivityDate": _ny_date(a.at_ms),
            "OwnerId": self.users[a.owner].sf_id,
            "Type": a.type,
        }
        if a.kind == "Task":
            fields.update(
                {
                    "Status": "Completed",
                    "Priority": "Normal",
                    "IsClosed": True,
                    "TaskSubtype": a.subtype,
                    "CallDurationInSeconds": a.duration_s,
                    "CallType": "Outbound" if a.subtype == "Call" else None,
                    "CallDisposition": a.disposition,
                    "CompletedDateTime": a.at_ms,
                }
            )
        else:
            fields.update(
                {
                    "ActivityDateTime": a.at_ms,
                    "StartDateTime": a.at_ms,
                    "EndDateTime": a.at_ms + a.minutes * MINUTE,
                    "DurationInMinutes": a.minutes,
                    "EventSubtype": "Event",
                }
            )
        rec = self._rec(
            a.kind, a.id, a.created_ms, modified, a.owner, a.owner, fields, a.deleted_ms
        )
        if rec is not None:
            sf[a.kind].append(rec)

    def _sf_member(
        self, p: _Plan, m: _Membership, sf: dict[str, list[SfRecord]], converted: bool
    ) -> None:
        states = self._visible(m.statuses)
        if not states:
            return
        conv = p.conv_ms if converted else None
        modified = states[-1][0]
        if conv is not None and conv > modified:
            modified = conv
        responded = (
            m.responded_ms is not None
            and m.responded_ms < self.as_of
            and states[-1][1] in ("Responded", "Attended")
        )
        rid = sfid("00v", m.created_ms * 1000 + int(p.raw.id) % 997)
        rec = self._rec(
            "CampaignMember",
            rid,
            m.created_ms,
            modified,
            self.integration,
            self.integration,
            {
                "CampaignId": m.campaign,
                "LeadId": p.lead_id,
                "ContactId": p.contact_id if conv is not None else None,
                "LeadOrContactId": p.contact_id if conv is not None else p.lead_id,
                "Type": "Contact" if conv is not None else "Lead",
                "Status": states[-1][1],
                "HasResponded": responded,
                "FirstRespondedDate": _ny_date(m.responded_ms)
                if responded and m.responded_ms
                else None,
            },
            p.lead_deleted,
        )
        if rec is not None:
            sf["CampaignMember"].append(rec)

    def _sf_opp(self, p: _Plan, opp: _Opp, sf: dict[str, list[SfRecord]]) -> SfRecord | None:
        as_of = self.as_of
        stages = self._visible(opp.stage_events)
        amounts = self._visible(opp.amount_events)
        closes = self._visible(opp.close_events)
        stage = stages[-1][1]
        prob, forecast, _ = OPP_STAGES[stage]
        amount = amounts[-1][1]
        close = closes[-1][1]
        acct = self.accounts[opp.account]
        changes = [e[0] for e in stages + amounts + closes]
        for _, role_at, _, _ in opp.roles:
            if role_at < as_of:
                changes.append(role_at)
        # AE meetings at stage changes (Events on the opportunity)
        acts: list[_Activity] = []
        if opp.deleted_ms is None:
            for i, (ms, st) in enumerate(opp.stage_events[1:], start=1):
                if st.startswith("Closed"):
                    continue
                subject = {
                    "Qualification": "Qualification call",
                    "Needs Analysis": "Demo",
                    "Proposal/Price Quote": "Proposal review",
                    "Negotiation/Review": "Negotiation call",
                }.get(st, st)
                start = ms - self._lag(0, DAY, opp.id, i, "mtg")
                start = business_time(start, NY, self._k(opp.id, i, "mtg-bt"))
                start = start // (15 * MINUTE) * (15 * MINUTE)
                booked = max(opp.created_ms, start - self._lag(HOUR, 4 * DAY, opp.id, i, "bk"))
                acts.append(
                    _Activity(
                        "Event",
                        sfid("00U", booked * 1000 + 500 + i),
                        booked,
                        start,
                        opp.owner,
                        subject,
                        "Meeting",
                        "Event",
                        what_opp=opp.id,
                        minutes=45,
                    )
                )
                if i == 1:
                    for j, (b_id, role_at, _, _) in enumerate(opp.roles[1:]):
                        invited = max(booked, role_at + MINUTE)
                        if invited < start:
                            acts.append(
                                _Activity(
                                    "Event",
                                    sfid("00U", invited * 1000 + 600 + j),
                                    invited,
                                    start,
                                    opp.owner,
                                    subject,
                                    "Meeting",
                                    "Event",
                                    what_opp=opp.id,
                                    minutes=45,
                                    who=b_id,
                                )
                            )
        visible_acts = [a for a in acts if a.created_ms < as_of]
        last_act = max((a.at_ms for a in visible_acts if a.at_ms < as_of), default=None)
        fields = {
            "AccountId": acct.sf_id,
            "Name": opp.name,
            "StageName": stage,
            "Amount": float(amount),
            "Probability": float(prob),
            "ExpectedRevenue": round(amount * prob / 100, 2),
            "CloseDate": close,
            "Type": opp.type,
            "LeadSource": opp.lead_source,
            "IsClosed": stage.startswith("Closed"),
            "IsWon": stage == "Closed Won",
            "ForecastCategory": forecast,
            "ForecastCategoryName": FORECAST_NAMES[forecast],
            "CurrencyIsoCode": opp.currency,
            "CampaignId": opp.campaign,
            "OwnerId": self.users[opp.owner].sf_id,
            "LastActivityDate": _ny_date(last_act) if last_act else None,
            "LastStageChangeDate": stages[-1][0] if len(stages) > 1 else None,
            "FiscalYear": close.year,
            "FiscalQuarter": (close.month - 1) // 3 + 1,
            "Loss_Reason__c": opp.loss_reason if stage == "Closed Lost" else None,
        }
        if last_act is not None:
            changes.append(last_act)
        rec = self._rec(
            "Opportunity",
            opp.id,
            opp.created_ms,
            max(changes),
            opp.owner,
            opp.owner,
            fields,
            opp.deleted_ms,
        )
        if rec is None:
            return None
        sf["Opportunity"].append(rec)
        # OpportunityHistory: one row per change of stage, amount or close date
        times = sorted({e[0] for e in stages + amounts + closes})
        for i, ms in enumerate(times):
            st = [s for s in stages if s[0] <= ms][-1][1]
            am = [a for a in amounts if a[0] <= ms][-1][1]
            cl = [c for c in closes if c[0] <= ms][-1][1]
            pr, fc, _ = OPP_STAGES[st]
            hid = sfid("008", ms * 1000 + (int(p.raw.id) + i) % 1000)
            hist = self._rec(
                "OpportunityHistory",
                hid,
                ms,
                ms,
                opp.owner,
                opp.owner,
                {
                    "OpportunityId": opp.id,
                    "StageName": st,
                    "Amount": float(am),
                    "ExpectedRevenue": round(am * pr / 100, 2),
                    "CloseDate": cl,
                    "Probability": float(pr),
                    "ForecastCategory": fc,
                    "CurrencyIsoCode": opp.currency,
                },
                opp.deleted_ms,
            )
            if hist is not None:
                sf["OpportunityHistory"].append(hist)
        # Contact roles
        for j, (person, role_at, role, primary) in enumerate(opp.roles):
            other = p if person == p.raw.id else self._plans.get(person)
            if other is None or other.contact_id is None or other.conv_ms is None:
                continue
            if other.conv_ms > role_at + HOUR:
                continue
            at = max(role_at, other.conv_ms)
            rid = sfid("00K", at * 1000 + (int(p.raw.id) + j) % 1000)
            role_rec = self._rec(
                "OpportunityContactRole",
                rid,
                at,
                at,
                opp.owner,
                opp.owner,
                {
                    "OpportunityId": opp.id,
                    "ContactId": other.contact_id,
                    "Role": role,
                    "IsPrimary": primary,
                },
                opp.deleted_ms,
            )
            if role_rec is not None:
                sf["OpportunityContactRole"].append(role_rec)
        for a in visible_acts:
            who_plan = p if a.who == "person" else self._plans.get(a.who)
            if who_plan is None or who_plan.contact_id is None:
                continue
            self._sf_activity(who_plan, a, who_plan.contact_id, acct, sf)
        return rec

    def _sf_accounts(self, sf: dict[str, list[SfRecord]]) -> None:
        # Account fields are the account's own (firmographics, a static type) rather than
        # rollups over people: rollups would change as people age out of the simulated window
        # without the record's SystemModstamp moving. Customers are what opportunities say.
        for a in self.accounts:
            rec = self._rec(
                "Account",
                a.sf_id,
                a.created_ms,
                a.created_ms + HOUR,
                self.marketing_ops,
                a.owner_user,
                {
                    "Name": a.name,
                    "Type": a.type,
                    "Website": f"www.{a.domain}",
                    "Industry": a.industry,
                    "NumberOfEmployees": a.employees,
                    "AnnualRevenue": float(a.annual_revenue),
                    "BillingCountry": a.country,
                    "CurrencyIsoCode": a.currency,
                    "AccountSource": "Data Import",
                    "OwnerId": self.users[a.owner_user].sf_id,
                    "LastActivityDate": None,
                },
            )
            if rec is not None:
                sf["Account"].append(rec)

    def _sf_campaigns(self, sf: dict[str, list[SfRecord]]) -> None:
        for c in self.campaigns:
            if c.event_ms is not None:
                done = c.event_ms + DAY
                status = "Completed" if done < self.as_of else "Planned"
                modified = done if done < self.as_of else c.created_ms + HOUR
                active = done >= self.as_of
                end = c.end
            else:
                status, modified, active, end = "In Progress", c.created_ms + HOUR, True, None
            rec = self._rec(
                "Campaign",
                c.id,
                c.created_ms,
                modified,
                self.marketing_ops,
                self.marketing_ops,
                {
                    "Name": c.name,
                    "Type": c.type,
                    "Status": status,
                    "StartDate": c.start,
                    "EndDate": end,
                    "IsActive": active,
                    "BudgetedCost": c.budget,
                    "CurrencyIsoCode": "EUR" if c.name.startswith("Meta") else "USD",
                    "UTM_Campaign__c": c.utm,
                    "OwnerId": self.users[self.marketing_ops].sf_id,
                },
            )
            if rec is not None:
                sf["Campaign"].append(rec)

    # ---------------------------------------------------------------- HubSpot deals/companies

    def _deal(self, p: _Plan, opp: _Opp) -> HubSpotRecord | None:
        shift = opp.deal_lag
        as_of = self.as_of
        created = opp.created_ms + shift
        if created >= as_of:
            return None

        def seen(events: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
            return [(ms + shift, v) for ms, v in events if ms + shift < as_of]

        stages = [(ms, OPP_STAGES[s][2]) for ms, s in seen(opp.stage_events)]
        amounts = seen(opp.amount_events)
        closes = [(ms, _close_ms(d)) for ms, d in seen(opp.close_events)]
        stage = stages[-1][1]
        archived = opp.deleted_ms + shift if opp.deleted_ms is not None else None
        if archived is not None and archived >= as_of:
            archived = None
        if archived is not None and archived + 90 * DAY < as_of:
            return None  # gone from HubSpot's recycle bin
        values: dict[str, object] = {
            "dealname": opp.name,
            "amount": amounts[-1][1],
            "deal_currency_code": opp.currency,
            "closedate": closes[-1][1],
            "createdate": created,
            "dealstage": stage,
            "pipeline": "default",
            "dealtype": "newbusiness",
            "hubspot_owner_id": self.users[opp.owner].owner_id,
            "hs_is_closed": stage in ("closedwon", "closedlost"),
            "hs_is_closed_won": stage == "closedwon",
            "closed_lost_reason": opp.loss_reason if stage == "closedlost" else None,
            "salesforceopportunityid": opp.id,
            "hs_object_id": int(opp.hubspot_id),
        }
        for sid in DEAL_STAGES:
            entered = [ms for ms, s in stages if s == sid]
            values[f"hs_v2_date_entered_{sid}"] = entered[0] if entered else None
        contacts: list[tuple[str, int]] = []
        for person, role_at, _, _ in opp.roles:
            if role_at + shift < as_of and person in self._plans:
                contacts.append((person, max(created, role_at + shift)))
        changes = [e[0] for e in stages + amounts + closes] + [t for _, t in contacts]
        modified = max(changes)
        if archived is not None:
            modified = max(modified, archived)
        values["hs_lastmodifieddate"] = modified
        history = {
            "dealstage": stages,
            "amount": amounts,
            "closedate": closes,
        }
        self._deal_contacts[opp.hubspot_id] = contacts
        self._deal_company[opp.hubspot_id] = self.accounts[opp.account].hubspot_id
        return HubSpotRecord(
            opp.hubspot_id,
            created,
            modified,
            values,
            person_id=p.raw.id,
            archived_ms=archived,
            history=history,
        )

    def _hs_companies(self, deals: list[HubSpotRecord]) -> list[HubSpotRecord]:
        del deals  # company fields are the account's own, as in Salesforce
        out: list[HubSpotRecord] = []
        for a in self.accounts:
            if a.created_ms >= self.as_of:
                continue
            created = a.created_ms + self._lag(MINUTE, 30 * MINUTE, a.index, "hs-company")
            stage = "customer" if a.type == "Customer - Direct" else "lead"
            stage_hist: list[tuple[int, object]] = [(created, stage)]
            modified = created + HOUR
            values: dict[str, object] = {
                "name": a.name,
                "domain": a.domain,
                "website": f"www.{a.domain}",
                "industry": a.hs_industry,
                "numberofemployees": a.employees,
                "annualrevenue": a.annual_revenue,
                "country": a.country,
                "lifecyclestage": stage,
                "hubspot_owner_id": self.users[a.owner_user].owner_id,
                "salesforceaccountid": a.sf_id,
                "createdate": created,
                "hs_lastmodifieddate": modified,
                "hs_object_id": int(a.hubspot_id),
            }
            out.append(
                HubSpotRecord(
                    a.hubspot_id, created, modified, values, history={"lifecyclestage": stage_hist}
                )
            )
        out.sort(key=lambda r: int(r.id))
        return out


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _close_ms(d: date) -> int:
    """HubSpot stores a synced close date as midnight UTC of that day."""
    return ms_of(datetime.combine(d, time(0), tzinfo=UTC))


def web_len(_: _Campaign) -> int:
    """How long a webinar runs."""
    return 60 * MINUTE
