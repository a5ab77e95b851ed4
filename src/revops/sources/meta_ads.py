"""Meta Marketing API (Graph): ad accounts, campaigns, ad sets, ads and daily ad insights.

* The API version is ``REVOPS_META_ADS_API_VERSION``, by default the one
  :mod:`revops.sources.versions` lists for Meta (a version Meta serves today; a run warns when
  its sunset is near or past).
* The ad account (currency, time zone), campaigns, ad sets and ads are re-read in full every
  run, deleted and archived ones included (``effective_status`` lists every status), so a
  deleted campaign stays in ``raw_meta_ads`` with its status.
* Insights are read at ad level, one row per ad and day (``time_increment=1``), in chunks of
  :data:`CHUNK_DAYS` days, re-reading 28 days behind the cursor because Meta restates recent
  days (attribution windows). Each row keeps Meta's ``account_currency`` and gains the
  account's ``account_timezone``: ``date_start`` is a day in that time zone.
* Each chunk is an asynchronous report run, as Meta's insights limits page advises for large reads
  (synchronous queries fail with timeouts or out-of-memory errors): ``POST act_<id>/insights``
  gives a ``report_run_id``; ``GET /<report_run_id>`` is polled, waiting
  ``REVOPS_HTTP_BASE_DELAY`` doubling up to ``REVOPS_HTTP_MAX_DELAY`` between polls, at most
  ``REVOPS_META_ADS_JOB_TIMEOUT`` seconds, until ``Job Completed`` at 100 %; its rows are then
  paged from ``GET /<report_run_id>/insights``. ``REVOPS_META_ADS_JOB_CONCURRENCY`` (default 3)
  runs are in flight at once per account, the earliest unread chunks: each round reads the status
  of each and waits once, and rows are read, and the cursor moves, in day order (a year is 27
  chunks: one after another they took 27 waits for a job each). A run that ends ``Job Failed`` or
  ``Job Skipped``, does not finish in time, or is answered "reduce the amount of data" (code 1, an
  insights timeout: :class:`revops.sources.http.RequestTooLarge`) is submitted again with its days
  split in two (a single day again as it is), at most ``REVOPS_META_ADS_JOB_RETRIES`` times per
  chunk; then the stream fails naming the account, the days and Meta's error. The cursor moves to
  the day after each completed range, so a run that stops resumes there.
* :class:`MetaPacer` reads Meta's usage headers (``X-Business-Use-Case-Usage``,
  ``X-Ad-Account-Usage``, ``X-App-Usage``) from every answer and, once a figure passes
  ``REVOPS_META_ADS_USAGE_THRESHOLD`` percent, waits before the next request, longer the
  closer it is to 100, where Meta throttles.

Meta sends metrics as strings (``"spend": "12.34"``) and they are kept so; ``actions`` is kept
as the list Meta sends. The token goes in the ``Authorization`` header, never in a URL, and
``paging.next`` links are followed as given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import dlt
import requests

from revops.settings import current
from revops.sources.base import (
    NextLinkPaginator,
    SinglePage,
    Stream,
    Window,
    day_chunks,
    earliest,
    flatten,
    resource_hints,
    screened,
    tracked_stream,
)
from revops.sources.http import (
    ApiClient,
    RequestTooLarge,
    RetryPolicy,
    SourceError,
    meta_usage,
)
from revops.sources.settings import api_url, env_name, id_list, setting, start_date
from revops.sources.versions import api_version

log = logging.getLogger(__name__)

SYSTEM = "meta_ads"
DEFAULT_URL = "https://graph.facebook.com"
CHUNK_DAYS = 14
JOB_RETRIES = 5  # resubmissions of failed report runs per chunk (REVOPS_META_ADS_JOB_RETRIES)
JOB_TIMEOUT = 3600.0  # Meta: an async report "can take up to an hour" (REVOPS_META_ADS_JOB_TIMEOUT)
JOB_CONCURRENCY = 3  # report runs in flight per account (REVOPS_META_ADS_JOB_CONCURRENCY)
USAGE_THRESHOLD = 75.0  # percent of a usage figure where pacing starts
USAGE_SPAN = 300.0  # seconds Meta's ad account score takes to decay (standard tier)
JOB_DONE = "Job Completed"
JOB_PENDING = ("Job Not Started", "Job Started", "Job Running")
JOB_FAILED = ("Job Failed", "Job Skipped")
HISTORY_DAYS = 365
PAGES = NextLinkPaginator(items="data", next_link="paging.next", limit_param="limit", limit=500)

EVERY_STATUS = [
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "ARCHIVED",
    "PENDING_REVIEW",
    "DISAPPROVED",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "IN_PROCESS",
    "WITH_ISSUES",
]

FIELDS = {
    "ad_accounts": "id,account_id,name,currency,timezone_name,timezone_offset_hours_utc,"
    "account_status,business_name,created_time",
    "campaigns": "id,account_id,name,objective,status,effective_status,buying_type,"
    "daily_budget,lifetime_budget,start_time,stop_time,created_time,updated_time",
    "ad_sets": "id,account_id,campaign_id,name,status,effective_status,optimization_goal,"
    "billing_event,bid_strategy,daily_budget,start_time,end_time,created_time,updated_time",
    "ads": "id,account_id,campaign_id,adset_id,name,status,effective_status,creative,"
    "tracking_specs,created_time,updated_time",
    "ad_insights": "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,"
    "ad_id,ad_name,objective,date_start,date_stop,spend,impressions,clicks,inline_link_clicks,"
    "reach,actions",
}

STREAMS = {
    "ad_accounts": Stream("ad_accounts", "id", None, "{account}", SinglePage()),
    "campaigns": Stream("campaigns", "id", None, "{account}/campaigns", PAGES),
    "ad_sets": Stream("ad_sets", "id", None, "{account}/adsets", PAGES),
    "ads": Stream("ads", "id", None, "{account}/ads", PAGES),
    "ad_insights": Stream(
        "ad_insights",
        ("ad_id", "date_start"),
        "date_start",
        "{account}/insights",
        PAGES,
        lookback_days=28,
    ),
}


def client() -> ApiClient:
    """An API client for ``REVOPS_META_ADS_URL`` at the configured API version, with the
    access token in a header and :class:`MetaPacer` reading Meta's usage headers."""
    token = setting(SYSTEM, "token")
    return ApiClient(
        system=SYSTEM,
        base_url=api_url(SYSTEM, DEFAULT_URL, api_version(SYSTEM)),
        headers=lambda: {"Authorization": f"Bearer {token}"},
        pacer=MetaPacer.from_env(),
    )


