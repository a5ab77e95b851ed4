"""What every connector shares: streams and paginators declared as data, flattening, cursors,
records set aside, and what each stream of a run read and whether it reached its end.

A connector module declares its streams (:class:`Stream`: name, primary key, cursor, path,
paginator) and writes one dlt resource per stream. Cursor state lives in dlt's resource state,
which dlt commits to the destination in the same load as the rows it describes; a connector
moves a cursor only past data it has yielded, so a run that dies mid-stream commits nothing
and the next run starts from the last committed cursor.

Paginators trust nothing: a cursor, page token or next link given twice is an error naming the
vendor, stream and cursor (the vendor would page forever); a missing total means "follow until
an empty page"; an empty page that names a next page is followed, at most
:data:`MAX_EMPTY_PAGES` in a row; a page without its items key is an error naming the key and
the keys the vendor sent (rows would otherwise be lost without a word).

Completeness is data: each stream read inside :func:`tracked_stream` is recorded in the run's
notes (rows, pages, elapsed, complete, where it stopped and why). A stream the vendor cut short
(:class:`revops.sources.http.QuotaExhausted`) ends there, keeps what it read with the cursor that
describes it, and is recorded *incomplete*; the run is never reported done.

Fast loads: :func:`batch_resources` (called by ``run_extract``) hands dlt what :func:`screened`
yields as typed Arrow tables of up to ``REVOPS_LOAD_BATCH_ROWS`` rows per target table, typed
as dlt's normalizer would type the same dicts (rows it could not type stay dicts, so variant
columns and schema contracts work as before), flushed before each resource ends; a table dlt
has never loaded is appended, later loads merge (:class:`Batcher`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client import paginators as dlt_paginators
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONLinkPaginator,
    JSONResponseCursorPaginator,
    SinglePagePaginator,
)
from requests import Request

from revops.sources.http import ApiClient, PagingError, QuotaExhausted

log = logging.getLogger(__name__)

REJECTED_TABLE = "_rejected"


# -- paginators --------------------------------------------------------------------------------

MAX_EMPTY_PAGES = 10
"""Empty pages in a row that each name a next page before the paging counts as stuck. Vendors
that filter after paging (Meta insights, HubSpot search under load) return a few; ten in a row
has never been a real answer."""

_MISSING = object()


def dig(body: Any, dotted: str | None) -> Any:
    """``body["a"]["b"]`` for ``"a.b"``; None where a key is missing; the body for None."""
    if dotted is None:
        return body
    for part in dotted.split("."):
        if not isinstance(body, Mapping):
            return None
        body = body.get(part)
    return body


def page_items(body: Any, items: str | None, system: str, stream: str, page: int) -> list:
    """The records of one page at ``items``; an error naming the key and the keys present when
    the vendor's answer has no such key (a renamed key would otherwise read as "no rows")."""
    if items is None:
        found = body
    else:
        found = body
        for part in items.split("."):
            if not isinstance(found, Mapping) or part not in found:
                present = (
                    ", ".join(repr(k) for k in found)
                    if isinstance(found, Mapping)
                    else f"a JSON {type(found).__name__}, not an object"
                )
                raise PagingError(
                    system,
                    stream,
                    f"page {page} has no {items!r} key (keys present: {present or 'none'}); the "
                    "vendor's answer changed shape, so the stream stops rather than read it as "
                    "empty",
                )
            found = found[part]
    if found is None:
        return []
    if isinstance(found, dict):
        return [found]
    if not isinstance(found, list):
        raise PagingError(
            system,
            stream,
            f"page {page}: {items!r} holds a {type(found).__name__}, not a list of records",
        )
    return found


class PageGuard:
    """What every paging loop checks between pages: the next cursor is new, empty pages do not
    go on forever; and it counts the stream's pages for the run's notes."""

    def __init__(self, system: str, stream: str, name: str) -> None:
        self.system, self.stream, self.name = system, stream, name
        self.seen: set[str] = set()
        self.pages = 0
        self.empty = 0

    def page(self, records: list) -> None:
        """One page was read (with these records)."""
        self.pages += 1
        NOTES.count_page(self.stream)
        self.empty = 0 if records else self.empty + 1

    def follow(self, cursor: Any) -> bool:
        """Whether to ask for the page at ``cursor`` (None/empty: the last page was the end).

        Raises PagingError when the cursor was given before, or when the pages have been empty
        :data:`MAX_EMPTY_PAGES` times in a row while still naming a next page.
        """
        if cursor in (None, ""):
            return False
        key = str(cursor)
        if key in self.seen:
            raise PagingError(
                self.system,
                self.stream,
                f"the vendor gave the cursor {self.name}={key!r} again after page {self.pages}; "
                "its paging loops, so the stream stops instead of reading the same pages forever",
            )
        if self.empty >= MAX_EMPTY_PAGES:
            raise PagingError(
                self.system,
                self.stream,
                f"{self.empty} empty pages in a row, each naming a next page (last "
                f"{self.name}={key!r}); the vendor's paging is not advancing",
            )
        self.seen.add(key)
        return True


def _system(api: Any) -> str:
    return str(getattr(api, "system", "?"))


