"""LinkedIn Marketing API (versioned ``/rest``) over the synthetic company's LinkedIn ad account.

Every ``/rest`` call needs ``LinkedIn-Version: YYYYMM`` and a bearer token;
``X-Restli-Protocol-Version: 2.0.0`` is what the query syntax below assumes.

* **Versions.** The versions served are LinkedIn's own dated list in
  :mod:`revops.sources.versions` (``vendor("linkedin_ads").supported(<the company's as_of
  day>)``). Without the header: 400 ``VERSION_MISSING``. Any other version - sunset, not yet
  released or never released - is answered as LinkedIn answers a version it does not serve:
  ``426 {"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 20240901 is not
  active"}`` (LinkedIn spells the version out as ``YYYYMMDD`` in the message).

Endpoints (relative to the LinkedIn base URL, which stands for ``https://api.linkedin.com``):

* ``GET /rest/adAccounts?q=search`` and ``GET /rest/adAccounts/{id}``.
* ``GET /rest/adAccounts/{id}/adCampaignGroups?q=search`` and ``.../adCampaigns?q=search``
  (``search=(status:(values:List(ACTIVE,PAUSED,...)))``), their ``/{id}`` reads, and the
  older top-level ``/rest/adCampaignGroups`` / ``/rest/adCampaigns`` with
  ``search=(account:(values:List(urn:li:sponsoredAccount:{id})))``. Searches page with
  ``pageSize`` (default 100, at most 1,000) and ``pageToken`` (``metadata.nextPageToken``,
  absent on the last page); ``start``/``count`` paging is answered too.
* ``GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:(
  year:2026,month:10,day:1),end:(year:2026,month:10,day:31))&campaigns=List(urn:li:
  sponsoredCampaign:{id})&fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency``
  (also ``accounts=`` / ``campaignGroups=`` facets, ``pivot=CAMPAIGN_GROUP|ACCOUNT``,
  ``timeGranularity=ALL|MONTHLY``, ``pivot=(value:CAMPAIGN)`` spellings and ``q=statistics``
  with one pivot). No paging, as LinkedIn; days are UTC; one element per campaign and day with
  activity. ``fields`` chooses what comes back (without it: ``impressions`` and ``clicks``, plus
  ``dateRange`` and ``pivotValues``); at most 20 metrics. Costs are strings
  (``costInLocalCurrency``, ``costInUsd``; the account is in USD); recent days restate.
* **The element cap.** LinkedIn documents at most 15,000 elements in one adAnalytics response
  and no paging (Ads Reporting, *Restrictions*). What happens above it is not documented as an
  error; integrators report a 200 with the excess silently dropped, the earliest days missing
  (OWOX/owox-data-marts#1569). The simulator does that: above :attr:`LinkedInAdsAPI.max_elements`
  (default :data:`MAX_ELEMENTS`; tests lower it to make the account exceed it in one call) it
  answers 200 with the newest ``max_elements`` elements and nothing saying so.
* **Query tunneling.** A query string over 4 KB is refused with 414, as LinkedIn documents; the
  same request sent as ``POST`` with ``X-HTTP-Method-Override: GET`` and the query string as an
  ``application/x-www-form-urlencoded`` body is answered as the ``GET``.
* ``POST /oauth/v2/accessToken`` - the refresh-token grant (tokens live 60 days unless the
  server is told otherwise). The static ``REVOPS_LINKEDIN_ADS_TOKEN`` never expires.

Errors are ``{"status", "serviceErrorCode", "code", "message"}``: 401 ``EXPIRED_ACCESS_TOKEN``
(65601) / ``INVALID_ACCESS_TOKEN`` (65600), 429 ``TOO_MANY_REQUESTS``, 400 ``ILLEGAL_ARGUMENT``,
404 ``RESOURCE_NOT_FOUND``, 426 ``NONEXISTENT_VERSION``, 414 ``REQUEST_URI_TOO_LONG``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from revops.simulator.company import Company
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.oauth import GrantRules, TokenStore, bearer_grant, granted_form
from revops.simulator.social import (
    LINKEDIN_ACCOUNT_ID,
    LINKEDIN_ACCOUNT_NAME,
    LINKEDIN_CURRENCY,
    LINKEDIN_ORG,
    LinkedInCampaign,
    LinkedInGroup,
    SocialDaily,
    Totals,
    in_window,
    report_span,
)
from revops.simulator.wire import Request, Response, json_response, position_of, position_token
from revops.sources.versions import vendor

__all__ = ["LinkedInAdsAPI", "MAX_ELEMENTS", "METRICS", "parse_restli", "version_error"]

ACCOUNT_URN = f"urn:li:sponsoredAccount:{LINKEDIN_ACCOUNT_ID}"
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_METRICS = 20
MAX_ELEMENTS = 15_000
"""LinkedIn's documented ceiling on the elements of one adAnalytics response (no paging)."""
MAX_QUERY_STRING = 4096
_BAD_CLIENT = (401, "Client authentication failed")
_GRANT_RULES = GrantRules(  # RFC 6749's error codes, but a bad refresh token is invalid_request
    method=(405, "Use POST"),
    body=(400, "Invalid request body"),
    grant=(400, 'A required parameter "grant_type" is missing or not supported'),
    client_id=_BAD_CLIENT,
    client_secret=_BAD_CLIENT,
    refresh_token=(
        400,
        "The provided authorization grant or refresh token is invalid, expired or revoked",
        "invalid_request",
    ),
)
"""LinkedIn's documented ceiling on a query string (4 KB; longer: 414, use query tunneling)."""
METRICS = (
    "impressions",
    "clicks",
    "landingPageClicks",
    "costInLocalCurrency",
    "costInUsd",
    "externalWebsiteConversions",
    "oneClickLeads",
    "approximateUniqueImpressions",
    "totalEngagements",
    "likes",
    "shares",
    "comments",
    "follows",
    "videoViews",
    "conversionValueInLocalCurrency",
)
STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "COMPLETED", "CANCELED", "DRAFT", "PENDING_DELETION")


