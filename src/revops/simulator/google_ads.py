"""Google Ads API (REST) and Google's OAuth token endpoint over the synthetic company.

Endpoints (paths relative to the Google Ads base URL; ``{v}`` is any version Google serves on
the company's ``as_of`` day, from :mod:`revops.sources.versions`, all answered alike):

* ``POST /{v}/customers/{id}/googleAds:searchStream`` - body ``{"query": GAQL}``; answers a JSON
  array of batches ``{"results": [...], "fieldMask": ..., "requestId": ...}`` of at most
  10,000 rows. A query with no rows answers one batch without ``results`` (proto3 JSON leaves
  the empty list out), so clients must treat a missing ``results`` as empty.
* ``POST /{v}/customers/{id}/googleAds:search`` - the paged variant (fixed page size 10,000,
  ``pageToken`` / ``nextPageToken``).
* ``GET /{v}/customers:listAccessibleCustomers``.
* ``POST /token`` (Google's ``oauth2.googleapis.com/token``, served on the same port) - the
  refresh-token grant; access tokens live 3,599 s. The static ``REVOPS_GOOGLE_ADS_TOKEN`` is
  accepted too. Every API call also needs the ``developer-token`` header.

Rows nest by resource with camelCase keys; int64 values are strings, doubles numbers, enums
names; unset fields are omitted (so Performance Max ``click_view`` rows have no ``adGroup``).
Every resource that appears carries its ``resourceName``. Metrics come from the company's
daily facts; dates are account-time-zone (America/New_York) days and ``DURING`` ranges are
relative to ``as_of``'s day there. Rows segmented by a date with all-zero metrics are left out,
as the API does.

Versions, as Google answers them: a version past its sunset (in the dated list, sunset on or
before ``as_of``) is refused with 400 ``INVALID_ARGUMENT`` and a ``GoogleAdsFailure`` whose
error code is ``requestError: UNSUPPORTED_VERSION`` ("Version vNN is deprecated. Requests to
this version will be blocked."), whatever the request; a version Google never served (or not
yet released on ``as_of``) has no such method: 404 ``NOT_FOUND``. Every ``GoogleAdsFailure``
carries the requested version in its type URL
(``type.googleapis.com/google.ads.googleads.vNN.errors.GoogleAdsFailure``); injected faults,
which are answered before the request is routed, carry the newest served version.

``click_view`` needs a filter to exactly one day (``EXPECTED_FILTER_ON_A_SINGLE_DAY``) no older
than 90 days (``DATE_TOO_OLD``). Selecting a date segment needs a finite date range
(``EXPECTED_FILTERS_ON_DATE_RANGE``). Unknown fields are ``UNRECOGNIZED_FIELD``; fields of a
resource that cannot be joined to the FROM resource are
``PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE``.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from revops.simulator.company import CUSTOMER_ID, AdCampaign, AdGroup, Click, Company
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.gaql import Condition, GaqlError, Query, parse
from revops.simulator.oauth import GrantRules, TokenStore, bearer_grant, granted_form
from revops.simulator.wire import Request, Response, json_response, keep_newest
from revops.sources.versions import normalise, vendor

__all__ = ["GoogleAdsAPI", "OAUTH_SCOPE", "QueryFailure", "failure_type", "run_query", "served"]

OAUTH_SCOPE = "https://www.googleapis.com/auth/adwords"
_BAD_CLIENT = (401, "The OAuth client was not found.")
_GRANT_RULES = GrantRules(  # RFC 6749's error codes
    method=(405, "Method not allowed"),
    body=(400, "Invalid request body"),
    grant=(400, "Invalid grant_type: {grant}"),
    client_id=_BAD_CLIENT,
    client_secret=_BAD_CLIENT,
    refresh_token=(400, "Bad Request"),
)
BATCH_ROWS = 10_000
SELECT_CACHE_SIZE = 32
"""Queries whose rows a handler keeps for their later ``search`` pages."""
CLICK_VIEW_MAX_AGE_DAYS = 90


def failure_type(version: str) -> str:
    """The ``@type`` of a ``GoogleAdsFailure`` detail in API ``version`` (``v23``)."""
    return f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"


def served(company: Company) -> list[str]:
    """The versions Google serves on the company's ``as_of`` day, oldest first."""
    return [v.name for v in vendor("google_ads").supported(company.as_of.date())]


_DATE_SEGMENTS = (
    "segments.date",
    "segments.week",
    "segments.month",
    "segments.quarter",
    "segments.year",
    "segments.day_of_week",
)
_DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_ENUMS: dict[str, frozenset[str]] = {
    "status": frozenset({"UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"}),
    "channel": frozenset(
        {
            "UNSPECIFIED",
            "UNKNOWN",
            "SEARCH",
            "DISPLAY",
            "SHOPPING",
            "HOTEL",
            "VIDEO",
            "MULTI_CHANNEL",
            "LOCAL",
            "SMART",
            "PERFORMANCE_MAX",
            "LOCAL_SERVICES",
            "TRAVEL",
            "DEMAND_GEN",
        }
    ),
}