class _Answer:
    """What dlt's paginators read of a response: its JSON (already decoded by our client)."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self.headers: dict[str, str] = {}

    def json(self) -> Any:
        return self._body


class Paginated:
    """How a collection is paged: dlt's paginator (from :meth:`paginator`) moves the request
    from page to page; our client sends it (retries, pacing, quota); :class:`PageGuard` stops a
    loop or a run of empty pages; the records are at ``items`` (see :func:`page_items`).

    A GET sends its parameters in the query; a POST (``body`` given: a search) sends its query
    and cursor in the JSON body, its parameters (if any) in the query.
    """

    items: str | None
    cursor_name = "page"

    def paginator(self) -> BasePaginator:
        """A fresh dlt paginator for one read of the collection."""
        raise NotImplementedError

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The query of the first request."""
        return dict(params)

    def reference(self, paginator: BasePaginator) -> Any:
        """The next page's cursor as :class:`PageGuard` checks it."""
        return getattr(paginator, "_next_reference", None)

    def pages(self, api, path, stream, params=None, body=None):
        """Each page's records, first page first."""
        return self.read(api, stream, self.request(path, params, body), self.paginator())

    def request(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Request:
        """The first request: a GET with the query, or a POST of ``body`` (copied: the
        paginator writes its cursor into the request's body)."""
        query = self.first_params(params or {})
        if body is None:
            return Request("GET", path, params=query)
        return Request("POST", path, params=query, json=copy.deepcopy(dict(body)))

    def read(self, api, stream: str, request: Request, paginator: BasePaginator):
        """The paging loop: each page's records, first page first, moving ``request`` on with
        ``paginator`` until it or :class:`PageGuard` says the collection ends."""
        guard = PageGuard(_system(api), stream, self.cursor_name)
        paginator.where = f"{guard.system} {stream}"  # for the paginator's own warnings
        paginator.init_request(request)
        while True:
            if request.method == "POST":
                query = {"params": request.params} if request.params else {}
                body = api.post_json(request.url, stream, json=request.json, **query)
            else:
                body = api.get_json(request.url, stream, params=request.params)
            records = page_items(body, self.items, guard.system, stream, guard.pages + 1)
            guard.page(records)
            if records:
                yield list(records)
            paginator.update_state(_Answer(body), records)
            if not paginator.has_next_page or not guard.follow(self.reference(paginator)):
                return
            paginator.update_request(request)


@dataclass(frozen=True)
class SinglePage(Paginated):
    """One request; the records are at ``items`` (None: the body is one record)."""

    items: str | None = None

    def paginator(self) -> BasePaginator:
        return SinglePagePaginator()


class _MailchimpOffset(dlt_paginators.OffsetPaginator):
    """dlt's offset paging, moved on by the records read (a short page in the middle does not
    skip rows) and with a missing total meaning "until an empty page"."""

    def update_state(self, response: Any, data: list | None = None) -> None:
        offset = self.current_value
        super().update_state(response, data)
        self.current_value = offset + len(data or [])
        found = jsonpath.find_values(self.total_path, response.json()) if self.total_path else []
        total = found[0] if found else None
        if self._has_next_page and total is not None:
            self._has_next_page = self.current_value < int(total)
        if not data and total is not None and offset < int(total):
            log.warning(
                "%s: the vendor counts %s records but the page at %s=%d is empty "
                "(records removed while paging); the stream ends there",
                getattr(self, "where", "?"),
                total,
                self.param_name,
                offset,
            )

    def _handle_missing_total(self, response_json: dict[str, Any]) -> None:
        pass

    def _handle_invalid_total(self, total: Any) -> None:
        if total is not None:
            super()._handle_invalid_total(total)


@dataclass(frozen=True)
class OffsetPaginator(Paginated):
    """``count``/``offset`` paging (Mailchimp): until ``total`` is reached when the answer gives
    it, else until a page comes back empty."""

    items: str
    limit: int = 1000
    limit_param: str = "count"
    offset_param: str = "offset"
    total: str = "total_items"

    @property
    def cursor_name(self) -> str:
        return self.offset_param

    def paginator(self) -> BasePaginator:
        return _MailchimpOffset(
            self.limit,
            offset_param=self.offset_param,
            limit_param=self.limit_param,
            total_path=self.total,
        )

    def reference(self, paginator: BasePaginator) -> Any:
        return paginator.current_value


@dataclass(frozen=True)
class CursorPaginator(Paginated):
    """The answer holds the next page's cursor at ``cursor_path``, sent back as ``cursor_param``
    (dlt's JSONResponseCursorPaginator); the page size goes on every request."""

    items: str
    cursor_path: str
    cursor_param: str
    size_param: str
    size: int

    @property
    def cursor_name(self) -> str:
        return self.cursor_param

    def first_params(self, params):
        return {**params, self.size_param: self.size}

    def paginator(self) -> BasePaginator:
        return JSONResponseCursorPaginator(self.cursor_path, self.cursor_param)


def AfterCursorPaginator(items: str = "results", limit: int = 100) -> CursorPaginator:  # noqa: N802
    """``limit``/``after`` paging with the next cursor at ``paging.next.after`` (HubSpot)."""
    return CursorPaginator(items, "paging.next.after", "after", "limit", limit)


def PageTokenPaginator(items: str = "elements", page_size: int = 100) -> CursorPaginator:  # noqa: N802
    """``pageSize``/``pageToken`` paging, next token at ``metadata.nextPageToken`` (LinkedIn)."""
    return CursorPaginator(items, "metadata.nextPageToken", "pageToken", "pageSize", page_size)


class _CappedCursor(JSONResponseCursorPaginator):
    """dlt's JSON-cursor paginator with the cursor sent back in the request body, stopping
    before the query's results would pass ``cap`` (a vendor that answers at most that many per
    query). ``capped``: it stopped there with a next page still named."""

    def __init__(self, cursor_path: str, cursor_body_path: str, size: int, cap: int | None):
        super().__init__(cursor_path, cursor_body_path=cursor_body_path)
        self.size, self.cap = size, cap
        self.read = 0
        self.capped = False

    def update_state(self, response: Any, data: list | None = None) -> None:
        super().update_state(response, data)
        self.read += len(data or [])
        if self.cap is not None and self.has_next_page and self.read + self.size > self.cap:
            self.capped = True
            self._has_next_page = False


@dataclass(frozen=True)
class BodyCursorPaginator(Paginated):
    """POST search paging: the request body carries the query and the page size; the answer
    holds the next page's cursor at ``cursor_path``, sent back in the body at
    ``cursor_body_path`` (dlt's JSONResponseCursorPaginator with ``cursor_body_path``).

    ``cap``: the vendor answers at most this many results per query; the paging stops before
    a page would pass it, with :attr:`_CappedCursor.capped` set, so the caller can start a new
    query where this one stopped (HubSpot search: after the last id read).
    """

    items: str
    cursor_path: str
    cursor_body_path: str
    size: int
    cap: int | None = None

    @property
    def cursor_name(self) -> str:
        return self.cursor_body_path

    def paginator(self) -> _CappedCursor:
        return _CappedCursor(self.cursor_path, self.cursor_body_path, self.size, self.cap)


@dataclass(frozen=True)
class NextLinkPaginator(Paginated):
    """The answer names the next page's URL or absolute path (Salesforce ``nextRecordsUrl``,
    Meta ``paging.next``); parameters go on the first request only (dlt's JSONLinkPaginator)."""

    items: str
    next_link: str
    limit_param: str | None = None
    limit: int = 0
    cursor_name = "next link"

    def first_params(self, params):
        return {**params, self.limit_param: self.limit} if self.limit_param else dict(params)

    def paginator(self) -> BasePaginator:
        return JSONLinkPaginator(next_url_path=self.next_link)


# -- streams -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One stream of a source, declared as data: what it is called, keyed and tracked by.

    ``cursor`` None: a small table re-read in full every run and merged on its key.
    ``merge_key``: child rows replaced as a set per parent (a deal's contacts), so a removed
    child disappears when its parent is read again.
    """

    name: str
    primary_key: str | tuple[str, ...]
    cursor: str | None
    path: str
    paginator: Paginated = field(default_factory=SinglePage)
    lookback_days: int = 0  # re-read this many days behind the cursor (restated metrics)
    overlap: timedelta = timedelta(0)  # re-read this long behind a timestamp cursor (see Window)
    params: Mapping[str, Any] = field(default_factory=dict)
    merge_key: str | tuple[str, ...] | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key as a tuple of column names."""
        return (self.primary_key,) if isinstance(self.primary_key, str) else self.primary_key

    def pages(self, api: ApiClient, path: str | None = None, **params: Any):
        """The stream's pages through its paginator (``path`` formatted by the caller)."""
        return self.paginator.pages(api, path or self.path, self.name, {**self.params, **params})


# -- records -----------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@lru_cache(maxsize=8192)
def snake(name: str) -> str:
    """``costMicros`` -> ``cost_micros`` (the vendors' camelCase JSON keys to column names).
    Cached: every record of a stream repeats the same few keys."""
    return _CAMEL.sub(r"_\1", name).lower()


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``parent__child`` columns; lists are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        column = f"{prefix}{snake(key)}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{column}__"))
        else:
            flat[column] = value
    return flat


