"""HubSpot CRM v3/v4 over the synthetic company: contacts, companies, deals, owners, pipelines.

Endpoints (paths relative to the HubSpot base URL, which stands for ``https://api.hubapi.com``;
``{object}`` is ``contacts``, ``companies`` or ``deals``, also ``0-1`` / ``0-2`` / ``0-3``):

* ``GET /crm/v3/objects/{object}`` - ``limit`` (at most 100, larger values are capped; at most
  50 with ``propertiesWithHistory``), ``after`` (an opaque cursor: the next id), ``properties``
  and ``propertiesWithHistory`` (comma-separated or repeated), ``associations``
  (``contacts,companies,deals``) and ``archived`` (``true`` lists only archived records, each
  with ``archivedAt``). Results are in id order.
* ``GET /crm/v3/objects/{object}/{id}`` (``idProperty=email`` for contacts, ``archived``),
  ``POST /crm/v3/objects/{object}/batch/read``.
* ``POST /crm/v3/objects/{object}/search`` - ``filterGroups`` (OR of AND-ed filters, at most
  5 groups / 6 filters each / 18 in all), one ``sorts`` rule, ``query``, ``properties``,
  ``limit`` (at most 200; more is a 400) and ``after`` (an offset string). Paging stops at the
  real 10,000-result cap: a request whose ``after + limit`` exceeds 10,000 answers 400
  ``VALIDATION_ERROR``. ``total`` is the true count. Unsorted results are in id order.
  Archived records are never found by search.
* ``GET /crm/v3/properties/{object}``.
* ``GET /crm/v3/pipelines/deals`` (and ``/{pipelineId}``, ``/{pipelineId}/stages``): the
  default pipeline and its stages.
* ``GET /crm/v3/owners`` (``limit`` at most 500, ``after``, ``email``, ``archived``) and
  ``GET /crm/v3/owners/{ownerId}``.
* Associations: ``GET /crm/v4/objects/{from}/{id}/associations/{to}`` (``limit`` at most
  500, ``after``), ``POST /crm/v4/associations/{from}/{to}/batch/read`` (``toObjectId`` and
  ``associationTypes`` with HubSpot's type ids: contact->company 1 primary / 279, deal->contact
  3, contact->deal 4, deal->company 5 primary / 341, company->deal 6 / 342, company->contact
  2 / 280) and the v3 ``POST /crm/v3/associations/{from}/{to}/batch/read``.
* ``POST /oauth/v1/token`` - the refresh-token grant; access tokens live 1,800 s. The static
  private-app token (``REVOPS_HUBSPOT_TOKEN``) never expires.

Limits and knobs (:class:`HubSpotLimits`, one per simulator, ``apis["hubspot"].limits``):
search is limited to five requests a second per account (HubSpot's 429 body, ``policyName``
``SECONDLY``, no rate-limit headers on search answers); every other answer carries
``X-HubSpot-RateLimit-Daily``/``-Daily-Remaining``/``-Interval-Milliseconds``/``-Max``/
``-Remaining`` and a request beyond 190 per 10 seconds is answered 429 ``TEN_SECONDLY_ROLLING``.
``search_lag_minutes`` makes the search index eventually consistent (a change surfaces up to
that many minutes late, records changed later may surface first); ``custom_properties`` adds
that many custom properties to the properties API; ``requested`` and ``search_filters`` record
what was asked. A source clock behind the connector's is :meth:`SimulatorServer.set_as_of` to
an instant before the connector's window end.

Datetime filter values may be epoch milliseconds (number or string) or ISO 8601. String
comparisons (``EQ``, ``NEQ``, ``IN``...) are case-insensitive, as HubSpot's are. ``NEQ`` and
``NOT_IN`` match records without a value. Properties come back as strings (timestamps as
``2026-11-01T14:03:27.123Z``, booleans as ``true``/``false``), ``null`` when requested but unset;
``createdate``, ``hs_object_id`` and the last-modified property (``lastmodifieddate`` for
contacts, ``hs_lastmodifieddate`` otherwise) are always included. ``propertiesWithHistory``
lists each property's values newest first (``lifecyclestage``, ``hs_lead_status`` and
``hubspot_owner_id`` of contacts, ``dealstage``, ``amount`` and ``closedate`` of deals and
``lifecyclestage`` of companies have full histories; other properties their current value).
"""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
import json
import re
import threading
import time
import uuid
import weakref
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from revops.simulator.company import Company
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.crm import DEAL_STAGES, HubSpotRecord
from revops.simulator.oauth import GrantRules, TokenStore, granted_form
from revops.simulator.wire import Request, Response, dt_to_ms, fmt_hubspot, json_response, parse_iso


def team_id(team: str) -> str:
    """A HubSpot team's id: stable across processes (``hash()`` of a str is salted per
    process, so the same company served different ids from one run to the next)."""
    return str(int(hashlib.sha256(team.encode()).hexdigest(), 16) % 90_000_000 + 10_000_000)


__all__ = ["HubSpotAPI", "HubSpotLimits", "OBJECT_PROPERTIES", "PROPERTIES", "SEARCH_CAP"]

SEARCH_CAP = 10_000
SEARCH_MAX_LIMIT = 200
LIST_MAX_LIMIT = 100
HISTORY_MAX_LIMIT = 50
OWNERS_MAX_LIMIT = 500
ASSOC_MAX_LIMIT = 500


def _rate_limited(policy: str) -> dict[str, str]:
    """HubSpot's 429 body for the limit ``policy`` (``SECONDLY``, ``TEN_SECONDLY_ROLLING``)."""
    return {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }


def _batch_inputs(req: Request, cap: int) -> tuple[dict[str, Any], list[Any]]:
    """A batch request's JSON body and its ``inputs`` (at most ``cap``)."""
    try:
        body = req.json() or {}
    except ValueError:
        raise _Invalid("Invalid input JSON") from None
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or len(inputs) > cap:
        raise _Invalid(f"inputs must be a list of at most {cap} objects")
    return body, inputs


def _oauth_refusal(refusal: tuple[int, str, str]) -> Response:
    """HubSpot's OAuth error body: ``{"status", "message", "correlationId"}``."""
    status, code, message = refusal
    return json_response(
        status, {"status": code, "message": message, "correlationId": str(uuid.uuid4())}
    )


_GRANT_RULES = GrantRules(  # HubSpot's own codes, in its own error body
    method=(400, "Method not allowed; use POST", "BAD_REQUEST"),
    body=(400, "Invalid request body", "BAD_REQUEST"),
    grant=(400, "grant_type must be refresh_token", "BAD_GRANT_TYPE"),
    client_id=(400, "missing or unknown client id", "BAD_CLIENT_ID"),
    client_secret=(400, "missing or invalid client secret", "BAD_CLIENT_SECRET"),
    refresh_token=(400, "missing or unknown refresh token", "BAD_REFRESH_TOKEN"),
    basic=False,
    answer=_oauth_refusal,
)
PIPELINE_CREATED_MS = 1_551_715_200_000  # 2019-03-04

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "PAID_SOCIAL",
    "AI_REFERRALS",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)

