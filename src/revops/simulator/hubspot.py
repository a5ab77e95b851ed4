"""HubSpot CRM v3 contacts API over the synthetic company.

Endpoints (paths relative to ``/hubspot``):

* ``POST /crm/v3/objects/contacts/search`` - ``filterGroups`` (OR of AND-ed filters, at most
  5 groups / 6 filters each / 18 in all), one ``sorts`` rule, ``query``, ``properties``,
  ``limit`` (at most 200; more is a 400) and ``after`` (an offset string). Paging stops at the
  real 10,000-result cap: a request whose ``after + limit`` exceeds 10,000 answers 400
  ``VALIDATION_ERROR``. ``total`` is the true count. Unsorted results are in ``hs_object_id``
  order.
* ``GET /crm/v3/objects/contacts`` - ``limit`` (at most 100, larger values are capped),
  ``after`` (an opaque cursor: the next id), ``properties`` (comma-separated or repeated),
  ``archived``.
* ``GET /crm/v3/objects/contacts/{id}`` (``idProperty=email`` supported),
  ``POST /crm/v3/objects/contacts/batch/read``, ``GET /crm/v3/properties/contacts``.

Datetime filter values may be epoch milliseconds (number or string) or ISO 8601. String
comparisons (``EQ``, ``NEQ``, ``IN``...) are case-insensitive, as HubSpot's are. ``NEQ`` and
``NOT_IN`` match contacts without a value. Properties come back as strings (timestamps as
``2026-11-01T14:03:27.123Z``), ``null`` when requested but unset; ``createdate``,
``lastmodifieddate`` and ``hs_object_id`` are always included.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import re
import threading
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from revops.simulator.company import Company, Contact
from revops.simulator.wire import Request, Response, dt_to_ms, fmt_hubspot, json_response, parse_iso

__all__ = ["HubSpotAPI", "PROPERTIES", "SEARCH_CAP"]

SEARCH_CAP = 10_000
SEARCH_MAX_LIMIT = 200
LIST_MAX_LIMIT = 100
DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")

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
PROPERTIES: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "email": ("string", "text", "Email", "contactinformation", ()),
    "firstname": ("string", "text", "First Name", "contactinformation", ()),
    "lastname": ("string", "text", "Last Name", "contactinformation", ()),
    "company": ("string", "text", "Company Name", "contactinformation", ()),
    "createdate": ("datetime", "date", "Create Date", "contactinformation", ()),
    "lastmodifieddate": ("datetime", "date", "Last Modified Date", "contactinformation", ()),
    "hs_object_id": ("number", "number", "Record ID", "contactinformation", ()),
    "lifecyclestage": (
        "enumeration",
        "radio",
        "Lifecycle Stage",
        "contactinformation",
        LIFECYCLE_STAGES,
    ),
    "hs_lifecyclestage_subscriber_date": (
        "datetime",
        "date",
        "Became a Subscriber Date",
        "contactinformation",
        (),
    ),
    "hs_lifecyclestage_lead_date": (
        "datetime",
        "date",
        "Became a Lead Date",
        "contactinformation",
        (),
    ),
    "hs_lifecyclestage_marketingqualifiedlead_date": (
        "datetime",
        "date",
        "Became a Marketing Qualified Lead Date",
        "contactinformation",
        (),
    ),
    "hs_lifecyclestage_salesqualifiedlead_date": (
        "datetime",
        "date",
        "Became a Sales Qualified Lead Date",
        "contactinformation",
        (),
    ),
    "hs_lifecyclestage_opportunity_date": (
        "datetime",
        "date",
        "Became an Opportunity Date",
        "contactinformation",
        (),
    ),
    "hs_lifecyclestage_customer_date": (
        "datetime",
        "date",
        "Became a Customer Date",
        "contactinformation",
        (),
    ),
    "hs_analytics_source": (
        "enumeration",
        "select",
        "Original Traffic Source",
        "analyticsinformation",
        SOURCES,
    ),
    "hs_analytics_source_data_1": (
        "string",
        "text",
        "Original Traffic Source Drill-Down 1",
        "analyticsinformation",
        (),
    ),
    "hs_analytics_source_data_2": (
        "string",
        "text",
        "Original Traffic Source Drill-Down 2",
        "analyticsinformation",
        (),
    ),
    "hs_google_click_id": ("string", "text", "Google ad click id", "analyticsinformation", ()),
    "hubspot_owner_id": ("enumeration", "select", "Contact owner", "sales_properties", ()),
    "hs_lead_status": ("enumeration", "radio", "Lead Status", "sales_properties", LEAD_STATUSES),
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


class _Invalid(ValueError):
    """A request HubSpot answers with 400 VALIDATION_ERROR."""


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


class _Filter:
    def __init__(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise _Invalid("Each filter must be an object")
        prop = raw.get("propertyName")
        op = raw.get("operator")
        if not isinstance(prop, str) or not prop:
            raise _Invalid("filter is missing propertyName")
        if prop not in PROPERTIES:
            raise _Invalid(
                f"There was a problem with the request: Property '{prop}' does not exist"
            )
        if op not in _OPERATORS:
            raise _Invalid(f"Invalid operator '{op}' for property {prop}")
        self.prop, self.op = prop, op
        self.kind = PROPERTIES[prop][0]
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
        if self.kind == "string" or self.kind == "enumeration":
            a: Any = str(actual).lower()
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


class HubSpotAPI:
    """Request handler for the HubSpot CRM v3 contacts endpoints."""

    def __init__(self, company: Company, token: str) -> None:
        self.company = company
        self.token = token
        self._by_id = {c.id: c for c in company.contacts}
        self._ids = [int(c.id) for c in company.contacts]
        self._cache: OrderedDict[str, list[Contact]] = OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- errors

    def unauthorized(self) -> Response:
        """HubSpot's answer to a missing or wrong token."""
        return _error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can "
            "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def rate_limited(self) -> Response:
        """HubSpot's secondly-limit 429."""
        body = {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "SECONDLY",
        }
        return json_response(
            429,
            body,
            headers={
                "X-HubSpot-RateLimit-Secondly": "10",
                "X-HubSpot-RateLimit-Secondly-Remaining": "0",
            },
        )

    def unavailable(self) -> Response:
        """A transient 503."""
        return _error(503, "Service Unavailable. Please try again later.", "INTERNAL_ERROR")

    # ---------------------------------------------------------------- routing

    def check_auth(self, req: Request) -> Response | None:
        """None when the bearer token is the simulator's."""
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and auth[7:].strip() == self.token:
            return None
        return self.unauthorized()

    def handle(self, req: Request) -> Response:
        """Serve one request under ``/hubspot``."""
        denied = self.check_auth(req)
        if denied:
            return denied
        path = req.path.rstrip("/")
        try:
            if path == "/crm/v3/objects/contacts/search" and req.method == "POST":
                return self.search(req)
            if path == "/crm/v3/objects/contacts/batch/read" and req.method == "POST":
                return self.batch_read(req)
            if path == "/crm/v3/objects/contacts" and req.method == "GET":
                return self.list_contacts(req)
            m = re.fullmatch(r"/crm/v3/objects/contacts/([^/]+)", path)
            if m and req.method == "GET":
                return self.get_one(req, m.group(1))
            if path == "/crm/v3/properties/contacts" and req.method == "GET":
                return self.properties()
        except _Invalid as err:
            return _error(400, str(err), "VALIDATION_ERROR")
        return _error(404, f"No route found for {req.method} {req.path}", "OBJECT_NOT_FOUND")

    # ---------------------------------------------------------------- rendering

    @staticmethod
    def _wanted(names: list[str] | None) -> list[str]:
        if not names:
            return list(DEFAULT_PROPERTIES)
        out = [n for n in dict.fromkeys(names) if n in PROPERTIES]
        for name in ALWAYS:
            if name not in out:
                out.append(name)
        return out

    @staticmethod
    def _record(contact: Contact, props: list[str]) -> dict[str, Any]:
        values = contact.values
        rendered = {name: _render(values.get(name), PROPERTIES[name][0]) for name in sorted(props)}
        return {
            "id": contact.id,
            "properties": rendered,
            "createdAt": fmt_hubspot(contact.created_ms),
            "updatedAt": fmt_hubspot(contact.updated_ms),
            "archived": False,
        }

    # ---------------------------------------------------------------- search

    def _search_results(
        self,
        groups: list[list[_Filter]],
        sort: tuple[str, bool] | None,
        query: str | None,
        key: str,
    ) -> list[Contact]:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        contacts = self.company.contacts
        if groups:
            contacts = [
                c for c in contacts if any(all(f.matches(c.values) for f in g) for g in groups)
            ]
        if query:
            needle = query.lower().strip()
            contacts = [
                c
                for c in contacts
                if any(
                    needle in str(c.values.get(p) or "").lower()
                    for p in ("email", "firstname", "lastname", "company")
                )
            ]
        if sort is not None:
            prop, descending = sort
            kind = PROPERTIES[prop][0]
            present = [c for c in contacts if c.values.get(prop) is not None]
            missing = [c for c in contacts if c.values.get(prop) is None]
            if kind in ("datetime", "number"):
                present.sort(key=lambda c: (c.values[prop], int(c.id)), reverse=descending)  # type: ignore[index]
            else:
                present.sort(
                    key=lambda c: (str(c.values[prop]).lower(), int(c.id)), reverse=descending
                )
            contacts = present + missing
        with self._lock:
            self._cache[key] = contacts
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return contacts

    def search(self, req: Request) -> Response:
        """``POST /crm/v3/objects/contacts/search``."""
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
            groups.append([_Filter(f) for f in filters])
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
            if prop not in PROPERTIES:
                raise _Invalid(
                    f"There was a problem with the request: Property '{prop}' does not exist"
                )
            sort = (prop, desc)
        props = body.get("properties")
        if props is not None and not isinstance(props, list):
            raise _Invalid("properties must be a list of property names")
        query = body.get("query")
        key = json.dumps([raw_groups, sort, query], sort_keys=True)
        results = self._search_results(groups, sort, query if isinstance(query, str) else None, key)
        page = results[after : after + limit]
        wanted = self._wanted([str(p) for p in props] if props else None)
        answer: dict[str, Any] = {
            "total": len(results),
            "results": [self._record(c, wanted) for c in page],
        }
        if after + limit < len(results) and limit > 0:
            nxt = str(after + limit)
            answer["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return json_response(200, answer)

    # ---------------------------------------------------------------- list / read

    @staticmethod
    def _props_param(req: Request) -> list[str] | None:
        names: list[str] = []
        for value in req.args("properties"):
            names.extend(p.strip() for p in value.split(",") if p.strip())
        return names or None

    def list_contacts(self, req: Request) -> Response:
        """``GET /crm/v3/objects/contacts``: cursor-paged in id order."""
        try:
            limit = int(req.arg("limit", "10") or 10)
        except ValueError:
            raise _Invalid(f"Invalid limit: {req.arg('limit')}") from None
        if limit < 1:
            raise _Invalid(f"Invalid limit: {limit}")
        limit = min(limit, LIST_MAX_LIMIT)
        after_raw = req.arg("after")
        after = 0
        if after_raw:
            if not after_raw.isdigit():
                raise _Invalid(f"Invalid after cursor: {after_raw}")
            after = int(after_raw)
        wanted = self._wanted(self._props_param(req))
        archived = (req.arg("archived", "false") or "false").lower() == "true"
        contacts = [] if archived else self.company.contacts
        start = bisect.bisect_left(self._ids, after) if contacts else 0
        page = contacts[start : start + limit]
        answer: dict[str, Any] = {"results": [self._record(c, wanted) for c in page]}
        if start + limit < len(contacts):
            nxt = contacts[start + limit].id
            params = {"limit": str(limit), "after": nxt}
            if self._props_param(req):
                params["properties"] = ",".join(self._props_param(req) or [])
            answer["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"{req.base_url}/crm/v3/objects/contacts?{urlencode(params)}",
                }
            }
        return json_response(200, answer)

    def _find(self, ident: str, id_property: str | None) -> Contact | None:
        if id_property and id_property != "hs_object_id":
            if id_property != "email":
                raise _Invalid(f"Invalid idProperty: {id_property}")
            needle = ident.strip().lower()
            for c in self.company.contacts:
                if str(c.values.get("email") or "").strip().lower() == needle:
                    return c
            return None
        return self._by_id.get(ident)

    def get_one(self, req: Request, ident: str) -> Response:
        """``GET /crm/v3/objects/contacts/{id}``."""
        contact = self._find(ident, req.arg("idProperty"))
        if contact is None:
            return json_response(
                404,
                {
                    "status": "error",
                    "message": "resource not found",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        return json_response(200, self._record(contact, self._wanted(self._props_param(req))))

    def batch_read(self, req: Request) -> Response:
        """``POST /crm/v3/objects/contacts/batch/read``."""
        try:
            body = req.json() or {}
        except ValueError:
            raise _Invalid("Invalid input JSON") from None
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or len(inputs) > 100:
            raise _Invalid("inputs must be a list of at most 100 objects")
        wanted = self._wanted(body.get("properties"))
        results, missing = [], []
        for item in inputs:
            ident = str((item or {}).get("id", ""))
            contact = self._find(ident, body.get("idProperty"))
            if contact is None:
                missing.append(ident)
            else:
                results.append(self._record(contact, wanted))
        stamp = fmt_hubspot(self.company.as_of_ms)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not "
                    "exist.",
                    "context": {"ids": missing},
                }
            ]
            return json_response(207, answer)
        return json_response(200, answer)

    def properties(self) -> Response:
        """``GET /crm/v3/properties/contacts``: the property definitions the simulator serves."""
        results = []
        for name, (kind, field_type, label, group, options) in PROPERTIES.items():
            results.append(
                {
                    "name": name,
                    "label": label,
                    "type": kind,
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