def has_key(row: Mapping[str, Any], columns: Sequence[str]) -> bool:
    """Whether every primary-key column has a non-empty value."""
    return all(row.get(column) not in (None, "") for column in columns)


def rejected_row(stream: str, reason: str, record: Any) -> dict[str, Any]:
    """A record set aside: which stream, why, and the record itself (keyed by its hash)."""
    text = json.dumps(record, sort_keys=True, default=str)
    return {
        "stream": stream,
        "reason": reason,
        "record_hash": hashlib.md5(text.encode()).hexdigest(),
        "record": text,
    }


DELETE_INSERT: dict[str, Any] = {"disposition": "merge", "strategy": "delete-insert"}
"""dlt's merge that deletes the staged keys and inserts the staged rows: named, not left to the
table's stored hint, which a load of unique keys sets to upsert (see :class:`Batcher`)."""


# A table variant starts from the yielding resource's hints; ``columns={}`` clears the columns
# it would inherit (a deal's properties must not become columns of its stage history).
REJECTED_HINTS: dict[str, Any] = {
    "table_name": REJECTED_TABLE,
    "primary_key": ("stream", "record_hash"),
    "merge_key": "",
    "write_disposition": DELETE_INSERT,
    "columns": {},
}


@dataclass
class StreamProgress:
    """How far one stream of a run got: pages and time, whether it reached the end of its
    window, and if not where it stopped (its cursor, an instant) and why."""

    stream: str
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    complete: bool = False
    stopped_at: str | None = None
    reason: str | None = None

    def as_dict(self, rows: int, pages: int) -> dict[str, Any]:
        """The stream's entry in an extract's result and in ``extract_runs.streams``."""
        return {
            "stream": self.stream,
            "rows": rows,
            "pages": pages,
            "elapsed_s": round(self.elapsed_s, 3),
            "complete": self.complete,
            "stopped_at": self.stopped_at,
            "reason": self.reason,
        }


@dataclass
class RunNotes:
    """What a run did besides loading rows: each stream's progress, streams stopped early,
    records set aside, rows and pages per stream."""

    stopped: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows yielded
    pages: dict[str, int] = field(default_factory=dict)  # stream -> pages read
    streams: dict[str, StreamProgress] = field(default_factory=dict)

    def count_page(self, stream: str) -> None:
        """One more page read for ``stream``."""
        self.pages[stream] = self.pages.get(stream, 0) + 1

    def stream_reports(self) -> list[dict[str, Any]]:
        """Every tracked stream's entry (:meth:`StreamProgress.as_dict`), in the order read."""
        return [
            progress.as_dict(self.rows.get(name, 0), self.pages.get(name, 0))
            for name, progress in self.streams.items()
        ]


NOTES = RunNotes()


def reset_notes() -> RunNotes:
    """Start a new run's notes (called by ``run_extract``)."""
    NOTES.stopped.clear()
    NOTES.rejected.clear()
    NOTES.rows.clear()
    NOTES.pages.clear()
    NOTES.streams.clear()
    return NOTES


