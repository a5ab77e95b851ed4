"""Mailchimp Marketing API 3.0 over the synthetic company.

Endpoints (paths relative to the Mailchimp base URL, which stands for
``https://<dc>.api.mailchimp.com``): ``/3.0/``, ``/3.0/ping``, ``/3.0/lists``,
``/3.0/lists/{id}``, ``/3.0/lists/{id}/members``, ``/3.0/lists/{id}/members/{subscriber_hash}``,
``/3.0/campaigns``, ``/3.0/campaigns/{id}``, ``/3.0/reports``, ``/3.0/reports/{id}``,
``/3.0/reports/{id}/email-activity``. (The ``mailchimp-marketing`` client works with its
``host`` set to ``REVOPS_MAILCHIMP_URL + "/3.0"``.)

Conventions, as in the real API: HTTP Basic auth (any user name, the API key as password) or
an OAuth bearer token (``REVOPS_MAILCHIMP_TOKEN``; Mailchimp's OAuth tokens do not expire);
``count`` (default 10, values above 1,000 are capped at 1,000) and ``offset`` (default 0);
``fields`` / ``exclude_fields`` (comma-separated dotted paths); timestamps as ISO 8601 with
``+00:00`` and whole seconds; errors as ``application/problem+json``.

Choices where the documentation leaves room (connectors must not depend on anything else):

* ``since_*`` filters are inclusive (``>=``), ``before_*`` filters exclusive (``<``).
* Collections are ordered oldest first: members by ``timestamp_opt``, campaigns by
  ``create_time`` (or ``sort_field``/``sort_dir``), reports by ``send_time``.
* ``/reports/{id}/email-activity`` without ``since`` lists every recipient, those without
  activity with ``"activity": []``. With ``since``, only events at or after ``since`` are
  included and recipients left with none are omitted (``total_items`` counts what remains).
* Campaigns created but not yet sent at ``as_of`` have ``status: "schedule"``, their scheduled
  ``send_time`` and ``emails_sent: 0``; they have no report (404).
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from revops.simulator.company import (
    Company,
    EmailCampaign,
    EmailEvent,
    Member,
    RecipientActivity,
)
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.oauth import TokenStore, basic_client
from revops.simulator.wire import (
    Request,
    Response,
    dt_to_ms,
    fmt_mailchimp,
    json_response,
    keep_newest,
    parse_iso,
)

__all__ = ["MailchimpAPI", "MAX_COUNT"]

MAX_COUNT = 1000
DEFAULT_COUNT = 10
ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM = "application/problem+json; charset=utf-8"
REQUEST_LOG_SIZE = 100_000
FILTER_CACHE_SIZE = 256
"""Filtered lists kept per handler (one per audience filter or campaign and ``since``)."""
MEMBER_STATUSES = frozenset(
    {"subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"}
)
MEMBER_BOUNDS = (  # query argument, member attribute, inclusive lower bound (else exclusive upper)
    ("since_last_changed", "last_changed_ms", True),
    ("before_last_changed", "last_changed_ms", False),
    ("since_timestamp_opt", "timestamp_opt_ms", True),
    ("before_timestamp_opt", "timestamp_opt_ms", False),
)
MEMBER_SORTS = {
    "timestamp_opt": "timestamp_opt_ms",
    "timestamp_signup": "timestamp_opt_ms",
    "last_changed": "last_changed_ms",
}
FROM_NAME = "Lumenary"
REPLY_TO = "news@lumenary.io"


class _Problem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """A Mailchimp error body (RFC 7807 problem JSON)."""
    body = {
        "type": ERRORS_DOC,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    return json_response(status, body, PROBLEM, headers)


def _not_found() -> _Problem:
    return _Problem(404, "Resource Not Found", "The requested resource could not be found.")


def _fields(obj: Any, paths: list[list[str]], keep: bool) -> Any:
    """``obj`` with only the dotted ``paths`` (``keep``) or without them (lists are filtered
    item by item): Mailchimp's ``fields`` and ``exclude_fields``."""
    if isinstance(obj, list):
        return [_fields(item, paths, keep) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        subs = [p[1:] for p in paths if p and p[0] == key]
        whole = any(not s for s in subs)
        if (not subs) if keep else whole:
            continue
        out[key] = value if whole or not subs else _fields(value, subs, keep)
    return out


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0


class MailchimpAPI:
    """Request handler for the Mailchimp Marketing API 3.0."""

    def __init__(self, company: Company, tokens: TokenStore) -> None:
        self.company = company
        self.tokens = tokens
        self.api_key = SIM_CREDENTIALS["mailchimp"]["api_key"]
        self._reports: dict[str, dict[str, Any]] = {}
        self._member_stats: dict[str, tuple[float, float]] | None = None
        self._filter_cache: OrderedDict[tuple, list] = OrderedDict()
        self.open_stats_delay_ms = 0
        """Up to how long after it happens an open shows in email activity (0: at once).
        Mailchimp: "open stats can take between 15-30 minutes to update, while click and abuse
        stats should update in real-time"; tests set it to model that."""
        self.log: deque[str] = deque(maxlen=REQUEST_LOG_SIZE)
        """The paths (under ``/3.0``) of the requests this handler answered, newest last."""
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- errors

    def throttled(self, retry_after: int | None) -> Response:
        """Mailchimp's 429 (the real API never sends ``Retry-After``; the header is added only
        for the ``rate_limit`` fault kind)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return problem(
            429,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
            headers,
        )

    def rate_limited(self) -> Response:
        """The 429 as Mailchimp sends it: no ``Retry-After``."""
        return self.throttled(None)

    def server_error(self) -> Response:
        """A transient 500."""
        return problem(
            500,
            "Internal Server Error",
            "An unexpected internal error has occurred. Please contact Support for more "
            "information.",
        )

    def is_oauth(self, req: Request) -> bool:
        """Mailchimp has no token endpoint the simulator serves."""
        return False

    def check_auth(self, req: Request) -> Response | None:
        """None when the request carries the simulator's API key."""
        auth = req.headers.get("authorization", "")
        key = None
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            basic = basic_client(req)  # any user name, the API key as password
            key = basic[1] if basic else None
        elif scheme.lower() in ("bearer", "apikey", "oauth"):
            key = value.strip()
            if self.tokens.check("mailchimp", key) == "valid":
                return None
        if not key:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        if key != self.api_key:
            return problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        return None

    # ---------------------------------------------------------------- routing

    def handle(self, req: Request) -> Response:
        """Serve one request (``/3.0/...`` relative to the Mailchimp base URL)."""
        if req.path != "/3.0" and not req.path.startswith("/3.0/"):
            return problem(404, "Resource Not Found", "Invalid path")
        req = Request(
            req.method, req.path[4:] or "/", req.query, req.headers, req.body, req.base_url + "/3.0"
        )
        denied = self.check_auth(req)
        if denied:
            return denied
        if req.method != "GET":
            return problem(
                405,
                "Method Not Allowed",
                "The requested method and resource are not compatible. "
                "The simulator serves read-only endpoints.",
            )
        path = req.path.rstrip("/") or "/"
        self.log.append(path)
        routes: list[tuple[str, Any]] = [
            (r"/", self.root),
            (r"/ping", self.ping),
            (r"/lists", self.lists),
            (r"/lists/([^/]+)", self.one_list),
            (r"/lists/([^/]+)/members", self.members),
            (r"/lists/([^/]+)/members/([^/]+)", self.one_member),
            (r"/campaigns", self.campaigns),
            (r"/campaigns/([^/]+)", self.one_campaign),
            (r"/reports", self.reports),
            (r"/reports/([^/]+)", self.one_report),
            (r"/reports/([^/]+)/email-activity", self.email_activity),
        ]
        try:
            for pattern, handler in routes:
                m = re.fullmatch(pattern, path)
                if m:
                    payload = handler(req, *m.groups())
                    return json_response(200, self._shape(req, payload))
            raise _Problem(404, "Resource Not Found", "Invalid path")
        except _Problem as err:
            return problem(err.status, err.title, err.detail)

    @staticmethod
    def _shape(req: Request, payload: Any) -> Any:
        fields = [p.split(".") for v in req.args("fields") for p in v.split(",") if p.strip()]
        exclude = [
            p.split(".") for v in req.args("exclude_fields") for p in v.split(",") if p.strip()
        ]
        if fields:
            payload = _fields(payload, fields, keep=True)
        if exclude:
            payload = _fields(payload, exclude, keep=False)
        return payload

    @staticmethod
    def _page(req: Request) -> tuple[int, int]:
        try:
            count = int(req.arg("count", str(DEFAULT_COUNT)) or DEFAULT_COUNT)
            offset = int(req.arg("offset", "0") or 0)
        except ValueError:
            raise _Problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated: count and offset must be integers.",
            ) from None
        if count < 0 or offset < 0:
            raise _Problem(400, "Invalid Resource", "count and offset must not be negative.")
        return min(count, MAX_COUNT), offset

    @staticmethod
    def _time_arg(req: Request, name: str) -> int | None:
        raw = req.arg(name)
        if raw is None or raw == "":
            return None
        try:
            return dt_to_ms(parse_iso(raw))
        except ValueError:
            raise _Problem(
                400, "Invalid Resource", f"The value for '{name}' is not a valid date-time: {raw}"
            ) from None

    @staticmethod
    def _links(req: Request) -> list[dict[str, str]]:
        return [{"rel": "self", "href": f"{req.base_url}{req.path}", "method": "GET"}]

    def _check_list(self, list_id: str) -> None:
        if list_id != self.company.list_id:
            raise _not_found()

    # ---------------------------------------------------------------- root

    def root(self, req: Request) -> dict[str, Any]:
        """``GET /``: account information."""
        c = self.company
        return {
            "account_id": c.list_id[:8] + "acct",
            "login_id": "1",
            "account_name": c.customer_name,
            "email": REPLY_TO,
            "username": "lumenary",
            "role": "owner",
            "member_since": fmt_mailchimp(c.list_created_ms),
            "pricing_plan_type": "monthly",
            "account_timezone": "America/New_York",
            "total_subscribers": sum(1 for m in c.members if m.status == "subscribed"),
            "_links": self._links(req),
        }

    def ping(self, req: Request) -> dict[str, Any]:
        """``GET /ping``."""
        return {"health_status": "Everything's Chimpy!"}

    # ---------------------------------------------------------------- lists

    def _list_object(self) -> dict[str, Any]:
        c = self.company
        subscribed = [m for m in c.members if m.status == "subscribed"]
        unsubs = [m for m in c.members if m.status == "unsubscribed"]
        cleaned = [m for m in c.members if m.status == "cleaned"]
        sent = [x for x in c.email_campaigns if x.status == "sent"]
        reports = [self._report(x) for x in sent]
        delivered = sum(
            r["emails_sent"] - r["bounces"]["hard_bounces"] - r["bounces"]["soft_bounces"]
            for r in reports
        )
        opens = sum(r["opens"]["unique_opens"] for r in reports)
        clicks = sum(r["clicks"]["unique_subscriber_clicks"] for r in reports)
        last_unsub = max((m.unsubscribed_at_ms or 0 for m in unsubs), default=0)
        return {
            "id": c.list_id,
            "web_id": c.list_web_id,
            "name": c.list_name,
            "contact": {
                "company": c.customer_name,
                "address1": "100 Summer Street",
                "address2": "",
                "city": "Boston",
                "state": "MA",
                "zip": "02110",
                "country": "US",
                "phone": "",
            },
            "permission_reminder": "You signed up for the Lumenary newsletter on our website.",
            "use_archive_bar": True,
            "campaign_defaults": {
                "from_name": FROM_NAME,
                "from_email": REPLY_TO,
                "subject": "",
                "language": "en",
            },
            "notify_on_subscribe": "",
            "notify_on_unsubscribe": "",
            "date_created": fmt_mailchimp(c.list_created_ms),
            "list_rating": 3,
            "email_type_option": False,
            "subscribe_url_short": f"http://eepurl.com/{c.list_id[:6]}",
            "subscribe_url_long": f"https://lumenary.us1.list-manage.com/subscribe?u=sim&id={c.list_id}",
            "beamer_address": f"us1-{c.list_id}@inbound.mailchimp.com",
            "visibility": "pub",
            "double_optin": False,
            "has_welcome": False,
            "marketing_permissions": False,
            "modules": [],
            "stats": {
                "member_count": len(subscribed),
                "unsubscribe_count": len(unsubs),
                "cleaned_count": len(cleaned),
                "member_count_since_send": 0,
                "unsubscribe_count_since_send": 0,
                "cleaned_count_since_send": 0,
                "campaign_count": len(sent),
                "campaign_last_sent": fmt_mailchimp(sent[-1].send_ms) if sent else "",
                "merge_field_count": 2,
                "avg_sub_rate": 0,
                "avg_unsub_rate": 0,
                "target_sub_rate": 0,
                "open_rate": round(100 * _rate(opens, delivered), 2),
                "click_rate": round(100 * _rate(clicks, delivered), 2),
                "last_sub_date": fmt_mailchimp(max(m.timestamp_opt_ms for m in c.members))
                if c.members
                else "",
                "last_unsub_date": fmt_mailchimp(last_unsub) if last_unsub else "",
            },
        }

    def lists(self, req: Request) -> dict[str, Any]:
        """``GET /lists``."""
        count, offset = self._page(req)
        items = [self._list_object()]
        return {
            "lists": items[offset : offset + count],
            "total_items": len(items),
            "constraints": {"may_create": False, "max_instances": 1, "current_total_instances": 1},
            "_links": self._links(req),
        }

    def one_list(self, req: Request, list_id: str) -> dict[str, Any]:
        """``GET /lists/{list_id}``."""
        self._check_list(list_id)
        return self._list_object()

    def warm(self) -> None:
        """Build now what the first audience requests build otherwise: every sent campaign's
        email activity and report, and each member's rates."""
        self._list_object()
        self._stats()

    # ---------------------------------------------------------------- members

    def _stats(self) -> dict[str, tuple[float, float]]:
        with self._lock:
            if self._member_stats is not None:
                return self._member_stats
        received: dict[str, int] = {}
        opened: dict[str, int] = {}
        clicked: dict[str, int] = {}
        for campaign in self.company.email_campaigns:
            if campaign.status != "sent":
                continue
            for rec, events in self.company.visible_activity(campaign.id):
                received[rec.member_id] = received.get(rec.member_id, 0) + 1
                actions = {e.action for e in events}
                if "open" in actions:
                    opened[rec.member_id] = opened.get(rec.member_id, 0) + 1
                if "click" in actions:
                    clicked[rec.member_id] = clicked.get(rec.member_id, 0) + 1
        stats = {
            mid: (_rate(opened.get(mid, 0), n), _rate(clicked.get(mid, 0), n))
            for mid, n in received.items()
        }
        with self._lock:
            self._member_stats = stats
        return stats

    def _member_object(self, m: Member) -> dict[str, Any]:
        c = self.company
        open_rate, click_rate = self._stats().get(m.id, (0, 0))
        obj: dict[str, Any] = {
            "id": m.id,
            "email_address": m.email,
            "unique_email_id": m.unique_email_id,
            "contact_id": m.id[:26],
            "full_name": f"{m.first_name} {m.last_name}",
            "web_id": m.web_id,
            "email_type": "html",
            "status": m.status,
        }
        if m.status == "unsubscribed":
            obj["unsubscribe_reason"] = "N/A (Unsubscribed via email link)"
        obj.update(
            {
                "consents_to_one_to_one_messaging": True,
                "merge_fields": {"FNAME": m.first_name, "LNAME": m.last_name},
                "stats": {
                    "avg_open_rate": round(open_rate, 4),
                    "avg_click_rate": round(click_rate, 4),
                },
                "ip_signup": "",
                "timestamp_signup": "",
                "ip_opt": f"198.51.100.{int(m.id[:2], 16) % 254 + 1}",
                "timestamp_opt": fmt_mailchimp(m.timestamp_opt_ms),
                "member_rating": m.rating,
                "last_changed": fmt_mailchimp(m.last_changed_ms),
                "language": "",
                "vip": False,
                "email_client": "",
                "location": {
                    "latitude": 0,
                    "longitude": 0,
                    "gmtoff": 0,
                    "dstoff": 0,
                    "country_code": "",
                    "timezone": "",
                },
                "source": m.signup_source,
                "tags_count": 0,
                "tags": [],
                "list_id": c.list_id,
            }
        )
        return obj

    def members(self, req: Request, list_id: str) -> dict[str, Any]:
        """``GET /lists/{list_id}/members``: each page a slice of the filtered, sorted list,
        which is built once per filter (:meth:`_filtered`)."""
        self._check_list(list_id)
        count, offset = self._page(req)
        status = req.arg("status")
        if status and status not in MEMBER_STATUSES:
            raise _Problem(400, "Invalid Resource", f"The status '{status}' is not valid.")
        limits = tuple(self._time_arg(req, name) for name, _, _ in MEMBER_BOUNDS)
        sort_field = req.arg("sort_field")
        if sort_field and sort_field not in MEMBER_SORTS:
            raise _Problem(400, "Invalid Resource", f"Invalid sort_field: {sort_field}")
        descending = (req.arg("sort_dir", "ASC") or "ASC").upper() == "DESC"
        key = ("members", list_id, status, limits, sort_field, descending)
        members = self._filtered(
            key, lambda: self._select_members(status, limits, sort_field, descending)
        )
        page = members[offset : offset + count]
        return {
            "members": [self._member_object(m) for m in page],
            "list_id": list_id,
            "total_items": len(members),
            "_links": self._links(req),
        }

    def _select_members(
        self,
        status: str | None,
        limits: tuple[int | None, ...],
        sort_field: str | None,
        descending: bool,
    ) -> list[Member]:
        """The audience's members passing the filters, in the requested order (one pass)."""
        members = [m for m in self.company.members if not status or m.status == status]
        for (_, attr, since), limit in zip(MEMBER_BOUNDS, limits, strict=True):
            if limit is not None:
                members = [
                    m
                    for m in members
                    if (getattr(m, attr) >= limit if since else getattr(m, attr) < limit)
                ]
        if sort_field:
            attr = MEMBER_SORTS[sort_field]
            members.sort(key=lambda m: (getattr(m, attr), m.id), reverse=descending)
        return members

    def _filtered(self, key: tuple, compute: Callable[[], list]) -> list:
        """The filtered list for ``key`` (a collection and its filter arguments), computed on
        the first page asked for and sliced for every later page: a page costs its own size,
        not the collection's (the company behind one handler never changes). At most
        :data:`FILTER_CACHE_SIZE` filters are kept, least recently used dropped first."""
        with self._lock:
            found = self._filter_cache.get(key)
            if found is not None:
                self._filter_cache.move_to_end(key)
                return found
        computed = compute()
        with self._lock:
            keep_newest(self._filter_cache, key, computed, FILTER_CACHE_SIZE)
        return computed

    def one_member(self, req: Request, list_id: str, subscriber_hash: str) -> dict[str, Any]:
        """``GET /lists/{list_id}/members/{subscriber_hash}`` (hash or e-mail address)."""
        self._check_list(list_id)
        key = subscriber_hash.lower()
        if "@" in key:
            key = hashlib.md5(key.encode()).hexdigest()
        for m in self.company.members:
            if m.id == key:
                return self._member_object(m)
        raise _not_found()

    # ---------------------------------------------------------------- campaigns

    def _report(self, campaign: EmailCampaign) -> dict[str, Any]:
        with self._lock:
            cached = self._reports.get(campaign.id)
        if cached is not None:
            return cached
        company = self.company
        activity = company.visible_activity(campaign.id)
        hard = soft = opens_total = clicks_total = 0
        openers: set[str] = set()
        clickers: set[str] = set()
        unique_clicks: set[tuple[str, str | None]] = set()
        last_open = last_click = 0
        for rec, events in activity:
            for e in events:
                if e.action == "bounce":
                    if e.type == "hard":
                        hard += 1
                    else:
                        soft += 1
                elif e.action == "open":
                    opens_total += 1
                    openers.add(rec.member_id)
                    last_open = max(last_open, e.timestamp_ms)
                elif e.action == "click":
                    clicks_total += 1
                    clickers.add(rec.member_id)
                    unique_clicks.add((rec.member_id, e.url))
                    last_click = max(last_click, e.timestamp_ms)
        sent = len(activity)
        delivered = sent - hard - soft
        unsubs = company.unsubscribes_by_campaign().get(campaign.id, 0) if sent else 0
        report = {
            "id": campaign.id,
            "campaign_title": campaign.title,
            "type": "regular",
            "list_id": company.list_id,
            "list_is_active": True,
            "list_name": company.list_name,
            "subject_line": campaign.subject_line,
            "preview_text": campaign.preview_text,
            "emails_sent": sent,
            "abuse_reports": 0,
            "unsubscribed": unsubs,
            "send_time": fmt_mailchimp(campaign.send_ms),
            "bounces": {"hard_bounces": hard, "soft_bounces": soft, "syntax_errors": 0},
            "forwards": {"forwards_count": 0, "forwards_opens": 0},
            "opens": {
                "opens_total": opens_total,
                "unique_opens": len(openers),
                "open_rate": _rate(len(openers), delivered),
                "last_open": fmt_mailchimp(last_open) if last_open else "",
            },
            "clicks": {
                "clicks_total": clicks_total,
                "unique_clicks": len(unique_clicks),
                "unique_subscriber_clicks": len(clickers),
                "click_rate": _rate(len(clickers), delivered),
                "last_click": fmt_mailchimp(last_click) if last_click else "",
            },
        }
        with self._lock:
            self._reports[campaign.id] = report
        return report

    def _campaign_object(self, c: EmailCampaign) -> dict[str, Any]:
        company = self.company
        sent = c.status == "sent"
        report = self._report(c) if sent else None
        recipients = (
            report["emails_sent"]
            if report
            else sum(1 for m in company.members if m.status == "subscribed")
        )
        obj: dict[str, Any] = {
            "id": c.id,
            "web_id": c.web_id,
            "type": "regular",
            "create_time": fmt_mailchimp(c.create_ms),
            "archive_url": f"https://mailchi.mp/lumenary/{c.slug}",
            "long_archive_url": f"https://us1.campaign-archive.com/?u=sim{company.list_id}&id={c.id}",
            "status": c.status,
            "emails_sent": report["emails_sent"] if report else 0,
            "send_time": fmt_mailchimp(c.send_ms),
            "content_type": "template",
            "needs_block_refresh": False,
            "resendable": False,
            "recipients": {
                "list_id": company.list_id,
                "list_is_active": True,
                "list_name": company.list_name,
                "segment_text": "",
                "recipient_count": recipients,
            },
            "settings": {
                "subject_line": c.subject_line,
                "preview_text": c.preview_text,
                "title": c.title,
                "from_name": FROM_NAME,
                "reply_to": REPLY_TO,
                "use_conversation": False,
                "to_name": "*|FNAME|*",
                "folder_id": "",
                "authenticate": True,
                "auto_footer": False,
                "inline_css": False,
                "auto_tweet": False,
                "fb_comments": True,
                "timewarp": False,
                "template_id": 10001,
                "drag_and_drop": True,
            },
            "tracking": {
                "opens": True,
                "html_clicks": True,
                "text_clicks": False,
                "goal_tracking": False,
                "ecomm360": False,
                "google_analytics": "",
                "clicktale": "",
            },
        }
        if report:
            obj["report_summary"] = {
                "opens": report["opens"]["opens_total"],
                "unique_opens": report["opens"]["unique_opens"],
                "open_rate": report["opens"]["open_rate"],
                "clicks": report["clicks"]["clicks_total"],
                "subscriber_clicks": report["clicks"]["unique_subscriber_clicks"],
                "click_rate": report["clicks"]["click_rate"],
                "ecommerce": {"total_orders": 0, "total_spent": 0, "total_revenue": 0},
            }
        obj["delivery_status"] = {"enabled": False}
        return obj

    def _filter_campaigns(self, req: Request, sent_only: bool) -> list[EmailCampaign]:
        campaigns = list(self.company.email_campaigns)
        if sent_only:
            campaigns = [c for c in campaigns if c.status == "sent"]
        ctype = req.arg("type")
        if ctype and ctype != "regular":
            campaigns = []
        status = req.arg("status")
        if status:
            allowed = {"save", "paused", "schedule", "sending", "sent"}
            wanted = {s.strip() for s in status.split(",")}
            if not wanted <= allowed:
                raise _Problem(400, "Invalid Resource", f"The status '{status}' is not valid.")
            campaigns = [c for c in campaigns if c.status in wanted]
        list_id = req.arg("list_id")
        if list_id:
            campaigns = [c for c in campaigns if list_id == self.company.list_id]
        for name, attr, since in (
            ("since_send_time", "send_ms", True),
            ("before_send_time", "send_ms", False),
            ("since_create_time", "create_ms", True),
            ("before_create_time", "create_ms", False),
        ):
            limit = self._time_arg(req, name)
            if limit is None:
                continue
            if attr == "send_ms":  # only sent campaigns have a send time to compare
                campaigns = [c for c in campaigns if c.status == "sent"]
            campaigns = [
                c
                for c in campaigns
                if (getattr(c, attr) >= limit if since else getattr(c, attr) < limit)
            ]
        return campaigns

    def campaigns(self, req: Request) -> dict[str, Any]:
        """``GET /campaigns``."""
        count, offset = self._page(req)
        campaigns = self._filter_campaigns(req, sent_only=False)
        sort_field = req.arg("sort_field")
        if sort_field:
            if sort_field not in ("create_time", "send_time"):
                raise _Problem(400, "Invalid Resource", f"Invalid sort_field: {sort_field}")
            attr = "create_ms" if sort_field == "create_time" else "send_ms"
            campaigns.sort(
                key=lambda c: (getattr(c, attr), c.id),
                reverse=(req.arg("sort_dir", "ASC") or "ASC").upper() == "DESC",
            )
        page = campaigns[offset : offset + count]
        return {
            "campaigns": [self._campaign_object(c) for c in page],
            "total_items": len(campaigns),
            "_links": self._links(req),
        }

    def one_campaign(self, req: Request, campaign_id: str) -> dict[str, Any]:
        """``GET /campaigns/{campaign_id}``."""
        c = self.company.email_campaign(campaign_id)
        if c is None:
            raise _not_found()
        return self._campaign_object(c)

    # ---------------------------------------------------------------- reports

    def reports(self, req: Request) -> dict[str, Any]:
        """``GET /reports``: one report per sent campaign, oldest send first."""
        count, offset = self._page(req)
        campaigns = sorted(
            self._filter_campaigns(req, sent_only=True), key=lambda c: (c.send_ms, c.id)
        )
        page = campaigns[offset : offset + count]
        return {
            "reports": [self._report(c) for c in page],
            "total_items": len(campaigns),
            "_links": self._links(req),
        }

    def _sent(self, campaign_id: str) -> EmailCampaign:
        c = self.company.email_campaign(campaign_id)
        if c is None or c.status != "sent":
            raise _not_found()
        return c

    def one_report(self, req: Request, campaign_id: str) -> dict[str, Any]:
        """``GET /reports/{campaign_id}``."""
        return self._report(self._sent(campaign_id))

    def _select_activity(
        self, campaign_id: str, since: int | None
    ) -> list[tuple[RecipientActivity, list[EmailEvent]]]:
        """Each recipient of a campaign with their visible events at or after ``since``;
        recipients left with none are omitted when ``since`` is given."""
        entries = []
        lag = self.open_stats_delay_ms
        for rec, events in self.company.visible_activity(campaign_id):
            if lag:
                events = [e for e in events if self._reported(e, lag)]
            if since is not None:
                events = [e for e in events if e.timestamp_ms >= since]
                if not events:
                    continue
            entries.append((rec, events))
        return entries

    def _reported(self, event: EmailEvent, lag: int) -> bool:
        """Whether an event shows by ``as_of``: opens show a fixed part of ``lag`` after they
        happen (drawn per event), clicks and bounces at once."""
        if event.action != "open":
            return True
        digest = hashlib.blake2b(
            f"{event.campaign_id}:{event.member_id}:{event.timestamp_ms}".encode(), digest_size=4
        ).digest()
        delay = lag * int.from_bytes(digest) // 2**32
        return event.timestamp_ms + delay < self.company.as_of_ms

    def email_activity(self, req: Request, campaign_id: str) -> dict[str, Any]:
        """``GET /reports/{campaign_id}/email-activity`` (see the module docstring for
        ``since``); each page a slice of the recipients filtered once per ``since``."""
        campaign = self._sent(campaign_id)
        count, offset = self._page(req)
        since = self._time_arg(req, "since")
        list_id = self.company.list_id
        entries = self._filtered(
            ("email-activity", campaign.id, since, self.open_stats_delay_ms),
            lambda: self._select_activity(campaign.id, since),
        )
        page = entries[offset : offset + count]
        emails = []
        for rec, events in page:
            activity = []
            for e in events:
                item: dict[str, Any] = {"action": e.action}
                if e.type is not None:
                    item["type"] = e.type
                item["timestamp"] = fmt_mailchimp(e.timestamp_ms)
                if e.url is not None:
                    item["url"] = e.url
                if e.action != "bounce":
                    item["ip"] = e.ip or ""
                activity.append(item)
            emails.append(
                {
                    "campaign_id": campaign.id,
                    "list_id": list_id,
                    "list_is_active": True,
                    "email_id": rec.member_id,
                    "email_address": rec.email,
                    "activity": activity,
                }
            )
        return {
            "emails": emails,
            "campaign_id": campaign.id,
            "total_items": len(entries),
            "_links": self._links(req),
        }
