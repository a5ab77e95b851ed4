"""Backfills re-extract a past window exactly, idempotently, without moving a cursor; every
extract run is recorded in ``revops_meta.extract_runs``.

The backfill test builds one simulated company in two warehouses, every run against the same
simulated instant (so both see the same vendor data and any difference is the extractor's):

* W1: an initial extract up to D0, then three daily incremental runs [D0,D1), [D1,D2), [D2,D3);
* W2: the same initial extract, one later run up to D5, then a backfill of the three days.

Per table and day, the rows the backfill loaded equal the rows W1's daily runs loaded for that
day (primary keys of the rows each run loaded, as the run left them, taken by its load id;
rows an incremental run re-read behind its cursor are outside its day and not compared); no
cursor of W2 moves; the backfill run again changes no table; the runs are recorded as backfills.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from test_sources_e2e import pointed_at as simulator_env
from test_sources_e2e import raw_columns
from warehouse_checks import new_database

from revops import pipeline
from revops.simulator import Company, SimulatorServer
from revops.sources import SYSTEMS, dataset_name
from revops.sources.base import Window, parse_ts, snake
from revops.sources.runlog import (
    ExtractRun,
    error_line,
    extract_runs,
    finish_run,
    latest_incremental_runs,
    start_run,
)

SEED = 7
SCALE = 0.02
D0 = datetime(2026, 10, 26, tzinfo=UTC)
DAY = timedelta(days=1)
D1, D2, D3, D5 = D0 + DAY, D0 + 2 * DAY, D0 + 3 * DAY, D0 + 5 * DAY
AS_OF = D5 + timedelta(hours=9, minutes=30)  # the simulated "now" of every run
BACKFILL_DAYS = [(D0, D1), (D1, D2), (D2, D3)]
# ad platforms read history from here (instead of a year back) to keep the test quick
HISTORY_START = (D0 - timedelta(days=20)).date()


# -- helpers -----------------------------------------------------------------------------------


@contextmanager
def pointed_at(server: SimulatorServer, warehouse: str, home) -> Iterator[None]:
    """The environment of an extract into ``warehouse`` from the simulator."""
    # what a run read is found by its _dlt_load_id (loaded()): every row read is rewritten,
    # not only the rows that changed (the default, which keeps an unchanged row's load id)
    with simulator_env(
        server,
        home,
        HISTORY_START,
        REVOPS_WAREHOUSE_URL=warehouse,
        REVOPS_LOAD_SKIP_UNCHANGED="false",
    ):
        yield


def streams(system: str) -> dict[str, Any]:
    """The connector's stream declarations (the one owner of keys and cursors)."""
    return importlib.import_module(SYSTEMS[system].partition(":")[0]).STREAMS


def column(name: str) -> str:
    """A field name as its column is named (``SystemModstamp`` -> ``system_modstamp``)."""
    return snake(name)


Keys = dict[str, list[tuple[tuple, Any]]]  # table -> (primary key, cursor value or None)


def loaded(url: str, system: str, load_ids: list[str]) -> Keys:
    """Every row one run loaded, per table, as that run left it: its key and cursor value."""
    out: Keys = {}
    with psycopg.connect(url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (dataset_name(system),),
            )
        }
        for stream in streams(system).values():
            if stream.name not in tables:
                continue
            keys = ", ".join(f'"{column(c)}"' for c in stream.key_columns)
            cursor = f'"{column(stream.cursor)}"' if stream.cursor else "null"
            rows = conn.execute(
                f'select {keys}, {cursor} from {dataset_name(system)}."{stream.name}" '
                "where _dlt_load_id = any(%s)",
                (load_ids,),
            ).fetchall()
            out[stream.name] = [(tuple(row[:-1]), row[-1]) for row in rows]
    return out


def in_window(value: Any, since: datetime, until: datetime) -> bool:
    """Whether a cursor value (a day, or a vendor timestamp) falls in ``[since, until)``."""
    if value is None:
        return False
    if isinstance(value, date) and not isinstance(value, datetime):
        return since.date() <= value < until.date()
    moment = value if isinstance(value, datetime) else parse_ts(str(value))
    return since <= moment < until


def day_keys(system: str, rows: Keys, since: datetime, until: datetime) -> dict[str, set]:
    """Per table, the keys of the rows that belong to ``[since, until)``: for a stream with a
    cursor, the rows whose cursor is in the window; for one without (read in full, or with
    its parent), every row."""
    declared = streams(system)
    return {
        table: {
            key
            for key, cursor in found
            if declared[table].cursor is None or in_window(cursor, since, until)
        }
        for table, found in rows.items()
    }


def cursors(url: str, system: str) -> dict[str, Any]:
    """The resource states (the cursors) in the newest dlt state committed to ``url``."""
    from dlt.common.versioned_state import decompress_state

    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"select state from {dataset_name(system)}._dlt_pipeline_state "
            "order by created_at desc, version desc limit 1"
        ).fetchone()
    assert row is not None, f"{system}: no dlt state committed"
    state = decompress_state(row[0])
    return {name: source.get("resources", {}) for name, source in state.get("sources", {}).items()}