def screened(
    stream: Stream,
    rows: Iterable[dict[str, Any]],
    route: bool = False,
    columns: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Rows with their whole primary key, then (separately) the others for ``_rejected``.

    A record without its primary key never reaches the stream's table: it is kept, whole, in
    ``raw_<system>._rejected`` with the stream's name and the reason, and counted in the run's
    notes, so a data engineer can query what was set aside. ``route``: the rows belong to
    ``stream``'s own table although another resource yields them (a deal's stage history is
    read with the deal). ``columns``: column types learnt at run time (a describe call, a
    properties API) declared with the rows, so a column exists even while every value is null.
    """
    import dlt

    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    key = stream.key_columns
    for row in rows:
        if has_key(row, key):
            good.append(row)
        else:
            missing = [column for column in key if row.get(column) in (None, "")]
            bad.append(rejected_row(stream.name, f"missing primary key {', '.join(missing)}", row))
    if good:
        NOTES.rows[stream.name] = NOTES.rows.get(stream.name, 0) + len(good)
    if good and route:
        hints = dlt.mark.make_hints(
            table_name=stream.name,
            primary_key=stream.primary_key,
            merge_key=stream.merge_key or "",
            write_disposition=DELETE_INSERT,
            columns={},
        )
        yield dlt.mark.with_hints(good, hints, create_table_variant=True)
    elif good and columns:
        hints = dlt.mark.make_hints(columns=dict(columns))
        yield dlt.mark.with_hints(good, hints)
    elif good:
        yield good
    if bad:
        NOTES.rejected[stream.name] = NOTES.rejected.get(stream.name, 0) + len(bad)
        log.warning(
            "%s: %d records without a primary key set aside in %s",
            stream.name,
            len(bad),
            REJECTED_TABLE,
        )
        yield dlt.mark.with_hints(
            bad, dlt.mark.make_hints(**REJECTED_HINTS), create_table_variant=True
        )


Position = Callable[[], "str | date | datetime | None"]


def instant(value: str | date | datetime | None) -> str | None:
    """A cursor value as an ISO instant ``YYYY-MM-DDTHH:MM:SSZ`` (UTC): a timestamp as it is, a
    day as its midnight (a day cursor names the first day not yet read); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = as_utc(value)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
        moment = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    else:
        moment = parse_ts(str(value))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def earliest(cursors: Mapping[str, str], keys: Iterable[str], default: str) -> str:
    """The earliest cursor of ``keys`` (``default`` for a key without one): how far a stream
    kept per account or audience has read all of them."""
    values = [cursors.get(key) or default for key in keys]
    return min((instant(v) or "" for v in values), default=instant(default) or "")


@contextmanager
def tracked_stream(system: str, stream: str, position: Position | None = None) -> Iterator[None]:
    """Inside a resource: record how the stream's read ends, in the run's notes.

    ``position`` says how far the stream's data is complete (its cursor: a timestamp, or the
    first day not yet read), called when the stream ends; None for a stream read in full each
    run. Reaching the end of the block: ``complete``. A :class:`QuotaExhausted` from the vendor
    (a used-up daily quota, a ``Retry-After`` beyond the ceiling) ends the stream there: what
    was yielded is loaded with the cursor that describes it, the next run resumes from there,
    and the stream is recorded *incomplete*, with where it stopped and why. Other errors fail
    the run.
    """
    progress = StreamProgress(stream)
    NOTES.streams[stream] = progress

    def reached() -> str | None:
        try:
            return instant(position()) if position is not None else None
        except Exception:  # a position that cannot be told is unknown, never a new error
            log.debug("%s %s: position unknown", system, stream, exc_info=True)
            return None

    try:
        yield
    except QuotaExhausted as err:
        progress.complete = False
        progress.reason = err.reason
        progress.stopped_at = reached()
        NOTES.stopped[stream] = err.reason
        where = f"at {progress.stopped_at}" if progress.stopped_at else "before its end"
        log.info(  # the extract's own warning line (revops.pipeline.extract) says it once
            "%s %s: stopped %s: %s; recorded incomplete, the next run resumes",
            system,
            stream,
            where,
            err.reason,
        )
    else:
        progress.complete = True
        progress.stopped_at = reached()
    finally:
        progress.elapsed_s = time.monotonic() - progress.started


quota_ends_stream = tracked_stream
"""The former name of :func:`tracked_stream`."""


def resource_hints(stream: Stream, **extra: Any) -> dict[str, Any]:
    """The dlt resource arguments a stream's declaration implies."""
    hints: dict[str, Any] = {
        "name": stream.name,
        "primary_key": stream.primary_key,
        "write_disposition": DELETE_INSERT,
    }
    if stream.merge_key:
        hints["merge_key"] = stream.merge_key
    hints.update(extra)
    return hints


# -- time --------------------------------------------------------------------------------------


def parse_ts(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z``, ``+00:00`` or ``+0000``) as an aware UTC datetime."""
    try:  # the common forms at C speed (Python 3.11 reads Z and +00:00 itself)
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    text = value.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (HubSpot's format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def days(start: date, end: date) -> list[date]:
    """Every day in ``[start, end)``."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def day_chunks(start: date, end: date, size: int) -> list[tuple[date, date]]:
    """``[start, end)`` cut into inclusive ``(first, last)`` day ranges of at most ``size`` days."""
    chunks = []
    first = start
    while first < end:
        last = min(end, first + timedelta(days=size)) - timedelta(days=1)
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks


def reread_from(cursor: date | None, initial: date, lookback_days: int, oldest: date) -> date:
    """The first day to read: the cursor less the lookback, never before ``initial``/``oldest``."""
    start = initial if cursor is None else cursor - timedelta(days=lookback_days)
    return max(start, initial, oldest)


