"""Meta ad insights through async report runs, against the simulator: jobs that need several
polls, failed and skipped jobs resubmitted with their days split, a bounded number of times,
"reduce the amount of data" answers, and a full extract through failing jobs that loads every
ad-day the simulator has."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import psycopg
import pytest
from sim_helpers import trusted_simulator

from revops.simulator import Company, SimulatorServer
from revops.sources import meta_ads
from revops.sources.http import ApiClient, RequestTooLarge, RetryPolicy, SourceError

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FIRST, LAST = date(2026, 10, 6), date(2026, 10, 19)  # one 14-day chunk


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=11, scale=0.02, as_of=AS_OF)


@pytest.fixture(scope="module")
def server(company: Company, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    certs = tmp_path_factory.mktemp("tls")
    with trusted_simulator(company, certs) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorServer):
    """The Meta handler with its failure knobs back at their defaults after each test."""
    api = server.simulator.apis["meta_ads"]
    yield api
    knobs = ("fail_jobs", "fail_first_jobs", "fail_jobs_over_days", "job_polls", "sync_row_limit")
    for knob in knobs:
        if knob in vars(api):
            delattr(api, knob)


@pytest.fixture
def client(server: SimulatorServer) -> Iterator[tuple[ApiClient, list[float]]]:
    with mock.patch.dict(os.environ, server.env()):
        api = meta_ads.client()
    slept: list[float] = []
    api.sleep = slept.append
    api.policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8)
    return api, slept


def account(server: SimulatorServer) -> str:
    return "act_" + server.env()["REVOPS_META_ADS_ACCOUNT_IDS"]


def truth(company: Company, first: date, last: date) -> set[tuple[str, str]]:
    """The (ad, day) pairs Meta reports for the days: those with impressions."""
    return {
        (r.entity_id, r.day.isoformat())
        for r in company.social.meta_daily
        if first <= r.day <= last and r.impressions > 0
    }


def read(api, server, first=FIRST, last=LAST, settings=None):
    rows, done = [], []
    for page, through in meta_ads.report_pages(
        api, account(server), first, last, settings or meta_ads.JobSettings(concurrency=1)
    ):
        rows.extend(page)
        if through is not None:
            done.append(through)
    return rows, done


def test_a_report_run_is_polled_with_backoff_until_complete(server, company, sim, client) -> None:
    api, slept = client
    sim.job_polls = (4, 4)  # Not Started, Started, Running, then Completed
    rows, done = read(api, server)
    assert {(r["ad_id"], r["date_start"].isoformat()) for r in rows} == truth(company, FIRST, LAST)
    assert done == [LAST]
    assert slept == [0.5, 1.0, 2.0]  # three waits between four polls, doubling


def test_failed_and_skipped_jobs_are_resubmitted_with_the_days_split(
    server, company, sim, client
) -> None:
    api, _ = client
    sim.fail_jobs_over_days = 4  # 14 days fail, 7 fail, 3-4 complete
    before = len(sim._runs)
    rows, done = read(api, server)
    keys = [(r["ad_id"], r["date_start"].isoformat()) for r in rows]
    assert set(keys) == truth(company, FIRST, LAST) and len(keys) == len(set(keys))
    runs = list(sim._runs.values())[before:]
    failed = [r for r in runs if r.failure]
    assert [(r.first, r.last) for r in failed] == [
        (FIRST, LAST),
        (FIRST, date(2026, 10, 12)),
        (date(2026, 10, 13), LAST),
    ]
    assert {r.failure for r in failed} <= {"Job Failed", "Job Skipped"}
    assert all((r.last - r.first).days + 1 <= 4 for r in runs if not r.failure)
    # the cursor may move after each completed range: in day order, ending at the chunk's end
    assert done == sorted(done) and done[-1] == LAST and len(done) == 4


def test_a_job_that_keeps_failing_ends_in_a_clear_error(server, sim, client) -> None:
    api, _ = client
    sim.fail_jobs = 1.0
    before = len(sim._runs)
    with pytest.raises(SourceError) as err:
        read(api, server, settings=meta_ads.JobSettings(retries=2, concurrency=1))
    assert len(sim._runs) - before == 3  # the first submission and two more
    message = str(err.value)
    assert message.startswith("meta_ads stream 'ad_insights': ")
    assert account(server) in message and "3 report runs for 2026-10-06..2026-10-19" in message
    assert "REVOPS_META_ADS_JOB_RETRIES=2" in message
    assert "Report Failed" in message or "2490547" in message


def test_a_job_still_running_past_the_timeout_counts_as_failed(server, sim, client) -> None:
    api, slept = client
    sim.job_polls = (6, 6)  # waits 0.5 + 1 s, then 2 s more would pass the 3 s timeout
    before = len(sim._runs)
    with pytest.raises(SourceError) as err:
        read(api, server, settings=meta_ads.JobSettings(retries=1, timeout=3, concurrency=1))
    runs = list(sim._runs.values())[before:]
    assert [(r.first, r.last) for r in runs] == [(FIRST, LAST), (FIRST, date(2026, 10, 12))]
    assert "still 'Job Running'" in str(err.value)
    assert "REVOPS_META_ADS_JOB_TIMEOUT=3" in str(err.value)
    assert slept == [0.5, 1.0, 0.5, 1.0]


def test_a_large_synchronous_query_is_refused_and_not_retried_the_async_read_is_not(
    server, company, sim, client
) -> None:
    api, slept = client
    sim.sync_row_limit = 10  # Meta's limits page: large synchronous queries fail
    params = {
        "level": "ad",
        "time_increment": "1",
        "time_range": json.dumps({"since": FIRST.isoformat(), "until": LAST.isoformat()}),
        "fields": meta_ads.FIELDS["ad_insights"],
    }
    with pytest.raises(RequestTooLarge) as err:
        api.get_json(f"{account(server)}/insights", "ad_insights", params=params)
    assert api.requests_made == 1 and slept == []  # the connector used to retry this 8 times
    assert "(#1) Please reduce the amount of data" in str(err.value)
    rows, _ = read(api, server)  # the connector's async report runs are not limited so
    assert len(rows) == len(truth(company, FIRST, LAST)) > 10


def test_reduce_the_amount_of_data_splits_the_days(server, company, sim, client) -> None:
    api, _ = client
    real = api.post_json
    asked: list[str] = []

    def too_big_once(path, stream, **kwargs):
        asked.append(kwargs["data"]["time_range"])
        if len(asked) == 1:
            raise RequestTooLarge(
                "meta_ads", stream, 400, "(#1) Please reduce the amount of data you're asking for"
            )
        return real(path, stream, **kwargs)

    api.post_json = too_big_once
    rows, done = read(api, server)
    assert {(r["ad_id"], r["date_start"].isoformat()) for r in rows} == truth(company, FIRST, LAST)
    assert asked[1:] == [
        '{"since": "2026-10-06", "until": "2026-10-12"}',
        '{"since": "2026-10-13", "until": "2026-10-19"}',
    ]
    assert done == [date(2026, 10, 12), LAST]


def test_a_full_extract_through_failing_jobs_loads_every_ad_day(
    server, company, sim, fresh_db, tmp_path: Path
) -> None:
    from revops.sources import run_extract

    sim.fail_first_jobs = 2
    sim.fail_jobs = 0.3
    start = AS_OF.date() - timedelta(days=30)
    env = {
        **server.env(),
        "REVOPS_HOME": str(tmp_path),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
        "REVOPS_META_ADS_START_DATE": start.isoformat(),
        "REVOPS_META_ADS_JOB_RETRIES": "20",
    }
    before = len(sim._runs)
    with mock.patch.dict(os.environ, env):
        run_extract("meta_ads", fresh_db, until=AS_OF, streams=["ad_insights"])
    failed = [r for r in list(sim._runs.values())[before:] if r.failure]
    assert len(failed) >= 2
    with psycopg.connect(fresh_db) as conn:
        loaded = {
            (ad, day.isoformat())
            for ad, day in conn.execute("select ad_id, date_start from raw_meta_ads.ad_insights")
        }
    assert loaded == truth(company, start, AS_OF.date() - timedelta(days=1))


# -- several report runs in flight ---------------------------------------------------------------

YEAR = (date(2025, 10, 20), date(2026, 10, 19))  # 365 days: 27 chunks of at most 14 days


class Recording:
    """Wraps the client's calls: which report runs were in flight (submitted, not read yet)
    at each status read."""

    def __init__(self, api: ApiClient) -> None:
        self.submitted: list[str] = []
        self.read: set[str] = set()
        self.in_flight: list[int] = []
        post, get_json = api.post_json, api.get_json

        def recording_post(path, stream, **kwargs):
            answer = post(path, stream, **kwargs)
            self.submitted.append(answer["report_run_id"])
            return answer

        def recording_get(path, stream, **kwargs):
            if path in self.submitted:  # a status read
                self.in_flight.append(len([r for r in self.submitted if r not in self.read]))
            elif path.endswith("/insights"):
                self.read.add(path.split("/")[0])
            return get_json(path, stream, **kwargs)

        api.post_json, api.get_json = recording_post, recording_get


def test_up_to_n_report_runs_are_in_flight_and_rows_come_in_day_order(
    server, company, sim, client
) -> None:
    api, slept = client
    sim.job_polls = (2, 5)
    one_at_a_time = read(api, server, *YEAR, settings=meta_ads.JobSettings(concurrency=1))
    sleeps_alone = len(slept)
    slept.clear()
    recorded = Recording(api)
    rows, done = read(api, server, *YEAR, settings=meta_ads.JobSettings(concurrency=3))

    assert max(recorded.in_flight) == 3 and len(recorded.submitted) == 27
    assert sorted(map(str, rows)) == sorted(map(str, one_at_a_time[0]))
    assert {(r["ad_id"], r["date_start"].isoformat()) for r in rows} == truth(company, *YEAR)
    # the cursor moves chunk by chunk, in day order, to the year's last day
    assert done == one_at_a_time[1] and done == sorted(done) and len(done) == 27
    assert [r["date_start"] for r in rows] == sorted(r["date_start"] for r in rows)
    # the waits overlap: fewer rounds than one run after another
    print(f"waits for a year: {sleeps_alone} one at a time, {len(slept)} with 3 in flight")
    assert len(slept) < sleeps_alone * 0.6


def test_a_run_behind_the_earliest_that_fails_is_split_when_its_turn_comes(
    server, company, sim, client
) -> None:
    api, _ = client
    before = len(sim._runs)
    # the year's first two chunks fail (jobs are numbered over the simulator's life): the
    # second fails while the first is still the earliest
    sim.fail_first_jobs = before + 2
    rows, done = read(api, server, *YEAR, settings=meta_ads.JobSettings(concurrency=3))
    runs = list(sim._runs.values())[before:]
    failed = [(r.first, r.last) for r in runs if r.failure]
    assert failed == [
        (date(2025, 10, 20), date(2025, 11, 2)),
        (date(2025, 11, 3), date(2025, 11, 16)),
    ]
    keys = [(r["ad_id"], r["date_start"].isoformat()) for r in rows]
    assert set(keys) == truth(company, *YEAR) and len(keys) == len(set(keys))
    # each failed chunk was read as its two halves, in order, before the chunks after it
    assert done[:4] == [
        date(2025, 10, 26),
        date(2025, 11, 2),
        date(2025, 11, 9),
        date(2025, 11, 16),
    ]
    assert done == sorted(done) and done[-1] == YEAR[1]
