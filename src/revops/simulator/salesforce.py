"""Salesforce REST API over the synthetic company (the org of Lumenary's sales team).

Endpoints (paths relative to the instance URL, ``REVOPS_SALESFORCE_URL``; ``v{N}`` is any API
version Salesforce serves on the company's ``as_of`` day, from the dated list in
:mod:`revops.sources.versions`, answered alike). A retired version (past its sunset in that
list) is answered ``410`` with ``[{"errorCode": "GONE", ...}]``, as Salesforce's API
End-of-Life page says REST API does; a version it does not know (or not yet released) is
``404 NOT_FOUND``, as an unknown resource is.

* ``GET /services/data/`` - the versions; ``GET /services/data/v{N}/`` - the resources.
* ``GET /services/data/v{N}/query?q=SOQL`` and ``/queryAll?q=SOQL`` (deleted rows, only here,
  while in the 15-day recycle bin). Pages of 2,000 rows (``Sforce-Query-Options: batchSize=N``,
  200..2,000, asks for fewer); ``nextRecordsUrl`` (``/services/data/v{N}/query/{locator}-{n}``)
  fetches the next page until ``done``. The SOQL subset is in :mod:`revops.simulator.soql`.
  Query locators belong to one simulated clock: after the clock moves, an old locator is
  ``INVALID_QUERY_LOCATOR``, as an expired cursor is on the real API.
* ``GET /services/data/v{N}/sobjects``, ``/sobjects/{Object}``, ``/sobjects/{Object}/describe``,
  ``/sobjects/{Object}/{Id}``, ``/sobjects/{Object}/updated?start=&end=`` and
  ``/sobjects/{Object}/deleted?start=&end=``, ``/limits``.
* Bulk API 2.0 query jobs: ``POST /services/data/v{N}/jobs/query`` (``{"operation": "query" |
  "queryAll", "query": SOQL, "columnDelimiter", "lineEnding"}``; answered ``UploadComplete``),
  ``GET .../jobs/query/{id}`` (the job's state: ``InProgress`` for the first polls, then
  ``JobComplete``; a job can end ``Failed`` or ``Aborted``, see :attr:`SalesforceAPI.job_fates`),
  ``PATCH .../jobs/query/{id}`` ``{"state": "Aborted"}``, ``DELETE .../jobs/query/{id}``,
  ``GET .../jobs/query`` (every job, one page), and
  ``GET .../jobs/query/{id}/results?locator=&maxRecords=``: CSV (every value quoted, nulls
  empty, datetimes ``2026-11-01T14:03:27.000Z``, parent fields as ``Owner.Name`` columns) with
  ``Sforce-NumberOfRecords`` and ``Sforce-Locator`` (the next set's locator, ``null`` after the
  last). The query runs when the job is created, over the same records as REST ``query`` /
  ``queryAll``; aggregate (``COUNT()``) and ``OFFSET`` queries are refused, as Bulk API 2.0
  does not support them. Results of another API version than the job's are ``409``.
* ``POST /services/oauth2/token`` - ``refresh_token`` and ``client_credentials`` grants (no
  ``expires_in``, as Salesforce; sessions last 7,200 s here); the answer carries
  ``instance_url``. The static ``REVOPS_SALESFORCE_TOKEN`` never expires.

Objects: Lead, LeadHistory, Contact, Account, Opportunity, OpportunityHistory,
OpportunityContactRole, Campaign, CampaignMember, Task, Event, User (fields in
:data:`revops.simulator.crm.SF_SCHEMA`). Parent fields can be selected through relationships
(``Owner.Name``, ``Account.Name``, ``Who.Email``...). Values follow Salesforce JSON: datetimes
``2026-11-01T14:03:27.000+0000``, dates ``2026-11-01``, numbers as JSON numbers, 18-character
ids. Every answer carries ``Sforce-Limit-Info: api-usage=n/15000``. Errors are JSON lists
``[{"message": ..., "errorCode": ...}]``: 401 ``INVALID_SESSION_ID``, 403
``REQUEST_LIMIT_EXCEEDED`` (throttling), 400 ``MALFORMED_QUERY`` / ``INVALID_FIELD`` /
``INVALID_TYPE``, 404 ``NOT_FOUND``, 410 ``GONE`` (retired API version).

:attr:`SalesforceAPI.log` keeps the ``(method, path)`` of the requests answered (for tests that
check which endpoints a connector used).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from revops.simulator._gen import sfid
from revops.simulator.company import Company
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.crm import SF_KEY_PREFIX, SF_SCHEMA, SfRecord
from revops.simulator.oauth import GrantRules, TokenStore, granted_form
from revops.simulator.soql import Compiled, SoqlError, compile_query, parse
from revops.simulator.wire import (
    Request,
    Response,
    dt_to_ms,
    fmt_salesforce,
    json_response,
    keep_newest,
    parse_iso,
    position_of,
    position_token,
)
from revops.sources.versions import vendor

__all__ = ["BATCH_SIZE", "JOB_POLLS", "SalesforceAPI"]

BATCH_SIZE = 2000
MIN_BATCH = 200
DAILY_LIMIT = 15_000
_SEASONS = ("Winter", "Spring", "Summer")
JOB_POLLS = 3
"""Status reads a Bulk API 2.0 query job takes to finish: ``InProgress`` before the last."""
BULK_DEFAULT_RECORDS = 50_000
"""Records per results set when the client gives no ``maxRecords`` (Salesforce sizes sets
itself; the simple-salesforce client asks for 50,000)."""
BULK_DAILY_JOBS = 10_000  # query jobs per rolling 24 hours (Bulk API 2.0 limits)
BULK_FIRST_VERSION = 47.0  # Bulk API 2.0 query jobs exist from API version 47.0
_GRANT_RULES = GrantRules(  # RFC 6749's error codes, but an unknown client is invalid_client_id
    method=(400, "must use HTTP POST"),
    body=(400, "invalid request body"),
    grant=(400, "grant type not supported"),
    client_id=(400, "client identifier invalid", "invalid_client_id"),
    client_secret=(400, "invalid client credentials"),
    refresh_token=(400, "expired access/refresh token"),
    grants=("refresh_token", "client_credentials"),
)
_DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_REFERENCE_TO: dict[str, dict[str, str]] = {
    "Lead": {
        "OwnerId": "User",
        "ConvertedAccountId": "Account",
        "ConvertedContactId": "Contact",
        "ConvertedOpportunityId": "Opportunity",
        "MasterRecordId": "Lead",
    },
    "Contact": {"AccountId": "Account", "OwnerId": "User", "MasterRecordId": "Contact"},
    "Account": {"OwnerId": "User", "MasterRecordId": "Account"},
    "Opportunity": {"AccountId": "Account", "OwnerId": "User", "CampaignId": "Campaign"},
    "OpportunityHistory": {"OpportunityId": "Opportunity"},
    "OpportunityContactRole": {"OpportunityId": "Opportunity", "ContactId": "Contact"},
    "Campaign": {"OwnerId": "User", "ParentId": "Campaign"},
    "CampaignMember": {"CampaignId": "Campaign", "LeadId": "Lead", "ContactId": "Contact"},
    "Task": {"OwnerId": "User", "AccountId": "Account", "WhoId": "*", "WhatId": "*"},
    "Event": {"OwnerId": "User", "AccountId": "Account", "WhoId": "*", "WhatId": "*"},
    "LeadHistory": {"LeadId": "Lead"},
    "User": {"ManagerId": "User"},
}


def _labels(obj: str) -> tuple[str, str]:
    """An object's label and plural label: its name in words (``Opportunity Contact Role``),
    plural in English (``History`` stays as it is)."""
    label = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", obj)
    if label.endswith("History"):
        return label, label
    return label, label[:-1] + "ies" if label.endswith("y") else label + "s"


def _references(obj: str) -> dict[str, str]:
    """Relationship name -> reference field (``Owner`` -> ``OwnerId``)."""
    out = {}
    for name in _REFERENCE_TO.get(obj, {}):
        out[name[:-2] if name.endswith("Id") else name] = name
    if "CreatedById" in SF_SCHEMA[obj]:
        out["CreatedBy"] = "CreatedById"
    if "LastModifiedById" in SF_SCHEMA[obj]:
        out["LastModifiedBy"] = "LastModifiedById"
    return out


REFERENCES = {obj: _references(obj) for obj in SF_SCHEMA}
_CANONICAL = {obj: {n.lower(): n for n in fields} for obj, fields in SF_SCHEMA.items()}


def _errors(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, [{"message": message, "errorCode": code}], headers=headers)


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return fmt_salesforce(int(value))
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind in ("double", "currency", "percent"):
        return float(value)
    return value


class _Cursor:
    def __init__(self, rows: list[SfRecord], compiled: Compiled, all_rows: bool) -> None:
        self.rows = rows
        self.compiled = compiled
        self.all_rows = all_rows


def _csv_value(kind: str, value: Any) -> str | None:
    """A value as Bulk API 2.0 writes it in CSV results (None: an empty, unquoted cell)."""
    if value is None:
        return None
    if kind == "datetime":
        return fmt_salesforce(int(value))[:-5] + "Z"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind in ("double", "currency", "percent"):
        return str(float(value))
    return str(value)


def _csv_cell(value: str | None) -> str:
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


@dataclass
class _FieldIndex:
    """One datetime field of an object: its non-null values sorted, and their rows' positions."""

    keys: list[int]
    positions: list[int]