class QueryFailure(Exception):
    """A request the API rejects: HTTP status, gRPC status name, error code and message."""

    def __init__(
        self,
        http: int,
        status: str,
        code: dict[str, str] | None,
        message: str,
        top_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http = http
        self.status = status
        self.code = code
        self.message = message
        self.top_message = top_message

    @classmethod
    def query(cls, code: str, message: str) -> QueryFailure:
        """An ``INVALID_ARGUMENT`` query error."""
        return cls(400, "INVALID_ARGUMENT", {"queryError": code}, message)


# --------------------------------------------------------------------------------------------
# Field catalog
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    """One candidate row: the entities it is about, its date and its metrics."""

    campaign: AdCampaign | None = None
    group: AdGroup | None = None
    click: Click | None = None
    day: date | None = None
    network: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Field:
    name: str
    type: str  # int64 | int32 | string | enum | double | date | bool
    get: Callable[[_Ctx], Any]
    enum: str | None = None

    @property
    def resource(self) -> str:
        return self.name.split(".", 1)[0]


def _of(part: str, attr: str) -> Callable[[_Ctx], Any]:
    """The getter of a row's ``<part>.<attr>`` (``None`` on rows without that ``part``)."""

    def get(c: _Ctx) -> Any:
        obj = getattr(c, part)
        return getattr(obj, attr) if obj else None

    return get


def _named(part: str, collection: str, key: Callable[[Any], str]) -> Callable[[_Ctx], Any]:
    """The getter of a resource name ``customers/{id}/<collection>/<key of the row's part>``."""

    def get(c: _Ctx) -> Any:
        obj = getattr(c, part)
        return f"customers/{CUSTOMER_ID}/{collection}/{key(obj)}" if obj else None

    return get


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _catalog() -> dict[str, _Field]:
    cid = CUSTOMER_ID
    fields: list[_Field] = [
        _Field("customer.id", "int64", lambda c: cid),
        _Field("customer.resource_name", "string", lambda c: f"customers/{cid}"),
        _Field("customer.descriptive_name", "string", lambda c: Company.customer_name),
        _Field("customer.currency_code", "string", lambda c: Company.currency_code),
        _Field("customer.time_zone", "string", lambda c: Company.time_zone),
        _Field("customer.status", "enum", lambda c: "ENABLED", "status"),
        _Field("customer.manager", "bool", lambda c: False),
        _Field("customer.test_account", "bool", lambda c: False),
        _Field("customer.auto_tagging_enabled", "bool", lambda c: True),
        _Field("campaign.id", "int64", _of("campaign", "id")),
        _Field("campaign.resource_name", "string", _of("campaign", "resource_name")),
        _Field("campaign.name", "string", _of("campaign", "name")),
        _Field("campaign.status", "enum", _of("campaign", "status"), "status"),
        _Field("campaign.serving_status", "enum", lambda c: "SERVING" if c.campaign else None),
        _Field(
            "campaign.advertising_channel_type", "enum", _of("campaign", "channel_type"), "channel"
        ),
        _Field("campaign.bidding_strategy_type", "enum", _of("campaign", "bidding_strategy_type")),
        _Field("campaign.start_date", "string", lambda c: "2024-01-15" if c.campaign else None),
        _Field("ad_group.id", "int64", _of("group", "id")),
        _Field("ad_group.resource_name", "string", _named("group", "adGroups", lambda g: g.id)),
        _Field("ad_group.name", "string", _of("group", "name")),
        _Field("ad_group.status", "enum", _of("group", "status"), "status"),
        _Field("ad_group.type", "enum", _of("group", "type")),
        _Field(
            "ad_group.campaign", "string", _named("group", "campaigns", lambda g: g.campaign_id)
        ),
        _Field("click_view.gclid", "string", _of("click", "gclid")),
        _Field(
            "click_view.resource_name",
            "string",
            _named("click", "clickViews", lambda k: f"{k.date.isoformat()}~{k.gclid}"),
        ),
        _Field(
            "click_view.ad_group_ad",
            "string",
            lambda c: (
                f"customers/{cid}/adGroupAds/{c.click.ad_group_id}~{c.click.ad_id}"
                if c.click and c.click.ad_group_id and c.click.ad_id
                else None
            ),
        ),
        _Field(
            "click_view.keyword",
            "string",
            lambda c: (
                f"customers/{cid}/adGroupCriteria/{c.click.ad_group_id}~{c.click.keyword.criterion_id}"
                if c.click and c.click.keyword
                else None
            ),
        ),
        _Field(
            "click_view.keyword_info.text",
            "string",
            lambda c: c.click.keyword.text if c.click and c.click.keyword else None,
        ),
        _Field(
            "click_view.keyword_info.match_type",
            "enum",
            lambda c: c.click.keyword.match_type if c.click and c.click.keyword else None,
        ),
        _Field("segments.date", "date", lambda c: c.day.isoformat() if c.day else None),
        _Field(
            "segments.week",
            "date",
            lambda c: (c.day - timedelta(days=c.day.weekday())).isoformat() if c.day else None,
        ),
        _Field(
            "segments.month", "date", lambda c: c.day.replace(day=1).isoformat() if c.day else None
        ),
        _Field(
            "segments.quarter",
            "date",
            lambda c: (
                date(c.day.year, 3 * ((c.day.month - 1) // 3) + 1, 1).isoformat() if c.day else None
            ),
        ),
        _Field("segments.year", "int32", lambda c: c.day.year if c.day else None),
        _Field(
            "segments.day_of_week",
            "enum",
            lambda c: _DAYS_OF_WEEK[c.day.weekday()] if c.day else None,
        ),
        _Field("segments.ad_network_type", "enum", lambda c: c.network),
        _Field("segments.device", "enum", _of("click", "device")),
        _Field("metrics.impressions", "int64", lambda c: int(c.metrics.get("impressions", 0))),
        _Field("metrics.clicks", "int64", lambda c: int(c.metrics.get("clicks", 0))),
        _Field("metrics.cost_micros", "int64", lambda c: int(c.metrics.get("cost_micros", 0))),
        _Field("metrics.conversions", "double", lambda c: float(c.metrics.get("conversions", 0.0))),
        _Field(
            "metrics.all_conversions", "double", lambda c: float(c.metrics.get("conversions", 0.0))
        ),
        _Field(
            "metrics.conversions_value",
            "double",
            lambda c: float(c.metrics.get("conversions", 0.0)) * 100.0,
        ),
        _Field(
            "metrics.ctr",
            "double",
            lambda c: _ratio(c.metrics.get("clicks", 0), c.metrics.get("impressions", 0)),
        ),
        _Field(
            "metrics.average_cpc",
            "double",
            lambda c: _ratio(c.metrics.get("cost_micros", 0), c.metrics.get("clicks", 0)),
        ),
        _Field(
            "metrics.cost_per_conversion",
            "double",
            lambda c: _ratio(c.metrics.get("cost_micros", 0), c.metrics.get("conversions", 0)),
        ),
    ]
    return {f.name: f for f in fields}


FIELDS: dict[str, _Field] = _catalog()

# Which resources' fields each FROM resource can select, and which segments/metrics.
_JOINS = {
    "customer": {"customer"},
    "campaign": {"campaign", "customer"},
    "ad_group": {"ad_group", "campaign", "customer"},
    "click_view": {"click_view", "ad_group", "campaign", "customer"},
}
_SEGMENTS = {
    "customer": set(_DATE_SEGMENTS) | {"segments.ad_network_type"},
    "campaign": set(_DATE_SEGMENTS) | {"segments.ad_network_type"},
    "ad_group": set(_DATE_SEGMENTS) | {"segments.ad_network_type"},
    "click_view": {"segments.date", "segments.device", "segments.ad_network_type"},
}
_METRICS_ALLOWED = {
    "customer": None,  # None: every metric
    "campaign": None,
    "ad_group": None,
    "click_view": {"metrics.clicks"},
}
_TOP_ORDER = ("customer", "campaign", "adGroup", "metrics", "segments", "clickView")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _mask_name(name: str) -> str:
    return ".".join(_camel(part) for part in name.split("."))


# --------------------------------------------------------------------------------------------
# Query execution
# --------------------------------------------------------------------------------------------


def _check_fields(q: Query) -> None:
    if q.resource not in _JOINS:
        raise QueryFailure.query(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Error in FROM clause: invalid resource name '{q.resource}'.",
        )
    joins = _JOINS[q.resource]
    referenced = list(q.fields) + [c.field for c in q.conditions] + [o.field for o in q.order_by]
    for name in referenced:
        if name not in FIELDS:
            raise QueryFailure.query(
                "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name}'."
            )
        prefix = name.split(".", 1)[0]
        if prefix == "segments":
            if name not in _SEGMENTS[q.resource]:
                raise QueryFailure.query(
                    "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
                    f"Cannot select or filter on the following segment: '{name}', since it is not "
                    f"compatible with the resource in the FROM clause ('{q.resource}').",
                )
        elif prefix == "metrics":
            allowed = _METRICS_ALLOWED[q.resource]
            if allowed is not None and name not in allowed:
                raise QueryFailure.query(
                    "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                    f"Cannot select or filter on the following metric: '{name}', since it is not "
                    f"compatible with the resource in the FROM clause ('{q.resource}').",
                )
        elif prefix not in joins:
            raise QueryFailure.query(
                "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
                f"Cannot select fields from the following resource: '{prefix}', since the resource "
                f"is incompatible with the resource in FROM clause ('{q.resource}').",
            )
    selected = set(q.fields)
    for cond in q.conditions:
        if (
            cond.field.startswith("segments.")
            and cond.field not in _DATE_SEGMENTS
            and cond.field not in selected
        ):
            raise QueryFailure.query(
                "EXPECTED_REFERENCED_FIELD_IN_SELECT_CLAUSE",
                f"The following field must be present in SELECT clause: '{cond.field}'.",
            )


def _parse_date(value: str | int | float) -> date:
    text = str(value)
    try:
        if re.fullmatch(r"\d{8}", text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return date.fromisoformat(text)
    except ValueError:
        raise QueryFailure.query(
            "INVALID_DATE_FORMAT", f"Invalid date format: '{text}'. Expected 'YYYY-MM-DD'."
        ) from None


def _during(constant: str, today: date) -> tuple[date, date]:
    yesterday = today - timedelta(days=1)
    first_of_month = today.replace(day=1)
    monday = today - timedelta(days=today.weekday())
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    ranges = {
        "TODAY": (today, today),
        "YESTERDAY": (yesterday, yesterday),
        "LAST_7_DAYS": (today - timedelta(days=7), yesterday),
        "LAST_14_DAYS": (today - timedelta(days=14), yesterday),
        "LAST_30_DAYS": (today - timedelta(days=30), yesterday),
        "THIS_MONTH": (first_of_month, today),
        "LAST_MONTH": (
            (first_of_month - timedelta(days=1)).replace(day=1),
            first_of_month - timedelta(days=1),
        ),
        "LAST_BUSINESS_WEEK": (monday - timedelta(days=7), monday - timedelta(days=3)),
        "THIS_WEEK_SUN_TODAY": (sunday, today),
        "THIS_WEEK_MON_TODAY": (monday, today),
        "LAST_WEEK_SUN_SAT": (sunday - timedelta(days=7), sunday - timedelta(days=1)),
        "LAST_WEEK_MON_SUN": (monday - timedelta(days=7), monday - timedelta(days=1)),
    }
    return ranges[constant]


@dataclass
class _DateRange:
    low: date | None = None
    high: date | None = None
    only: set[date] | None = None
    excluded: set[date] = field(default_factory=set)

    @property
    def finite(self) -> bool:
        return self.only is not None or (self.low is not None and self.high is not None)

    def days(self, first: date, last: date) -> list[date]:
        lo = max(first, self.low) if self.low else first
        hi = min(last, self.high) if self.high else last
        out = []
        d = lo
        while d <= hi:
            if (self.only is None or d in self.only) and d not in self.excluded:
                out.append(d)
            d += timedelta(days=1)
        return out

    def allows(self, d: date) -> bool:
        if self.low and d < self.low or self.high and d > self.high:
            return False
        if self.only is not None and d not in self.only:
            return False
        return d not in self.excluded


def _date_range(q: Query, today: date) -> tuple[_DateRange, bool]:
    """The range of ``segments.date`` the conditions allow, and whether any condition set it."""
    rng = _DateRange()
    constrained = False

    def tighten(lo: date | None, hi: date | None) -> None:
        if lo is not None:
            rng.low = lo if rng.low is None else max(rng.low, lo)
        if hi is not None:
            rng.high = hi if rng.high is None else min(rng.high, hi)

    for c in q.conditions:
        if c.field != "segments.date":
            continue
        constrained = True
        op = c.op
        if op == "DURING":
            tighten(*_during(str(c.values[0]), today))
            continue
        values = [_parse_date(v) for v in c.values]
        if op == "=":
            tighten(values[0], values[0])
        elif op == ">":
            tighten(values[0] + timedelta(days=1), None)
        elif op == ">=":
            tighten(values[0], None)
        elif op == "<":
            tighten(None, values[0] - timedelta(days=1))
        elif op == "<=":
            tighten(None, values[0])
        elif op == "BETWEEN":
            if values[0] > values[1]:
                raise QueryFailure.query(
                    "DATE_RANGE_TOO_NARROW",
                    "Filters on date/week/month/quarter have a start date after end date.",
                )
            tighten(values[0], values[1])
        elif op == "IN":
            rng.only = set(values) if rng.only is None else rng.only & set(values)
        elif op in ("!=", "NOT IN"):
            rng.excluded.update(values)
        else:
            raise QueryFailure.query(
                "OPERATOR_FIELD_MISMATCH", f"Invalid operator {op} for field 'segments.date'."
            )
    if rng.low and rng.high and rng.low > rng.high:
        raise QueryFailure.query(
            "DATE_RANGE_TOO_NARROW",
            "Filters on date/week/month/quarter have a start date after end date.",
        )
    return rng, constrained


def _coerce(f: _Field, value: str | int | float) -> Any:
    try:
        if f.type in ("int64", "int32"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if f.type == "double":
            return float(value)
        if f.type == "bool":
            text = str(value).upper()
            if text not in ("TRUE", "FALSE"):
                raise ValueError
            return text == "TRUE"
        if f.type == "date":
            return _parse_date(value).isoformat()
        if f.type == "enum":
            text = str(value)
            allowed = _ENUMS.get(f.enum or "")
            if allowed is not None and text not in allowed:
                raise QueryFailure.query(
                    "BAD_ENUM_CONSTANT", f"Invalid enum value '{text}' for field '{f.name}'."
                )
            return text
        return str(value)
    except ValueError:
        raise QueryFailure.query(
            "BAD_VALUE", f"Invalid value '{value}' for field '{f.name}'."
        ) from None


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _matches(c: Condition, f: _Field, actual: Any) -> bool:
    op = c.op
    if op == "IS NULL":
        return actual is None
    if op == "IS NOT NULL":
        return actual is not None
    if op in ("LIKE", "NOT LIKE", "REGEXP_MATCH", "NOT REGEXP_MATCH"):
        if f.type != "string":
            raise QueryFailure.query(
                "OPERATOR_FIELD_MISMATCH", f"Operator {op} cannot be used with field '{f.name}'."
            )
        if actual is None:
            return False
        pattern = str(c.values[0])
        if "LIKE" in op:
            hit = _like(pattern).fullmatch(actual) is not None
        else:
            try:
                hit = re.fullmatch(pattern, actual) is not None
            except re.error:
                raise QueryFailure.query(
                    "BAD_VALUE", f"Invalid regular expression '{pattern}'."
                ) from None
        return hit != op.startswith("NOT")
    values = [_coerce(f, v) for v in c.values]
    if op in ("IN", "CONTAINS ANY"):
        return actual in values
    if op in ("NOT IN", "CONTAINS NONE"):
        return actual not in values
    if op == "CONTAINS ALL":
        return all(actual == v for v in values)
    if actual is None:
        return op == "!="
    if op == "BETWEEN":
        return values[0] <= actual <= values[1]
    if op in ("=", "!=", ">", ">=", "<", "<="):
        if f.type in ("enum", "bool") and op not in ("=", "!="):
            raise QueryFailure.query(
                "OPERATOR_FIELD_MISMATCH", f"Operator {op} cannot be used with field '{f.name}'."
            )
        v = values[0]
        return {
            "=": actual == v,
            "!=": actual != v,
            ">": actual > v,
            ">=": actual >= v,
            "<": actual < v,
            "<=": actual <= v,
        }[op]
    if op == "DURING":
        raise QueryFailure.query(
            "OPERATOR_FIELD_MISMATCH", f"Operator DURING cannot be used with field '{f.name}'."
        )
    raise QueryFailure.query("BAD_OPERATOR", f"Invalid operator {op}.")


def _facts_in(facts: list[Any], dates: _DateRange, memo: dict | None) -> list[Any]:
    """The daily facts whose day the range can allow, in their own order: through a sorted
    index of their days (kept in ``memo``, the handler's, whose company never changes) when
    the range has a bound, so a window's cost follows the window, not the account's history."""
    low, high = dates.low, dates.high
    if dates.only is not None and dates.only:
        low = max(low, min(dates.only)) if low else min(dates.only)
        high = min(high, max(dates.only)) if high else max(dates.only)
    if memo is None or (low is None and high is None):
        return facts
    key = ("days", id(facts))
    current = [row.date for row in facts]  # a fact changed in place rebuilds the index
    found = memo.get(key)
    if found is None or found[0] != current:
        pairs = sorted((d, i) for i, d in enumerate(current))
        found = memo[key] = (current, [d for d, _ in pairs], [i for _, i in pairs])
    days, positions = found[1], found[2]
    lo = bisect.bisect_left(days, low) if low is not None else 0
    hi = bisect.bisect_right(days, high) if high is not None else len(days)
    return [facts[i] for i in sorted(positions[lo:hi])]


def _metric_rows(
    company: Company, q: Query, dates: _DateRange, memo: dict | None = None
) -> list[_Ctx]:
    """Daily facts for the resource, grouped by entity and the selected segments."""
    selected_segments = [f for f in q.fields if f.startswith("segments.")]
    seg_fields = [FIELDS[s] for s in selected_segments]
    if q.resource == "ad_group":
        facts = company.ad_group_daily
    else:
        facts = company.ad_daily
    groups: dict[tuple, _Ctx] = {}
    for row in _facts_in(facts, dates, memo):
        if not dates.allows(row.date):
            continue
        campaign = company.campaign(row.campaign_id)
        group = company.ad_group(row.ad_group_id) if row.ad_group_id else None
        ctx = _Ctx(
            campaign=campaign,
            group=group,
            day=row.date,
            network=campaign.network_type if campaign else None,
        )
        seg_key = tuple(f.get(ctx) for f in seg_fields)
        if q.resource == "customer":
            entity: tuple = ()
        elif q.resource == "campaign":
            entity = (row.campaign_id,)
        else:
            entity = (row.ad_group_id,)
        key = entity + seg_key
        acc = groups.get(key)
        if acc is None:
            acc = _Ctx(
                campaign=campaign if q.resource != "customer" else None,
                group=group,
                day=row.date if selected_segments else None,
                network=ctx.network,
                metrics={"impressions": 0, "clicks": 0, "cost_micros": 0, "conversions": 0.0},
            )
            groups[key] = acc
        m = acc.metrics
        m["impressions"] += row.impressions
        m["clicks"] += row.clicks
        m["cost_micros"] += row.cost_micros
        m["conversions"] += row.conversions
    rows = list(groups.values())
    if selected_segments:
        rows = [r for r in rows if any(r.metrics.values())]
    else:
        # Without segments every entity gets a row, even with no activity in the range.
        have = {
            (r.campaign.id if r.campaign else None, r.group.id if r.group else None) for r in rows
        }
        for ctx in _entity_rows(company, q.resource):
            if (
                ctx.campaign.id if ctx.campaign else None,
                ctx.group.id if ctx.group else None,
            ) not in have:
                ctx.metrics = {"impressions": 0, "clicks": 0, "cost_micros": 0, "conversions": 0.0}
                rows.append(ctx)
    return rows


def _entity_rows(company: Company, resource: str) -> list[_Ctx]:
    if resource == "customer":
        return [_Ctx()]
    if resource == "campaign":
        return [_Ctx(campaign=c, network=c.network_type) for c in company.ad_campaigns]
    return [
        _Ctx(
            campaign=company.campaign(g.campaign_id),
            group=g,
            network=company.campaign(g.campaign_id).network_type,
        )  # type: ignore[union-attr]
        for g in company.ad_groups
    ]


def _default_key(ctx: _Ctx) -> tuple:
    return (
        int(ctx.campaign.id) if ctx.campaign else 0,
        int(ctx.group.id) if ctx.group else 0,
        ctx.day or date.min,
        ctx.click.time_ms if ctx.click else 0,
        ctx.click.gclid if ctx.click else "",
        ctx.network or "",
    )


def run_query(company: Company, text: str) -> tuple[Query, list[dict[str, Any]]]:
    """Parse and run one GAQL query; the rows rendered as the API's JSON objects.

    Raises :class:`QueryFailure` for anything the API would reject.
    """
    q, ctxs = select_rows(company, text)
    return q, [_render(q, ctx) for ctx in ctxs]


def select_rows(company: Company, text: str, memo: dict | None = None) -> tuple[Query, list[_Ctx]]:
    """Parse and run one GAQL query: its rows, in order, not yet rendered (:func:`_render`
    renders one). ``memo`` (a handler's) keeps indexes of the company's facts."""
    try:
        q = parse(text)
    except GaqlError as err:
        raise QueryFailure.query(err.code, err.message) from None
    _check_fields(q)
    today = company.today
    dates, constrained = _date_range(q, today)
    selected = set(q.fields)
    date_selected = any(f in _DATE_SEGMENTS for f in selected)
    if q.resource == "click_view":
        days = dates.days(company.start_day - timedelta(days=400), today + timedelta(days=400))
        if not constrained or not dates.finite or len(days) != 1:
            raise QueryFailure(
                400,
                "INVALID_ARGUMENT",
                {"clickViewError": "EXPECTED_FILTER_ON_A_SINGLE_DAY"},
                "Queries including ClickView must have a filter limiting the results to one day.",
            )
        day = days[0]
        if day < today - timedelta(days=CLICK_VIEW_MAX_AGE_DAYS):
            raise QueryFailure(
                400,
                "INVALID_ARGUMENT",
                {"clickViewError": "DATE_TOO_OLD"},
                "The date specified for ClickView is too old.",
            )
        ctxs = []
        for click in company.clicks_on(day):
            campaign = company.campaign(click.campaign_id)
            group = company.ad_group(click.ad_group_id) if click.ad_group_id else None
            ctxs.append(
                _Ctx(
                    campaign=campaign,
                    group=group,
                    click=click,
                    day=day,
                    network=campaign.network_type if campaign else None,
                    metrics={"clicks": 1},
                )
            )
    else:
        if date_selected and not dates.finite:
            raise QueryFailure.query(
                "EXPECTED_FILTERS_ON_DATE_RANGE",
                "Filters on date range are required for the query since it selects a date segment "
                "(for example: WHERE segments.date DURING LAST_30_DAYS).",
            )
        uses_metrics = any(f.startswith("metrics.") for f in selected) or any(
            c.field.startswith("metrics.") for c in q.conditions
        )
        uses_segments = any(f.startswith("segments.") for f in selected)
        if uses_metrics or uses_segments:
            ctxs = _metric_rows(company, q, dates, memo)
        else:
            ctxs = _entity_rows(company, q.resource)
    # Remaining conditions (date conditions were applied to the facts above).
    conds = [c for c in q.conditions if c.field != "segments.date"]
    if conds:
        ctxs = [
            ctx
            for ctx in ctxs
            if all(_matches(c, FIELDS[c.field], FIELDS[c.field].get(ctx)) for c in conds)
        ]
    ctxs.sort(key=_default_key)
    for order in reversed(q.order_by):
        getter = FIELDS[order.field].get
        ctxs.sort(
            key=lambda ctx, g=getter: (g(ctx) is not None, g(ctx) if g(ctx) is not None else 0),
            reverse=order.descending,
        )
    if q.limit is not None:
        ctxs = ctxs[: q.limit]
    return q, ctxs


_PLANS: dict[tuple, tuple] = {}


def _plan(q: Query) -> tuple[tuple, tuple]:
    """How :func:`_render` builds a row of ``q`` (the resource names it carries, then each
    field's getter, type and JSON path), worked out once per resource and field list rather
    than once per row."""
    key = (q.resource, tuple(q.fields))
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    resources = {q.resource} | {f.split(".", 1)[0] for f in q.fields}
    heads = tuple(
        (_camel(res), FIELDS[f"{res}.resource_name"].get)
        for res in ("customer", "campaign", "ad_group", "click_view")
        if res in resources
    )
    fields = []
    for name in q.fields:
        f = FIELDS[name]
        res, _, rest = name.partition(".")
        path = [_camel(p) for p in rest.split(".")]
        fields.append((f.get, f.type, _camel(res), tuple(path[:-1]), path[-1]))
    if len(_PLANS) > 512:  # queries are few; a client inventing field lists is not kept
        _PLANS.clear()
    return _PLANS.setdefault(key, (heads, tuple(fields)))


def _render(q: Query, ctx: _Ctx) -> dict[str, Any]:
    heads, fields = _plan(q)
    parts: dict[str, dict[str, Any]] = {}
    for camel, get in heads:
        rn = get(ctx)
        if rn is not None:
            parts.setdefault(camel, {})["resourceName"] = rn
    for get, kind, camel, inner, last in fields:
        value = get(ctx)
        if value is None:
            continue
        if kind == "int64":
            value = str(value)
        elif kind == "double":
            value = float(value)
        target = parts.setdefault(camel, {})
        for p in inner:
            target = target.setdefault(p, {})
        target[last] = value
    return {k: parts[k] for k in _TOP_ORDER if k in parts}


# --------------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------------


class GoogleAdsAPI:
    """Request handler for the Google Ads REST API and Google's OAuth token endpoint."""

    def __init__(self, company: Company, tokens: TokenStore) -> None:
        self.company = company
        self.tokens = tokens
        self.credentials = SIM_CREDENTIALS["google_ads"]
        self.versions = served(company)
        self._asked = threading.local()  # the version of the request this thread is answering
        self._memo: dict = {}  # indexes of the company's facts (it never changes; a race
        # builds an index twice, alike)
        self._lock = threading.Lock()
        self._selected: OrderedDict[str, tuple[Query, list[_Ctx]]] = OrderedDict()

    # ---------------------------------------------------------------- errors

    @property
    def version(self) -> str:
        """The version of the request being answered (the newest served outside one)."""
        return getattr(self._asked, "version", None) or self.versions[-1]

    def _request_id(self, *parts: str) -> str:
        digest = hashlib.sha256("|".join((str(self.company.seed), *parts)).encode()).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")

    def error(
        self,
        http: int,
        status: str,
        message: str,
        code: dict[str, str] | None = None,
        error_message: str | None = None,
        extra_details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A Google API error body, with a ``GoogleAdsFailure`` detail when ``code`` is given."""
        details: list[dict[str, Any]] = []
        if code is not None:
            details.append(
                {
                    "@type": failure_type(self.version),
                    "errors": [{"errorCode": code, "message": error_message or message}],
                    "requestId": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
                }
            )
        details.extend(extra_details or [])
        body: dict[str, Any] = {"error": {"code": http, "message": message, "status": status}}
        if details:
            body["error"]["details"] = details
        return json_response(http, body, headers=headers)

    def throttled(self, retry_after: int | None) -> Response:
        """429 RESOURCE_EXHAUSTED; with a RetryInfo delay (and header) when ``retry_after``."""
        extra: list[dict[str, Any]] = []
        headers: dict[str, str] = {}
        message = "Too many requests. Retry later."
        if retry_after is not None:
            extra.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                }
            )
            headers["Retry-After"] = str(retry_after)
            message = f"Too many requests. Retry in {retry_after} seconds."
        return self.error(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
            message,
            extra,
            headers,
        )

    def rate_limited(self) -> Response:
        """The throttling answer with the usual short RetryInfo delay."""
        return self.throttled(1)

    def server_error(self) -> Response:
        """A transient 500 INTERNAL."""
        return self.error(
            500, "INTERNAL", "Internal error encountered.", {"internalError": "INTERNAL_ERROR"}
        )

    def is_oauth(self, req: Request) -> bool:
        """Google's OAuth token endpoint: ``/token`` (also ``/oauth2/v4/token``)."""
        return req.path.rstrip("/") in ("/token", "/oauth2/v4/token", "/o/oauth2/token")

    # ---------------------------------------------------------------- oauth

    def token(self, req: Request) -> Response:
        """``POST /token``: the refresh-token grant of Google's OAuth 2.0 endpoint."""
        form = granted_form(req, self.credentials, _GRANT_RULES)
        if isinstance(form, Response):
            return form
        return bearer_grant(
            self.tokens, "google_ads", "ya29.sim-", scope=OAUTH_SCOPE, token_type="Bearer"
        )

    # ---------------------------------------------------------------- api

    def check_auth(self, req: Request, customer_id: str | None) -> Response | None:
        """None when the request is authenticated and may read ``customer_id``."""
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return self.error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                extra_details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "CREDENTIALS_MISSING",
                        "domain": "googleapis.com",
                    }
                ],
            )
        state = self.tokens.check("google_ads", auth[7:].strip())
        if state != "valid":
            return self.error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login "
                "cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                extra_details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "ACCESS_TOKEN_EXPIRED"
                        if state == "expired"
                        else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                        "domain": "googleapis.com",
                    }
                ],
            )
        if req.headers.get("developer-token") != self.credentials["developer_token"]:
            return self.error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential.",
                {"authenticationError": "DEVELOPER_TOKEN_INVALID"},
                "The developer token is not valid.",
            )
        login = req.headers.get("login-customer-id", "").replace("-", "").strip()
        if customer_id is not None and (
            customer_id != CUSTOMER_ID or (login and login != CUSTOMER_ID)
        ):
            return self.error(
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
                {"authorizationError": "USER_PERMISSION_DENIED"},
                "User doesn't have permission to access customer. Note: If you're accessing a "
                "client "
                "customer, the manager's customer id must be set in the 'login-customer-id' "
                "header. See "
                "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
            )
        return None

    def handle(self, req: Request) -> Response:
        """Serve one request: ``/v{N}/...`` (any served version) or the OAuth endpoint."""
        if self.is_oauth(req):
            return self.token(req)
        m = re.fullmatch(r"/(v\d+)(/.*)", req.path)
        if m is None:
            return self.error(404, "NOT_FOUND", f"Method not found: {req.method} {req.path}")
        version = normalise("google_ads", m.group(1))
        self._asked.version = version
        try:
            return self._versioned(req, version, m.group(2))
        finally:
            self._asked.version = None

    def _select(self, query: str, paged: bool, later: bool) -> tuple[Query, list[_Ctx]]:
        """A query's rows (:func:`select_rows`), kept per query text for its later pages (at
        most :data:`SELECT_CACHE_SIZE`, least recently used dropped first): a later ``search``
        page (``later``: it has a page token) is a slice, rendered alone; a first page or a
        stream runs the query afresh (a stream's rows are not kept: ``paged`` is False)."""
        if later:
            with self._lock:
                found = self._selected.get(query)
                if found is not None:
                    self._selected.move_to_end(query)
                    return found
        found = select_rows(self.company, query, self._memo)
        if paged:
            with self._lock:
                keep_newest(self._selected, query, found, SELECT_CACHE_SIZE)
        return found

    def _versioned(self, req: Request, version: str, path: str) -> Response:
        """A request to ``/{version}{path}``: refused as Google does when the version is
        retired or unknown on ``as_of``, else answered."""
        if version not in self.versions:
            dated = vendor("google_ads")
            if dated.retired(version, self.company.as_of.date()):
                return self.error(
                    400,
                    "INVALID_ARGUMENT",
                    "Request contains an invalid argument.",
                    {"requestError": "UNSUPPORTED_VERSION"},
                    f"Version {version} is deprecated. Requests to this version will be blocked.",
                )
            return self.error(
                404,
                "NOT_FOUND",
                f"Method not found: {req.method} {req.path}. Versions served: "
                + ", ".join(self.versions),
            )
        if path == "/customers:listAccessibleCustomers":
            denied = self.check_auth(req, None)
            if denied:
                return denied
            if req.method != "GET":
                return self.error(404, "NOT_FOUND", "Method not found.")
            return json_response(200, {"resourceNames": [f"customers/{CUSTOMER_ID}"]})
        m = re.fullmatch(r"/customers/([^/]+)/googleAds:(searchStream|search)", path)
        if m is None or req.method != "POST":
            return self.error(404, "NOT_FOUND", f"Method not found: {req.method} {path}")
        customer_id, method = m.group(1), m.group(2)
        if not re.fullmatch(r"\d{10}", customer_id):
            return self.error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                {"requestError": "INVALID_CUSTOMER_ID"},
                f"Invalid customer ID '{customer_id}'.",
            )
        denied = self.check_auth(req, customer_id)
        if denied:
            return denied
        try:
            body = req.json() or {}
        except ValueError:
            return self.error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str):
            return self.error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                {"requestError": "REQUIRED_FIELD_MISSING"},
                "Required field was not specified: query.",
            )
        try:
            q, rows = self._select(query, method == "search", bool(body.get("pageToken")))
        except QueryFailure as fail:
            return self.error(
                fail.http,
                fail.status,
                fail.top_message or "Request contains an invalid argument.",
                fail.code,
                fail.message,
            )
        mask = ",".join(_mask_name(f) for f in q.fields)
        request_id = self._request_id(customer_id, method, query, str(body.get("pageToken", "")))
        if method == "searchStream":
            batches: list[dict[str, Any]] = []
            rendered = [_render(q, ctx) for ctx in rows]
            for start in range(0, len(rows), BATCH_ROWS):
                batches.append(
                    {
                        "results": rendered[start : start + BATCH_ROWS],
                        "fieldMask": mask,
                        "requestId": request_id,
                    }
                )
            if not batches:
                batches.append({"fieldMask": mask, "requestId": request_id})
            batches[-1]["queryResourceConsumption"] = str(100 + len(rows) // 10)
            return json_response(200, batches)
        token = str(body.get("pageToken") or "")
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return self.error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                {"requestError": "INVALID_PAGE_TOKEN"},
                "Page token is invalid.",
            )
        page = [_render(q, ctx) for ctx in rows[offset : offset + BATCH_ROWS]]  # this page only
        answer: dict[str, Any] = {}
        if page:
            answer["results"] = page
        answer["fieldMask"] = mask
        answer["requestId"] = request_id
        if offset + BATCH_ROWS < len(rows):
            answer["nextPageToken"] = base64.urlsafe_b64encode(
                str(offset + BATCH_ROWS).encode()
            ).decode()
        if body.get("returnTotalResultsCount"):
            answer["totalResultsCount"] = str(len(rows))
        answer["queryResourceConsumption"] = str(100 + len(page) // 10)
        return json_response(200, answer)