def digests(url: str, system: str) -> dict[str, tuple]:
    """Row count and md5 of every ``raw_<system>`` table, dlt's load columns left out."""
    out = {}
    with psycopg.connect(url) as conn:
        for table, names in raw_columns(conn, dataset_name(system)).items():
            columns = [f'"{name}"' for name in names]
            out[table] = conn.execute(
                f"select count(*), md5(string_agg(t.r, '|' order by t.r)) from (select "
                f'row({", ".join(columns)})::text as r from {dataset_name(system)}."{table}") t'
            ).fetchone()
    return out


@pytest.fixture
def second_db(server_url: str) -> Iterator[str]:
    """Another new empty database (the test needs two warehouses)."""
    with new_database(server_url) as url:
        yield url


# -- the backfill ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_backfill_of_three_past_days_equals_three_daily_runs_and_moves_no_cursor(
    fresh_db, second_db, tmp_path
) -> None:
    w1, w2 = fresh_db, second_db
    company = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)
    daily: dict[str, list[Keys]] = {}
    backfill: dict[str, list[Keys]] = {}
    backfill_rows: dict[str, list[int]] = {}
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        with pointed_at(server, w1, tmp_path / "home"):
            for system in SYSTEMS:
                pipeline.extract(system, until=D0, run_id="w1_initial")
                daily[system] = []
                for _, until in BACKFILL_DAYS:
                    run = pipeline.extract(system, until=until, run_id=f"w1_{until:%m%d}")
                    assert run["mode"] == "incremental"
                    daily[system].append(loaded(w1, system, run["load_ids"]))

        with pointed_at(server, w2, tmp_path / "home"):
            for system in SYSTEMS:
                pipeline.extract(system, until=D0, run_id="w2_initial")
                pipeline.extract(system, until=D5, run_id="w2_later")
            before = {system: cursors(w2, system) for system in SYSTEMS}
            for system in SYSTEMS:
                backfill[system], backfill_rows[system] = [], []
                for since, until in BACKFILL_DAYS:
                    run = pipeline.extract(
                        system, since=since, until=until, run_id=f"w2_backfill_{since:%m%d}"
                    )
                    assert run["mode"] == "backfill"
                    backfill[system].append(loaded(w2, system, run["load_ids"]))
                    backfill_rows[system].append(sum(run["rows"].values()))
            after = {system: cursors(w2, system) for system in SYSTEMS}
            once = {system: digests(w2, system) for system in SYSTEMS}
            for system in SYSTEMS:  # the same backfill again
                for since, until in BACKFILL_DAYS:
                    pipeline.extract(system, since=since, until=until, run_id="w2_repeat")
            twice = {system: digests(w2, system) for system in SYSTEMS}

    # the later run moved every system's cursors past the backfilled days, and no backfill
    # moved one back (or anywhere)
    for system in SYSTEMS:
        assert before[system].get(system), f"{system}: no cursor to check"
    assert after == before

    # the backfill re-extracted each day: per table, the rows of the day equal the daily run's
    with_data: dict[tuple[str, int], int] = {}
    for system in SYSTEMS:
        for index, (since, until) in enumerate(BACKFILL_DAYS):
            expected = day_keys(system, daily[system][index], since, until)
            got = day_keys(system, backfill[system][index], since, until)
            for table in expected.keys() | got.keys():
                if streams(system)[table].cursor is None:
                    # rows without a cursor of their own (read in full, or with their parent, as
                    # a contact's property history): a daily run also re-reads the parents in
                    # its overlap behind the cursor (an index that lags), so it holds the
                    # backfill's rows and may hold more
                    assert got.get(table, set()) <= expected.get(table, set()), (
                        f"{system}.{table} on {since:%Y-%m-%d}: backfill rows missing from the "
                        f"daily run: {sorted(got.get(table, set()) - expected.get(table, set()))}"
                    )
                    continue
                assert got.get(table, set()) == expected.get(table, set()), (
                    f"{system}.{table} on {since:%Y-%m-%d}: backfill "
                    f"{len(got.get(table, set()))} rows, daily run "
                    f"{len(expected.get(table, set()))}"
                )
            incremental = [t for t, s in streams(system).items() if s.cursor and got.get(t)]
            with_data[(system, index)] = sum(len(got[t]) for t in incremental)
            assert backfill_rows[system][index] > 0
    # not vacuous: each system's incremental streams had rows in the backfilled days
    print("rows of incremental streams per system and backfilled day:", with_data)
    for system in SYSTEMS:
        assert any(with_data[(system, i)] for i in range(len(BACKFILL_DAYS))), system

    # a day-grained stream read exactly the backfilled days (no lookback behind them)
    for system in ("google_ads", "meta_ads", "linkedin_ads"):
        for index, (since, until) in enumerate(BACKFILL_DAYS):
            for table, rows in backfill[system][index].items():
                if streams(system)[table].cursor:
                    outside = [c for _, c in rows if not in_window(c, since, until)]
                    assert not outside, f"{system}.{table}: read {sorted(set(outside))}"

    assert twice == once  # idempotent

    with psycopg.connect(w2) as conn:
        recorded = [r for r in extract_runs(conn) if r.run_id.startswith("w2_backfill_")]
        newest = latest_incremental_runs(conn)
    assert len(recorded) == len(SYSTEMS) * len(BACKFILL_DAYS)
    assert {r.mode for r in recorded} == {"backfill"}
    assert {r.status for r in recorded} == {"success"}
    assert {(r.window_start, r.window_end) for r in recorded} == set(BACKFILL_DAYS)
    # the gate still sees the later run as each system's newest incremental one
    assert {s: (r.run_id, r.window_end) for s, r in newest.items()} == {
        s: ("w2_later", D5) for s in SYSTEMS
    }