# name -> (type, fieldType, label, group, options)
PropSpec = tuple[str, str, str, str, tuple[str, ...]]


def _dt(label: str, group: str = "contactinformation") -> PropSpec:
    return ("datetime", "date", label, group, ())


def _text(label: str, group: str = "contactinformation") -> PropSpec:
    return ("string", "text", label, group, ())


PROPERTIES: dict[str, PropSpec] = {
    "email": _text("Email"),
    "firstname": _text("First Name"),
    "lastname": _text("Last Name"),
    "company": _text("Company Name"),
    "jobtitle": _text("Job Title"),
    "createdate": _dt("Create Date"),
    "lastmodifieddate": _dt("Last Modified Date"),
    "hs_object_id": ("number", "number", "Record ID", "contactinformation", ()),
    "lifecyclestage": (
        "enumeration",
        "radio",
        "Lifecycle Stage",
        "contactinformation",
        LIFECYCLE_STAGES,
    ),
    "hs_lifecyclestage_subscriber_date": _dt("Became a Subscriber Date"),
    "hs_lifecyclestage_lead_date": _dt("Became a Lead Date"),
    "hs_lifecyclestage_marketingqualifiedlead_date": _dt("Became a Marketing Qualified Lead Date"),
    "hs_lifecyclestage_salesqualifiedlead_date": _dt("Became a Sales Qualified Lead Date"),
    "hs_lifecyclestage_opportunity_date": _dt("Became an Opportunity Date"),
    "hs_lifecyclestage_customer_date": _dt("Became a Customer Date"),
    "hs_analytics_source": (
        "enumeration",
        "select",
        "Original Traffic Source",
        "analyticsinformation",
        SOURCES,
    ),
    "hs_analytics_source_data_1": _text(
        "Original Traffic Source Drill-Down 1", "analyticsinformation"
    ),
    "hs_analytics_source_data_2": _text(
        "Original Traffic Source Drill-Down 2", "analyticsinformation"
    ),
    "hs_analytics_first_url": _text("First Page Seen", "analyticsinformation"),
    "hs_google_click_id": _text("Google ad click id", "analyticsinformation"),
    "hs_facebook_click_id": _text("Facebook click id", "analyticsinformation"),
    "li_fat_id": _text("LinkedIn first-party ad tracking id", "analyticsinformation"),
    "utm_source": _text("UTM Source", "analyticsinformation"),
    "utm_medium": _text("UTM Medium", "analyticsinformation"),
    "utm_campaign": _text("UTM Campaign", "analyticsinformation"),
    "utm_content": _text("UTM Content", "analyticsinformation"),
    "utm_term": _text("UTM Term", "analyticsinformation"),
    "hubspot_owner_id": ("enumeration", "select", "Contact owner", "sales_properties", ()),
    "hs_lead_status": ("enumeration", "radio", "Lead Status", "sales_properties", LEAD_STATUSES),
    "associatedcompanyid": (
        "number",
        "number",
        "Primary Associated Company ID",
        "contactinformation",
        (),
    ),
    "salesforceleadid": _text("Salesforce Lead ID", "salesforceinformation"),
    "salesforcecontactid": _text("Salesforce Contact ID", "salesforceinformation"),
    "hs_merged_object_ids": (
        "enumeration",
        "checkbox",
        "Merged Contact IDs",
        "contactinformation",
        (),
    ),
}

COMPANY_PROPERTIES: dict[str, PropSpec] = {
    "name": _text("Company name", "companyinformation"),
    "domain": _text("Company Domain Name", "companyinformation"),
    "website": _text("Website URL", "companyinformation"),
    "industry": ("enumeration", "select", "Industry", "companyinformation", ()),
    "numberofemployees": ("number", "number", "Number of Employees", "companyinformation", ()),
    "annualrevenue": ("number", "number", "Annual Revenue", "companyinformation", ()),
    "country": _text("Country/Region", "companyinformation"),
    "lifecyclestage": (
        "enumeration",
        "radio",
        "Lifecycle Stage",
        "companyinformation",
        LIFECYCLE_STAGES,
    ),
    "hubspot_owner_id": ("enumeration", "select", "Company owner", "companyinformation", ()),
    "salesforceaccountid": _text("Salesforce Account ID", "salesforceinformation"),
    "createdate": _dt("Create Date", "companyinformation"),
    "hs_lastmodifieddate": _dt("Last Modified Date", "companyinformation"),
    "hs_object_id": ("number", "number", "Record ID", "companyinformation", ()),
}

DEAL_PROPERTIES: dict[str, PropSpec] = {
    "dealname": _text("Deal Name", "dealinformation"),
    "amount": ("number", "number", "Amount", "dealinformation", ()),
    "deal_currency_code": (
        "enumeration",
        "select",
        "Currency",
        "dealinformation",
        ("USD", "EUR", "GBP"),
    ),
    "closedate": _dt("Close Date", "dealinformation"),
    "createdate": _dt("Create Date", "dealinformation"),
    "dealstage": ("enumeration", "radio", "Deal Stage", "dealinformation", tuple(DEAL_STAGES)),
    "pipeline": ("enumeration", "select", "Pipeline", "dealinformation", ("default",)),
    "dealtype": (
        "enumeration",
        "radio",
        "Deal Type",
        "dealinformation",
        ("newbusiness", "existingbusiness"),
    ),
    "hubspot_owner_id": ("enumeration", "select", "Deal owner", "dealinformation", ()),
    "hs_is_closed": ("bool", "booleancheckbox", "Is Deal Closed?", "dealinformation", ()),
    "hs_is_closed_won": ("bool", "booleancheckbox", "Is Closed Won", "dealinformation", ()),
    "closed_lost_reason": _text("Closed Lost Reason", "dealinformation"),
    "salesforceopportunityid": _text("Salesforce Opportunity ID", "salesforceinformation"),
    "hs_lastmodifieddate": _dt("Last Modified Date", "dealinformation"),
    "hs_object_id": ("number", "number", "Record ID", "dealinformation", ()),
    **{
        f"hs_v2_date_entered_{stage}": _dt(f'Date entered "{label}"', "dealstages")
        for stage, (label, _, _, _) in DEAL_STAGES.items()
    },
}

