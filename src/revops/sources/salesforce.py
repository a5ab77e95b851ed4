"""Salesforce: SOQL through REST ``queryAll`` or, for large reads, Bulk API 2.0 query jobs;
incremental on ``SystemModstamp``, deletes included.

Each object's fields come from its ``describe`` (so a field added in Salesforce arrives as a
new column); compound fields (address, location) are left out because their parts are fields of
their own. Every object is read with ``queryAll`` semantics (deleted rows too, with
``IsDeleted = true``, while they are in the recycle bin). The cursor is the newest
``SystemModstamp`` read (history objects, which are never modified, use ``CreatedDate``), never
the window's end, and each run re-reads :data:`OVERLAP` behind it (``>=``): a record whose
transaction committed late, with a ``SystemModstamp`` older than rows already read, is still
picked up; what is read twice merges on ``Id``.

How an object is read depends on how many rows its window holds (``SELECT COUNT()`` with the
same ``WHERE``, one cheap call): up to ``REVOPS_SALESFORCE_BULK_THRESHOLD`` rows through REST
``queryAll`` in cursor order, the cursor checkpointed after every page; above it through one
Bulk API 2.0 ``queryAll`` job with the same SOQL (without ``ORDER BY``, which Bulk API 2.0
query jobs do not take), polled with back-off, its CSV result sets read one by one by
``Sforce-Locator`` and turned back into the types REST gives (from the ``describe`` field
types), the cursor moved once every set is read. A job that ends ``Failed`` or ``Aborted`` is
submitted once more, then fails the run with a :class:`SourceError` naming the job.

The API version is ``REVOPS_SALESFORCE_API_VERSION`` or the default of the dated list in
:mod:`revops.sources.versions`.

``REVOPS_SALESFORCE_URL`` is the instance URL (``https://yourorg.my.salesforce.com``); with an
OAuth refresh flow and no URL, the token answer's ``instance_url`` is used. Values keep the
API's types; ``anyType`` fields (history old/new values) are kept as strings so one column never
changes type from row to row. Amounts keep their ``CurrencyIsoCode`` (a multi-currency org has
it on every record that holds money).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import dlt

from revops.settings import current
from revops.sources.base import (
    Newest,
    NextLinkPaginator,
    Stream,
    Window,
    parse_ts,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import ApiClient, PagingError, SourceError
from revops.sources.settings import SettingsError, env_name, oauth_token, optional
from revops.sources.versions import api_version

log = logging.getLogger(__name__)

SYSTEM = "salesforce"
INITIAL = datetime(2000, 1, 1, tzinfo=UTC)
SKIPPED_TYPES = {"address", "location", "base64"}

OVERLAP = timedelta(minutes=15)
"""Re-read this far behind the cursor. ``SystemModstamp`` is stamped when a transaction starts
and becomes visible when it commits; Salesforce's ``getUpdated()`` documentation says a change
from a long-running transaction is reported from that transaction's start time once it
completes, and an Apex transaction may run up to 10 minutes (Execution Governors and Limits).
10 minutes plus 5 of clock and scheduling margin."""

# REVOPS_SALESFORCE_BULK_THRESHOLD, _BULK_PAGE_ROWS, _BULK_POLL_SECONDS, _BULK_MAX_WAIT_MINUTES:
# declared with their defaults in revops.settings
BULK_MAX_POLL_SECONDS = 30.0  # the back-off's ceiling
BULK_JOB_ATTEMPTS = 2  # a Failed/Aborted job is submitted once more, then the run fails
BULK_DONE = ("JobComplete", "Failed", "Aborted")
BULK_FIRST_VERSION = 47.0  # the first API version with Bulk API 2.0 query jobs

QUERY_PAGES = NextLinkPaginator(items="records", next_link="nextRecordsUrl")

# object -> cursor field (history objects are append-only and have no SystemModstamp)
OBJECTS: dict[str, str] = {
    "User": "SystemModstamp",
    "Account": "SystemModstamp",
    "Contact": "SystemModstamp",
    "Lead": "SystemModstamp",
    "LeadHistory": "CreatedDate",
    "Campaign": "SystemModstamp",
    "CampaignMember": "SystemModstamp",
    "Opportunity": "SystemModstamp",
    "OpportunityHistory": "SystemModstamp",
    "OpportunityContactRole": "SystemModstamp",
    "Task": "SystemModstamp",
    "Event": "SystemModstamp",
}


def table_name(sobject: str) -> str:
    """``OpportunityContactRole`` -> ``opportunity_contact_role``."""
    from revops.sources.base import snake

    return snake(sobject)


STREAMS = {
    table_name(sobject): Stream(
        name=table_name(sobject),
        primary_key="Id",
        cursor=cursor,
        path="queryAll",
        paginator=QUERY_PAGES,
        overlap=OVERLAP,
    )
    for sobject, cursor in OBJECTS.items()
}


def api_prefix() -> str:
    """``services/data/vXX.X`` for ``REVOPS_SALESFORCE_API_VERSION`` (default: the dated
    list's, :func:`revops.sources.versions.api_version`)."""
    return f"services/data/v{api_version(SYSTEM)}"


def bulk_threshold() -> int:
    """Rows in an object's window above which it is read with Bulk API 2.0."""
    return current().salesforce_bulk_threshold


def client() -> ApiClient:
    """An API client for the instance URL with an OAuth access token."""
    oauth = oauth_token(SYSTEM, "https://login.salesforce.com/services/oauth2/token")
    base_url = optional(SYSTEM, "url")
    if base_url is None:
        if not oauth.can_refresh:
            raise SettingsError(
                "salesforce: REVOPS_SALESFORCE_URL (the instance URL) is not set and no OAuth "
                "refresh flow is configured to learn it from"
            )
        oauth.refresh()
        base_url = str(oauth.answer.get("instance_url") or "")
    return ApiClient(
        system=SYSTEM,
        base_url=base_url,
        headers=lambda: {"Authorization": f"Bearer {oauth.token()}"},
        oauth=oauth,
    )


def describe(api: ApiClient, sobject: str) -> dict[str, str]:
    """The object's queryable fields and their types (compound fields left out)."""
    body = api.get_json(f"{api_prefix()}/sobjects/{sobject}/describe", table_name(sobject))
    return {
        field["name"]: field.get("type", "string")
        for field in body.get("fields", [])
        if field.get("type") not in SKIPPED_TYPES
    }


DLT_TYPES = {
    "boolean": "bool",
    "int": "bigint",
    "long": "bigint",
    "double": "double",
    "percent": "double",
    "currency": "decimal",
    "date": "date",
}


def column_types(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    """dlt column types for an object's fields, from their Salesforce types.

    Datetimes stay text, as Salesforce sends them (``2026-11-01T14:03:27.000+0000``); money is
    decimal; every other type not listed is text.
    """
    return {name: {"data_type": DLT_TYPES.get(kind, "text")} for name, kind in fields.items()}


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal, UTC, whole seconds (``2026-01-31T09:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def where(cursor: str, since: datetime, until: datetime) -> str:
    """The ``WHERE`` of one object's window ``[since, until)``."""
    return f"WHERE {cursor} >= {soql_datetime(since)} AND {cursor} < {soql_datetime(until)}"


def soql(sobject: str, fields: list[str], cursor: str, since: datetime, until: datetime) -> str:
    """The query for one object's window ``[since, until)`` in cursor order."""
    return (
        f"SELECT {', '.join(fields)} FROM {sobject} {where(cursor, since, until)} "
        f"ORDER BY {cursor} ASC, Id ASC"
    )


def bulk_soql(
    sobject: str, fields: list[str], cursor: str, since: datetime, until: datetime
) -> str:
    """The same query for a Bulk API 2.0 job: no ``ORDER BY`` (not supported there)."""
    return f"SELECT {', '.join(fields)} FROM {sobject} {where(cursor, since, until)}"


def count_soql(sobject: str, cursor: str, since: datetime, until: datetime) -> str:
    """How many rows (deleted ones too, with ``queryAll``) the window holds."""
    return f"SELECT COUNT() FROM {sobject} {where(cursor, since, until)}"


def record_row(record: dict[str, Any], any_type: set[str]) -> dict[str, Any]:
    """A record as a row: Salesforce's field names, ``anyType`` values as strings."""
    row = {k: v for k, v in record.items() if k != "attributes"}
    for name in any_type:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return row


def csv_value(kind: str, text: str) -> Any:
    """A Bulk API 2.0 CSV cell as REST JSON gives the value: an empty cell is null (Salesforce
    keeps no empty strings), ``true``/``false`` booleans, numbers for number types, datetimes
    with ``+0000`` (CSV writes ``...000Z``); everything else as text."""
    if text == "":
        return None
    if kind == "boolean":
        return text.lower() == "true"
    if kind in ("int", "long"):
        return int(text) if text.lstrip("-").isdigit() else int(float(text))
    if kind in ("double", "percent", "currency"):
        return float(text)
    if kind == "datetime" and text.endswith("Z"):
        return text[:-1] + "+0000"
    return text


def csv_rows(text: str, fields: dict[str, str]) -> list[dict[str, Any]]:
    """The rows of one CSV result set, typed as REST gives them."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, None)
    if header is None:
        return []
    kinds = [fields.get(name, "string") for name in header]
    return [
        {name: csv_value(kind, cell) for name, kind, cell in zip(header, kinds, row, strict=True)}
        for row in reader
    ]


class BulkQuery:
    """One object's window read through a Bulk API 2.0 ``queryAll`` job.

    Submit the job, poll it with back-off until it is done (a ``Failed`` or ``Aborted`` job is
    submitted once more, then the run fails naming the job), read its CSV result sets by
    ``Sforce-Locator`` (each set checked against ``Sforce-NumberOfRecords`` and read again when
    it arrives short), then delete the job.
    """

    def __init__(self, api: ApiClient, prefix: str, stream: str) -> None:
        self.api, self.prefix, self.stream = api, prefix, stream
        settings = current()
        self.page_rows = settings.salesforce_bulk_page_rows
        self.poll = settings.salesforce_bulk_poll_seconds
        self.max_wait = 60 * settings.salesforce_bulk_max_wait_minutes
        self.jobs: list[str] = []

    def rows(self, query: str, fields: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        """The rows of ``query``, one list per result set."""
        job = self.run(query)
        try:
            locator: str | None = None
            seen: set[str] = set()
            while True:
                rows, locator = self.result_set(job, locator, fields)
                if rows:
                    yield rows
                if not locator or locator == "null":
                    break
                if locator in seen:
                    raise PagingError(
                        SYSTEM, self.stream, f"Bulk job {job} gave locator {locator!r} twice"
                    )
                seen.add(locator)
        finally:
            self.delete(job)

    def run(self, query: str) -> str:
        """Submit the job and wait until it completes; its id."""
        for attempt in range(1, BULK_JOB_ATTEMPTS + 1):
            job = self.api.post_json(
                f"{self.prefix}/jobs/query",
                self.stream,
                json={
                    "operation": "queryAll",
                    "query": query,
                    "contentType": "CSV",
                    "columnDelimiter": "COMMA",
                    "lineEnding": "LF",
                },
            )
            job_id = str(job["id"])
            self.jobs.append(job_id)
            info = self.wait(job_id)
            state = info.get("state")
            if state == "JobComplete":
                return job_id
            why = info.get("errorMessage") or "no errorMessage given"
            if attempt < BULK_JOB_ATTEMPTS:
                log.warning(
                    "salesforce %s: Bulk API 2.0 job %s ended %s (%s); submitting it again",
                    self.stream,
                    job_id,
                    state,
                    why,
                )
                continue
            raise SourceError(
                SYSTEM,
                self.stream,
                None,
                f"Bulk API 2.0 query job {job_id} ended {state} ({why}) after "
                f"{BULK_JOB_ATTEMPTS} attempts; see Setup > Bulk Data Load Jobs in the org, "
                f"or raise {env_name(SYSTEM, 'bulk_threshold')} to read this object through "
                "REST",
            )
        raise AssertionError("unreachable")

    def wait(self, job_id: str) -> dict[str, Any]:
        """Poll the job until it is done, waiting longer each time (up to 30 s)."""
        waited, delay = 0.0, self.poll
        while True:
            info = self.api.get_json(f"{self.prefix}/jobs/query/{job_id}", self.stream)
            if info.get("state") in BULK_DONE:
                return info
            if waited >= self.max_wait:
                self.abort(job_id)
                raise SourceError(
                    SYSTEM,
                    self.stream,
                    None,
                    f"Bulk API 2.0 query job {job_id} still {info.get('state')} after "
                    f"{waited / 60:.0f} minutes; aborted it. Raise "
                    f"{env_name(SYSTEM, 'bulk_max_wait_minutes')} if the org needs longer",
                )
            self.api.sleep(delay)
            waited += delay
            delay = min(max(delay, 0.001) * 2, BULK_MAX_POLL_SECONDS)

    def result_set(
        self, job_id: str, locator: str | None, fields: dict[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One result set and the next set's locator; a set shorter than its
        ``Sforce-NumberOfRecords`` (or not valid CSV) is read again."""
        params: dict[str, Any] = {"maxRecords": self.page_rows}
        if locator:
            params["locator"] = locator
        problem = ""
        for _ in range(max(1, self.api.policy.max_attempts)):
            response = self.api.request(
                "GET",
                f"{self.prefix}/jobs/query/{job_id}/results",
                self.stream,
                decode="none",
                params=params,
            )
            declared = response.headers.get("Sforce-NumberOfRecords")
            try:
                rows = csv_rows(response.content.decode("utf-8"), fields)
            except (csv.Error, ValueError, UnicodeDecodeError) as err:
                problem = f"unreadable CSV ({err})"
                continue
            if declared is not None and declared.isdigit() and int(declared) != len(rows):
                problem = f"{len(rows)} rows where Sforce-NumberOfRecords says {declared}"
                continue
            return rows, response.headers.get("Sforce-Locator")
        raise SourceError(
            SYSTEM, self.stream, None, f"Bulk API 2.0 job {job_id} result set: {problem}"
        )

    def abort(self, job_id: str) -> None:
        """Ask Salesforce to stop the job (best effort)."""
        try:
            self.api.request(
                "PATCH",
                f"{self.prefix}/jobs/query/{job_id}",
                self.stream,
                json={"state": "Aborted"},
            )
        except SourceError as err:
            log.warning("salesforce %s: could not abort job %s: %s", self.stream, job_id, err)

    def delete(self, job_id: str) -> None:
        """Delete the job and its results (best effort: Salesforce drops them after 7 days)."""
        try:
            self.api.request(
                "DELETE", f"{self.prefix}/jobs/query/{job_id}", self.stream, decode="none"
            )
        except SourceError as err:
            log.info("salesforce %s: could not delete job %s: %s", self.stream, job_id, err)


@dlt.source(name="salesforce", max_table_nesting=0)
def salesforce_source(
    until: datetime | None = None, initial: datetime = INITIAL, since: datetime | None = None
):
    """The Salesforce objects, each merged on ``Id`` into ``raw_salesforce``; ``since``: a
    backfill of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    window = Window.of(since, until)
    end = window.until
    prefix = api_prefix()
    # Bulk API 2.0 query jobs exist from API version 47.0: older versions read through REST
    bulk_ok = float(prefix.rsplit("/v", 1)[1]) >= BULK_FIRST_VERSION
    threshold = bulk_threshold()

    def sobject_resource(sobject: str, cursor: str):
        stream = STREAMS[table_name(sobject)]

        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            state = window.state()
            since = window.start(
                parse_ts(state["cursor"]) if state.get("cursor") else None,
                initial,
                stream.overlap,
            )
            # read in cursor order: complete up to the last cursor value read, and up to the
            # window's end once every page is read
            reached: dict[str, Any] = {"end": None}
            with tracked_stream(
                SYSTEM,
                stream.name,
                position=lambda: reached["end"] or state.get("cursor") or since,
            ):
                fields = describe(api, sobject)
                if cursor not in fields or "Id" not in fields:
                    raise SettingsError(f"salesforce: {sobject} has no Id or {cursor} field")
                any_type = {name for name, kind in fields.items() if kind == "anyType"}
                columns: dict[str, Any] | None = column_types(fields)
                how_many = quote(count_soql(sobject, cursor, since, end), safe="")
                counted = api.get_json(f"{prefix}/queryAll?q={how_many}", stream.name)
                in_window = int(counted.get("totalSize") or 0)
                if bulk_ok and in_window > threshold:
                    log.info(
                        "salesforce %s: %d rows in the window (> %d): Bulk API 2.0 query job",
                        stream.name,
                        in_window,
                        threshold,
                    )
                    # Bulk API 2.0 returns the rows in no particular order: the cursor moves to
                    # the newest value read once every result set is read
                    old = parse_ts(state["cursor"]) if state.get("cursor") else None
                    newest = Newest(old)
                    query = bulk_soql(sobject, list(fields), cursor, since, end)
                    for rows in BulkQuery(api, prefix, stream.name).rows(query, fields):
                        rows = [record_row(r, any_type) for r in rows]
                        yield from screened(stream, rows, columns=columns)
                        columns = None
                        for row in rows:
                            newest.see(row.get(cursor))
                    if newest.value is not None and newest.value != old:
                        state["cursor"] = newest.value.isoformat()
                else:
                    query = soql(sobject, list(fields), cursor, since, end)
                    path = f"{prefix}/queryAll?q={quote(query, safe='')}"
                    for page in QUERY_PAGES.pages(api, path, stream.name):
                        rows = [record_row(r, any_type) for r in page]
                        yield from screened(stream, rows, columns=columns)
                        columns = None  # declared with the first page
                        last = page[-1].get(cursor)
                        if last:  # ordered by the cursor: everything before it has been read
                            state["cursor"] = last
                reached["end"] = end

        return read

    return tuple(sobject_resource(sobject, cursor) for sobject, cursor in OBJECTS.items())