# -- windows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What one run reads: the one rule every connector follows for its cursors.

    *Incremental* (``since`` None): each incremental stream reads from its cursor, kept in dlt's
    resource state (committed to the destination with the rows it describes) up to ``until``,
    re-reading the stream's lookback days, and moves the cursor. *Backfill* (``since`` given):
    each incremental stream reads exactly ``[since, until)``, a day-grained stream the days
    ``since.date()`` up to ``until.date()`` (exclusive, as an incremental run counts them),
    with no lookback; no cursor is read or moved. Streams without a cursor are read in full
    either way. Rows merge on their primary keys, so a backfill run twice loads the same.
    """

    until: datetime
    since: datetime | None = None

    @classmethod
    def of(cls, since: datetime | None = None, until: datetime | None = None) -> Window:
        """The window ``[since, until)`` (``until`` default now); refuses an empty one and an
        ``until`` in the future (beyond :data:`MAX_CLOCK_SKEW`): an incremental run would move
        its cursors there, and later runs would read nothing before that moment."""
        end = as_utc(until or default_until())
        now = datetime.now(UTC)
        if end > now + MAX_CLOCK_SKEW:
            raise ValueError(
                f"the window's end {end.isoformat()} is in the future (now {now:%Y-%m-%dT%H:%M}Z): "
                "the cursors would move there and later runs read nothing new; give an end "
                "up to now"
            )
        start = as_utc(since) if since is not None else None
        if start is not None and start >= end:
            raise ValueError(
                f"a backfill window must start before it ends: since {start.isoformat()} is not "
                f"before until {end.isoformat()}"
            )
        return cls(end, start)

    @property
    def backfill(self) -> bool:
        """Whether this run re-reads a fixed past window."""
        return self.since is not None

    @property
    def mode(self) -> str:
        """``backfill`` or ``incremental``."""
        return "backfill" if self.backfill else "incremental"

    @property
    def end_day(self) -> date:
        """The first day not read (day-grained streams read the days before it)."""
        return self.until.date()

    def state(self) -> dict[str, Any]:
        """Where the current resource keeps its cursors: dlt's resource state in an incremental
        run; in a backfill a scratch dict, so the connector's cursor reads find nothing and its
        cursor writes go nowhere."""
        if self.backfill:
            return {}
        import dlt

        return dlt.current.resource_state()

    def start(
        self, cursor: datetime | None, initial: datetime, overlap: timedelta = timedelta(0)
    ) -> datetime:
        """The first instant a timestamp-cursor stream reads: ``since`` in a backfill, else the
        cursor less ``overlap`` (``initial`` before the first run), never before ``initial``.

        The cursor is the newest change time actually read (:class:`Newest`), never the
        window's end; ``overlap`` is the vendor's documented indexing delay, so a record whose
        change became visible late (search indexes are eventually consistent) is still read.
        What is re-read merges on its primary key, so nothing doubles.
        """
        if self.since is not None:
            return self.since
        if cursor is None:
            return initial
        return max(as_utc(cursor) - overlap, initial)

    def first_day(
        self, cursor: date | None, initial: date, lookback_days: int, oldest: date | None = None
    ) -> date:
        """The first day a day-grained stream reads: ``since``'s day in a backfill, else the
        cursor less the lookback (``initial`` before the first run); never before ``oldest``,
        the furthest back the vendor serves."""
        if self.since is not None:
            return max(self.since.date(), oldest) if oldest else self.since.date()
        return reread_from(cursor, initial, lookback_days, oldest or initial)

    def contains(self, moment: datetime) -> bool:
        """Whether an instant falls inside the window (before ``until``, and not before
        ``since`` in a backfill)."""
        moment = as_utc(moment)
        return moment < self.until and (self.since is None or moment >= self.since)


class Newest:
    """The newest change time among the records a stream has yielded: where its cursor moves.

    A cursor set to the window's end would skip what the vendor shows late (an index that
    lags, a source clock behind this machine's); the newest record read only skips what is
    older than it, and :meth:`Window.start`'s overlap re-reads behind it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.value: datetime | None = as_utc(start) if start is not None else None

    def see(self, moment: str | datetime | None) -> None:
        """One record's change time (ISO text, epoch milliseconds as text, or a datetime)."""
        if moment is None or moment == "":
            return
        if isinstance(moment, datetime):
            seen = as_utc(moment)
        elif str(moment).isdigit():
            seen = datetime.fromtimestamp(int(moment) / 1000, UTC)
        else:
            seen = parse_ts(str(moment))
        if self.value is None or seen > self.value:
            self.value = seen


MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far past this machine's clock a window's end may be (another machine's clock)."""


def default_until() -> datetime:
    """The end of an extraction window when no scheduler gives one: now, to the second, UTC."""
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive values are taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- fast loads: rows to dlt as typed Arrow tables in large batches -----------------------------

LOAD_BATCH_ROWS_ENV = "REVOPS_LOAD_BATCH_ROWS"
DEFAULT_LOAD_BATCH_ROWS = 50_000
"""Rows buffered per target table before they go to dlt as one Arrow table. dlt's normalizer
costs per Python row; an Arrow table skips it (dlt writes it to Parquet at extract and to
``COPY`` CSV with pyarrow's writer). Tens of thousands of rows per table keep that cost per
batch small; a batch holds at most this many rows of each table in memory."""


def load_batch_rows() -> int:
    """``REVOPS_LOAD_BATCH_ROWS`` (default 50,000); 0 hands dlt the rows as dicts, page by page
    (the former path, kept to compare and as a way out)."""
    from revops.settings import current

    return current().load_batch_rows


DEFAULT_LOAD_WORK_MEM_MB = 64
"""PostgreSQL ``work_mem`` of the loader's own sessions, in MiB. A merge is one hash join of
the staged rows against the table; at the server's default (4 MiB) a table of 100,000 rows
spills it to disk in batches (0.33 s instead of 0.22 s for 119,040 rows here). Only dlt's load
sessions use it, one hash at a time; the server's setting is left alone."""


def load_skip_unchanged() -> bool:
    """``REVOPS_LOAD_SKIP_UNCHANGED`` (default true): a merge rewrites only rows whose values
    changed, so ``_dlt_load_id`` names the load that last changed a row; false: every row read
    is rewritten (delete and insert), so it names the load that last read it (what a check of
    "did this run re-read that day" needs)."""
    from revops.settings import current

    return current().load_skip_unchanged


def load_work_mem_mb() -> int:
    """``REVOPS_LOAD_WORK_MEM_MB`` (default 64, 1 to 4096; see :data:`DEFAULT_LOAD_WORK_MEM_MB`)."""
    from revops.settings import current

    return current().load_work_mem_mb


_ARROW_TYPES = {
    "text": "string",
    "bigint": "int64",
    "double": "float64",
    "bool": "bool_",
    "date": "date32",
    "json": "string",
}
# Python types taken as they are for a column of each dlt type (anything else is coerced the
# way dlt's own normalizer coerces it, or the row goes to dlt as a dict)
_EXACT: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "bigint": (int,),
    "double": (float,),
    "bool": (bool,),
    "date": (date,),
    "timestamp": (datetime,),
    "decimal": (__import__("decimal").Decimal,),
    "json": (dict, list),
}
_DECIMAL_SCALE = 9  # dlt's default decimal(38, 9) on PostgreSQL
UPSERT_UNCHANGED_SKIPPED = {
    "disposition": "merge",
    "strategy": "upsert",
    "skip_unchanged_rows": True,
}
"""dlt's merge for a load that holds each primary key once: a MERGE that skips unchanged rows."""
DEDUPLICATED_HINT = "x-stage-data-deduplicated"
"""dlt's table hint that a merge's staged rows hold each key once (it then skips its dedup)."""


def _arrow_type(data_type: str):
    import pyarrow as pa

    if data_type == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if data_type == "decimal":
        return pa.decimal128(38, _DECIMAL_SCALE)
    name = _ARROW_TYPES.get(data_type)
    return getattr(pa, name)() if name else None