@dataclass
class _Job:
    """One Bulk API 2.0 query job: its answer is computed when it is created."""

    id: str
    operation: str
    object: str
    version: str
    created_ms: int
    header: list[str]
    records: list[SfRecord]
    compiled: Compiled
    rendered: list[list[str | None]] | None = None  # None: rows rendered per results set
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    fate: str = "JobComplete"  # JobComplete, Failed or Aborted
    polls: int = 0
    state: str = "UploadComplete"


class SalesforceAPI:
    """Request handler for the Salesforce REST API and its OAuth token endpoint."""

    def __init__(self, company: Company, tokens: TokenStore) -> None:
        self.company = company
        self.tokens = tokens
        self.credentials = SIM_CREDENTIALS["salesforce"]
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._index: dict[str, SfRecord] | None = None
        self._indexes: dict[tuple[str, str], tuple[list[Any], _FieldIndex | None]] = {}
        self._lock = threading.Lock()
        self._calls = 0
        day = company.as_of.date()
        dated = vendor("salesforce")
        self.dated = dated
        self.served = tuple(v.name for v in dated.supported(day))
        self.retired = {v.name for v in dated.versions if dated.retired(v.name, day)}
        self.jobs: dict[str, _Job] = {}
        self._job_count = 0
        self.job_fates: deque[str] = deque()
        """The end states of the next query jobs created (``Failed``/``Aborted``); empty: they
        complete. Tests use it the way an org's long-running or admin-aborted job shows up."""
        self.log: deque[tuple[str, str]] = deque(maxlen=10_000)

    # ---------------------------------------------------------------- errors

    def throttled(self, retry_after: int | None) -> Response:
        """403 ``REQUEST_LIMIT_EXCEEDED`` (Salesforce does not send ``Retry-After``; it is
        added only for the ``rate_limit`` fault kind)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers)

    def server_error(self) -> Response:
        """A transient 500."""
        return _errors(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1795421370-212893 (-1468216342)",
        )

    def is_oauth(self, req: Request) -> bool:
        """``POST /services/oauth2/token``."""
        return req.path.rstrip("/") == "/services/oauth2/token"

    def _limit_header(self) -> dict[str, str]:
        with self._lock:
            self._calls += 1
            used = self._calls
        return {"Sforce-Limit-Info": f"api-usage={used}/{DAILY_LIMIT}"}

    # ---------------------------------------------------------------- oauth

    def token(self, req: Request) -> Response:
        """The OAuth 2.0 token endpoint: ``refresh_token`` and ``client_credentials`` grants."""
        creds = self.credentials
        form = granted_form(req, creds, _GRANT_RULES)
        if isinstance(form, Response):
            return form
        token, _ = self.tokens.mint("salesforce", creds["org_id"] + "!AQ")
        issued = str(int(datetime.now().timestamp() * 1000))
        integration = self.company.crm.users[0].sf_id
        signature = hashlib.sha256((token + issued).encode()).digest()
        return json_response(
            200,
            {
                "access_token": token,
                "signature": base64.b64encode(signature).decode(),
                "scope": "refresh_token api",
                "instance_url": req.base_url,
                "id": f"{req.base_url}/id/{creds['org_id']}/{integration}",
                "token_type": "Bearer",
                "issued_at": issued,
            },
        )

    # ---------------------------------------------------------------- routing

    def check_auth(self, req: Request) -> Response | None:
        """None when the session id (bearer token) is valid."""
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            token = ""
        if self.tokens.check("salesforce", token.strip()) == "valid":
            return None
        return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def handle(self, req: Request) -> Response:
        """Serve one request (paths relative to the instance URL)."""
        if self.is_oauth(req):
            return self.token(req)
        path = req.path.rstrip("/")
        self.log.append((req.method, path))
        if path == "/services/data":
            return json_response(200, self.versions(req))
        m = re.fullmatch(r"/services/data/v(\d+\.\d)(/.*)?", path)
        if m is not None and m.group(1) in self.retired:
            return _errors(
                410,
                "GONE",
                f"API version {m.group(1)} has been retired and is no longer available; "
                f"use a supported version ({self.served[0]} to {self.served[-1]}).",
            )
        if m is None or m.group(1) not in self.served:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        denied = self.check_auth(req)
        if denied:
            return denied
        version, rest = m.group(1), m.group(2) or ""
        if rest == "/jobs/query" or rest.startswith("/jobs/query/"):
            return self.bulk(req, version, rest[len("/jobs/query") :])
        if req.method != "GET":
            return _errors(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{req.method}' not allowed. Allowed are GET",
            )
        headers = self._limit_header()
        prefix = f"/services/data/v{version}"
        try:
            if rest == "":
                payload: Any = {
                    name: f"{prefix}/{name}"
                    for name in ("limits", "query", "queryAll", "sobjects", "search")
                }
                if float(version) >= BULK_FIRST_VERSION:
                    payload["jobs"] = f"{prefix}/jobs"
            elif rest == "/limits":
                payload = {
                    "DailyApiRequests": {
                        "Max": DAILY_LIMIT,
                        "Remaining": DAILY_LIMIT - self._calls,
                    },
                    "DailyBulkV2QueryJobs": {
                        "Max": BULK_DAILY_JOBS,
                        "Remaining": BULK_DAILY_JOBS - self._job_count,
                    },
                }
            elif rest in ("/query", "/queryAll"):
                payload = self.query(req, prefix, rest == "/queryAll")
            elif (mm := re.fullmatch(r"/(query|queryAll)/([^/]+)-(\d+)", rest)) is not None:
                payload = self.more(
                    req, prefix, mm.group(1) == "queryAll", mm.group(2), int(mm.group(3))
                )
            elif rest == "/sobjects":
                payload = self.describe_global(prefix)
            elif (mm := re.fullmatch(r"/sobjects/([^/]+)(?:/([^/]+))?", rest)) is not None:
                payload = self.sobject(req, prefix, mm.group(1), mm.group(2))
            else:
                return _errors(404, "NOT_FOUND", "The requested resource does not exist", headers)
        except SoqlError as err:
            status = 404 if err.code == "NOT_FOUND" else 400
            return _errors(status, err.code, err.message, headers)
        return json_response(200, payload, headers=headers)

    def versions(self, req: Request) -> list[dict[str, str]]:
        """``GET /services/data/``: every API version the simulator answers."""
        out = []
        for v in self.served:
            n = int(float(v))  # 32.0 = Winter '15, then Spring, Summer, Winter '16, ...
            year = 2015 + (n - 32) // 3
            season = _SEASONS[(n - 32) % 3]
            out.append(
                {
                    "label": f"{season} '{year % 100:02d}",
                    "url": f"/services/data/v{v}",
                    "version": v,
                }
            )
        return out

    # ---------------------------------------------------------------- query

    def _rows(self, obj: str) -> list[SfRecord]:
        return self.company.crm.sf[obj]

    def _record_index(self) -> dict[str, SfRecord]:
        with self._lock:
            if self._index is not None:
                return self._index
        index: dict[str, SfRecord] = {}
        for rows in self.company.crm.sf.values():
            for rec in rows:
                index[rec.id[:15]] = rec
        with self._lock:
            self._index = index
        return index

    def _render(self, rec: SfRecord, fields: list[str], compiled: Compiled, prefix: str) -> dict:
        schema = SF_SCHEMA[rec.object]
        out: dict[str, Any] = {
            "attributes": {"type": rec.object, "url": f"{prefix}/sobjects/{rec.object}/{rec.id}"}
        }
        parents: dict[str, dict[str, Any] | None] = {}
        for name in fields:
            if "." in name:
                rel, _, sub = name.partition(".")
                ref_field, sub_name = compiled.relations[name]
                if rel not in parents:
                    target_id = rec.fields.get(ref_field)
                    parent = self._record_index().get(target_id[:15]) if target_id else None
                    parents[rel] = (
                        {
                            "attributes": {
                                "type": parent.object,
                                "url": f"{prefix}/sobjects/{parent.object}/{parent.id}",
                            }
                        }
                        if parent is not None
                        else None
                    )
                    if parent is not None:
                        parents[rel]["_rec"] = parent  # type: ignore[index]
                holder = parents[rel]
                if holder is None:
                    continue
                parent = holder["_rec"]
                pschema = SF_SCHEMA[parent.object]
                canonical = _CANONICAL[parent.object].get(sub_name.lower())
                if canonical is None:
                    raise SoqlError(
                        "INVALID_FIELD",
                        f"No such column '{sub_name}' on entity '{parent.object}'.",
                    )
                holder[canonical] = _value(pschema[canonical], parent.fields.get(canonical))
            else:
                out[name] = _value(schema[name], rec.fields.get(name))
        for rel, holder in parents.items():
            if holder is not None:
                holder.pop("_rec", None)
            out[rel] = holder
        return out

    def _locator(self, text: str, all_rows: bool, batch: int) -> str:
        digest = hashlib.sha256(
            f"{self.company.seed}|{self.company.as_of_ms}|{all_rows}|{batch}|{text}".encode()
        ).digest()
        return sfid("01g", int.from_bytes(digest[:7], "big"))

    @staticmethod
    def _batch(req: Request) -> int:
        options = req.headers.get("sforce-query-options", "")
        m = re.search(r"batchSize\s*=\s*(\d+)", options)
        if m is None:
            return BATCH_SIZE
        return max(MIN_BATCH, min(BATCH_SIZE, int(m.group(1))))

    def select(self, text: str, all_rows: bool) -> tuple[list[SfRecord], Compiled]:
        """The records a SOQL query answers (``all_rows``: deleted ones too), in its order.

        The predicate is evaluated only on the rows a datetime bound of the ``WHERE`` lets
        through (:meth:`_candidates`); the query's later pages are slices of this answer
        (kept with its locator), never a new filter."""
        q = parse(text)
        compiled = compile_query(q, SF_SCHEMA, REFERENCES, self.company.as_of_ms)
        rows = [
            r
            for r in self._candidates(compiled)
            if (all_rows or not r.deleted) and compiled.predicate(r.fields)
        ]
        rows = self._sort(rows, compiled)
        if compiled.offset:
            rows = rows[compiled.offset :]
        if compiled.limit is not None:
            rows = rows[: compiled.limit]
        return rows, compiled

    def _candidates(self, compiled: Compiled) -> list[SfRecord]:
        """The object's rows the predicate can hold for, in the object's order: the narrowest
        range of a datetime field the ``WHERE`` bounds (through :meth:`_field_index`), or all."""
        rows = self._rows(compiled.object)
        indexes: dict[str, _FieldIndex | None] = {}
        spans: dict[str, tuple[int, int]] = {}  # field -> [lo, hi) in its index
        for name, op, value in compiled.bounds:
            if name not in indexes:
                indexes[name] = self._field_index(compiled.object, name)
            index = indexes[name]
            if index is None:
                continue
            keys = index.keys
            lo, hi = spans.get(name, (0, len(keys)))
            if op in ("=", ">="):
                lo = max(lo, bisect.bisect_left(keys, value))
            elif op == ">":
                lo = max(lo, bisect.bisect_right(keys, value))
            if op in ("=", "<="):
                hi = min(hi, bisect.bisect_right(keys, value))
            elif op == "<":
                hi = min(hi, bisect.bisect_left(keys, value))
            spans[name] = (lo, hi)
        if not spans:
            return rows
        name, (lo, hi) = min(spans.items(), key=lambda item: item[1][1] - item[1][0])
        positions = indexes[name].positions  # type: ignore[union-attr]
        return [rows[i] for i in sorted(positions[lo:hi])]

    def _field_index(self, obj: str, name: str) -> _FieldIndex | None:
        """An object's non-null values of a datetime field, sorted, with the rows' positions
        (None when a value is not epoch ms, so the index could not stand for the predicate).

        Built once; each use first compares the rows' current values with the ones it was
        built from (a list comparison, far cheaper than the predicate) and rebuilds it if a
        row changed in place, as a test's late commit does."""
        rows = self._rows(obj)
        current = [rec.fields.get(name) for rec in rows]
        with self._lock:
            found = self._indexes.get((obj, name))
        if found is not None and found[0] == current:
            return found[1]
        pairs = []
        index: _FieldIndex | None
        for i, value in enumerate(current):
            if value is None:
                continue
            if type(value) is not int:
                index = None
                break
            pairs.append((value, i))
        else:
            pairs.sort()
            index = _FieldIndex([v for v, _ in pairs], [i for _, i in pairs])
        with self._lock:
            self._indexes[(obj, name)] = (current, index)
        return index

    @staticmethod
    def _sort(filtered: list[SfRecord], compiled: Compiled) -> list[SfRecord]:
        rows = filtered
        for name, descending, nulls_last in reversed(compiled.order):
            present = [r for r in rows if r.fields.get(name) is not None]
            missing = [r for r in rows if r.fields.get(name) is None]
            exact = SF_SCHEMA[compiled.object].get(name) in ("id", "reference")
            present.sort(
                key=lambda r, n=name, e=exact: r.fields[n] if e else _sort_key(r.fields[n]),
                reverse=descending,
            )
            rows = present + missing if nulls_last else missing + present
        return rows

    def query(self, req: Request, prefix: str, all_rows: bool) -> dict[str, Any]:
        """``GET /query`` / ``/queryAll``: the first page of a SOQL query."""
        text = req.arg("q")
        if text is None:
            raise SoqlError("MALFORMED_QUERY", "A query string (q) is required")
        rows, compiled = self.select(text, all_rows)
        if compiled.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        batch = self._batch(req)
        locator = self._locator(text, all_rows, batch)
        if len(rows) > batch:
            with self._lock:
                keep_newest(self._cursors, locator, _Cursor(rows, compiled, all_rows), 256)
        return self._page(rows, compiled, prefix, 0, batch, all_rows, locator)

    def _page(
        self,
        rows: list[SfRecord],
        compiled: Compiled,
        prefix: str,
        start: int,
        batch: int,
        all_rows: bool,
        locator: str,
    ) -> dict[str, Any]:
        page = rows[start : start + batch]
        answer: dict[str, Any] = {"totalSize": len(rows), "done": start + batch >= len(rows)}
        if not answer["done"]:
            endpoint = "queryAll" if all_rows else "query"
            answer["nextRecordsUrl"] = f"{prefix}/{endpoint}/{locator}-{start + batch}"
        answer["records"] = [self._render(r, compiled.fields, compiled, prefix) for r in page]
        return answer

    def more(self, req: Request, prefix: str, all_rows: bool, locator: str, start: int) -> Any:
        """``GET /query/{locator}-{n}``: a later page of a query."""
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or cursor.all_rows != all_rows or start >= len(cursor.rows):
            raise SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
        batch = self._batch(req)
        return self._page(cursor.rows, cursor.compiled, prefix, start, batch, all_rows, locator)

    # ---------------------------------------------------------------- Bulk API 2.0 query

    def bulk(self, req: Request, version: str, rest: str) -> Response:
        """``/jobs/query[/{id}[/results]]``: create, read, abort, delete a query job, and read
        its results."""
        headers = self._limit_header()
        if float(version) < BULK_FIRST_VERSION:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist", headers)
        if rest == "":
            if req.method == "GET":  # every query job, oldest first, in one page
                with self._lock:
                    jobs = list(self.jobs.values())
                records = [self._job_info(job) for job in jobs]
                return json_response(200, {"done": True, "records": records}, headers=headers)
            if req.method != "POST":
                return _errors(
                    405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed", headers
                )
            return self.create_job(req, version, headers)
        m = re.fullmatch(r"/([^/]+)(/results)?", rest)
        job = self.jobs.get(m.group(1)) if m else None
        if m is None or job is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist", headers)
        if m.group(2):
            if req.method != "GET":
                return _errors(
                    405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed", headers
                )
            return self.job_results(req, job, version, headers)
        if req.method == "GET":
            return json_response(200, self.poll_job(job), headers=headers)
        if req.method == "PATCH":
            try:
                wanted = (req.json() or {}).get("state")
            except ValueError:
                wanted = None
            if wanted != "Aborted":
                return _errors(
                    400, "INVALIDJOBSTATE", "A query job can only be set to Aborted", headers
                )
            if job.state in ("JobComplete", "Failed", "Aborted"):
                return _errors(
                    400, "INVALIDJOBSTATE", f"Job is already in state {job.state}", headers
                )
            job.state = "Aborted"
            return json_response(200, self._job_info(job), headers=headers)
        if req.method == "DELETE":
            with self._lock:
                self.jobs.pop(job.id, None)
            return Response(204, b"", "text/plain", headers)
        return _errors(
            405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed", headers
        )

    def create_job(self, req: Request, version: str, headers: dict[str, str]) -> Response:
        """``POST /jobs/query``: run the query now; the job reports it done after a few polls."""
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _errors(400, "JSON_PARSER_ERROR", "The request body is not valid JSON", headers)
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return _errors(
                400,
                "INVALIDJOB",
                f"InvalidJob : Invalid operation {operation!r}: use query or queryAll",
                headers,
            )
        delimiter = body.get("columnDelimiter") or "COMMA"
        line_ending = body.get("lineEnding") or "LF"
        if delimiter not in _DELIMITERS or line_ending not in _LINE_ENDINGS:
            return _errors(
                400,
                "INVALIDJOB",
                f"InvalidJob : columnDelimiter {delimiter!r} / lineEnding {line_ending!r} "
                "is not supported",
                headers,
            )
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            return _errors(400, "INVALIDJOB", "InvalidJob : a query is required", headers)
        try:
            rows, compiled = self.select(text, operation == "queryAll")
        except SoqlError as err:
            status = 404 if err.code == "NOT_FOUND" else 400
            return _errors(status, err.code, err.message, headers)
        if compiled.count or compiled.offset:
            return _errors(
                400,
                "INVALIDJOB",
                "InvalidJob : Bulk API 2.0 query jobs do not support aggregate functions "
                "(COUNT()) or OFFSET",
                headers,
            )
        with self._lock:
            self._job_count += 1
            number = self._job_count
            fate = self.job_fates.popleft() if self.job_fates else "JobComplete"
        job = _Job(
            id=sfid("750", self.company.as_of_ms // 1000 % 10**9 * 1000 + number),
            operation=operation,
            object=compiled.object,
            version=version,
            created_ms=self.company.as_of_ms,
            header=list(compiled.fields),
            records=rows,
            compiled=compiled,
            # parent fields can fail on some parent (as creating the job does): render now
            rendered=[self._csv_row(r, compiled) for r in rows] if compiled.relations else None,
            delimiter=delimiter,
            line_ending=line_ending,
            fate=fate,
        )
        with self._lock:
            self.jobs[job.id] = job
        return json_response(200, self._job_info(job, created=True), headers=headers)

    def poll_job(self, job: _Job) -> dict[str, Any]:
        """``GET /jobs/query/{id}``: ``InProgress`` until the job has been read
        :data:`JOB_POLLS` times, then its end state."""
        with self._lock:
            if job.state not in ("JobComplete", "Failed", "Aborted"):
                job.polls += 1
                job.state = job.fate if job.polls >= JOB_POLLS else "InProgress"
        return self._job_info(job)

    def _job_info(self, job: _Job, created: bool = False) -> dict[str, Any]:
        stamp = fmt_salesforce(job.created_ms)
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.object,
            "createdById": self.company.crm.users[0].sf_id,
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version),
        }
        if not created:
            info["jobType"] = "V2Query"
        info["lineEnding"] = job.line_ending
        info["columnDelimiter"] = job.delimiter
        if not created:
            done = job.state == "JobComplete"
            info["numberRecordsProcessed"] = len(job.records) if done else 0
            info["retries"] = 0
            info["totalProcessingTime"] = 40 * job.polls
            if job.state == "Failed":
                info["errorMessage"] = (
                    "InternalServerError : the query job failed to complete (simulated: "
                    "a job that ran past Salesforce's processing limits)"
                )
        return info

    def _csv_row(self, rec: SfRecord, compiled: Compiled) -> list[str | None]:
        schema = SF_SCHEMA[rec.object]
        out: list[str | None] = []
        for name in compiled.fields:
            if "." not in name:
                out.append(_csv_value(schema[name], rec.fields.get(name)))
                continue
            ref_field, sub_name = compiled.relations[name]
            target = rec.fields.get(ref_field)
            parent = self._record_index().get(target[:15]) if target else None
            if parent is None:
                out.append(None)
                continue
            pschema = SF_SCHEMA[parent.object]
            canonical = _CANONICAL[parent.object].get(sub_name.lower())
            if canonical is None:
                raise SoqlError(
                    "INVALID_FIELD", f"No such column '{sub_name}' on entity '{parent.object}'."
                )
            out.append(_csv_value(pschema[canonical], parent.fields.get(canonical)))
        return out

    def job_results(
        self, req: Request, job: _Job, version: str, headers: dict[str, str]
    ) -> Response:
        """``GET /jobs/query/{id}/results``: one set of CSV rows from ``locator`` (base64 of
        the set's first row number, as Salesforce's ``MTAwMDA``), ``maxRecords`` long."""
        if version != job.version:
            return _errors(
                409,
                "INVALIDJOBSTATE",
                f"The job was created with API version {job.version}; read its results with "
                "the same version",
                headers,
            )
        if job.state != "JobComplete":
            return _errors(
                400,
                "JOB_NOT_COMPLETE",
                "can only download query results of successfully completed bulk job with "
                f"status: JOB_COMPLETE. Current status: {job.state}",
                headers,
            )
        start = 0
        locator = req.arg("locator")
        if locator:
            try:
                start = position_of(locator)
            except ValueError:
                start = -1
            if not 0 <= start <= len(job.records):
                return _errors(400, "INVALID_LOCATOR", f"Invalid locator: {locator}", headers)
        size = BULK_DEFAULT_RECORDS
        raw_max = req.arg("maxRecords")
        if raw_max is not None:
            if not raw_max.isdigit() or int(raw_max) < 1:
                return _errors(
                    400, "INVALID_MAX_RECORDS", "maxRecords must be a positive number", headers
                )
            size = int(raw_max)
        if job.rendered is not None:
            chunk = job.rendered[start : start + size]
        else:  # only this set's rows are rendered
            chunk = [self._csv_row(r, job.compiled) for r in job.records[start : start + size]]
        end = start + len(chunk)
        sep, eol = _DELIMITERS[job.delimiter], _LINE_ENDINGS[job.line_ending]
        lines = [sep.join(_csv_cell(h) for h in job.header)]
        lines.extend(sep.join(_csv_cell(v) for v in row) for row in chunk)
        body = (eol.join(lines) + eol).encode("utf-8")
        next_locator = position_token(end) if end < len(job.records) else "null"
        out = dict(headers)
        out["Sforce-NumberOfRecords"] = str(len(chunk))
        out["Sforce-Locator"] = next_locator
        return Response(200, body, "text/csv; charset=UTF-8", out)

    # ---------------------------------------------------------------- sobjects

    def _object_name(self, raw: str) -> str:
        for name in SF_SCHEMA:
            if name.lower() == raw.lower():
                return name
        raise SoqlError("NOT_FOUND", "The requested resource does not exist")

    def _object_info(self, obj: str, prefix: str) -> dict[str, Any]:
        label, plural = _labels(obj)
        return {
            "name": obj,
            "label": label,
            "labelPlural": plural,
            "keyPrefix": SF_KEY_PREFIX[obj],
            "custom": False,
            "queryable": True,
            "retrieveable": True,
            "searchable": obj not in ("LeadHistory", "OpportunityHistory"),
            "replicateable": True,
            "createable": False,
            "updateable": False,
            "deletable": False,
            "urls": {
                "sobject": f"{prefix}/sobjects/{obj}",
                "describe": f"{prefix}/sobjects/{obj}/describe",
                "rowTemplate": f"{prefix}/sobjects/{obj}/{{ID}}",
            },
        }

    def describe_global(self, prefix: str) -> dict[str, Any]:
        """``GET /sobjects``."""
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [self._object_info(obj, prefix) for obj in SF_SCHEMA],
        }

    def _describe(self, obj: str, prefix: str) -> dict[str, Any]:
        fields = []
        for name, kind in SF_SCHEMA[obj].items():
            refs = _REFERENCE_TO.get(obj, {}).get(name)
            if name in ("CreatedById", "LastModifiedById"):
                refs = "User"
            reference_to = (
                ["Lead", "Contact"]
                if refs == "*" and name == "WhoId"
                else ["Opportunity", "Account"]
                if refs == "*"
                else [refs]
                if refs
                else []
            )
            fields.append(
                {
                    "name": name,
                    "label": re.sub(r"(?<!^)(?=[A-Z])", " ", name.replace("__c", "")).strip(),
                    "type": kind,
                    "soapType": {
                        "id": "tns:ID",
                        "reference": "tns:ID",
                        "boolean": "xsd:boolean",
                        "datetime": "xsd:dateTime",
                        "date": "xsd:date",
                        "int": "xsd:int",
                        "double": "xsd:double",
                        "currency": "xsd:double",
                        "percent": "xsd:double",
                        "anyType": "xsd:anyType",
                    }.get(kind, "xsd:string"),
                    "length": 18
                    if kind in ("id", "reference")
                    else 0
                    if kind not in ("string", "picklist", "email", "url", "combobox")
                    else 255,
                    "custom": name.endswith("__c"),
                    "nillable": name not in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp"),
                    "filterable": True,
                    "sortable": kind != "anyType",
                    "referenceTo": reference_to,
                    "relationshipName": (
                        name[:-2] if name.endswith("Id") and reference_to and name != "Id" else None
                    ),
                }
            )
        return {**self._object_info(obj, prefix), "fields": fields}

    def sobject(self, req: Request, prefix: str, raw: str, sub: str | None) -> Any:
        """``/sobjects/{Object}[/describe|/updated|/deleted|/{Id}]``."""
        obj = self._object_name(raw)
        if sub is None:
            recent = [
                self._render(
                    r,
                    ["Id"],
                    compile_query(parse(f"SELECT Id FROM {obj}"), SF_SCHEMA, REFERENCES, 0),
                    prefix,
                )
                for r in self._rows(obj)[-5:]
                if not r.deleted
            ]
            return {"objectDescribe": self._object_info(obj, prefix), "recentItems": recent}
        if sub == "describe":
            return self._describe(obj, prefix)
        if sub in ("updated", "deleted"):
            return self._changes(req, obj, sub)
        index = self._record_index()
        rec = index.get(sub[:15])
        if rec is None or rec.object != obj or rec.deleted:
            raise SoqlError("NOT_FOUND", "The requested resource does not exist")
        compiled = compile_query(parse(f"SELECT Id FROM {obj}"), SF_SCHEMA, REFERENCES, 0)
        return self._render(rec, list(SF_SCHEMA[obj]), compiled, prefix)

    def _changes(self, req: Request, obj: str, kind: str) -> dict[str, Any]:
        try:
            start = dt_to_ms(parse_iso(req.arg("start") or ""))
            end = dt_to_ms(parse_iso(req.arg("end") or ""))
        except ValueError:
            raise SoqlError(
                "INVALID_PARAMETER_VALUE", "start and end must be ISO 8601 date-times"
            ) from None
        end = min(end, self.company.as_of_ms)
        if kind == "updated":
            ids = [r.id for r in self._rows(obj) if not r.deleted and start <= r.modstamp < end]
            return {"ids": ids, "latestDateCovered": fmt_salesforce(end // 60_000 * 60_000)}
        deleted = [
            {"id": r.id, "deletedDate": fmt_salesforce(r.modstamp)}
            for r in self._rows(obj)
            if r.deleted and start <= r.modstamp < end
        ]
        earliest = self.company.as_of_ms - 15 * 86_400_000
        return {
            "deletedRecords": deleted,
            "earliestDateAvailable": fmt_salesforce(earliest // 60_000 * 60_000),
            "latestDateCovered": fmt_salesforce(end // 60_000 * 60_000),
        }


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return int(value)
    return value