# -- pacing by Meta's usage headers ---------------------------------------------------------------


@dataclass
class MetaPacer:
    """Slows requests down before Meta throttles them (a :class:`revops.sources.http.Pacer`).

    Meta throttles once a usage figure in its headers reaches 100 (per cent of the business use
    case's or the ad account's budget). After an answer whose highest figure passed
    ``threshold``, the next request waits ``span * (usage - threshold) / (100 - threshold)``
    seconds, where ``span`` is the ad account's ``reset_time_duration`` when given, else
    :data:`USAGE_SPAN` (the standard tier's 300-second decay); when Meta names an
    ``estimated_time_to_regain_access`` on a successful answer, that is waited instead. Throttle
    answers themselves are waited for by the HTTP layer (their usage header's delay), so the
    pacer adds nothing to them. No wait is longer than ``longest``
    (``REVOPS_HTTP_MAX_RETRY_AFTER``, the longest vendor delay the HTTP layer honours).
    """

    threshold: float = USAGE_THRESHOLD
    span: float = USAGE_SPAN
    longest: float = 300.0
    pending: float = 0.0
    waits: list[float] = field(default_factory=list)  # what it asked for, for the logs and tests

    @classmethod
    def from_env(cls) -> MetaPacer:
        """``REVOPS_META_ADS_USAGE_THRESHOLD`` (percent, 1-99; default 75)."""
        return cls(
            threshold=current().meta_ads_usage_threshold,
            longest=RetryPolicy.from_env().max_retry_after,
        )

    def before(self, method: str, url: str) -> float:
        """The wait the last answer's usage calls for (asked once)."""
        wait, self.pending = min(self.pending, self.longest), 0.0
        if wait > 0:
            self.waits.append(wait)
            log.info("meta_ads: usage near Meta's limit, waiting %.1f s before the next call", wait)
        return wait

    def after(self, method: str, url: str, response: requests.Response) -> None:
        """Read the answer's usage headers."""
        figures = meta_usage(response.headers)
        if figures is None or response.status_code >= 400:
            self.pending = 0.0
            return
        pct, regain, reset = figures
        if regain > 0:
            self.pending = regain
        elif pct > self.threshold:
            ramp = (min(pct, 100.0) - self.threshold) / (100.0 - self.threshold)
            self.pending = (reset or self.span) * ramp
        else:
            self.pending = 0.0