def _fits(value: Any, data_type: str) -> bool:
    """Whether ``value`` goes into an Arrow column of ``data_type`` as it is."""
    if type(value) is bool:
        return data_type == "bool"
    exact = _EXACT.get(data_type)
    if exact is None or not isinstance(value, exact):
        return False
    if data_type == "date":
        return not isinstance(value, datetime)
    if data_type == "bigint":
        return -(2**63) <= value < 2**63
    if data_type == "decimal":
        return value.is_finite() and value.as_tuple().exponent >= -_DECIMAL_SCALE
    return True


def _coerced(value: Any, data_type: str) -> Any:
    """``value`` for a column of ``data_type`` as dlt's normalizer would coerce it; raises
    ValueError/TypeError where dlt would make a variant column (that row stays a dict)."""
    from dlt.common.data_types.type_helpers import coerce_value, py_type_to_sc_type

    value = coerce_value(data_type, py_type_to_sc_type(type(value)), value)
    if not _fits(value, data_type):
        raise ValueError(value)
    return value


ROW_ID_WIDTH = (13, 6, 8)
"""Hex digits of each part of a ``_dlt_id``: the batch's sequence number, the row's position in
its batch, random digits (27 characters; dlt's own ids are 14 random base64 characters)."""

_last_batch = 0


