"""The record of every extract run, in the warehouse: ``revops_meta.extract_runs``.

One row per attempt to extract one system: which run (the Airflow run id, or a generated one),
``incremental`` (from the cursors) or ``backfill`` (a fixed past window), the window it read,
when it started and finished, ``running`` / ``success`` / ``failed``, how many rows it loaded,
and for a failure the error's last line (secrets masked). :func:`revops.pipeline.extract`
writes the ``running`` row before it reads anything and settles it afterwards, so a run killed
mid-way stays ``running`` and a retry of the same Airflow run is a row of its own.

The quality gate reads it back (:func:`latest_incremental_runs`): a system whose newest
incremental run failed, or whose data ends too early, blocks the report. Backfills never count
there: they re-read the past and say nothing about how fresh a source is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

EXTRACT_RUNS_TABLE = "revops_meta.extract_runs"
MODES = ("incremental", "backfill")
STATUSES = ("running", "success", "failed")
ERROR_MAX_CHARS = 500

_DDL = f"""
create table if not exists {EXTRACT_RUNS_TABLE} (
    extract_run_id bigint generated always as identity primary key,
    run_id text not null,
    system text not null,
    mode text not null check (mode in ('incremental', 'backfill')),
    window_start timestamptz,
    window_end timestamptz not null,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    status text not null default 'running' check (status in ('running', 'success', 'failed')),
    rows bigint,
    error text,
    check ((mode = 'backfill') = (window_start is not null))
)
"""

_COLUMNS = (
    "extract_run_id, run_id, system, mode, window_start, window_end, started_at, finished_at, "
    "status, rows, error"
)


@dataclass(frozen=True)
class ExtractRun:
    """One recorded extract run of one system."""

    extract_run_id: int
    run_id: str
    system: str
    mode: str  # 'incremental' | 'backfill'
    window_start: datetime | None  # None for an incremental run (it starts at the cursors)
    window_end: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str  # 'running' | 'success' | 'failed'
    rows: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        """Whether the run finished and loaded what it read."""
        return self.status == "success"


def ensure_extract_runs_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``revops_meta.extract_runs`` (and its schema) if missing; safe to run concurrently."""
    with conn.transaction():
        exists = conn.execute("select to_regclass(%s)", (EXTRACT_RUNS_TABLE,)).fetchone()
        if exists is not None and exists[0] is not None:
            return
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (EXTRACT_RUNS_TABLE,))
        conn.execute("create schema if not exists revops_meta")
        conn.execute(_DDL)
        conn.execute(
            f"create index if not exists extract_runs_system on {EXTRACT_RUNS_TABLE} "
            "(system, mode, started_at desc)"
        )
        conn.execute(
            f"comment on table {EXTRACT_RUNS_TABLE} is 'One row per extract run of one system: "
            "incremental or backfill, its window, status, rows and error "
            "(revops.sources.runlog).'"
        )


def start_run(
    conn: psycopg.Connection[Any],
    run_id: str,
    system: str,
    mode: str,
    window_start: datetime | None,
    window_end: datetime,
) -> int:
    """Record a run as ``running``; returns its ``extract_run_id``. Commits its own transaction."""
    if mode not in MODES:
        raise ValueError(f"extract run mode must be one of {MODES}, got {mode!r}")
    ensure_extract_runs_table(conn)
    with conn.transaction():
        row = conn.execute(
            f"insert into {EXTRACT_RUNS_TABLE} (run_id, system, mode, window_start, window_end) "
            "values (%s, %s, %s, %s, %s) returning extract_run_id",
            (run_id, system, mode, window_start, window_end),
        ).fetchone()
    assert row is not None
    return int(row[0])


def finish_run(
    conn: psycopg.Connection[Any],
    extract_run_id: int,
    rows: int | None = None,
    error: BaseException | str | None = None,
) -> None:
    """Settle a run: ``success`` with its rows, or ``failed`` with its error's last line."""
    status = "success" if error is None else "failed"
    line = None if error is None else error_line(error)
    with conn.transaction():
        conn.execute(
            f"update {EXTRACT_RUNS_TABLE} set status = %s, rows = %s, error = %s, "
            "finished_at = clock_timestamp() where extract_run_id = %s",
            (status, rows, line, extract_run_id),
        )


def latest_incremental_runs(
    conn: psycopg.Connection[Any], status: str | None = None
) -> dict[str, ExtractRun]:
    """The newest incremental run of each system (``status``: the newest with that status),
    keyed by system; backfills are left out. Empty when no run was ever recorded."""
    exists = conn.execute("select to_regclass(%s)", (EXTRACT_RUNS_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return {}
    if status is not None and status not in STATUSES:
        raise ValueError(f"extract run status must be one of {STATUSES}, got {status!r}")
    rows = conn.execute(
        f"select distinct on (system) {_COLUMNS} from {EXTRACT_RUNS_TABLE} "
        "where mode = 'incremental' and (%s::text is null or status = %s::text) "
        "order by system, started_at desc, extract_run_id desc",
        (status, status),
    ).fetchall()
    return {row[2]: ExtractRun(*row) for row in rows}


def extract_runs(conn: psycopg.Connection[Any], system: str | None = None) -> list[ExtractRun]:
    """Every recorded run (of ``system``), oldest first."""
    exists = conn.execute("select to_regclass(%s)", (EXTRACT_RUNS_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return []
    rows = conn.execute(
        f"select {_COLUMNS} from {EXTRACT_RUNS_TABLE} where %s::text is null or system = %s "
        "order by started_at, extract_run_id",
        (system, system),
    ).fetchall()
    return [ExtractRun(*row) for row in rows]


# -- error lines -------------------------------------------------------------------------------

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|CLIENT_ID)", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def error_line(error: BaseException | str) -> str:
    """The last non-empty line of an error's message, prefixed by its type, on one line and
    with secrets masked: a URL's password (as :func:`revops.warehouse.redact` does), bearer
    tokens, and the value of any ``REVOPS_*`` setting whose name says it is a secret."""
    if isinstance(error, BaseException):
        text = str(error).strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        line = f"{type(error).__name__}: {last}" if last else type(error).__name__
    else:
        lines = [part.strip() for part in str(error).splitlines() if part.strip()]
        line = lines[-1] if lines else ""
    line = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}***@", line)
    line = _BEARER.sub(lambda m: f"{m.group(1)} ***", line)
    for name, value in os.environ.items():
        if name.startswith("REVOPS_") and _SECRET_NAME.search(name) and len(value) >= 4:
            line = line.replace(value, "***")
    return line if len(line) <= ERROR_MAX_CHARS else line[: ERROR_MAX_CHARS - 1] + "…"