# -- async insights report runs -------------------------------------------------------------------


@dataclass(frozen=True)
class JobSettings:
    """How report runs are waited for, retried and overlapped."""

    retries: int = JOB_RETRIES
    timeout: float = JOB_TIMEOUT
    concurrency: int = JOB_CONCURRENCY

    @classmethod
    def from_env(cls) -> JobSettings:
        """``REVOPS_META_ADS_JOB_RETRIES`` (0-50), ``REVOPS_META_ADS_JOB_TIMEOUT`` (seconds) and
        ``REVOPS_META_ADS_JOB_CONCURRENCY`` (report runs in flight per account)."""
        settings = current()
        return cls(
            retries=settings.meta_ads_job_retries,
            timeout=settings.meta_ads_job_timeout,
            concurrency=settings.meta_ads_job_concurrency,
        )


class JobFailed(Exception):
    """A report run ended without its rows: ``Job Failed``, ``Job Skipped`` or too slow."""


def submit_report(api: ApiClient, account: str, first: date, last: date) -> str:
    """Start an async ad-level daily insights report for ``first``..``last``: its run id."""
    answer = api.post_json(
        STREAMS["ad_insights"].path.format(account=account),
        "ad_insights",
        data={
            "level": "ad",
            "time_increment": "1",
            "time_range": json.dumps({"since": first.isoformat(), "until": last.isoformat()}),
            "fields": FIELDS["ad_insights"],
        },
    )
    run_id = answer.get("report_run_id") if isinstance(answer, dict) else None
    if not run_id:
        raise SourceError(SYSTEM, "ad_insights", 200, f"no report_run_id in {answer!r:.200}")
    return str(run_id)


@dataclass
class _Run:
    """One day range of a report: its run once submitted, and how its wait is going."""

    first: date
    last: date
    chunk: int  # which of the requested chunks it belongs to (retries are counted per chunk)
    run_id: str | None = None
    done: bool = False
    failure: Exception | None = None
    state: str = "Job Not Started"
    percent: Any = None
    polls: int = 0
    waited: float = 0.0

    @property
    def running(self) -> bool:
        """Submitted, and neither complete nor failed yet."""
        return self.run_id is not None and not self.done and self.failure is None


def report_status(api: ApiClient, run: _Run) -> None:
    """One status read of a submitted report run: ``run.done`` once ``Job Completed`` at
    100 %; :class:`JobFailed` when it ended ``Job Failed`` or ``Job Skipped``."""
    status = api.get_json(str(run.run_id), "ad_insights")
    state = str(status.get("async_status", ""))
    percent = status.get("async_percent_completion")
    run.state, run.percent = state, percent
    if state == JOB_DONE and (percent is None or float(percent) >= 100):
        run.done = True
        return
    if state in JOB_FAILED:
        detail = "; ".join(
            str(status[k])
            for k in ("error_code", "error_subcode", "error_message", "error_user_msg")
            if status.get(k) not in (None, "")
        )
        ended = f"report run {run.run_id} ended {state!r}"
        raise JobFailed(ended + (f" ({detail})" if detail else ""))
    if state not in JOB_PENDING and state != JOB_DONE:
        log.warning(
            "meta_ads: report run %s has an unknown status %r; polling on", run.run_id, state
        )