class _LiError(Exception):
    def __init__(self, status: int, code: str, message: str, service: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.service = status, code, message, service


def _error(
    status: int, code: str, message: str, service: int = 0, headers: dict[str, str] | None = None
) -> Response:
    return json_response(
        status,
        {"status": status, "serviceErrorCode": service, "code": code, "message": message},
        headers=headers,
    )


def version_error(version: str) -> Response:
    """LinkedIn's answer to a ``LinkedIn-Version`` it does not serve (sunset or unknown): 426
    ``NONEXISTENT_VERSION``, the version spelled ``YYYYMMDD`` as LinkedIn's message has it."""
    shown = f"{version}01" if re.fullmatch(r"\d{6}", version) else version
    return _error(426, "NONEXISTENT_VERSION", f"Requested version {shown} is not active")


def _restli_encoded(value: str) -> str:
    """A query value as a Rest.li 2.0 client sends it: structure (``(),:``) as is, the URNs
    inside encoded whole (``urn%3Ali%3A...``)."""
    text = quote(value, safe="(),:*")
    return re.sub(r"urn:[^,()]*", lambda m: quote(m.group(0), safe=""), text)


def _query_length(req: Request) -> int:
    """The length of the request's query string as the client sent it."""
    return sum(
        len(name) + 1 + len(_restli_encoded(value)) + 1
        for name, values in req.query.items()
        for value in values
    )


def parse_restli(text: str) -> Any:
    """A Rest.li 2.0 value: ``(k:v,...)`` -> dict, ``List(a,b)`` -> list, else a string."""
    pos = 0

    def members(opener: str, kind: str, read: Callable[[], None]) -> None:
        """Read comma-separated members up to the closing ``)`` (``opener`` is consumed)."""
        nonlocal pos
        pos += len(opener)
        if text.startswith(")", pos):
            pos += 1
            return
        while True:
            read()
            if pos >= len(text):
                raise ValueError(f"unterminated {opener}")
            if text[pos] == ",":
                pos += 1
                continue
            if text[pos] == ")":
                pos += 1
                return
            raise ValueError(f"unexpected {text[pos]!r} in {kind}")

    def entry(obj: dict[str, Any]) -> None:
        nonlocal pos
        colon = text.index(":", pos)
        key = text[pos:colon]
        pos = colon + 1
        obj[key] = value()

    def value() -> Any:
        nonlocal pos
        if text.startswith("List(", pos):
            items: list[Any] = []
            members("List(", "List", lambda: items.append(value()))
            return items
        if text.startswith("(", pos):
            obj: dict[str, Any] = {}
            members("(", "object", lambda: entry(obj))
            return obj
        start = pos
        depth = 0
        while pos < len(text) and (depth > 0 or text[pos] not in ",)"):
            if text[pos] == "(":
                depth += 1
            elif text[pos] == ")":
                depth -= 1
            pos += 1
        return text[start:pos]

    result = value()
    if pos != len(text):
        raise ValueError(f"trailing text after position {pos}")
    return result


def _ymd(d: date) -> dict[str, int]:
    return {"year": d.year, "month": d.month, "day": d.day}


def _money(micros: int) -> str:
    text = f"{micros / 1_000_000:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class LinkedInAdsAPI:
    """Request handler for the LinkedIn Marketing API and LinkedIn's OAuth token endpoint."""

    max_elements: int = MAX_ELEMENTS
    """The adAnalytics element cap this simulator applies (a class attribute, so a test that
    lowers it keeps it across :meth:`revops.simulator.server.Simulator.set_company`)."""

    def __init__(self, company: Company, tokens: TokenStore) -> None:
        self.company = company
        self.tokens = tokens
        self.social = company.social
        self.credentials = SIM_CREDENTIALS["linkedin_ads"]
        self._served: set[str] | None = None

    def served_versions(self) -> set[str]:
        """The ``LinkedIn-Version`` values LinkedIn serves on the company's ``as_of`` day."""
        if self._served is None:
            day = self.company.as_of.astimezone(UTC).date()
            self._served = {v.name for v in vendor("linkedin_ads").supported(day)}
        return self._served

    # ---------------------------------------------------------------- errors

    def throttled(self, retry_after: int | None) -> Response:
        """429 ``TOO_MANY_REQUESTS`` (``Retry-After`` when asked)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return _error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            101,
            headers,
        )

    def server_error(self) -> Response:
        """A transient 500."""
        return _error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")

    def is_oauth(self, req: Request) -> bool:
        """``POST /oauth/v2/accessToken``."""
        return req.path.rstrip("/") == "/oauth/v2/accessToken"

    def token(self, req: Request) -> Response:
        """LinkedIn's OAuth 2.0 token endpoint: the ``refresh_token`` grant."""
        creds = self.credentials
        form = granted_form(req, creds, _GRANT_RULES)
        if isinstance(form, Response):
            return form
        return bearer_grant(
            self.tokens,
            "linkedin_ads",
            "AQVsim",
            refresh_token=creds["refresh_token"],
            refresh_token_expires_in=31_535_999,
            scope="r_ads,r_ads_reporting",
        )

    # ---------------------------------------------------------------- routing

    def handle(self, req: Request) -> Response:
        """Serve one request (paths relative to the LinkedIn base URL)."""
        if self.is_oauth(req):
            return self.token(req)
        path = req.path.rstrip("/")
        if not path.startswith("/rest/"):
            return _error(404, "RESOURCE_NOT_FOUND", f"No virtual resource found for {path}")
        version = req.headers.get("linkedin-version", "").strip()
        if not version:
            return _error(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if version not in self.served_versions():
            return version_error(version)
        auth = req.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        state = self.tokens.check("linkedin_ads", token)
        if state == "expired":
            return _error(
                401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65601
            )
        if state != "valid":
            return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        if req.method == "POST" and req.headers.get("x-http-method-override", "").upper() == "GET":
            req = self._tunneled(req)  # query tunneling: the query string came as the body
        elif _query_length(req) > MAX_QUERY_STRING:
            return _error(
                414,
                "REQUEST_URI_TOO_LONG",
                f"The query string exceeds {MAX_QUERY_STRING} bytes; use query tunneling",
            )
        if req.method != "GET":
            return _error(405, "METHOD_NOT_ALLOWED", "The simulator serves GET requests only")
        try:
            return self._route(req, path[len("/rest") :])
        except _LiError as err:
            return _error(err.status, err.code, err.message, err.service)
        except ValueError as err:
            return _error(400, "ILLEGAL_ARGUMENT", f"Invalid query parameter: {err}")

    @staticmethod
    def _tunneled(req: Request) -> Request:
        """A query-tunneled ``POST`` (``X-HTTP-Method-Override: GET``) as the ``GET`` it carries."""
        query = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        merged = {**req.query, **query}
        return Request(
            method="GET",
            path=req.path,
            query=merged,
            headers=req.headers,
            body=b"",
            base_url=req.base_url,
        )

    def _route(self, req: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        if parts[0] == "adAccounts":
            if len(parts) == 1:
                self._finder(req, "search")
                return self._search(req, [self._account()], self._account_filter(req))
            self._check_account(parts[1])
            if len(parts) == 2:
                return json_response(200, self._account())
            kind = parts[2]
            if kind not in ("adCampaignGroups", "adCampaigns"):
                raise _LiError(404, "RESOURCE_NOT_FOUND", f"No virtual resource found: {kind}")
            items = self._groups() if kind == "adCampaignGroups" else self._campaigns()
            if len(parts) == 4:
                return json_response(200, self._one(items, parts[3]))
            self._finder(req, "search")
            return self._search(req, items, self._status_filter(req))
        if parts[0] in ("adCampaignGroups", "adCampaigns"):
            items = self._groups() if parts[0] == "adCampaignGroups" else self._campaigns()
            if len(parts) == 2:
                return json_response(200, self._one(items, parts[1]))
            self._finder(req, "search")
            search = self._search_arg(req)
            accounts = ((search.get("account") or {}).get("values")) if search else None
            if accounts is not None and ACCOUNT_URN not in accounts:
                items = []
            return self._search(req, items, self._status_filter(req))
        if parts[0] == "adAnalytics" and len(parts) == 1:
            return self.analytics(req)
        raise _LiError(404, "RESOURCE_NOT_FOUND", f"No virtual resource found for /rest{path}")

    @staticmethod
    def _finder(req: Request, name: str) -> None:
        if req.arg("q") != name:
            raise _LiError(400, "ILLEGAL_ARGUMENT", f"Finder q={name} is required")

    def _check_account(self, raw: str) -> None:
        ident = raw.rsplit(":", 1)[-1]
        if ident != LINKEDIN_ACCOUNT_ID:
            raise _LiError(
                403, "ACCESS_DENIED", f"Not enough permissions to access: adAccounts.{raw}", 100
            )

    @staticmethod
    def _search_arg(req: Request) -> dict[str, Any] | None:
        raw = req.arg("search")
        if not raw:
            return None
        parsed = parse_restli(raw)
        if not isinstance(parsed, dict):
            raise ValueError("search must be a Rest.li object")
        return parsed

    def _status_filter(self, req: Request) -> set[str] | None:
        search = self._search_arg(req)
        if not search or "status" not in search:
            return None
        values = (search.get("status") or {}).get("values")
        return set(values) if isinstance(values, list) else None

    def _account_filter(self, req: Request) -> set[str] | None:
        return self._status_filter(req)

    # ---------------------------------------------------------------- objects

    def _stamps(self, created: int, modified: int) -> dict[str, Any]:
        return {"created": {"time": created}, "lastModified": {"time": modified}}

    def _account(self) -> dict[str, Any]:
        return {
            "test": False,
            "notifiedOnCreativeRejection": True,
            "notifiedOnNewFeaturesEnabled": False,
            "notifiedOnEndOfCampaign": True,
            "servingStatuses": ["RUNNABLE"],
            "notifiedOnCampaignOptimization": True,
            "type": "BUSINESS",
            "version": {"versionTag": "6"},
            "reference": LINKEDIN_ORG,
            "notifiedOnCreativeApproval": False,
            "changeAuditStamps": self._stamps(1_612_800_000_000, 1_706_000_000_000),
            "name": LINKEDIN_ACCOUNT_NAME,
            "currency": LINKEDIN_CURRENCY,
            "id": int(LINKEDIN_ACCOUNT_ID),
            "status": "ACTIVE",
        }

    def _group(self, g: LinkedInGroup) -> dict[str, Any]:
        return {
            "runSchedule": {"start": g.created_ms + 3_600_000},
            "test": False,
            "changeAuditStamps": self._stamps(g.created_ms, g.created_ms + 7_200_000),
            "name": g.name,
            "servingStatuses": ["RUNNABLE"],
            "backfilled": False,
            "id": int(g.id),
            "account": ACCOUNT_URN,
            "status": "ACTIVE",
        }

    def _campaign(self, c: LinkedInCampaign) -> dict[str, Any]:
        return {
            "storyDeliveryEnabled": False,
            "targetingCriteria": {
                "include": {
                    "and": [
                        {"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:103644278"]}},
                        {
                            "or": {
                                "urn:li:adTargetingFacet:interfaceLocales": ["urn:li:locale:en_US"]
                            }
                        },
                    ]
                }
            },
            "pacingStrategy": "LIFETIME",
            "locale": {"country": "US", "language": "en"},
            "type": c.format,
            "optimizationTargetType": "NONE",
            "runSchedule": {"start": c.created_ms + 3_600_000},
            "changeAuditStamps": self._stamps(c.created_ms, c.created_ms + 5_400_000),
            "costType": c.cost_type,
            "creativeSelection": "OPTIMIZED",
            "offsiteDeliveryEnabled": False,
            "id": int(c.id),
            "audienceExpansionEnabled": False,
            "test": False,
            "format": "STANDARD_UPDATE" if c.format == "SPONSORED_UPDATES" else "SPONSORED_INMAIL",
            "servingStatuses": ["RUNNABLE"],
            "version": {"versionTag": "4"},
            "objectiveType": c.objective,
            "associatedEntity": LINKEDIN_ORG,
            "campaignGroup": f"urn:li:sponsoredCampaignGroup:{c.group_id}",
            "dailyBudget": {"currencyCode": LINKEDIN_CURRENCY, "amount": str(c.daily_budget)},
            "unitCost": {"currencyCode": LINKEDIN_CURRENCY, "amount": f"{c.unit_cost:.2f}"},
            "name": c.name,
            "account": ACCOUNT_URN,
            "status": "ACTIVE",
        }

    def _groups(self) -> list[dict[str, Any]]:
        as_of = self.company.as_of_ms
        return [self._group(g) for g in self.social.linkedin_groups if g.created_ms < as_of]

    def _campaigns(self) -> list[dict[str, Any]]:
        as_of = self.company.as_of_ms
        return [self._campaign(c) for c in self.social.linkedin_campaigns if c.created_ms < as_of]

    @staticmethod
    def _one(items: list[dict[str, Any]], raw: str) -> dict[str, Any]:
        ident = raw.rsplit(":", 1)[-1]
        for item in items:
            if str(item["id"]) == ident:
                return item
        raise _LiError(404, "RESOURCE_NOT_FOUND", f"Entity {raw} not found", 0)

    def _search(
        self, req: Request, items: list[dict[str, Any]], statuses: set[str] | None
    ) -> Response:
        if statuses is not None:
            unknown = statuses - set(STATUSES) - {"REMOVED"}
            if unknown:
                raise _LiError(400, "ILLEGAL_ARGUMENT", f"Invalid status values: {sorted(unknown)}")
            items = [i for i in items if i["status"] in statuses]
        items = sorted(items, key=lambda i: i["id"])
        if req.arg("start") is not None or req.arg("count") is not None:
            start = int(req.arg("start") or 0)
            count = min(int(req.arg("count") or 10), MAX_PAGE)
            page = items[start : start + count]
            return json_response(
                200,
                {
                    "paging": {"start": start, "count": count, "links": [], "total": len(items)},
                    "elements": page,
                },
            )
        size = min(int(req.arg("pageSize") or DEFAULT_PAGE), MAX_PAGE)
        start = 0
        token = req.arg("pageToken")
        if token:
            try:
                start = position_of(token, urlsafe=True)
            except ValueError:
                raise _LiError(400, "ILLEGAL_ARGUMENT", "Invalid pageToken") from None
        page = items[start : start + size]
        answer: dict[str, Any] = {"elements": page, "metadata": {}}
        if start + size < len(items):
            answer["metadata"] = {"nextPageToken": position_token(start + size, urlsafe=True)}
        return json_response(200, answer)

    # ---------------------------------------------------------------- analytics

    def _urns(self, req: Request, name: str, prefix: str) -> set[str] | None:
        raw = req.arg(name)
        if raw is None:
            return None
        parsed = parse_restli(raw) if raw.startswith("List(") else raw.split(",")
        if not isinstance(parsed, list):
            raise ValueError(f"{name} must be a List(...)")
        ids = set()
        for urn in parsed:
            if not str(urn).startswith(prefix):
                raise _LiError(400, "ILLEGAL_ARGUMENT", f"Invalid URN in {name}: {urn}")
            ids.add(str(urn).rsplit(":", 1)[-1])
        return ids

    @staticmethod
    def _enum(req: Request, name: str, default: str | None) -> str | None:
        raw = req.arg(name)
        if raw is None:
            return default
        if raw.startswith("List("):
            values = parse_restli(raw)
            if len(values) != 1:
                raise _LiError(400, "ILLEGAL_ARGUMENT", "The simulator answers one pivot")
            return str(values[0])
        if raw.startswith("("):
            parsed = parse_restli(raw)
            return str(parsed.get("value")) if isinstance(parsed, dict) else None
        return raw

    def analytics(self, req: Request) -> Response:
        """``GET /rest/adAnalytics``: the Analytics (and single-pivot Statistics) finder."""
        finder = req.arg("q")
        if finder not in ("analytics", "statistics"):
            raise _LiError(400, "ILLEGAL_ARGUMENT", "q must be analytics or statistics")
        pivot = self._enum(req, "pivot" if finder == "analytics" else "pivots", None)
        if pivot not in ("CAMPAIGN", "CAMPAIGN_GROUP", "ACCOUNT"):
            raise _LiError(
                400,
                "ILLEGAL_ARGUMENT",
                f"The simulator answers pivot CAMPAIGN, CAMPAIGN_GROUP or ACCOUNT, not {pivot}",
            )
        granularity = self._enum(req, "timeGranularity", None)
        if granularity not in ("DAILY", "MONTHLY", "ALL"):
            raise _LiError(400, "ILLEGAL_ARGUMENT", "timeGranularity must be DAILY, MONTHLY or ALL")
        raw_range = req.arg("dateRange")
        if not raw_range:
            raise _LiError(400, "ILLEGAL_ARGUMENT", "dateRange is required")
        rng = parse_restli(raw_range)
        try:
            s = rng["start"]
            first = date(int(s["year"]), int(s["month"]), int(s["day"]))
            e = rng.get("end")
            today = datetime.fromtimestamp(self.company.as_of_ms / 1000, tz=UTC).date()
            last = date(int(e["year"]), int(e["month"]), int(e["day"])) if e else today
        except (KeyError, TypeError, ValueError):
            raise _LiError(400, "ILLEGAL_ARGUMENT", "Invalid dateRange") from None
        if last < first:
            raise _LiError(400, "ILLEGAL_ARGUMENT", "dateRange end is before start")
        campaigns = self._urns(req, "campaigns", "urn:li:sponsoredCampaign:")
        groups = self._urns(req, "campaignGroups", "urn:li:sponsoredCampaignGroup:")
        accounts = self._urns(req, "accounts", "urn:li:sponsoredAccount:")
        if campaigns is None and groups is None and accounts is None:
            raise _LiError(
                400,
                "ILLEGAL_ARGUMENT",
                "At least one of the following facets must be specified: accounts, "
                "campaignGroups, campaigns, creatives, shares, companies",
            )
        fields_raw = req.arg("fields")
        if fields_raw:
            fields = [f.strip() for f in fields_raw.split(",") if f.strip()]
        else:
            fields = ["dateRange", "pivotValues", "impressions", "clicks"]
        metrics = [f for f in fields if f not in ("dateRange", "pivotValues")]
        unknown = [f for f in metrics if f not in METRICS]
        if unknown:
            raise _LiError(400, "ILLEGAL_ARGUMENT", f"Invalid fields requested: {unknown}")
        if len(metrics) > MAX_METRICS:
            raise _LiError(
                400,
                "ILLEGAL_ARGUMENT",
                f"At most {MAX_METRICS} metrics can be requested, got {len(metrics)}",
            )
        buckets: dict[tuple[str, date, date], list[SocialDaily]] = defaultdict(list)
        for row in in_window(self.social.linkedin_daily, first, last):
            camp = self.social.linkedin_campaign(row.entity_id)
            assert camp is not None
            if campaigns is not None and camp.id not in campaigns:
                continue
            if groups is not None and camp.group_id not in groups:
                continue
            if accounts is not None and LINKEDIN_ACCOUNT_ID not in accounts:
                continue
            key = {
                "CAMPAIGN": f"urn:li:sponsoredCampaign:{camp.id}",
                "CAMPAIGN_GROUP": f"urn:li:sponsoredCampaignGroup:{camp.group_id}",
                "ACCOUNT": ACCOUNT_URN,
            }[pivot]
            by = {"DAILY": "day", "MONTHLY": "month"}.get(granularity, "all")
            buckets[(key, *report_span(row.day, first, last, by))].append(row)
        elements = []
        for (urn, start, stop), facts in sorted(
            buckets.items(), key=lambda kv: (kv[0][1], kv[0][0])
        ):
            element = self._element(urn, start, stop, facts, fields)
            if element is not None:
                elements.append(element)
        if len(elements) > self.max_elements:
            # LinkedIn's cap: the excess is dropped without a word (the earliest days go)
            elements = elements[len(elements) - self.max_elements :]
        return json_response(
            200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}
        )

    def _element(
        self, urn: str, start: date, stop: date, facts: list[SocialDaily], fields: list[str]
    ) -> dict[str, Any] | None:
        total = Totals.of(facts)
        impressions = total.impressions
        if impressions <= 0:
            return None
        cost, engagements = total.spend_micros, total.clicks
        video = any(
            (c := self.social.linkedin_campaign(f.entity_id)) is not None and c.cpm is not None
            for f in facts
        )
        values: dict[str, Any] = {
            "dateRange": {"start": _ymd(start), "end": _ymd(stop)},
            "pivotValues": [urn],
            "impressions": impressions,
            "clicks": total.link_clicks,
            "landingPageClicks": total.landing_page_views,
            "costInLocalCurrency": _money(cost),
            "costInUsd": _money(cost),
            "externalWebsiteConversions": total.leads,
            "oneClickLeads": 0,
            "approximateUniqueImpressions": total.reach,
            "totalEngagements": engagements,
            "likes": engagements // 9,
            "shares": engagements // 60,
            "comments": engagements // 45,
            "follows": engagements // 80,
            "videoViews": impressions // 4 if video else 0,
            "conversionValueInLocalCurrency": "0",
        }
        return {name: values[name] for name in fields}