def _batch_sequence() -> int:
    """A number larger than any this process gave before: microseconds since the epoch, or one
    more than the last when the clock has not moved (13 hex digits last until the year 2112)."""
    global _last_batch
    _last_batch = max(_last_batch + 1, time.time_ns() // 1000)
    return _last_batch


def with_row_ids(table: Any) -> Any:
    """``table`` with dlt's row id ``_dlt_id`` appended, in the order the rows were read: the
    batch's sequence number, the row's position and random digits, in hex of fixed width, so a
    later row's id sorts after an earlier one's (in C and glibc collations: digits and a-f only).

    dlt's merge keeps, of the rows a load holds for one key, the one with the highest
    ``_dlt_id`` (``dedup_sort`` in :data:`ROW_ID_COLUMN`): the last read, as :class:`Batcher`
    promises. dlt's own ids are random, so which row it kept was not defined. The ids are made
    for the whole table at once (dlt's normalizer encodes each of its ids in a Python loop)."""
    import secrets

    import numpy as np
    import pyarrow as pa

    rows = table.num_rows
    seq_width, at_width, random_width = ROW_ID_WIDTH
    if rows >= 16**at_width:  # REVOPS_LOAD_BATCH_ROWS stops at 5,000,000
        raise ValueError(f"a batch of {rows} rows: a row id counts up to {16**at_width - 1}")
    width = seq_width + at_width + random_width
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((rows, width), dtype=np.uint8)
    text[:, :seq_width] = np.frombuffer(f"{_batch_sequence():0{seq_width}x}".encode(), np.uint8)
    at = np.arange(rows, dtype=np.int64)
    for place in range(at_width):
        shift = 4 * (at_width - 1 - place)
        text[:, seq_width + place] = digits[(at >> shift) & 15]
    noise = np.frombuffer(secrets.token_bytes(rows * random_width), dtype=np.uint8)
    text[:, seq_width + at_width :] = digits[noise.reshape(rows, random_width) & 15]
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    ids = pa.StringArray.from_buffers(rows, pa.py_buffer(offsets.tobytes()), pa.py_buffer(text))
    return table.append_column(pa.field("_dlt_id", pa.string(), nullable=False), ids)


ROW_ID_COLUMN = {
    "_dlt_id": {
        "data_type": "text",
        "nullable": False,
        "unique": True,
        "row_key": True,
        "dedup_sort": "desc",
    }
}
"""dlt's hints for ``_dlt_id`` (dlt.common.schema.utils.dlt_id_column): a row key, so a merge
never compares it (an unchanged row is still unchanged with a new id); and the merge's dedup
keeps the row with the highest id, the last read (:func:`with_row_ids`)."""


def arrow_batch(
    rows: list[dict[str, Any]],
    known: Mapping[str, str],
    normalize: Callable[[str], str],
    required: Iterable[str] = (),
) -> tuple[Any, list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Rows as one typed Arrow table, typed as dlt's normalizer would type the same dicts.

    ``known``: the dlt data type of each column the table already has (the destination's schema,
    declared hints), by normalized name; a new column takes the type of its first non-null
    value, as dlt does. A value of another type is coerced as dlt coerces it (an int into a
    double column, an ISO day into a date column); a row with a value dlt could not coerce is
    returned apart, to go to dlt as a dict, so dlt's variant columns and schema contracts
    (``REVOPS_SCHEMA_DRIFT``) judge it exactly as before. Returns the table (None when every row
    went apart), the rows apart, and column hints the table needs (JSON columns travel as text).
    ``required``: the columns (normalized names) that are never null (the primary key).
    """
    import pyarrow as pa
    from dlt.common.data_types.type_helpers import py_type_to_sc_type
    from dlt.common.json import json as dlt_json

    names = list(dict.fromkeys(key for row in rows for key in row))
    columns: dict[str, tuple[str, list[Any]]] = {}
    odd: set[int] = set()
    for name in names:
        values = [row.get(name) for row in rows]
        data_type = known.get(normalize(name))
        present = {type(v) for v in values} - {type(None)}
        if not present and data_type is None:
            continue  # dlt makes no column of nulls alone
        if data_type is None:
            first = next(v for v in values if v is not None)
            try:
                data_type = py_type_to_sc_type(type(first))
            except TypeError:
                return None, rows, {}
        if _arrow_type(data_type) is None:  # wei, time, binary: dlt's own path
            return None, rows, {}
        exact = _EXACT[data_type]
        simple = data_type != "decimal" and all(t in exact for t in present)
        if not simple:
            values = list(values)
            for at, value in enumerate(values):
                if value is None or _fits(value, data_type):
                    continue
                try:
                    values[at] = _coerced(value, data_type)
                except (ValueError, TypeError, ArithmeticError):
                    odd.add(at)
        columns[name] = (data_type, values)
    keep = [at for at in range(len(rows)) if at not in odd] if odd else None
    apart = [rows[at] for at in sorted(odd)]
    if keep is not None and not keep:
        return None, apart, {}
    arrays, fields, hints = [], [], {}
    required = set(required)
    for name, (data_type, values) in columns.items():
        if keep is not None:
            values = [values[at] for at in keep]
        if data_type == "json":
            values = [None if v is None else dlt_json.dumps(v) for v in values]
            hints[name] = {"data_type": "json"}
        arrow_type = _arrow_type(data_type)
        array = pa.array(values, type=arrow_type)
        not_null = normalize(name) in required
        if not_null and array.null_count:
            return None, rows, {}  # never in practice (screened keeps keyless rows apart)
        arrays.append(array)
        fields.append(pa.field(name, arrow_type, nullable=not not_null))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), apart, hints


@dataclass
class _TableBuffer:
    """Rows waiting for one target table, with the hints they came with."""

    variant: bool
    hints: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: dict[str, Any] = field(default_factory=dict)
    first_load: bool = False  # dlt never loaded this table: appended, not merged
    keys: set[int] | None = None  # a keyed merge table: hashes of the keys sent so far
    key_columns: tuple[str, ...] = ()
    keyed: bool = False  # merged on a primary key (tracked: append first, dedup declared)
    unique: bool = True  # no key sent twice in this load (so far)
    upsert: bool = False  # merged on its primary key alone (no merge key): upsert when unique


class Batcher:
    """Turns one resource's items into large Arrow tables, one buffer per target table.

    What :func:`screened` yields (lists of rows, lists with hints for another table) is held
    per target table and sent as one Arrow table of up to ``size`` rows, with the same hints;
    every buffer is sent before the resource ends, so its rows travel in the same load package
    as the cursor state that describes them. ``_rejected`` rows and anything that is not a list
    of rows pass through as they are.

    First load: a table dlt has never loaded for this pipeline (no ``seen-data`` in the
    destination's schema) is appended, not merged: there is nothing to merge with, and merge
    costs a staging table and a delete per key. Rows repeated inside the load are still kept
    once (the last read wins, as the merge's dedup would); a key repeated across batches
    already sent turns the table back to merge for this load.
    """

    def __init__(self, resource: Any, size: int, skip_unchanged: bool | None = None) -> None:
        self.resource = resource
        self.size = size
        self.buffers: dict[str, _TableBuffer] = {}
        self.skip_unchanged = load_skip_unchanged() if skip_unchanged is None else skip_unchanged

    # the destination's view of a table, through dlt's schema of the running source
    def _schema(self):
        import dlt

        try:
            return dlt.current.source_schema()
        except Exception:  # outside an extract (tests of the batcher alone)
            return None

    def _buffer(self, table: str, variant: bool, hints: dict[str, Any]) -> _TableBuffer:
        buffer = self.buffers.get(table)
        if buffer is None:
            buffer = _TableBuffer(variant=variant)
            schema = self._schema()
            norm = schema.naming.normalize_table_identifier(table) if schema else table
            seen = False
            if schema is not None and norm in schema.tables:
                from dlt.common.schema.utils import has_table_seen_data

                seen = has_table_seen_data(schema.tables[norm])
            disposition = (
                hints.get("write_disposition") if variant else self.resource.write_disposition
            )
            key = hints.get("primary_key") if variant else self._resource_key()
            buffer.key_columns = (key,) if isinstance(key, str) else tuple(key or ())
            if isinstance(disposition, Mapping):
                disposition = disposition.get("disposition")
            if disposition == "merge" and buffer.key_columns:
                buffer.keyed = True
                buffer.first_load = not seen
                buffer.keys = set()
                merge_key = hints.get("merge_key") if variant else self._resource_hint("merge_key")
                buffer.upsert = self.skip_unchanged and not merge_key
            if variant:
                # dlt starts a variant's hints from the resource's, columns included, and merges
                # the columns an item declares onto them: cleared here, the variant has only its
                # own (and _dlt_id's, which every batch declares)
                self.resource.apply_hints(table_name=table, columns={}, create_table_variant=True)
            self.buffers[table] = buffer
        if hints:
            declared = hints.get("columns")
            if isinstance(declared, Mapping):
                buffer.columns.update(declared)
            buffer.hints = hints
        return buffer

    def _resource_key(self) -> Any:
        return self._resource_hint("primary_key")

    def _resource_hint(self, name: str) -> Any:
        hints = getattr(self.resource, "_hints", {}) or {}
        return hints.get(name)

    def add(self, item: Any) -> Iterator[Any]:
        """Take one item the resource yielded; yields what is ready to go to dlt."""
        from dlt.extract.items import DataItemWithMeta

        meta_hints: dict[str, Any] = {}
        variant = False
        data = item
        if isinstance(item, DataItemWithMeta):
            meta = item.meta
            meta_hints = dict(getattr(meta, "hints", None) or {})
            variant = bool(getattr(meta, "create_table_variant", False))
            data = item.data
            if not meta_hints:
                yield item
                return
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            own = self.buffers.get(self.resource.table_name) if not variant else None
            if own is not None:  # rows this batcher cannot see: their keys are not known
                own.unique, own.keys = False, None
            yield item
            return
        table = meta_hints.get("table_name") if variant else self.resource.table_name
        if not isinstance(table, str) or table == REJECTED_TABLE:
            yield item
            return
        buffer = self._buffer(table, variant, meta_hints)
        buffer.rows.extend(data)
        if len(buffer.rows) >= self.size:
            yield from self._flush(table, buffer)

    def flush(self) -> Iterator[Any]:
        """Send every buffer (the resource is ending)."""
        for table, buffer in self.buffers.items():
            yield from self._flush(table, buffer)

    def _flush(self, table: str, buffer: _TableBuffer) -> Iterator[Any]:
        import dlt

        if not buffer.rows:
            return
        rows, buffer.rows = buffer.rows, []
        if buffer.keys is not None:
            rows, again = self._once(rows, buffer)
            if again:  # a key already sent in an earlier batch: dlt's merge dedups this load
                buffer.unique, buffer.keys = False, None
        schema = self._schema()
        normalize = schema.naming.normalize_identifier if schema else (lambda n: n)
        known: dict[str, str] = {}
        declared = dict(self.resource.columns or {}) if not buffer.variant else {}
        declared.update(buffer.columns)
        for name, column in declared.items():
            if isinstance(column, Mapping) and column.get("data_type"):
                known[normalize(name)] = column["data_type"]
        if schema is not None:
            norm_table = schema.naming.normalize_table_identifier(table)
            for name, column in (schema.tables.get(norm_table) or {}).get("columns", {}).items():
                if column.get("data_type"):
                    known[name] = column["data_type"]
        key = buffer.hints.get("primary_key") if buffer.variant else self._resource_key()
        required = [normalize(k) for k in ((key,) if isinstance(key, str) else (key or ()))]
        try:
            arrow, apart, json_columns = arrow_batch(rows, known, normalize, required)
        except Exception:  # never lose rows to the fast path: dlt's own path takes them
            log.debug("%s: rows to dlt as dicts", table, exc_info=True)
            arrow, apart, json_columns = None, rows, {}
        if arrow is not None:
            arrow = with_row_ids(arrow)
            json_columns = {**json_columns, **ROW_ID_COLUMN}
        hints = dict(buffer.hints) if buffer.variant else {}
        if buffer.keyed and buffer.first_load and buffer.unique:
            hints["write_disposition"] = "append"
        elif buffer.keyed and buffer.upsert and buffer.unique:
            # every key once in this load, no merge key: one MERGE that inserts new keys and
            # updates only rows whose values changed (a re-read of unchanged rows writes nothing)
            hints["write_disposition"] = UPSERT_UNCHANGED_SKIPPED
            buffer.first_load = False
        elif buffer.keyed:
            hints["write_disposition"] = DELETE_INSERT
            # every key once in this load: dlt's merge may skip its own dedup (a window
            # function over the whole staging table, most of a merge's time)
            hints["additional_table_hints"] = {DEDUPLICATED_HINT: buffer.unique}
            buffer.first_load = False
        columns = {**(hints.get("columns") or {}), **buffer.columns, **json_columns}
        if columns:
            hints["columns"] = columns
        allowed: tuple[str, ...] = (
            "table_name",
            "primary_key",
            "merge_key",
            "write_disposition",
            "columns",
            "additional_table_hints",
        )
        if not buffer.variant:
            allowed = ("write_disposition", "columns", "additional_table_hints")
        made = dlt.mark.make_hints(**{k: v for k, v in hints.items() if k in allowed})
        for part in (arrow, apart):
            if part is None or (isinstance(part, list) and not part):
                continue
            if made:
                yield dlt.mark.with_hints(part, made, create_table_variant=buffer.variant)
            else:
                yield part

    @staticmethod
    def _once(rows: list[dict[str, Any]], buffer: _TableBuffer) -> tuple[list, bool]:
        """A first load's rows with each key once (the last read wins); and whether a key was
        already sent in an earlier batch (then this load must merge)."""
        last: dict[tuple, int] = {}
        for at, row in enumerate(rows):
            last[tuple(row.get(c) for c in buffer.key_columns)] = at
        assert buffer.keys is not None
        again = False
        for key in last:
            digest = hash(key)
            if digest in buffer.keys:
                again = True
            buffer.keys.add(digest)
        if len(last) < len(rows):
            rows = [rows[at] for at in sorted(last.values())]
        return rows, again


def batched(
    resource: Any, items: Iterable[Any], size: int, skip_unchanged: bool | None = None
) -> Iterator[Any]:
    """A resource's items through a :class:`Batcher`: Arrow tables of up to ``size`` rows per
    target table, every buffer sent before the resource ends. An error inside the resource
    sends nothing more (the run fails and its package is never loaded)."""
    batcher = Batcher(resource, size, skip_unchanged)
    for item in items:
        yield from batcher.add(item)
    yield from batcher.flush()


class _NotesOnPurpose(logging.Filter):
    """Drops two dlt warnings about what the batches do on purpose:

    - an Arrow table's column hints differ from the schema's: the batches carry JSON columns as
      text (pyarrow's CSV writer cannot write nested values) and declare them ``json``, which
      dlt keeps; every other type is the declared one;
    - ``dedup_sort`` on ``_dlt_id`` is ignored: every batch declares it (:data:`ROW_ID_COLUMN`),
      and it is used only by the loads whose merge dedups (a key read in two batches)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "several column hints were different" in message:
            return False
        ours = '"dedup_sort" column hint for column "_dlt_id"' in message
        return not (ours and "ignored" in message)


_DLT_NOTES = _NotesOnPurpose()


def batch_resources(
    source: Any, size: int | None = None, skip_unchanged: bool | None = None
) -> None:
    """Put every selected resource of a dlt ``source`` through :func:`batched` (``size`` default
    ``REVOPS_LOAD_BATCH_ROWS``; 0 leaves the source as it is; ``skip_unchanged`` default
    ``REVOPS_LOAD_SKIP_UNCHANGED``). The resources themselves are not changed: their generator
    step is wrapped, so cursor state and hints work as before."""
    size = load_batch_rows() if size is None else size
    if size <= 0:
        return
    import os

    # dlt's load columns on Arrow rows as its normalizer puts them on dicts, so the raw tables
    # keep the same columns (staging reads _dlt_load_id)
    # (_dlt_id comes with each Arrow table, from with_row_ids; dlt's own adds it row by row)
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID", "false")
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    # one load file per batch: dlt's load workers COPY a table's files side by side (a first
    # load of 119,040 rows in two files: load 0.34-0.39 s -> 0.26 s here)
    os.environ.setdefault("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", str(size))
    dlt_log = logging.getLogger("dlt")
    if _DLT_NOTES not in dlt_log.filters:
        dlt_log.addFilter(_DLT_NOTES)
    for resource in source.selected_resources.values():
        pipe = resource._pipe
        if pipe.has_parent:  # transformers get their items from their parent's batches
            continue
        gen = pipe.gen
        if callable(gen):

            def evaluated(gen=gen, resource=resource):
                return batched(resource, gen(), size, skip_unchanged)

            pipe.replace_gen(evaluated)
        elif isinstance(gen, Iterable):
            pipe.replace_gen(batched(resource, gen, size, skip_unchanged))