def report_pages(
    api: ApiClient,
    account: str,
    first: date,
    last: date,
    settings: JobSettings,
    time_zone: str | None = None,
) -> Iterator[tuple[list[dict[str, Any]], date | None]]:
    """The insight rows of ``first``..``last`` through async report runs of at most
    :data:`CHUNK_DAYS` days each, page by page as ``(rows, None)``, and ``([], day)`` each time
    every day up to ``day`` has been read: strictly in day order.

    Up to ``settings.concurrency`` report runs are in flight at once: the first ones not read
    yet, in day order. Each round reads the status of every one of them, reads the rows of the
    earliest as soon as it is complete, and otherwise waits once (the earliest run's back-off:
    the client's base delay doubling, capped at its maximum). A report run that fails, is
    skipped, is still running after ``settings.timeout`` seconds, or is answered "reduce the
    amount of data" is submitted again with its days split in two when it is the earliest, at
    most ``settings.retries`` times per chunk; then :class:`SourceError` names the account, the
    chunk's days and the last failure.
    """
    end = last + timedelta(days=1)
    chunks = day_chunks(first, end, CHUNK_DAYS)
    queue = [_Run(low, high, index) for index, (low, high) in enumerate(chunks)]
    failures: dict[int, list[str]] = {}
    width = max(1, settings.concurrency)
    while queue:
        window = queue[:width]
        for run in window:  # submit what is in the window and not submitted yet, in order
            if run.run_id is None and run.failure is None:
                try:
                    run.run_id = submit_report(api, account, run.first, run.last)
                except RequestTooLarge as why:
                    run.failure = why
        for run in window:  # one status read of each run still going
            if run.running:
                try:
                    report_status(api, run)
                except JobFailed as why:
                    run.failure = why
                run.polls += 1
        head = queue[0]
        if head.done and head.failure is None:
            try:
                for page in STREAMS["ad_insights"].pages(api, f"{head.run_id}/insights"):
                    yield [insight_row(r, time_zone) for r in page], None
            except RequestTooLarge as why:
                head.failure = why
            else:
                queue.pop(0)
                yield [], head.last
                continue
        if head.failure is None:
            delay = min(api.policy.max_delay, api.policy.base_delay * 2 ** (head.polls - 1))
            if head.waited + delay <= settings.timeout:
                api.sleep(delay)
                for run in window:
                    if run.running:
                        run.waited += delay
                continue
            head.failure = JobFailed(
                f"report run {head.run_id} still {head.state!r} ({head.percent} %) after "
                f"{head.waited:.0f} s "
                f"({env_name(SYSTEM, 'job_timeout')}={settings.timeout:g})"
            )
        # the earliest run failed: again with its days split in two, or the stream fails
        failed = failures.setdefault(head.chunk, [])
        failed.append(str(head.failure))
        if len(failed) > settings.retries:
            low, high = chunks[head.chunk]
            raise SourceError(
                SYSTEM,
                "ad_insights",
                None,
                f"the async insights report for {account}, days {head.first}..{head.last}, did "
                f"not complete: {head.failure}; {len(failed)} report runs for {low}..{high} "
                f"failed ({env_name(SYSTEM, 'job_retries')}={settings.retries}). Meta advises "
                "trying again later or asking for fewer days or fields",
            ) from head.failure
        parts = halves(head.first, head.last)
        log.warning(
            "meta_ads ad_insights: %s; submitting %s again as %s",
            head.failure,
            f"{head.first}..{head.last}",
            ", ".join(f"{a}..{b}" for a, b in parts),
        )
        queue[:1] = [_Run(a, b, head.chunk) for a, b in parts]


