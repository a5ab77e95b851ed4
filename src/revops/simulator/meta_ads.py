"""Meta Marketing API (Graph API) over the synthetic company's Meta ad account.

Endpoints (paths relative to the Meta base URL, which stands for ``https://graph.facebook.com``;
``v{N}.0`` is any version Meta serves on the company's ``as_of`` day, from the dated list in
:mod:`revops.sources.versions`, answered alike; a retired or older version is answered as Meta
does: HTTP 400, ``(#2635) You are calling a deprecated version of the Ads API. Please update to
the latest version: vNN.0.``; a version Meta has not released is an unknown path, HTTP 400 code
2500):

* ``GET /v{N}.0/act_{id}`` - the ad account (``currency`` EUR, ``timezone_name``
  Europe/Berlin, ``timezone_offset_hours_utc`` at ``as_of``...).
* ``GET /v{N}.0/act_{id}/campaigns``, ``/adsets``, ``/ads`` (and ``/{campaign}/adsets``,
  ``/{adset}/ads``) - ``fields`` (without it, only ``id``, as the Graph API), ``limit``
  (default 25, at most 500), ``after`` / ``before`` cursors, ``effective_status`` (a JSON
  list), ``filtering`` (JSON list of ``{field, operator, value}``; ``updated_time`` with
  ``GREATER_THAN``/``LESS_THAN`` (epoch seconds) and ``*.id`` with ``IN``/``EQUAL``).
* ``GET /v{N}.0/{id}`` for a campaign, ad set, ad or report run.
* ``GET /v{N}.0/act_{id}/insights`` - ``level`` (account, campaign, adset, ad),
  ``time_increment`` (``1``, ``all_days``, ``monthly``), ``time_range``
  (``{"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}``) or ``date_preset`` (default
  ``last_30d``), ``fields``, ``limit``, ``after``, ``filtering``. Days are the account's
  (Europe/Berlin); rows without impressions are left out; metrics are strings (``"12.34"``);
  ``actions`` lists ``{"action_type", "value"}`` (``link_click``, ``landing_page_view``,
  ``lead``, ``offsite_conversion.fb_pixel_lead``) and is absent when empty. The last three days
  restate (see :mod:`revops.simulator.social`).
* ``POST /v{N}.0/act_{id}/insights`` starts an async report (an ``AdReportRun``):
  ``{"report_run_id"}``. ``GET /{report_run_id}`` shows its ``async_status`` and
  ``async_percent_completion``: ``Job Not Started``, ``Job Started``, ``Job Running`` for a few
  polls (2-5 by default, fixed per job by the seed: :attr:`MetaAdsAPI.job_polls`), then ``Job
  Completed`` (100), or ``Job Failed`` / ``Job Skipped`` with ``error_code``,
  ``error_message``, ``error_subcode`` (v25.0+: -2 / 2490547 "Report Failed") for a job made to
  fail (:attr:`MetaAdsAPI.fail_jobs`, ``fail_first_jobs``, ``fail_jobs_over_days``). ``GET
  /{report_run_id}/insights`` pages its rows once completed (before: HTTP 400 code 100).
  ``fields`` is read comma-separated or as a JSON array (the facebook-business SDK's form).

Usage headers (Meta's rate-limiting pages): every answer under the ad account carries
``X-Business-Use-Case-Usage`` (``{account_id: [{type, call_count, total_cputime, total_time,
estimated_time_to_regain_access, ads_api_access_tier}]}``, percentages of the business use case's
budget over :attr:`MetaAdsAPI.usage_window` seconds: ``ads_insights`` for insights and report
runs, ``ads_management`` otherwise) and ``X-Ad-Account-Usage`` (``{acc_id_util_pct,
reset_time_duration, ads_api_access_tier}``: a score of 1 per read and 3 per write over
:attr:`MetaAdsAPI.account_window` seconds against :attr:`MetaAdsAPI.account_budget`). Once a
figure reaches 100 the next calls are throttled as Meta does (code 80000 for ads_insights, 80004
for ads_management, 17/2446079 for the ad account score) until enough calls leave the window;
the header then says how many minutes that takes. The budgets default to Meta's standard tier
(ads_insights 190000 + 400 per active ad an hour, ads_management 100000 + 40 per active ad, ad
account score 9000 per 300 s); a test makes them small, and sets :attr:`MetaAdsAPI.clock`.

Paging is ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}``; ``next``
(a full URL, the request's parameters and access token included, as Meta has it) is absent on
the last page. Auth: ``access_token`` parameter or ``Authorization: Bearer``/``OAuth``; the
token is the long-lived system-user token ``REVOPS_META_ADS_TOKEN`` (Meta has no refresh
grant). Errors: ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` -
throttling is code 17 (subcode 2446079), 613, 4 (HTTP 403) or 80004, in rotation, HTTP 400
otherwise; invalid token code 190; bad parameters code 100.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from revops.simulator.company import Company
from revops.simulator.oauth import TokenStore
from revops.simulator.social import (
    META_ACCOUNT_ID,
    META_ACCOUNT_NAME,
    META_CURRENCY,
    META_TIME_ZONE,
    META_TZ,
    MetaAd,
    MetaAdSet,
    MetaCampaign,
    SocialDaily,
    Totals,
    in_window,
    report_span,
)
from revops.simulator.wire import (
    Request,
    Response,
    fmt_graph,
    json_response,
    position_of,
    position_token,
)

__all__ = ["MetaAdsAPI", "served_versions"]

JOB_PENDING = ("Job Not Started", "Job Started", "Job Running")
JOB_FAILURES = ("Job Failed", "Job Skipped")
INSIGHTS_WINDOW = 3600.0  # Meta's business use case limits count calls over one hour
ACCOUNT_WINDOW = 300.0  # the ad account score "will decay in 300 seconds" (standard tier)
ACCOUNT_MAX_SCORE = 9000  # the standard tier's maximum ad account score
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
_ACCOUNT_FIELDS = (
    "id",
    "account_id",
    "name",
    "currency",
    "timezone_name",
    "timezone_offset_hours_utc",
    "account_status",
    "business_name",
    "created_time",
    "amount_spent",
    "spend_cap",
    "disable_reason",
)
_CAMPAIGN_FIELDS = (
    "id",
    "account_id",
    "name",
    "objective",
    "status",
    "configured_status",
    "effective_status",
    "buying_type",
    "bid_strategy",
    "daily_budget",
    "lifetime_budget",
    "special_ad_categories",
    "created_time",
    "updated_time",
    "start_time",
    "stop_time",
)
_ADSET_FIELDS = (
    "id",
    "account_id",
    "campaign_id",
    "name",
    "status",
    "configured_status",
    "effective_status",
    "daily_budget",
    "optimization_goal",
    "billing_event",
    "bid_strategy",
    "targeting",
    "created_time",
    "updated_time",
    "start_time",
    "end_time",
)
_AD_FIELDS = (
    "id",
    "account_id",
    "campaign_id",
    "adset_id",
    "name",
    "status",
    "configured_status",
    "effective_status",
    "creative",
    "tracking_specs",
    "created_time",
    "updated_time",
)
_INSIGHT_FIELDS = (
    "account_id",
    "account_name",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "objective",
    "date_start",
    "date_stop",
    "impressions",
    "reach",
    "frequency",
    "clicks",
    "inline_link_clicks",
    "unique_clicks",
    "spend",
    "cpc",
    "cpm",
    "ctr",
    "actions",
    "cost_per_action_type",
)
_THROTTLES = (
    (400, 17, 2446079, "(#17) User request limit reached"),
    (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    (403, 4, 1504022, "(#4) Application request limit reached"),
    (
        400,
        80004,
        2446079,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
    ),
)


class _GraphError(Exception):
    def __init__(
        self, status: int, code: int, message: str, subcode: int | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.subcode = status, code, message, subcode
        self.kind = kind or ("OAuthException" if code in (100, 190, 104, 4, 17, 613) else "")


def _num(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _money(micros: int) -> str:
    return f"{micros / 1_000_000:.2f}"


def _cursor(n: int) -> str:
    return position_token(n)


def _uncursor(text: str) -> int:
    try:
        return position_of(text)
    except ValueError:
        raise _GraphError(400, 100, "(#100) Invalid cursor", 1357046) from None


class MetaAdsAPI:
    """Request handler for the Graph API endpoints of the Marketing API."""

    job_polls: tuple[int, int] = (2, 5)
    """Status polls a report run takes to complete: from..to, fixed per job by the seed."""
    fail_jobs: float = 0.0
    """The share of report runs that end ``Job Failed``/``Job Skipped`` (by the seed)."""
    fail_first_jobs: int = 0
    """The first N report runs submitted fail."""
    fail_jobs_over_days: int | None = None
    """Report runs spanning more days than this fail (a report too large to finish)."""
    sync_row_limit: int | None = None
    """A synchronous insights query with more rows than this is refused as Meta refuses large
    ones: code 1, "Please reduce the amount of data you're asking for" (None: no limit)."""

    def __init__(self, company: Company, tokens: TokenStore) -> None:
        self.company = company
        self.tokens = tokens
        self.social = company.social
        self._throttle_turn = 0
        self._lock = threading.Lock()
        self._runs: dict[str, _Job] = {}
        self._submitted: dict[str, int] = {}
        active = sum(1 for a in self.social.meta_ads if a.created_ms < company.as_of_ms)
        self.clock: Callable[[], float] = time.monotonic
        """The clock the usage windows run on (a test gives a fake one)."""
        self.usage = {
            "ads_insights": _Usage(INSIGHTS_WINDOW, 190_000 + 400 * active),
            "ads_management": _Usage(INSIGHTS_WINDOW, 100_000 + 40 * active),
        }
        self.account_usage = _Usage(ACCOUNT_WINDOW, ACCOUNT_MAX_SCORE)

    def set_usage_limits(
        self,
        insights: float | None = None,
        management: float | None = None,
        account_score: float | None = None,
        window: float | None = None,
        account_window: float | None = None,
    ) -> None:
        """Smaller budgets (calls per window; the ad account's score) so a test reaches them."""
        if insights is not None:
            self.usage["ads_insights"].budget = insights
        if management is not None:
            self.usage["ads_management"].budget = management
        if account_score is not None:
            self.account_usage.budget = account_score
        if window is not None:
            for usage in self.usage.values():
                usage.window = window
        if account_window is not None:
            self.account_usage.window = account_window

    # ---------------------------------------------------------------- errors

    def _trace(self, *parts: str) -> str:
        digest = hashlib.sha256("|".join((str(self.company.seed), *parts)).encode()).digest()
        return base64.b64encode(digest[:9]).decode().replace("+", "A").replace("/", "B")

    def _error(self, err: _GraphError, headers: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {"message": err.message, "type": err.kind or "OAuthException"}
        body["code"] = err.code
        if err.subcode is not None:
            body["error_subcode"] = err.subcode
        if err.code == 2:
            body["is_transient"] = True
        body["fbtrace_id"] = self._trace(err.message)
        return json_response(err.status, {"error": body}, headers=headers)

    def throttled(self, retry_after: int | None) -> Response:
        """Meta's throttling errors, in rotation: codes 17, 613, 4 and 80004."""
        with self._lock:
            status, code, subcode, message = _THROTTLES[self._throttle_turn % len(_THROTTLES)]
            self._throttle_turn += 1
        headers: dict[str, str] | None = None
        if retry_after is not None:
            usage = {
                META_ACCOUNT_ID: [
                    {
                        "type": "ads_insights",
                        "call_count": 100,
                        "total_cputime": 42,
                        "total_time": 61,
                        "estimated_time_to_regain_access": 0,
                    }
                ]
            }
            headers = {
                "Retry-After": str(retry_after),
                "X-Business-Use-Case-Usage": json.dumps(usage, separators=(",", ":")),
            }
        return self._error(_GraphError(status, code, message, subcode), headers)

    def server_error(self) -> Response:
        """A transient 500 (code 2, ``is_transient``)."""
        return self._error(
            _GraphError(
                500, 2, "An unexpected error has occurred. Please retry your request later."
            )
        )

    def is_oauth(self, req: Request) -> bool:
        """Meta's tokens are long-lived; the simulator serves no token endpoint."""
        return False

    # ---------------------------------------------------------------- routing

    def _token(self, req: Request) -> str | None:
        token = req.arg("access_token")
        if token:
            return token
        if req.method == "POST" and req.body:
            try:
                form = parse_qs(req.body.decode())
            except UnicodeDecodeError:
                form = {}
            if form.get("access_token"):
                return form["access_token"][0]
        auth = req.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
        return None

    def handle(self, req: Request) -> Response:
        """Serve one request (``/v{N}.0/...`` relative to the Meta base URL)."""
        try:
            m = re.fullmatch(r"/(v\d+\.\d)(/.*)", req.path.rstrip("/") or "/")
            if m is None:
                raise _GraphError(400, 100, "Unknown path components: " + req.path, kind="")
            version, path = m.group(1), m.group(2)
            self._check_version(version, req.path)
            token = self._token(req)
            if token is None:
                raise _GraphError(400, 104, "An access token is required to request this resource.")
            if self.tokens.check("meta_ads", token) != "valid":
                raise _GraphError(
                    400, 190, "Invalid OAuth access token - Cannot parse access token"
                )
        except _GraphError as err:
            return self._error(err)
        use_case = "ads_insights" if self._is_insights(path) else "ads_management"
        limited = self._over_limit(use_case)
        if limited is not None:
            return limited
        try:
            answer = self._route(req, version, path)
        except _GraphError as err:
            answer = self._error(err)
        self._count(use_case, req.method)
        answer.headers.update(self._usage_headers(use_case))
        return answer

    # ---------------------------------------------------------------- versions and usage

    def _check_version(self, version: str, path: str) -> None:
        """Meta's answer to a version it does not serve on the company's day."""
        served = served_versions(self.company.as_of.date())
        if version in served:
            return
        number = float(version[1:])
        if not served or number < float(served[-1][1:]):
            raise _GraphError(
                400,
                2635,
                "(#2635) You are calling a deprecated version of the Ads API. Please update "
                f"to the latest version: {served[-1] if served else 'v26.0'}.",
            )
        raise _GraphError(400, 2500, f"Unknown path components: {path}")

    def _is_insights(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        with self._lock:
            is_run = parts[0] in self._runs
        return is_run or (len(parts) > 1 and parts[1] == "insights")

    def _over_limit(self, use_case: str) -> Response | None:
        """Meta's throttling answer when a usage figure has reached 100, else None."""
        now = self.clock()
        with self._lock:
            usage = self.usage[use_case]
            if usage.pct(now) >= 100:
                code = 80000 if use_case == "ads_insights" else 80004
                err = _GraphError(
                    400,
                    code,
                    f"(#{code}) There have been too many calls from this ad-account. Wait a bit "
                    "and try again. For more info, please refer to https://developers.facebook."
                    "com/docs/graph-api/overview/rate-limiting#ads-management.",
                    2446079,
                )
            elif self.account_usage.pct(now) >= 100:
                err = _GraphError(400, 17, "(#17) User request limit reached", 2446079)
            else:
                return None
        return self._error(err, self._usage_headers(use_case))

    def _count(self, use_case: str, method: str) -> None:
        now = self.clock()
        with self._lock:
            self.usage[use_case].add(now)
            self.account_usage.add(now, 3.0 if method == "POST" else 1.0)

    def _usage_headers(self, use_case: str) -> dict[str, str]:
        """``X-Business-Use-Case-Usage`` and ``X-Ad-Account-Usage`` from the call counters."""
        now = self.clock()
        with self._lock:
            usage = self.usage[use_case]
            calls = usage.pct(now)
            regain = usage.regain_seconds(now) if calls >= 100 else 0.0
            account = self.account_usage.pct(now)
            reset = max(
                (t + self.account_usage.window - now for t, _ in self.account_usage.calls),
                default=0.0,
            )
        entry = {
            "type": use_case,
            "call_count": min(100, math.floor(calls)),
            "total_cputime": min(100, math.floor(calls * 0.5)),
            "total_time": min(100, math.floor(calls * 0.7)),
            "estimated_time_to_regain_access": math.ceil(regain / 60),
            "ads_api_access_tier": "standard_access",
        }
        account_entry = {
            "acc_id_util_pct": round(min(100.0, account), 2),
            "reset_time_duration": math.ceil(reset) if account > 0 else 0,
            "ads_api_access_tier": "standard_access",
        }
        compact = (",", ":")
        return {
            "X-Business-Use-Case-Usage": json.dumps({META_ACCOUNT_ID: [entry]}, separators=compact),
            "X-Ad-Account-Usage": json.dumps(account_entry, separators=compact),
        }

    def _route(self, req: Request, version: str, path: str) -> Response:
        parts = path.strip("/").split("/")
        node = parts[0]
        edge = parts[1] if len(parts) > 1 else None
        if len(parts) > 2:
            raise _GraphError(400, 100, f"Unknown path components: /{'/'.join(parts[2:])}")
        if node.startswith("act_"):
            if node != f"act_{META_ACCOUNT_ID}":
                raise self._missing(node)
            if edge is None:
                return json_response(
                    200, self._select(self._account(), req, _ACCOUNT_FIELDS, ("id", "account_id"))
                )
            if edge == "insights":
                if req.method == "POST":
                    return self._start_run(req)
                return self._insights(req, version, path, self._params(req), sync=True)
            if edge in ("campaigns", "adsets", "ads"):
                return self._edge(req, version, path, edge, None)
            raise _GraphError(
                400,
                100,
                f"(#100) Tried accessing nonexisting field ({edge}) on node type (AdAccount)",
            )
        with self._lock:
            run = self._runs.get(node)
        if run is not None:
            if edge is None:
                return json_response(200, self._poll(run))
            if edge == "insights":
                with self._lock:
                    state = self._state(run)
                if state != "Job Completed":
                    raise _GraphError(
                        400,
                        100,
                        f"(#100) The report run {run.id} is not complete ({state}); poll its "
                        "async_status until it is 'Job Completed'",
                    )
                return self._insights(req, version, path, run.params)
            raise _GraphError(400, 100, f"(#100) Tried accessing nonexisting field ({edge})")
        camp = self.social.meta_campaign(node)
        adset = next((s for s in self.social.meta_adsets if s.id == node), None)
        ad = self.social.meta_ad(node)
        as_of = self.company.as_of_ms
        if camp is not None and camp.created_ms < as_of:
            if edge is None:
                return json_response(
                    200, self._select(self._campaign(camp), req, _CAMPAIGN_FIELDS, ("id",))
                )
            if edge in ("adsets", "ads"):
                return self._edge(req, version, path, edge, ("campaign_id", camp.id))
            if edge == "insights":
                return self._insights(
                    req, version, path, self._params(req), ("campaign", camp.id), sync=True
                )
        if adset is not None and adset.created_ms < as_of:
            if edge is None:
                return json_response(
                    200, self._select(self._adset(adset), req, _ADSET_FIELDS, ("id",))
                )
            if edge == "ads":
                return self._edge(req, version, path, edge, ("adset_id", adset.id))
        if ad is not None and ad.created_ms < as_of and edge is None:
            return json_response(200, self._select(self._ad(ad), req, _AD_FIELDS, ("id",)))
        raise self._missing(node)

    @staticmethod
    def _missing(node: str) -> _GraphError:
        return _GraphError(
            400,
            100,
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation. Please read the "
            "Graph API documentation at https://developers.facebook.com/docs/graph-api",
            33,
            "GraphMethodException",
        )

    @staticmethod
    def _fields(
        req: Request | dict[str, list[str]],
        allowed: tuple[str, ...],
        default: tuple[str, ...],
        node_type: str,
    ) -> list[str]:
        raw = req.args("fields") if isinstance(req, Request) else req.get("fields", [])
        names = [f.strip() for v in raw for f in _field_list(v) if f.strip()]
        if not names:
            return list(default)
        out = []
        for name in names:
            base = name.split("{", 1)[0]
            if base not in allowed:
                raise _GraphError(
                    400,
                    100,
                    f"(#100) Tried accessing nonexisting field ({base}) on node type ({node_type})",
                )
            out.append(base)
        return list(dict.fromkeys(out))

    def _select(
        self, obj: dict[str, Any], req: Request, allowed: tuple[str, ...], default: tuple[str, ...]
    ) -> dict[str, Any]:
        wanted = self._fields(
            req, allowed, default, "AdAccount" if "account_status" in allowed else "Object"
        )
        out = {k: obj[k] for k in wanted if obj.get(k) is not None}
        if "id" not in out:
            out["id"] = obj["id"]
        return out

    # ---------------------------------------------------------------- objects

    def _time(self, ms: int) -> str:
        return fmt_graph(ms, META_TIME_ZONE)

    def _account(self) -> dict[str, Any]:
        as_of = self.company.as_of_ms
        offset = datetime.fromtimestamp(as_of / 1000, tz=META_TZ).utcoffset() or timedelta()
        spent = sum(r.spend_micros for r in self.social.meta_daily) // 10_000
        return {
            "id": f"act_{META_ACCOUNT_ID}",
            "account_id": META_ACCOUNT_ID,
            "name": META_ACCOUNT_NAME,
            "currency": META_CURRENCY,
            "timezone_name": META_TIME_ZONE,
            "timezone_offset_hours_utc": offset.total_seconds() / 3600,
            "account_status": 1,
            "business_name": "Lumenary Inc.",
            "created_time": self._time(1_611_140_400_000),
            "amount_spent": str(spent),
            "spend_cap": "0",
            "disable_reason": 0,
        }

    def _campaign(self, c: MetaCampaign) -> dict[str, Any]:
        as_of = self.company.as_of_ms
        status = c.status_at(as_of)
        return {
            "id": c.id,
            "account_id": META_ACCOUNT_ID,
            "name": c.name,
            "objective": c.objective,
            "status": status,
            "configured_status": status,
            "effective_status": status,
            "buying_type": "AUCTION",
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP",
            "daily_budget": str(c.daily_budget_cents),
            "special_ad_categories": [],
            "created_time": self._time(c.created_ms),
            "updated_time": self._time(c.updated_at(as_of)),
            "start_time": self._time(c.created_ms + 3_600_000),
        }

    def _head(self, object_id: str, parents: dict[str, str], name: str) -> dict[str, Any]:
        """The opening fields of an ad set or ad: ids, name and statuses (always ``ACTIVE``
        itself; ``effective_status`` shows its campaign's pause)."""
        camp = self.social.meta_campaign(parents["campaign_id"])
        assert camp is not None
        paused = camp.status_at(self.company.as_of_ms) == "PAUSED"
        return {
            "id": object_id,
            "account_id": META_ACCOUNT_ID,
            **parents,
            "name": name,
            "status": "ACTIVE",
            "configured_status": "ACTIVE",
            "effective_status": "CAMPAIGN_PAUSED" if paused else "ACTIVE",
        }

    def _adset(self, s: MetaAdSet) -> dict[str, Any]:
        return {
            **self._head(s.id, {"campaign_id": s.campaign_id}, s.name),
            "daily_budget": str(s.daily_budget_cents),
            "optimization_goal": s.optimization_goal,
            "billing_event": s.billing_event,
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP",
            "targeting": {
                "age_min": 25,
                "age_max": 54,
                "geo_locations": {"countries": list(s.countries), "location_types": ["home"]},
            },
            "created_time": self._time(s.created_ms),
            "updated_time": self._time(s.created_ms + 1_800_000),
            "start_time": self._time(s.created_ms + 3_600_000),
        }

    def _ad(self, a: MetaAd) -> dict[str, Any]:
        return {
            **self._head(a.id, {"campaign_id": a.campaign_id, "adset_id": a.adset_id}, a.name),
            "creative": {"id": a.creative_id},
            "tracking_specs": [{"action.type": ["offsite_conversion"], "fb_pixel": ["7031234567"]}],
            "created_time": self._time(a.created_ms),
            "updated_time": self._time(a.created_ms + 1_800_000),
        }

    # ---------------------------------------------------------------- edges

    @staticmethod
    def _json_arg(req: Request | dict[str, list[str]], name: str) -> Any:
        raw = req.arg(name) if isinstance(req, Request) else (req.get(name) or [None])[0]
        if raw is None or raw == "":
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise _GraphError(400, 100, f"(#100) param {name} must be JSON") from None

    def _filtered(self, objs: list[dict[str, Any]], req: Request) -> list[dict[str, Any]]:
        statuses = self._json_arg(req, "effective_status")
        if statuses is not None:
            if not isinstance(statuses, list):
                raise _GraphError(400, 100, "(#100) param effective_status must be an array.")
            objs = [o for o in objs if o["effective_status"] in statuses]
        filters = self._json_arg(req, "filtering") or []
        for f in filters:
            fieldname = str(f.get("field", ""))
            op = str(f.get("operator", "")).upper()
            value = f.get("value")
            key = fieldname.split(".")[-1] if "." in fieldname else fieldname
            if fieldname.endswith(".id"):
                key = "id" if fieldname.split(".")[0] in ("campaign", "adset", "ad") else key
            if key == "updated_time":
                bound = int(value)
                objs = [
                    o
                    for o in objs
                    if (
                        _graph_epoch(o["updated_time"]) > bound
                        if op == "GREATER_THAN"
                        else _graph_epoch(o["updated_time"]) < bound
                    )
                ]
            elif op in ("IN", "EQUAL"):
                wanted = {str(v) for v in (value if isinstance(value, list) else [value])}
                objs = [
                    o
                    for o in objs
                    if str(o.get(key)) in wanted
                    or str(o.get(fieldname.replace(".", "_"))) in wanted
                ]
            else:
                raise _GraphError(
                    400,
                    100,
                    f"(#100) Filtering field {fieldname} with operation {op} is not supported",
                )
        return objs

    def _edge(
        self, req: Request, version: str, path: str, edge: str, parent: tuple[str, str] | None
    ) -> Response:
        as_of = self.company.as_of_ms
        if edge == "campaigns":
            objs = [self._campaign(c) for c in self.social.meta_campaigns if c.created_ms < as_of]
            allowed = _CAMPAIGN_FIELDS
        elif edge == "adsets":
            objs = [self._adset(s) for s in self.social.meta_adsets if s.created_ms < as_of]
            allowed = _ADSET_FIELDS
        else:
            objs = [self._ad(a) for a in self.social.meta_ads if a.created_ms < as_of]
            allowed = _AD_FIELDS
        if parent is not None:
            objs = [o for o in objs if o.get(parent[0]) == parent[1]]
        objs = self._filtered(objs, req)
        objs.sort(key=lambda o: int(o["id"]), reverse=True)  # newest first, as Meta lists them
        wanted = self._fields(req, allowed, ("id",), edge[:-1].title())
        rows = [{k: o[k] for k in wanted if o.get(k) is not None} | {"id": o["id"]} for o in objs]
        return self._paged(req, version, path, rows)

    def _paged(self, req: Request, version: str, path: str, rows: list[dict[str, Any]]) -> Response:
        try:
            limit = int(req.arg("limit") or DEFAULT_LIMIT)
        except ValueError:
            raise _GraphError(400, 100, "(#100) param limit must be an integer") from None
        limit = max(1, min(limit, MAX_LIMIT))
        start = 0
        if req.arg("after"):
            start = _uncursor(req.arg("after") or "") + 1
        elif req.arg("before"):
            start = max(0, _uncursor(req.arg("before") or "") - limit)
        page = rows[start : start + limit]
        answer: dict[str, Any] = {"data": page}
        if page:
            paging: dict[str, Any] = {
                "cursors": {"before": _cursor(start), "after": _cursor(start + len(page) - 1)}
            }
            if start + limit < len(rows):
                query = {k: v[0] for k, v in req.query.items() if k not in ("after", "before")}
                query["limit"] = str(limit)
                query["after"] = paging["cursors"]["after"]
                paging["next"] = f"{req.base_url}/{version}{path}?{urlencode(query)}"
            if start > 0:
                query = {k: v[0] for k, v in req.query.items() if k not in ("after", "before")}
                query["limit"] = str(limit)
                query["before"] = paging["cursors"]["before"]
                paging["previous"] = f"{req.base_url}/{version}{path}?{urlencode(query)}"
            answer["paging"] = paging
        return json_response(200, answer)

    # ---------------------------------------------------------------- insights

    @staticmethod
    def _params(req: Request) -> dict[str, list[str]]:
        params = {k: list(v) for k, v in req.query.items()}
        if req.method == "POST" and req.body:
            try:
                body = req.body.decode()
                extra = json.loads(body) if body.lstrip().startswith("{") else parse_qs(body)
            except ValueError:
                extra = {}
            for k, v in extra.items():
                params[k] = [
                    x if isinstance(x, str) else json.dumps(x)
                    for x in (v if isinstance(v, list) else [v])
                ]
        params.pop("access_token", None)
        return params

    def _start_run(self, req: Request) -> Response:
        params = self._params(req)
        first, last = self._window(params)  # validate now, as Meta does
        key = json.dumps(sorted(params.items()))
        with self._lock:
            number = sum(self._submitted.values()) + 1
            nth = self._submitted.get(key, 0) + 1
            self._submitted[key] = nth
            seed = f"{self.company.seed}|{key}|{nth}"
            run_id = str(int(hashlib.sha256(seed.encode()).hexdigest()[:15], 16) % 10**15 + 10**15)
            self._runs[run_id] = _Job(
                run_id,
                number,
                params,
                first,
                last,
                self._polls_needed(seed),
                self._failure(seed, number, first, last),
                submitted=self.company.as_of_ms // 1000,
            )
        return json_response(200, {"report_run_id": run_id})

    def _polls_needed(self, seed: str) -> int:
        low, high = self.job_polls
        digest = hashlib.blake2b(f"polls|{seed}".encode(), digest_size=8).digest()
        return low + int.from_bytes(digest, "big") % (max(low, high) - low + 1)

    def _failure(self, seed: str, number: int, first: date, last: date) -> str | None:
        digest = hashlib.blake2b(f"fail|{seed}".encode(), digest_size=16).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        fails = (
            number <= self.fail_first_jobs
            or share < self.fail_jobs
            or (
                self.fail_jobs_over_days is not None
                and (last - first).days + 1 > self.fail_jobs_over_days
            )
        )
        return JOB_FAILURES[digest[8] % 2] if fails else None

    @staticmethod
    def _state(job: _Job) -> str:
        if job.polls >= job.polls_needed:
            return job.failure or "Job Completed"
        if job.polls <= 1:
            return "Job Not Started"
        return "Job Started" if job.polls == 2 else "Job Running"

    def _poll(self, job: _Job) -> dict[str, Any]:
        """One status read of a report run: it moves on one step per read."""
        with self._lock:
            job.polls += 1
            state = self._state(job)
            done = state not in JOB_PENDING
            percent = (
                100
                if state == "Job Completed"
                else (0 if job.polls <= 1 else min(99, 100 * (job.polls - 1) // job.polls_needed))
            )
        answer: dict[str, Any] = {
            "id": job.id,
            "account_id": META_ACCOUNT_ID,
            "async_percent_completion": percent,
            "async_status": state,
            "date_start": job.first.isoformat(),
            "date_stop": job.last.isoformat(),
            "emails": [],
            "friendly_name": "",
            "is_bookmarked": False,
            "is_running": not done,
            "schedule_id": "0",
            "time_completed": job.submitted + 60 * job.polls_needed if done else 0,
            "time_ref": job.submitted,
        }
        if state in JOB_FAILURES:
            # the error fields Meta added to report runs in v25.0 (Ads Insights error codes)
            answer.update(
                {
                    "error_code": -2,
                    "error_subcode": 2490547,
                    "error_message": "Report Failed",
                    "error_user_title": "Report Failed",
                    "error_user_msg": "Generating the report failed. Try again later.",
                }
            )
        return answer

    def _window(self, params: dict[str, list[str]]) -> tuple[date, date]:
        today = datetime.fromtimestamp(self.company.as_of_ms / 1000, tz=META_TZ).date()
        raw = (params.get("time_range") or [None])[0]
        if raw:
            try:
                rng = json.loads(raw)
                first = date.fromisoformat(rng["since"])
                last = date.fromisoformat(rng["until"])
            except (ValueError, KeyError, TypeError):
                raise _GraphError(
                    400, 100, "(#100) param time_range must be a JSON object with since and until"
                ) from None
            if last < first:
                raise _GraphError(400, 100, "(#100) since must be before or equal to until")
            if first < today - timedelta(days=37 * 31):
                raise _GraphError(
                    400,
                    3018,
                    "(#3018) The start date of the time range cannot be beyond 37 "
                    "months from the current date",
                )
            return first, last
        preset = (params.get("date_preset") or ["last_30d"])[0]
        presets = {
            "today": (today, today),
            "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
            "last_3d": (today - timedelta(days=3), today - timedelta(days=1)),
            "last_7d": (today - timedelta(days=7), today - timedelta(days=1)),
            "last_14d": (today - timedelta(days=14), today - timedelta(days=1)),
            "last_28d": (today - timedelta(days=28), today - timedelta(days=1)),
            "last_30d": (today - timedelta(days=30), today - timedelta(days=1)),
            "last_90d": (today - timedelta(days=90), today - timedelta(days=1)),
            "maximum": (today - timedelta(days=37 * 30), today),
        }
        if preset not in presets:
            raise _GraphError(400, 100, f"(#100) date_preset must be one of {sorted(presets)}")
        return presets[preset]

    def _insights(
        self,
        req: Request,
        version: str,
        path: str,
        params: dict[str, list[str]],
        scope: tuple[str, str] | None = None,
        sync: bool = False,
    ) -> Response:
        level = (params.get("level") or ["account"])[0]
        if level not in ("account", "campaign", "adset", "ad"):
            raise _GraphError(400, 100, "(#100) level must be one of account, campaign, adset, ad")
        if params.get("breakdowns"):
            raise _GraphError(400, 100, "(#100) breakdowns are not supported by the simulator")
        increment = (params.get("time_increment") or ["all_days"])[0]
        if increment not in ("1", "all_days", "monthly"):
            raise _GraphError(400, 100, "(#100) time_increment must be 1, all_days or monthly")
        first, last = self._window(params)
        fields = self._fields(
            params,
            _INSIGHT_FIELDS,
            ("date_start", "date_stop", "impressions", "spend"),
            "AdsInsights",
        )
        filters = self._json_arg(params, "filtering") or []
        wanted_ids: dict[str, set[str]] = {}
        for f in filters:
            name = str(f.get("field", ""))
            value = f.get("value")
            if name in ("campaign.id", "adset.id", "ad.id") and str(f.get("operator")).upper() in (
                "IN",
                "EQUAL",
            ):
                wanted_ids[name.split(".")[0]] = {
                    str(v) for v in (value if isinstance(value, list) else [value])
                }
        groups: dict[tuple[str, date, date], list[SocialDaily]] = defaultdict(list)
        for row in in_window(self.social.meta_daily, first, last):
            ad = self.social.meta_ad(row.entity_id)
            assert ad is not None
            ids = {"campaign": ad.campaign_id, "adset": ad.adset_id, "ad": ad.id}
            if scope is not None and ids[scope[0]] != scope[1]:
                continue
            if any(ids[k] not in v for k, v in wanted_ids.items()):
                continue
            entity = META_ACCOUNT_ID if level == "account" else ids[level]
            by = {"1": "day", "monthly": "month"}.get(increment, "all")
            groups[(entity, *report_span(row.day, first, last, by))].append(row)
        rows = []
        for (entity, start, stop), facts in sorted(
            groups.items(), key=lambda kv: (kv[0][1], int(kv[0][0]))
        ):
            rendered = self._insight_row(level, entity, start, stop, facts, fields)
            if rendered is not None:
                rows.append(rendered)
        if sync and self.sync_row_limit is not None and len(rows) > self.sync_row_limit:
            raise _GraphError(
                400,
                1,
                "Please reduce the amount of data you're asking for, then retry your request",
            )
        return self._paged(req, version, path, rows)

    def _insight_row(
        self,
        level: str,
        entity: str,
        start: date,
        stop: date,
        facts: list[SocialDaily],
        fields: list[str],
    ) -> dict[str, Any] | None:
        total = Totals.of(facts)
        impressions, clicks, reach = total.impressions, total.clicks, total.reach
        if impressions <= 0:
            return None
        link, spend, leads = total.link_clicks, total.spend_micros, total.leads
        lpv = total.landing_page_views
        ad = self.social.meta_ad(facts[0].entity_id)
        assert ad is not None
        camp = self.social.meta_campaign(ad.campaign_id)
        adset = next(s for s in self.social.meta_adsets if s.id == ad.adset_id)
        assert camp is not None
        spend_units = spend / 1_000_000
        actions = [
            {"action_type": name, "value": str(value)}
            for name, value in (
                ("landing_page_view", lpv),
                ("lead", leads),
                ("link_click", link),
                ("offsite_conversion.fb_pixel_lead", leads),
            )
            if value
        ]
        values: dict[str, Any] = {
            "account_id": META_ACCOUNT_ID,
            "account_name": META_ACCOUNT_NAME,
            "account_currency": META_CURRENCY,
            "objective": camp.objective if level != "account" else None,
            "impressions": str(impressions),
            "reach": str(reach),
            "frequency": _num(impressions / reach) if reach else "0",
            "clicks": str(clicks),
            "inline_link_clicks": str(link),
            "unique_clicks": str(int(clicks * 0.93)),
            "spend": _money(spend),
            "cpc": _num(spend_units / clicks) if clicks else None,
            "cpm": _num(spend_units / impressions * 1000),
            "ctr": _num(clicks / impressions * 100),
            "actions": actions or None,
            "cost_per_action_type": [
                {"action_type": a["action_type"], "value": _num(spend_units / int(a["value"]))}
                for a in actions
            ]
            or None,
            "date_start": start.isoformat(),
            "date_stop": stop.isoformat(),
        }
        if level in ("campaign", "adset", "ad"):
            values["campaign_id"] = camp.id
            values["campaign_name"] = camp.name
        if level in ("adset", "ad"):
            values["adset_id"] = adset.id
            values["adset_name"] = adset.name
        if level == "ad":
            values["ad_id"] = ad.id
            values["ad_name"] = ad.name
        out = {k: values[k] for k in fields if values.get(k) is not None}
        out["date_start"] = values["date_start"]
        out["date_stop"] = values["date_stop"]
        return out


def _field_list(value: str) -> list[str]:
    """``fields`` as sent: ``a,b{c}`` or a JSON array ``["a","b"]`` (the facebook-business SDK
    JSON-encodes every list parameter)."""
    text = value.strip()
    if text.startswith("["):
        try:
            names = json.loads(text)
        except ValueError:
            raise _GraphError(400, 100, "(#100) param fields must be a list of strings") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _GraphError(400, 100, "(#100) param fields must be a list of strings")
        return names
    out, depth, current = [], 0, ""
    for char in text:  # split on commas outside {...} (nested field selections)
        if char == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += (char == "{") - (char == "}")
        current += char
    out.append(current)
    return out


def served_versions(day: date) -> list[str]:
    """The Marketing API versions Meta serves on ``day`` (oldest first), from the dated list."""
    from revops.sources.versions import vendor

    return [v.name for v in vendor("meta_ads").supported(day)]


@dataclass
class _Job:
    """One async report run: its parameters, how many status polls it takes, how it ends."""

    id: str
    number: int
    params: dict[str, list[str]]
    first: date
    last: date
    polls_needed: int
    failure: str | None  # "Job Failed" / "Job Skipped", or None: it completes
    polls: int = 0
    submitted: int = 0


@dataclass
class _Usage:
    """Calls over a sliding window: what Meta's usage headers report, and when to throttle."""

    window: float
    budget: float
    calls: deque[tuple[float, float]] = field(default_factory=deque)
    total: float = 0.0

    def trim(self, now: float) -> None:
        while self.calls and self.calls[0][0] <= now - self.window:
            self.total -= self.calls.popleft()[1]

    def pct(self, now: float) -> float:
        self.trim(now)
        return 100.0 * self.total / self.budget if self.budget > 0 else 0.0

    def add(self, now: float, weight: float = 1.0) -> None:
        self.calls.append((now, weight))
        self.total += weight

    def regain_seconds(self, now: float) -> float:
        """Seconds until enough calls leave the window for usage to drop below 100."""
        self.trim(now)
        excess = self.total - self.budget * 0.99
        for moment, weight in self.calls:
            excess -= weight
            if excess < 0:
                return max(0.0, moment + self.window - now)
        return 0.0


def _graph_epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC).timestamp())