OBJECT_PROPERTIES: dict[str, dict[str, PropSpec]] = {
    "contacts": PROPERTIES,
    "companies": COMPANY_PROPERTIES,
    "deals": DEAL_PROPERTIES,
}
_DEFAULTS: dict[str, tuple[str, ...]] = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
_ALWAYS: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "deals": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
}
_ALIASES = {
    "contact": "contacts",
    "contacts": "contacts",
    "0-1": "contacts",
    "company": "companies",
    "companies": "companies",
    "0-2": "companies",
    "deal": "deals",
    "deals": "deals",
    "0-3": "deals",
}
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
# (from, to) -> [(typeId, label)]: HubSpot-defined association types
_ASSOC_TYPES: dict[tuple[str, str], list[tuple[int, str | None]]] = {
    ("contacts", "companies"): [(279, None), (1, "Primary")],
    ("companies", "contacts"): [(280, None), (2, "Primary")],
    ("deals", "contacts"): [(3, None)],
    ("contacts", "deals"): [(4, None)],
    ("deals", "companies"): [(341, None), (5, "Primary")],
    ("companies", "deals"): [(342, None), (6, "Primary")],
}
_SOURCE_TYPES = {
    "lifecyclestage": "CRM_UI",
    "hs_lead_status": "SALESFORCE",
    "dealstage": "SALESFORCE",
    "amount": "SALESFORCE",
    "closedate": "SALESFORCE",
}

_OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}


def _team_id(name: str) -> str:
    return str(int(hashlib.md5(name.encode()).hexdigest()[:8], 16) % 90_000_000 + 10_000_000)


class _Invalid(ValueError):
    """A request HubSpot answers with 400 VALIDATION_ERROR."""


class _NotFound(LookupError):
    """A request HubSpot answers with 404."""


def _error(status: int, message: str, category: str, **extra: Any) -> Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    body.update(extra)
    return json_response(status, body)