def halves(first: date, last: date) -> list[tuple[date, date]]:
    """A day range split in two (a single day stays whole)."""
    if first >= last:
        return [(first, last)]
    middle = first + timedelta(days=(last - first).days // 2)
    return [(first, middle), (middle + timedelta(days=1), last)]


def account_ids() -> list[str]:
    """``REVOPS_META_ADS_ACCOUNT_IDS`` as Graph node ids (``act_<id>``)."""
    return [
        raw if raw.startswith("act_") else f"act_{raw}" for raw in id_list(SYSTEM, "account_ids")
    ]


def insight_row(record: dict[str, Any], time_zone: str | None) -> dict[str, Any]:
    """One ad-day of insights: Meta's fields, plus the account's time zone beside the day."""
    row = flatten(record)
    for column in ("date_start", "date_stop"):
        try:
            row[column] = date.fromisoformat(row[column])
        except (KeyError, TypeError, ValueError):
            pass  # left as sent; a bad value lands in a variant column, logged
    row["account_timezone"] = time_zone
    return row


@dlt.source(name="meta_ads", max_table_nesting=0)
def meta_ads_source(
    until: datetime | None = None, first_day: date | None = None, since: datetime | None = None
):
    """The Meta Ads streams, each merged on its primary key into ``raw_meta_ads``; ``since``:
    a backfill of the days of ``[since, until)`` (:class:`revops.sources.base.Window`)."""
    api = client()
    jobs = JobSettings.from_env()
    accounts = account_ids()
    window = Window.of(since, until)
    end_day = window.end_day
    initial = first_day or start_date(SYSTEM, end_day - timedelta(days=HISTORY_DAYS))
    time_zones: dict[str, str | None] = {}

    def account_time_zone(account: str) -> str | None:
        if account not in time_zones:
            body = api.get_json(account, "ad_accounts", params={"fields": "timezone_name"})
            time_zones[account] = body.get("timezone_name")
        return time_zones[account]

    def entities(stream: Stream):
        @dlt.resource(**resource_hints(stream))
        def read() -> Iterator[Any]:
            with tracked_stream(SYSTEM, stream.name):
                for account in accounts:
                    params: dict[str, Any] = {"fields": FIELDS[stream.name]}
                    if stream.name != "ad_accounts":
                        params["effective_status"] = json.dumps(EVERY_STATUS)
                    for page in stream.pages(api, stream.path.format(account=account), **params):
                        if stream.name == "ad_accounts":
                            time_zones[account] = page[0].get("timezone_name") if page else None
                        yield from screened(stream, [flatten(r) for r in page])

        return read

    insights = STREAMS["ad_insights"]

    @dlt.resource(
        **resource_hints(
            insights,
            columns={"date_start": {"data_type": "date"}, "date_stop": {"data_type": "date"}},
        )
    )
    def ad_insights() -> Iterator[Any]:
        cursors: dict[str, str] = window.state().setdefault("cursors", {})
        first = window.first_day(None, initial, 0).isoformat()  # an account not read before
        # complete up to the earliest account's cursor (the first day it has not read)
        with tracked_stream(
            SYSTEM, insights.name, position=lambda: earliest(cursors, accounts, first)
        ):
            for account in accounts:
                cursor = date.fromisoformat(cursors[account]) if account in cursors else None
                start = window.first_day(cursor, initial, insights.lookback_days)
                time_zone = account_time_zone(account)
                if start >= end_day:
                    continue
                last = end_day - timedelta(days=1)
                for rows, done in report_pages(api, account, start, last, jobs, time_zone):
                    if rows:
                        yield from screened(insights, rows)
                    if done is not None:  # every day up to ``done`` read
                        cursors[account] = (done + timedelta(days=1)).isoformat()

    return (
        entities(STREAMS["ad_accounts"]),
        entities(STREAMS["campaigns"]),
        entities(STREAMS["ad_sets"]),
        entities(STREAMS["ads"]),
        ad_insights,
    )
