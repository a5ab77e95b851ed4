"""Completeness is data: each extract records per stream whether it reached the end of its
window (rows, pages, elapsed, complete, where it stopped and why) in ``revops_meta.extract_runs``,
a run with a stream stopped early is ``incomplete`` (never ``success``), and the gate blocks a
report whose period such a stream does not cover, naming the stream, where and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import dlt
import psycopg
import pytest
from test_publish_data import AS_OF, build_world

import revops.sources as sources
from revops.quality.extracts import extract_failures, read_failures
from revops.quality.suites import GateConfig
from revops.reports.periods import parse_period
from revops.sources.base import AfterCursorPaginator, Stream, screened, tracked_stream
from revops.sources.http import QuotaExhausted
from revops.sources.runlog import (
    EXTRACT_RUNS_TABLE,
    ExtractRun,
    ensure_extract_runs_table,
    extract_runs,
    finish_run,
    start_run,
)

W46 = parse_period("2026-W46")  # 2026-11-09 .. 2026-11-16, AS_OF is 2026-11-16 06:00 UTC
MIDNIGHT = datetime(2026, 11, 16, tzinfo=UTC)
CONFIG = GateConfig()
UNTIL = datetime(2026, 11, 2, tzinfo=UTC)
QUOTA = "daily quota: You have reached your daily limit."

# -- a stand-in vendor with two streams, the first cut short by a quota on request ------------

FEED: dict[str, list[dict]] = {"things": [], "others": []}
THINGS = Stream("things", "id", "changed", "things")
OTHERS = Stream("others", "id", None, "others")


class PagedApi:
    """Serves FEED[stream] in pages of two through AfterCursorPaginator; a row with
    ``quota`` set makes its page answer a used-up daily quota."""

    system = "fake"

    def get_json(self, path, stream, params=None, **_):
        rows = FEED[stream]
        at = int((params or {}).get("after") or 0)
        page = rows[at : at + 2]
        if any(r.get("quota") for r in page):
            raise QuotaExhausted("fake", stream, 429, QUOTA, reason=QUOTA)
        more = {"paging": {"next": {"after": str(at + 2)}}} if at + 2 < len(rows) else {}
        return {"results": page, **more}


@dlt.source(name="fake", max_table_nesting=0)
def fake_source(until: datetime | None = None, since: datetime | None = None):
    api = PagedApi()

    @dlt.resource(name="things", primary_key="id", write_disposition="merge")
    def things():
        state = dlt.current.resource_state()
        reached = {"at": state.get("cursor") or "2026-10-01T00:00:00Z"}
        with tracked_stream("fake", "things", position=lambda: reached["at"]):
            for page in AfterCursorPaginator().pages(api, "things", "things"):
                yield from screened(THINGS, page)
                reached["at"] = page[-1]["changed"]
            state["cursor"] = reached["at"]

    @dlt.resource(name="others", primary_key="id", write_disposition="merge")
    def others():
        with tracked_stream("fake", "others"):
            for page in AfterCursorPaginator().pages(api, "others", "others"):
                yield from screened(OTHERS, page)

    return things, others


@pytest.fixture
def fake(monkeypatch, tmp_path, fresh_db):
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", fresh_db)
    monkeypatch.setitem(sources.SYSTEMS, "fake", f"{__name__}:fake_source")
    monkeypatch.setattr("revops.sources.settings.apply_airflow_connection", lambda system: None)

    def run(things: list[dict], others: list[dict]):
        from revops.pipeline import extract

        FEED["things"], FEED["others"] = things, others
        return extract("fake", until=UNTIL, run_id="scheduled__2026-11-02")

    return run


def rows_of(n: int, start: int = 0) -> list[dict]:
    return [{"id": i, "changed": f"2026-10-{i + 2:02d}T10:00:00Z"} for i in range(start, n)]


def test_an_extract_reports_every_stream_and_a_stopped_one_as_incomplete(fake, fresh_db):
    stopped = [*rows_of(4), {"id": 98, "quota": True}, {"id": 99}]
    result = fake(stopped, rows_of(3))
    assert result["complete"] is False
    by_name = {s["stream"]: s for s in result["streams"]}
    assert set(by_name) == {"things", "others"}
    things = by_name["things"]
    assert (things["rows"], things["pages"], things["complete"]) == (4, 2, False)
    assert things["stopped_at"] == "2026-10-05T10:00:00Z"  # the last row it read
    assert things["reason"] == QUOTA
    assert isinstance(things["elapsed_s"], float) and things["elapsed_s"] >= 0
    assert by_name["others"] == {**by_name["others"], "rows": 3, "pages": 2, "complete": True}
    assert by_name["others"]["reason"] is None

    with psycopg.connect(fresh_db) as conn:
        (run,) = extract_runs(conn, "fake")
    assert run.status == "incomplete" and run.rows == 7 and run.error is None
    recorded = {s["stream"]: s for s in run.streams}
    assert recorded["things"]["stopped_at"] == "2026-10-05T10:00:00Z"
    assert recorded["things"]["complete"] is False and recorded["others"]["complete"] is True


def test_a_complete_extract_is_a_success_with_its_streams(fake, fresh_db):
    result = fake(rows_of(3), rows_of(1))
    assert result["complete"] is True
    assert [s["complete"] for s in result["streams"]] == [True, True]
    with psycopg.connect(fresh_db) as conn:
        (run,) = extract_runs(conn, "fake")
    assert run.status == "success" and len(run.streams) == 2


def test_an_incomplete_stream_is_logged_one_line_each(fake, caplog):
    with caplog.at_level("WARNING", logger="revops.pipeline"):
        fake([*rows_of(2), {"id": 9, "quota": True}], [{"id": 1, "quota": True}])
    lines = [r.getMessage() for r in caplog.records if "incomplete" in r.getMessage()]
    assert lines == [
        f"fake.others incomplete: stopped before its end: {QUOTA}; the next run resumes",
        f"fake.things incomplete: stopped at 2026-10-03T10:00:00Z: {QUOTA}; the next run resumes",
    ]


# -- extract_runs: the new column and status, migrated in place -------------------------------

OLD_DDL = """
create schema revops_meta;
create table revops_meta.extract_runs (
    extract_run_id bigint generated always as identity primary key,
    run_id text not null, system text not null,
    mode text not null check (mode in ('incremental', 'backfill')),
    window_start timestamptz, window_end timestamptz not null,
    started_at timestamptz not null default clock_timestamp(), finished_at timestamptz,
    status text not null default 'running' check (status in ('running', 'success', 'failed')),
    rows bigint, error text,
    check ((mode = 'backfill') = (window_start is not null))
);
insert into revops_meta.extract_runs (run_id, system, mode, window_end, status, rows)
values ('old', 'hubspot', 'incremental', '2026-11-15', 'success', 5);
"""


def test_an_existing_extract_runs_table_is_migrated_in_place(fresh_db):
    streams = [
        {
            "stream": "contacts",
            "rows": 10,
            "pages": 1,
            "elapsed_s": 0.5,
            "complete": False,
            "stopped_at": "2026-11-15T10:00:00Z",
            "reason": "daily quota",
        }
    ]
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(OLD_DDL)
        ensure_extract_runs_table(conn)
        record = start_run(conn, "new", "hubspot", "incremental", None, MIDNIGHT)
        finish_run(conn, record, rows=10, streams=streams)
        old, new = extract_runs(conn, "hubspot")
        raw = conn.execute(f"select streams from {EXTRACT_RUNS_TABLE} where run_id = 'new'")
        assert raw.fetchone()[0] == streams  # jsonb
    assert (old.status, old.rows, old.streams) == ("success", 5, None)
    assert new.status == "incomplete" and new.streams == streams


# -- the gate ---------------------------------------------------------------------------------


def gate_run(status: str, streams: list[dict] | None, window_end: datetime = MIDNIGHT):
    return ExtractRun(
        extract_run_id=1,
        run_id="scheduled__2026-11-16",
        system="hubspot",
        mode="incremental",
        window_start=None,
        window_end=window_end,
        started_at=window_end,
        finished_at=window_end + timedelta(minutes=12),
        status=status,
        rows=120,
        error=None,
        streams=streams,
    )


def stream(name: str, complete: bool, stopped_at: str | None, reason: str | None = None):
    return {
        "stream": name,
        "rows": 5,
        "pages": 1,
        "elapsed_s": 1.0,
        "complete": complete,
        "stopped_at": stopped_at,
        "reason": reason,
    }


def test_an_incomplete_extract_blocks_the_gate_naming_stream_where_and_why() -> None:
    run = gate_run(
        "incomplete",
        [
            stream("contacts", False, "2026-11-15T10:00:00Z", "daily quota"),
            stream("owners", False, None, "Retry-After 3600 s exceeds REVOPS_HTTP_MAX_RETRY_AFTER"),
            stream("deals", True, "2026-11-16T00:00:00Z"),
        ],
    )
    (failure,) = extract_failures({"hubspot": run}, {"hubspot": run}, AS_OF, [W46], CONFIG)
    assert failure.severity == "blocking" and failure.check == "raw_hubspot.extract"
    assert failure.observed == (
        "the newest incremental extract (run scheduled__2026-11-16) is incomplete: "
        "hubspot.contacts stopped at 2026-11-15T10:00Z: daily quota; "
        "hubspot.owners stopped before its end: Retry-After 3600 s exceeds "
        "REVOPS_HTTP_MAX_RETRY_AFTER"
    )
    assert failure.expected.startswith("every stream complete up to 2026-11-16 00:00 UTC")


def test_a_stream_stopped_after_the_period_end_does_not_block_it() -> None:
    run = gate_run("incomplete", [stream("contacts", False, "2026-11-16T03:00:00Z", "quota")])
    assert extract_failures({"hubspot": run}, {"hubspot": run}, AS_OF, [W46], CONFIG) == []


def test_a_running_extract_after_an_incomplete_one_is_judged_by_the_incomplete_one() -> None:
    bad = gate_run("incomplete", [stream("contacts", False, "2026-11-15T10:00:00Z", "quota")])
    running = gate_run("running", None, MIDNIGHT + timedelta(days=1))
    (failure,) = extract_failures({"hubspot": running}, {"hubspot": bad}, AS_OF, [W46], CONFIG)
    assert "hubspot.contacts stopped at 2026-11-15T10:00Z: quota" in failure.observed


def test_the_gate_blocks_on_an_incomplete_extract_recorded_in_the_warehouse(fresh_db, tmp_path):
    from revops.quality.gate import run_gate

    build_world(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        record = start_run(conn, "scheduled__2026-11-16", "hubspot", "incremental", None, MIDNIGHT)
        finish_run(
            conn,
            record,
            rows=40,
            streams=[stream("contacts", False, "2026-11-15T10:00:00Z", "daily quota")],
        )
    result = run_gate(fresh_db, tmp_path / "docs", periods=[W46], as_of=AS_OF)
    assert result.passed is False
    (failure,) = [f for f in result.blocking if f.check == "raw_hubspot.extract"]
    assert "hubspot.contacts stopped at 2026-11-15T10:00Z: daily quota" in failure.observed
    assert "hubspot.contacts stopped at 2026-11-15T10:00Z" in result.summary()


# -- the Airflow task's asset event -----------------------------------------------------------


def test_the_extract_task_marks_its_asset_event_incomplete() -> None:
    from revops.orchestration.dags import completeness_extra

    result = {
        "complete": False,
        "streams": [stream("contacts", False, "2026-11-15T10:00:00Z", "quota")]
        + [stream("deals", True, None)],
    }
    assert completeness_extra(result) == {"complete": False, "incomplete_streams": ["contacts"]}
    done = {"complete": True, "streams": [stream("deals", True, None)]}
    assert completeness_extra(done) == {"complete": True, "incomplete_streams": []}


# -- end to end: a long Retry-After from the simulator ----------------------------------------


def test_a_long_retry_after_from_the_simulator_is_an_incomplete_extract_the_gate_names(
    fresh_db: str, tmp_path: Path
) -> None:
    from revops.pipeline import extract
    from revops.simulator import Company, FaultConfig, SimulatorServer

    as_of = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    company = Company.generate(seed=7, scale=0.02, as_of=as_of)
    # every 5th HubSpot request is throttled with an hour's Retry-After: above the ceiling
    faults = FaultConfig(rate_limit_every=5, retry_after=3600, systems=("hubspot",))
    with SimulatorServer(company, cert_dir=tmp_path / "tls", faults=faults) as server:
        env = {
            **server.env(),
            "REVOPS_HOME": str(tmp_path / "home"),
            "REVOPS_WAREHOUSE_URL": fresh_db,
            "REVOPS_HTTP_BASE_DELAY": "0.01",
        }
        with mock.patch.dict("os.environ", env):
            result = extract("hubspot", until=as_of, run_id="scheduled__e2e")
    assert result["complete"] is False
    reason = "Retry-After 3600 s exceeds REVOPS_HTTP_MAX_RETRY_AFTER=300 s"
    stopped = [s for s in result["streams"] if not s["complete"]]
    assert stopped and all(s["reason"] == reason for s in stopped)
    with psycopg.connect(fresh_db) as conn:
        (run,) = extract_runs(conn, "hubspot")
        assert run.status == "incomplete"
        assert json.loads(json.dumps(run.streams)) == result["streams"]
        period = parse_period("2026-W44")  # 2026-10-26 .. 2026-11-02
        (failure,) = read_failures(conn, as_of, [period], CONFIG)
    first = stopped[0]
    assert f"hubspot.{first['stream']} stopped " in failure.observed
    assert reason in failure.observed and failure.severity == "blocking"