def _render(value: object, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "datetime":
        return fmt_hubspot(int(value))  # type: ignore[call-overload]
    if kind == "bool" or isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _to_ms(value: Any, prop: str) -> int:
    if isinstance(value, bool):
        raise _Invalid(f"Invalid value {value!r} for property {prop}")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return dt_to_ms(parse_iso(text))
    except ValueError:
        raise _Invalid(f"{text} is not a valid datetime value for property {prop}") from None


def _to_num(value: Any, prop: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Invalid(f"{value} is not a valid number value for property {prop}") from None


_RANGE_OPERATORS = ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN")


class _Filter:
    def __init__(self, raw: Any, props: dict[str, PropSpec]) -> None:
        if not isinstance(raw, dict):
            raise _Invalid("Each filter must be an object")
        prop = raw.get("propertyName")
        op = raw.get("operator")
        if not isinstance(prop, str) or not prop:
            raise _Invalid("filter is missing propertyName")
        if prop not in props:
            raise _Invalid(
                f"There was a problem with the request: Property '{prop}' does not exist"
            )
        if op not in _OPERATORS:
            raise _Invalid(f"Invalid operator '{op}' for property {prop}")
        self.prop, self.op = prop, op
        self.kind = props[prop][0]
        conv = self._converter()
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            self.values: list[Any] = []
        elif op in ("IN", "NOT_IN"):
            vals = raw.get("values")
            if not isinstance(vals, list) or not vals:
                raise _Invalid(f"Operator {op} requires a non-empty 'values' list")
            self.values = [conv(v) for v in vals]
        elif op == "BETWEEN":
            if "value" not in raw or "highValue" not in raw:
                raise _Invalid("Operator BETWEEN requires 'value' and 'highValue'")
            self.values = [conv(raw["value"]), conv(raw["highValue"])]
        else:
            if "value" not in raw or raw["value"] is None:
                raise _Invalid(f"Operator {op} requires a 'value'")
            self.values = [raw["value"] if op.endswith("CONTAINS_TOKEN") else conv(raw["value"])]

    def _converter(self):  # type: ignore[no-untyped-def]
        if self.kind == "datetime":
            return lambda v: _to_ms(v, self.prop)
        if self.kind == "number":
            return lambda v: _to_num(v, self.prop)
        if self.kind == "bool":
            return lambda v: str(v).lower() == "true"
        return lambda v: str(v).lower()

    def matches(self, values: dict[str, object]) -> bool:
        actual = values.get(self.prop)
        op = self.op
        if op == "HAS_PROPERTY":
            return actual is not None
        if op == "NOT_HAS_PROPERTY":
            return actual is None
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            hit = False
            if actual is not None:
                pattern = str(self.values[0]).lower()
                text = str(actual).lower()
                if "*" in pattern:
                    hit = fnmatch.fnmatchcase(text, pattern)
                else:
                    hit = pattern in re.split(r"[^a-z0-9]+", text) or pattern == text
            return hit if op == "CONTAINS_TOKEN" else not hit
        if actual is None:
            return op in ("NEQ", "NOT_IN")
        if self.kind in ("string", "enumeration"):
            a: Any = str(actual).lower()
        elif self.kind == "bool":
            a = bool(actual)
        else:
            a = actual
        v = self.values
        if op == "EQ":
            return a == v[0]
        if op == "NEQ":
            return a != v[0]
        if op == "IN":
            return a in v
        if op == "NOT_IN":
            return a not in v
        if op == "BETWEEN":
            return v[0] <= a <= v[1]
        return {"LT": a < v[0], "LTE": a <= v[0], "GT": a > v[0], "GTE": a >= v[0]}[op]


@dataclass
class _Objects:
    """One object type's records as the API sees them."""

    name: str
    props: dict[str, PropSpec]
    records: list[HubSpotRecord]
    archived: list[HubSpotRecord]

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.records}
        self.archived_by_id = {r.id: r for r in self.archived}
        self.ids = [int(r.id) for r in self.records]
        self.archived_ids = [int(r.id) for r in self.archived]


@dataclass
class HubSpotLimits:
    """The simulated account's rate limits, the search index's lag, and what was asked of it.

    One per simulator (kept with its token store), so the settings and the counters outlive
    :meth:`SimulatorServer.set_as_of`, which rebuilds the handlers over the new company; reach
    it as ``server.simulator.apis["hubspot"].limits``.

    * ``search_per_second``: HubSpot's search limit, "five requests per second per account"
      (https://developers.hubspot.com/docs/api-reference/search/guide, Limits). One more within
      a second is answered 429 with HubSpot's body (``policyName`` ``SECONDLY``); search
      answers carry no ``X-HubSpot-RateLimit-*`` headers and do not count toward the
      ten-second window, as on HubSpot. None: not enforced.
    * ``ten_second_max`` per ``interval_ms`` and ``daily``: a private app's burst and daily
      limits on the other endpoints (Professional/Enterprise: 190 per 10 seconds, 625,000 a
      day; https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
      Their answers carry ``X-HubSpot-RateLimit-Daily``, ``-Daily-Remaining``,
      ``-Interval-Milliseconds``, ``-Max`` and ``-Remaining``; the next request beyond the
      window is answered 429 ``TEN_SECONDLY_ROLLING``. None: headers sent, not enforced.
    * ``search_lag_minutes``: the search index is eventually consistent ("It may take a few
      moments for newly created or updated CRM objects to appear in search results"): a
      record's latest change surfaces in search between 0 and this many minutes after it
      happened (a fixed per-record delay, so records changed later can surface earlier).
      Until then search does not find the record. Reads by id and lists are never late.
    * ``custom_properties``: how many extra custom properties each object type lists in the
      properties API (a real portal has hundreds); requested, they come back null.
    * ``requested``: every property name asked for, per object type (search, list, read);
      ``search_filters``: the filter groups of the last 1,000 searches, per object type.
    * ``clock``: monotonic seconds, for the rate windows (a test can pass a fake one).
    """

    search_per_second: int | None = 5
    ten_second_max: int | None = 190
    interval_ms: int = 10_000
    daily: int = 625_000
    search_lag_minutes: float = 0.0
    custom_properties: int = 0
    clock: Callable[[], float] = time.monotonic
    requested: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    searches: int = 0
    search_filters: deque[tuple[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _search_times: deque[float] = field(default_factory=deque)
    _general_times: deque[float] = field(default_factory=deque)
    _daily_used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit_search(self) -> bool:
        """Count one search request; False when it is over the per-second limit."""
        with self._lock:
            self.searches += 1
            if self.search_per_second is None:
                return True
            now = self.clock()
            times = self._search_times
            while times and times[0] <= now - 1.0:
                times.popleft()
            if len(times) >= self.search_per_second:
                self.refused["SECONDLY"] += 1
                return False
            times.append(now)
            return True

    def admit(self) -> tuple[bool, dict[str, str]]:
        """Count one other request: whether it is within the window, and the rate headers."""
        with self._lock:
            now = self.clock()
            times = self._general_times
            while times and times[0] <= now - self.interval_ms / 1000:
                times.popleft()
            cap = self.ten_second_max
            admitted = cap is None or len(times) < cap
            if admitted:
                times.append(now)
                self._daily_used += 1
            else:
                self.refused["TEN_SECONDLY_ROLLING"] += 1
            shown = cap if cap is not None else 190
            headers = {
                "X-HubSpot-RateLimit-Daily": str(self.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._daily_used)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
                "X-HubSpot-RateLimit-Max": str(shown),
                "X-HubSpot-RateLimit-Remaining": str(max(0, shown - len(times))),
            }
            return admitted, headers

    def asked(self, obj: str, names: Any) -> None:
        """Record the property names a request asked for."""
        if names:
            with self._lock:
                self.requested[obj].update(str(n) for n in names)

    def surfaced(self, rec: HubSpotRecord, as_of_ms: int) -> bool:
        """Whether search finds ``rec``'s latest change at ``as_of_ms`` (its index lag)."""
        if self.search_lag_minutes <= 0:
            return True
        digest = hashlib.blake2b(f"{rec.id}:{rec.updated_ms}".encode(), digest_size=4).digest()
        fraction = int.from_bytes(digest, "big") / 0xFFFFFFFF
        return rec.updated_ms + int(fraction * self.search_lag_minutes * 60_000) < as_of_ms


_LIMITS: weakref.WeakKeyDictionary[TokenStore, HubSpotLimits] = weakref.WeakKeyDictionary()
_LIMITS_LOCK = threading.Lock()


def custom_property_names(count: int) -> list[str]:
    """The names of the simulator's custom properties (``custom_field_0001``, ...)."""
    return [f"custom_field_{i:04d}" for i in range(1, count + 1)]


class HubSpotAPI:
    """Request handler for the HubSpot CRM endpoints and HubSpot's OAuth token endpoint."""

    def __init__(self, company: Company, tokens: TokenStore) -> None:
        self.company = company
        self.tokens = tokens
        self._objects: dict[str, _Objects] = {}
        self._assoc: dict[tuple[str, str], dict[str, list[str]]] | None = None
        self._cache: OrderedDict[str, list[HubSpotRecord]] = OrderedDict()
        self._prop_indexes: dict[
            tuple[str, str], tuple[list[Any], tuple[list[Any], list[int]] | None]
        ] = {}
        self._lock = threading.Lock()
        with _LIMITS_LOCK:
            self.limits = _LIMITS.setdefault(tokens, HubSpotLimits())

    def objects(self, name: str) -> _Objects:
        """The records of one object type (built on first use)."""
        with self._lock:
            found = self._objects.get(name)
        if found is not None:
            return found
        c = self.company
        if name == "contacts":
            built = _Objects(name, PROPERTIES, c.contacts, c.archived_contacts)
        elif name == "companies":
            built = _Objects(name, COMPANY_PROPERTIES, c.crm.companies, [])
        else:
            built = _Objects(name, DEAL_PROPERTIES, c.crm.deals, c.crm.archived_deals)
        with self._lock:
            self._objects.setdefault(name, built)
            return self._objects[name]

    # ---------------------------------------------------------------- errors

    def unauthorized(self, expired_for: float | None = None) -> Response:
        """HubSpot's answer to a missing, wrong or expired token."""
        if expired_for is not None:
            return _error(
                401,
                f"The OAuth token used to make this call expired {max(1, int(expired_for))} "
                "second(s) ago.",
                "EXPIRED_AUTHENTICATION",
            )
        return _error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can "
            "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def throttled(self, retry_after: int | None) -> Response:
        """HubSpot's secondly-limit 429 (``Retry-After`` only when asked)."""
        body = _rate_limited("SECONDLY")
        headers = {
            "X-HubSpot-RateLimit-Secondly": "10",
            "X-HubSpot-RateLimit-Secondly-Remaining": "0",
        }
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return json_response(429, body, headers=headers)

    def server_error(self) -> Response:
        """A transient 500."""
        return _error(500, "internal error", "INTERNAL_ERROR")

    def is_oauth(self, req: Request) -> bool:
        """``POST /oauth/v1/token`` (and the newer ``/oauth/v3/token``)."""
        return req.path.rstrip("/") in ("/oauth/v1/token", "/oauth/v3/token")

    def token(self, req: Request) -> Response:
        """HubSpot's OAuth token endpoint: the ``refresh_token`` grant."""

        creds = SIM_CREDENTIALS["hubspot"]
        form = granted_form(req, creds, _GRANT_RULES)
        if isinstance(form, Response):
            return form
        token, lifetime = self.tokens.mint("hubspot", "CNSimHubSpot")
        return json_response(
            200,
            {
                "token_type": "bearer",
                "refresh_token": creds["refresh_token"],
                "access_token": token,
                "expires_in": lifetime,
            },
        )

    # ---------------------------------------------------------------- routing

    def check_auth(self, req: Request) -> Response | None:
        """None when the bearer token is valid (static private-app token or an OAuth one)."""
        auth = req.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        state = self.tokens.check("hubspot", token)
        if state == "valid":
            return None
        if state == "expired":
            return self.unauthorized(self.tokens.expired_for(token))
        return self.unauthorized()

    def search_throttled(self) -> Response:
        """HubSpot's 429 for a search beyond its per-second limit (no rate-limit headers:
        HubSpot sends none on search answers)."""
        return json_response(429, _rate_limited("SECONDLY"))

    def handle(self, req: Request) -> Response:
        """Serve one request (paths relative to the HubSpot base URL), within the account's
        rate limits (:class:`HubSpotLimits`)."""
        if self.is_oauth(req):
            return self.token(req)
        denied = self.check_auth(req)
        if denied:
            return denied
        if req.method == "POST" and req.path.rstrip("/").endswith("/search"):
            if not self.limits.admit_search():
                return self.search_throttled()
            return self.route(req)
        admitted, headers = self.limits.admit()
        if not admitted:
            return json_response(429, _rate_limited("TEN_SECONDLY_ROLLING"), headers=headers)
        answer = self.route(req)
        answer.headers.update(headers)
        return answer

    def route(self, req: Request) -> Response:
        """The answer to an authenticated request."""
        path = req.path.rstrip("/")
        method = req.method
        try:
            m = re.fullmatch(r"/crm/v3/objects/([^/]+)(?:/(search|batch/read|[^/]+))?", path)
            if m and _ALIASES.get(m.group(1)):
                obj = _ALIASES[m.group(1)]
                rest = m.group(2)
                if rest is None and method == "GET":
                    return self.list_objects(req, obj)
                if rest == "search" and method == "POST":
                    return self.search(req, obj)
                if rest == "batch/read" and method == "POST":
                    return self.batch_read(req, obj)
                if rest and rest not in ("search", "batch/read") and method == "GET":
                    return self.get_one(req, obj, rest)
            m = re.fullmatch(r"/crm/v3/properties/([^/]+)", path)
            if m and _ALIASES.get(m.group(1)) and method == "GET":
                return self.properties(_ALIASES[m.group(1)])
            m = re.fullmatch(r"/crm/v3/pipelines/(deals|0-3)(?:/([^/]+)(/stages)?)?", path)
            if m and method == "GET":
                return self.pipelines(m.group(2), bool(m.group(3)))
            if path == "/crm/v3/owners" and method == "GET":
                return self.owners(req)
            m = re.fullmatch(r"/crm/v3/owners/([^/]+)", path)
            if m and method == "GET":
                return self.owner(req, m.group(1))
            m = re.fullmatch(r"/crm/v4/objects/([^/]+)/([^/]+)/associations/([^/]+)", path)
            if m and method == "GET":
                return self.associations_of(req, m.group(1), m.group(2), m.group(3))
            m = re.fullmatch(r"/crm/(v3|v4)/associations/([^/]+)/([^/]+)/batch/read", path)
            if m and method == "POST":
                return self.associations_batch(req, m.group(1), m.group(2), m.group(3))
        except _Invalid as err:
            return _error(400, str(err), "VALIDATION_ERROR")
        except _NotFound as err:
            return _error(404, str(err) or "resource not found", "OBJECT_NOT_FOUND")
        return _error(404, f"No route found for {req.method} {req.path}", "OBJECT_NOT_FOUND")

    # ---------------------------------------------------------------- rendering

    @staticmethod
    def _names(req: Request, param: str) -> list[str] | None:
        names: list[str] = []
        for value in req.args(param):
            names.extend(p.strip() for p in value.split(",") if p.strip())
        return names or None

    def _wanted(self, obj: str, props: dict[str, PropSpec], names: list[str] | None) -> list[str]:
        self.limits.asked(obj, names)
        if not names:
            return list(_DEFAULTS[obj])
        custom = set(custom_property_names(self.limits.custom_properties))
        out = [n for n in dict.fromkeys(names) if n in props or n in custom]
        for name in _ALWAYS[obj]:
            if name not in out:
                out.append(name)
        return out

    def _record(
        self,
        obj: str,
        rec: HubSpotRecord,
        props: list[str],
        history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> dict[str, Any]:
        spec = OBJECT_PROPERTIES[obj]
        values = rec.values
        rendered = {
            name: _render(values.get(name), spec[name][0]) if name in spec else None
            for name in sorted(props)
        }
        out: dict[str, Any] = {
            "id": rec.id,
            "properties": rendered,
        }
        if history:
            hist: dict[str, list[dict[str, Any]]] = {}
            for name in dict.fromkeys(history):
                if name not in spec:
                    continue
                kind = spec[name][0]
                rows = rec.history.get(name)
                if rows is None:
                    value = values.get(name)
                    rows = [] if value is None else [(rec.created_ms, value)]
                hist[name] = [
                    {
                        "value": _render(value, kind) or "",
                        "timestamp": fmt_hubspot(ms),
                        "sourceType": _SOURCE_TYPES.get(name, "CRM_UI"),
                        "sourceId": "sim" if name not in _SOURCE_TYPES else "sfdc-sync",
                    }
                    for ms, value in sorted(rows, key=lambda x: x[0], reverse=True)
                ]
            out["propertiesWithHistory"] = hist
        out["createdAt"] = fmt_hubspot(rec.created_ms)
        out["updatedAt"] = fmt_hubspot(rec.updated_ms)
        out["archived"] = rec.archived_ms is not None
        if rec.archived_ms is not None:
            out["archivedAt"] = fmt_hubspot(rec.archived_ms)
        if associations:
            assoc: dict[str, Any] = {}
            for target in associations:
                to = _ALIASES.get(target)
                if to is None or to == obj:
                    continue
                linked = self._linked(obj, to).get(rec.id, [])
                if linked:
                    label = f"{_SINGULAR[obj]}_to_{_SINGULAR[to]}"
                    assoc[target] = {"results": [{"id": other, "type": label} for other in linked]}
            if assoc:
                out["associations"] = assoc
        return out

    # ---------------------------------------------------------------- search

    def _search_results(
        self,
        obj: str,
        groups: list[list[_Filter]],
        sort: tuple[str, bool] | None,
        query: str | None,
        key: str,
    ) -> list[HubSpotRecord]:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        objects = self.objects(obj)
        records = self._candidates(obj, objects.records, groups)
        if self.limits.search_lag_minutes > 0:  # changes not yet in the search index
            as_of = self.company.as_of_ms
            records = [c for c in records if self.limits.surfaced(c, as_of)]
        if groups:
            records = [
                c for c in records if any(all(f.matches(c.values) for f in g) for g in groups)
            ]
        if query:
            needle = query.lower().strip()
            fields = {
                "contacts": ("email", "firstname", "lastname", "company"),
                "companies": ("name", "domain", "website"),
                "deals": ("dealname",),
            }[obj]
            records = [
                c
                for c in records
                if any(needle in str(c.values.get(p) or "").lower() for p in fields)
            ]
        if sort is not None:
            prop, descending = sort
            kind = objects.props[prop][0]
            present = [c for c in records if c.values.get(prop) is not None]
            missing = [c for c in records if c.values.get(prop) is None]
            if kind in ("datetime", "number"):
                present.sort(key=lambda c: (c.values[prop], int(c.id)), reverse=descending)  # type: ignore[index]
            else:
                present.sort(
                    key=lambda c: (str(c.values[prop]).lower(), int(c.id)), reverse=descending
                )
            records = present + missing
        with self._lock:
            self._cache[key] = records
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return records

    def _candidates(
        self, obj: str, records: list[HubSpotRecord], groups: list[list[_Filter]]
    ) -> list[HubSpotRecord]:
        """The records one filter group can match, in the object's order: the narrowest range
        its datetime/number filters bound on one property (:meth:`_prop_index`), or all. The
        filters are still evaluated on each; this only spares the records outside the range,
        so a search window's cost follows the window, not the portal's history."""
        if len(groups) != 1:
            return records
        spans: dict[str, tuple[int, int]] = {}
        indexes: dict[str, tuple[list[Any], list[int]] | None] = {}
        for f in groups[0]:
            if f.kind not in ("datetime", "number") or f.op not in _RANGE_OPERATORS:
                continue
            if f.prop not in indexes:
                indexes[f.prop] = self._prop_index(obj, records, f.prop)
            index = indexes[f.prop]
            if index is None:
                continue
            keys, v = index[0], f.values
            lo, hi = spans.get(f.prop, (0, len(keys)))
            if f.op in ("EQ", "GTE", "BETWEEN"):
                lo = max(lo, bisect.bisect_left(keys, v[0]))
            elif f.op == "GT":
                lo = max(lo, bisect.bisect_right(keys, v[0]))
            if f.op in ("EQ", "LTE"):
                hi = min(hi, bisect.bisect_right(keys, v[0]))
            elif f.op == "BETWEEN":
                hi = min(hi, bisect.bisect_right(keys, v[1]))
            elif f.op == "LT":
                hi = min(hi, bisect.bisect_left(keys, v[0]))
            spans[f.prop] = (lo, hi)
        if not spans:
            return records
        prop, (lo, hi) = min(spans.items(), key=lambda item: item[1][1] - item[1][0])
        positions = indexes[prop][1]  # type: ignore[index]
        return [records[i] for i in sorted(positions[lo:hi])]

    def _prop_index(
        self, obj: str, records: list[HubSpotRecord], prop: str
    ) -> tuple[list[Any], list[int]] | None:
        """The records' non-null values of ``prop``, sorted, with their positions (None when
        a value is not a number, so comparing with the index could differ from the filter).

        Built once; each use first compares the records' current values with the ones it was
        built from (a list comparison, far cheaper than the filters) and rebuilds it if a
        record changed in place."""
        key = (obj, prop)
        current = [rec.values.get(prop) for rec in records]
        with self._lock:
            found = self._prop_indexes.get(key)
        if found is not None and found[0] == current:
            return found[1]
        pairs = []
        index: tuple[list[Any], list[int]] | None
        for i, value in enumerate(current):
            if value is None:
                continue
            if type(value) not in (int, float) or value != value:  # not a number, or NaN
                index = None
                break
            pairs.append((value, i))
        else:
            pairs.sort()
            index = ([v for v, _ in pairs], [i for _, i in pairs])
        with self._lock:
            self._prop_indexes[key] = (current, index)
        return index

    def search(self, req: Request, obj: str) -> Response:
        """``POST /crm/v3/objects/{object}/search``."""
        props_spec = OBJECT_PROPERTIES[obj]
        try:
            body = req.json()
        except ValueError:
            raise _Invalid(
                "Invalid input JSON on line 1: the request body is not valid JSON"
            ) from None
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _Invalid("Invalid input JSON: expected an object")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise _Invalid(f"Invalid limit: {limit!r}")
        if limit > SEARCH_MAX_LIMIT:
            raise _Invalid(
                f"limit must be less than or equal to {SEARCH_MAX_LIMIT}, but was {limit}"
            )
        after_raw = body.get("after", 0)
        try:
            after = int(str(after_raw or 0))
        except ValueError:
            raise _Invalid(f"Invalid after value: {after_raw!r}") from None
        if after < 0:
            raise _Invalid(f"Invalid after value: {after_raw!r}")
        if after + limit > SEARCH_CAP:
            raise _Invalid(
                f"Search results are limited to {SEARCH_CAP} records: after ({after}) + limit "
                f"({limit}) exceeds "
                f"{SEARCH_CAP}. Narrow the filters (for example on hs_object_id) to page further."
            )
        raw_groups = body.get("filterGroups") or []
        if not isinstance(raw_groups, list):
            raise _Invalid("filterGroups must be a list")
        if len(raw_groups) > 5:
            raise _Invalid("Too many filter groups: at most 5 are allowed")
        groups: list[list[_Filter]] = []
        total_filters = 0
        for raw in raw_groups:
            filters = (raw or {}).get("filters") if isinstance(raw, dict) else None
            if not isinstance(filters, list):
                raise _Invalid("Each filter group needs a 'filters' list")
            if len(filters) > 6:
                raise _Invalid("Too many filters in a filter group: at most 6 are allowed")
            total_filters += len(filters)
            groups.append([_Filter(f, props_spec) for f in filters])
        if total_filters > 18:
            raise _Invalid("Too many filters: at most 18 are allowed across all filter groups")
        sort: tuple[str, bool] | None = None
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list):
            raise _Invalid("sorts must be a list")
        if sorts:
            first = sorts[0]
            if isinstance(first, str):
                prop, desc = first.lstrip("-"), first.startswith("-")
            elif isinstance(first, dict):
                prop = str(first.get("propertyName", ""))
                direction = str(first.get("direction", "ASCENDING")).upper()
                if direction not in ("ASCENDING", "DESCENDING"):
                    raise _Invalid(f"Invalid sort direction: {direction}")
                desc = direction == "DESCENDING"
            else:
                raise _Invalid("Invalid sort")
            if prop not in props_spec:
                raise _Invalid(
                    f"There was a problem with the request: Property '{prop}' does not exist"
                )
            sort = (prop, desc)
        props = body.get("properties")
        if props is not None and not isinstance(props, list):
            raise _Invalid("properties must be a list of property names")
        query = body.get("query")
        self.limits.search_filters.append((obj, raw_groups))
        key = json.dumps(
            [obj, raw_groups, sort, query, self.limits.search_lag_minutes], sort_keys=True
        )
        results = self._search_results(
            obj, groups, sort, query if isinstance(query, str) else None, key
        )
        page = results[after : after + limit]
        wanted = self._wanted(obj, props_spec, [str(p) for p in props] if props else None)
        answer: dict[str, Any] = {
            "total": len(results),
            "results": [self._record(obj, c, wanted) for c in page],
        }
        if after + limit < len(results) and limit > 0:
            nxt = str(after + limit)
            answer["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return json_response(200, answer)

    # ---------------------------------------------------------------- list / read

    def list_objects(self, req: Request, obj: str) -> Response:
        """``GET /crm/v3/objects/{object}``: cursor-paged in id order."""
        objects = self.objects(obj)
        history = self._names(req, "propertiesWithHistory")
        try:
            limit = int(req.arg("limit", "10") or 10)
        except ValueError:
            raise _Invalid(f"Invalid limit: {req.arg('limit')}") from None
        if limit < 1:
            raise _Invalid(f"Invalid limit: {limit}")
        limit = min(limit, HISTORY_MAX_LIMIT if history else LIST_MAX_LIMIT)
        after_raw = req.arg("after")
        after = 0
        if after_raw:
            if not after_raw.isdigit():
                raise _Invalid(f"Invalid after cursor: {after_raw}")
            after = int(after_raw)
        wanted = self._wanted(obj, objects.props, self._names(req, "properties"))
        associations = self._names(req, "associations")
        archived = (req.arg("archived", "false") or "false").lower() == "true"
        records = objects.archived if archived else objects.records
        ids = objects.archived_ids if archived else objects.ids
        start = bisect.bisect_left(ids, after)
        page = records[start : start + limit]
        answer: dict[str, Any] = {
            "results": [self._record(obj, c, wanted, history, associations) for c in page]
        }
        if start + limit < len(records):
            nxt = records[start + limit].id
            params: dict[str, str] = {"limit": str(limit), "after": nxt}
            for name in ("properties", "propertiesWithHistory", "associations"):
                given = self._names(req, name)
                if given:
                    params[name] = ",".join(given)
            if archived:
                params["archived"] = "true"
            answer["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{req.base_url}/crm/v3/objects/{obj}?{urlencode(params)}",
                }
            }
        return json_response(200, answer)

    def _find(
        self, obj: str, ident: str, id_property: str | None, archived: bool = False
    ) -> HubSpotRecord | None:
        objects = self.objects(obj)
        pool = objects.archived if archived else objects.records
        if id_property and id_property != "hs_object_id":
            if id_property not in objects.props or objects.props[id_property][0] != "string":
                raise _Invalid(f"Invalid idProperty: {id_property}")
            needle = ident.strip().lower()
            for c in pool:
                if str(c.values.get(id_property) or "").strip().lower() == needle:
                    return c
            return None
        return (objects.archived_by_id if archived else objects.by_id).get(ident)

    def get_one(self, req: Request, obj: str, ident: str) -> Response:
        """``GET /crm/v3/objects/{object}/{id}``."""
        archived = (req.arg("archived", "false") or "false").lower() == "true"
        rec = self._find(obj, ident, req.arg("idProperty"), archived)
        if rec is None:
            return json_response(
                404,
                {
                    "status": "error",
                    "message": "resource not found",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        objects = self.objects(obj)
        return json_response(
            200,
            self._record(
                obj,
                rec,
                self._wanted(obj, objects.props, self._names(req, "properties")),
                self._names(req, "propertiesWithHistory"),
                self._names(req, "associations"),
            ),
        )

    def batch_read(self, req: Request, obj: str) -> Response:
        """``POST /crm/v3/objects/{object}/batch/read``."""
        body, inputs = _batch_inputs(req, 100)
        objects = self.objects(obj)
        wanted = self._wanted(obj, objects.props, body.get("properties"))
        history = body.get("propertiesWithHistory") or None
        results, missing = [], []
        for item in inputs:
            ident = str((item or {}).get("id", ""))
            rec = self._find(obj, ident, body.get("idProperty"))
            if rec is None:
                missing.append(ident)
            else:
                results.append(self._record(obj, rec, wanted, history))
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {_SINGULAR[obj].upper()} objects, they may "
                "be deleted or not exist.",
                "context": {"ids": missing},
            }
        ]
        return self._batch_answer(results, errors if missing else [], 1)

    def properties(self, obj: str) -> Response:
        """``GET /crm/v3/properties/{object}``: the property definitions the simulator serves."""
        results = []
        custom: dict[str, PropSpec] = {
            name: ("string", "text", name.replace("_", " ").title(), "custom", ())
            for name in custom_property_names(self.limits.custom_properties)
        }
        for name, (kind, field_type, label, group, options) in {
            **OBJECT_PROPERTIES[obj],
            **custom,
        }.items():
            results.append(
                {
                    "name": name,
                    "label": label,
                    "type": kind if kind != "bool" else "bool",
                    "fieldType": field_type,
                    "groupName": group,
                    "description": "",
                    "hidden": False,
                    "calculated": False,
                    "hasUniqueValue": name == "hs_object_id",
                    "options": [
                        {"label": o, "value": o, "displayOrder": i, "hidden": False}
                        for i, o in enumerate(options)
                    ],
                }
            )
        return json_response(200, {"results": results})

    # ---------------------------------------------------------------- pipelines and owners

    def _pipeline(self) -> dict[str, Any]:
        stamp = fmt_hubspot(PIPELINE_CREATED_MS)
        stages = [
            {
                "label": label,
                "displayOrder": order,
                "metadata": {"isClosed": "true" if closed else "false", "probability": prob},
                "id": stage,
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            }
            for stage, (label, order, prob, closed) in DEAL_STAGES.items()
        ]
        return {
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "id": "default",
            "stages": stages,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }

    def pipelines(self, pipeline_id: str | None, stages_only: bool) -> Response:
        """``GET /crm/v3/pipelines/deals[/{pipelineId}[/stages]]``."""
        pipeline = self._pipeline()
        if pipeline_id is None:
            return json_response(200, {"results": [pipeline]})
        if pipeline_id != "default":
            raise _NotFound(f"Pipeline {pipeline_id} does not exist")
        if stages_only:
            return json_response(200, {"results": pipeline["stages"]})
        return json_response(200, pipeline)

    def _owner_object(self, user: Any) -> dict[str, Any]:
        team = user.team or "Sales"
        return {
            "id": user.owner_id,
            "email": user.email,
            "type": "PERSON",
            "firstName": user.first,
            "lastName": user.last,
            "userId": user.hubspot_user_id,
            "userIdIncludingInactive": user.hubspot_user_id,
            "createdAt": fmt_hubspot(user.created_ms + 3_600_000),
            "updatedAt": fmt_hubspot(user.created_ms + 86_400_000),
            "archived": False,
            "teams": [
                {
                    "id": team_id(team),
                    "name": team,
                    "primary": True,
                }
            ],
        }

    def owners(self, req: Request) -> Response:
        """``GET /crm/v3/owners``."""
        archived = (req.arg("archived", "false") or "false").lower() == "true"
        users = (
            []
            if archived
            else [u for u in self.company.crm.owners if u.created_ms < self.company.as_of_ms]
        )
        users.sort(key=lambda u: int(u.owner_id))
        email = req.arg("email")
        if email:
            users = [u for u in users if u.email.lower() == email.strip().lower()]
        try:
            limit = min(int(req.arg("limit", "100") or 100), OWNERS_MAX_LIMIT)
        except ValueError:
            raise _Invalid(f"Invalid limit: {req.arg('limit')}") from None
        after = int(req.arg("after", "0") or 0) if (req.arg("after") or "0").isdigit() else 0
        start = next((i for i, u in enumerate(users) if int(u.owner_id) >= after), len(users))
        page = users[start : start + limit]
        answer: dict[str, Any] = {"results": [self._owner_object(u) for u in page]}
        if start + limit < len(users):
            nxt = users[start + limit].owner_id
            answer["paging"] = {
                "next": {"after": nxt, "link": f"{req.base_url}/crm/v3/owners?after={nxt}"}
            }
        return json_response(200, answer)

    def owner(self, req: Request, owner_id: str) -> Response:
        """``GET /crm/v3/owners/{ownerId}``."""
        for u in self.company.crm.owners:
            if u.owner_id == owner_id:
                return json_response(200, self._owner_object(u))
        raise _NotFound(f"Owner {owner_id} not found")

    # ---------------------------------------------------------------- associations

    def _linked(self, src: str, dst: str) -> dict[str, list[str]]:
        with self._lock:
            built = self._assoc
        if built is None:
            built = self._build_associations()
            with self._lock:
                self._assoc = built
        return built.get((src, dst), {})

    def _build_associations(self) -> dict[tuple[str, str], dict[str, list[str]]]:
        out: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(dict)
        contacts = self.objects("contacts").by_id
        companies = self.objects("companies").by_id
        deals = self.objects("deals").by_id
        c2co: dict[str, list[str]] = defaultdict(list)
        co2c: dict[str, list[str]] = defaultdict(list)
        for c in self.company.contacts:
            company_id = c.values.get("associatedcompanyid")
            if company_id is not None and str(company_id) in companies:
                c2co[c.id].append(str(company_id))
                co2c[str(company_id)].append(c.id)
        d2c: dict[str, list[str]] = defaultdict(list)
        c2d: dict[str, list[str]] = defaultdict(list)
        d2co: dict[str, list[str]] = defaultdict(list)
        co2d: dict[str, list[str]] = defaultdict(list)
        crm = self.company.crm
        for deal_id, people in crm.deal_contacts.items():
            if deal_id not in deals:
                continue
            for person, _ in people:
                if person in contacts:
                    d2c[deal_id].append(person)
                    c2d[person].append(deal_id)
            company_id = crm.deal_company.get(deal_id)
            if company_id in companies:
                d2co[deal_id].append(company_id)
                co2d[company_id].append(deal_id)
        for key, mapping in (
            (("contacts", "companies"), c2co),
            (("companies", "contacts"), co2c),
            (("deals", "contacts"), d2c),
            (("contacts", "deals"), c2d),
            (("deals", "companies"), d2co),
            (("companies", "deals"), co2d),
        ):
            out[key] = {k: sorted(dict.fromkeys(v), key=int) for k, v in mapping.items()}
        return dict(out)

    def _types(self, src: str, dst: str) -> list[dict[str, Any]]:
        return [
            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}
            for type_id, label in _ASSOC_TYPES[(src, dst)]
        ]

    def associations_of(self, req: Request, src_raw: str, ident: str, dst_raw: str) -> Response:
        """``GET /crm/v4/objects/{from}/{id}/associations/{to}``."""
        src, dst = _ALIASES.get(src_raw), _ALIASES.get(dst_raw)
        if src is None or dst is None or src == dst:
            raise _Invalid(f"Unknown association {src_raw} -> {dst_raw}")
        if ident not in self.objects(src).by_id:
            raise _NotFound(f"{_SINGULAR[src]} {ident} not found")
        linked = self._linked(src, dst).get(ident, [])
        try:
            limit = min(int(req.arg("limit", "500") or 500), ASSOC_MAX_LIMIT)
        except ValueError:
            raise _Invalid(f"Invalid limit: {req.arg('limit')}") from None
        after_raw = req.arg("after") or "0"
        start = int(after_raw) if after_raw.isdigit() else 0
        page = linked[start : start + limit]
        answer: dict[str, Any] = {
            "results": [
                {"toObjectId": int(other), "associationTypes": self._types(src, dst)}
                for other in page
            ]
        }
        if start + limit < len(linked):
            nxt = str(start + limit)
            answer["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{req.base_url}/crm/v4/objects/{src}/{ident}/associations/{dst}"
                    f"?after={nxt}",
                }
            }
        return json_response(200, answer)

    def associations_batch(
        self, req: Request, version: str, src_raw: str, dst_raw: str
    ) -> Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/read`` (and the v3 form)."""
        src, dst = _ALIASES.get(src_raw), _ALIASES.get(dst_raw)
        if src is None or dst is None or src == dst:
            raise _Invalid(f"Unknown association {src_raw} -> {dst_raw}")
        _, inputs = _batch_inputs(req, 1000)
        linked = self._linked(src, dst)
        known = self.objects(src).by_id
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        for item in inputs:
            ident = str((item or {}).get("id", ""))
            if ident not in known:
                missing.append(ident)
                continue
            others = linked.get(ident, [])
            if not others:
                missing.append(ident)
                continue
            if version == "v4":
                to = [
                    {"toObjectId": int(o), "associationTypes": self._types(src, dst)}
                    for o in others
                ]
            else:
                label = f"{_SINGULAR[src]}_to_{_SINGULAR[dst]}"
                to = [{"id": o, "type": label} for o in others]
            results.append({"from": {"id": ident}, "to": to})
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {dst_raw} is associated with {_SINGULAR[src]} {ident}.",
                "context": {"fromObjectId": [ident]},
            }
            for ident in missing
        ]
        return self._batch_answer(results, errors, len(missing))

    def _batch_answer(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], num_errors: int
    ) -> Response:
        """A batch answer: 200 when every input was found, else 207 with ``errors``."""
        stamp = fmt_hubspot(self.company.as_of_ms)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if not errors:
            return json_response(200, answer)
        answer["numErrors"] = num_errors
        answer["errors"] = errors
        return json_response(207, answer)