# -- the run log -------------------------------------------------------------------------------


def test_an_empty_backfill_window_is_refused_and_not_recorded(fresh_db, monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", fresh_db)
    with pytest.raises(ValueError, match="must start before it ends"):
        pipeline.extract("hubspot", since=D1, until=D1)
    with pytest.raises(ValueError, match="must start before it ends"):
        Window.of(D2, D1)
    with psycopg.connect(fresh_db) as conn:
        assert extract_runs(conn) == []


def test_a_failed_extract_is_recorded_with_its_last_line_and_no_secret(
    fresh_db, monkeypatch
) -> None:
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", fresh_db)
    monkeypatch.setenv("REVOPS_HUBSPOT_TOKEN", "pat-na1-sekrit-123")

    def failing(system, url, until=None, since=None, **_):
        raise RuntimeError(
            "Pipeline execution failed at stage extract\n"
            "hubspot: token pat-na1-sekrit-123 refused by postgresql://u:pw@db:5432/x"
        )

    monkeypatch.setattr("revops.sources.run_extract", failing)
    with pytest.raises(RuntimeError, match="refused"):
        pipeline.extract("hubspot", until=D1, run_id="scheduled__1")
    with psycopg.connect(fresh_db) as conn:
        (run,) = extract_runs(conn)
    assert (run.run_id, run.system, run.mode, run.status) == (
        "scheduled__1",
        "hubspot",
        "incremental",
        "failed",
    )
    assert (run.window_start, run.window_end, run.rows) == (None, D1, None)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.error == "RuntimeError: hubspot: token *** refused by postgresql://u:***@db:5432/x"


def test_latest_incremental_runs_takes_the_newest_incremental_run_of_each_system(
    fresh_db,
) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert latest_incremental_runs(conn) == {}

        def run(system, mode, end, error=None, since=None):
            extract_run_id = start_run(conn, f"{system}_{end:%d}", system, mode, since, end)
            finish_run(conn, extract_run_id, rows=None if error else 10, error=error)
            return extract_run_id

        run("hubspot", "incremental", D1)
        ok = run("hubspot", "incremental", D2)
        failed = run("hubspot", "incremental", D3, error=TimeoutError("read timed out"))
        run("hubspot", "backfill", D1, since=D0)  # newer, but a backfill
        run("salesforce", "backfill", D1, since=D0)  # only backfills: not there at all
        mailchimp = run("mailchimp", "incremental", D3)
        newest = latest_incremental_runs(conn)
        succeeded = latest_incremental_runs(conn, status="success")

    assert set(newest) == {"hubspot", "mailchimp"}
    assert isinstance(newest["hubspot"], ExtractRun)
    assert (newest["hubspot"].extract_run_id, newest["hubspot"].status) == (failed, "failed")
    assert newest["hubspot"].error == "TimeoutError: read timed out"
    assert (succeeded["hubspot"].extract_run_id, succeeded["hubspot"].window_end) == (ok, D2)
    assert newest["mailchimp"].extract_run_id == mailchimp
    assert newest["mailchimp"].succeeded and newest["mailchimp"].rows == 10


def test_error_line_is_one_line_and_masks_secrets(monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_MAILCHIMP_API_KEY", "abcdef0123-us1")
    err = ValueError("first\n\n  Authorization: Bearer eyJ.abc.def  \n")
    assert error_line(err) == "ValueError: Authorization: ***"
    # a URL's password in its user part or its query string, and tokens echoed by a vendor
    refused = RuntimeError(
        'cannot reach postgresql://u:pw9@db/x?password=hunter22 {"token": "t0k3n99"}'
    )
    assert error_line(refused) == (
        'RuntimeError: cannot reach postgresql://u:***@db/x?password=*** {"token": "***"}'
    )
    assert error_line("boom with abcdef0123-us1\n") == "boom with ***"
    assert len(error_line("x" * 2000)) == 500
