"""The record of every extract run, in the warehouse: ``revops_meta.extract_runs``.

One row per attempt to extract one system: which run (the Airflow run id, or a generated one),
``incremental`` (from the cursors) or ``backfill`` (a fixed past window), the window it read,
when it started and finished, ``running`` / ``success`` / ``incomplete`` / ``failed``, how many
rows it loaded, each stream's progress (``streams``, jsonb: rows, pages, elapsed, complete, where
it stopped and why), and for a failure the error's last line (secrets masked). A run whose
streams all reached the end of the window is ``success``; one with a stream the vendor cut short
(a used-up quota, a ``Retry-After`` beyond the ceiling) is ``incomplete``: what it read is
loaded, but it is never recorded as done. :func:`revops.pipeline.extract`
writes the ``running`` row before it reads anything and settles it afterwards, so a run killed
mid-way stays ``running`` and a retry of the same Airflow run is a row of its own.

The quality gate reads it back (:func:`latest_incremental_runs`): a system whose newest
incremental run failed or is incomplete short of the report's end, or whose data ends too early,
blocks the report. Backfills never count
there: they re-read the past and say nothing about how fresh a source is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from revops.sources.http import redact as redact_body
from revops.warehouse import redact as redact_url

EXTRACT_RUNS_TABLE = "revops_meta.extract_runs"
MODES = ("incremental", "backfill")
STATUSES = ("running", "success", "incomplete", "failed")
SETTLED = ("success", "incomplete")
"""Runs that loaded what they read (an incomplete one only part of its window)."""
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
    status text not null default 'running',
    rows bigint,
    error text,
    streams jsonb,
    check ((mode = 'backfill') = (window_start is not null))
)
"""
_STATUS_CHECK = "extract_runs_status_check"
_STATUS_CONSTRAINT = (
    f"alter table {EXTRACT_RUNS_TABLE} add constraint {_STATUS_CHECK} "
    f"check (status in ({', '.join(repr(s) for s in STATUSES)}))"
)

_COLUMNS = (
    "extract_run_id, run_id, system, mode, window_start, window_end, started_at, finished_at, "
    "status, rows, error, streams"
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
    status: str  # 'running' | 'success' | 'incomplete' | 'failed'
    rows: int | None
    error: str | None
    streams: list[dict[str, Any]] | None = None  # per stream: see revops.pipeline.extract

    @property
    def succeeded(self) -> bool:
        """Whether the run finished and loaded everything it was to read."""
        return self.status == "success"

    @property
    def incomplete_streams(self) -> list[dict[str, Any]]:
        """The streams that did not reach the end of the window."""
        return [s for s in self.streams or [] if not s.get("complete")]


def _current(conn: psycopg.Connection[Any]) -> tuple[bool, bool]:
    """Whether the table exists, and whether it has this version's shape (``streams``)."""
    row = conn.execute(
        "select to_regclass(%s) is not null, exists (select 1 from information_schema.columns "
        "where table_schema = 'revops_meta' and table_name = 'extract_runs' "
        "and column_name = 'streams')",
        (EXTRACT_RUNS_TABLE,),
    ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1])


def ensure_extract_runs_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``revops_meta.extract_runs`` (and its schema) if missing, or bring a table made by
    an older version up to date in place (the ``streams`` column, the ``incomplete`` status);
    safe to run concurrently."""
    with conn.transaction():
        if _current(conn) == (True, True):
            return
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (EXTRACT_RUNS_TABLE,))
        exists, current = _current(conn)
        if exists and not current:  # made before per-stream completeness: migrate in place
            conn.execute(f"alter table {EXTRACT_RUNS_TABLE} add column streams jsonb")
            conn.execute(
                f"alter table {EXTRACT_RUNS_TABLE} drop constraint if exists {_STATUS_CHECK}"
            )
            conn.execute(_STATUS_CONSTRAINT)
            return
        if exists:
            return
        conn.execute("create schema if not exists revops_meta")
        conn.execute(_DDL)
        conn.execute(_STATUS_CONSTRAINT)
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
    streams: Sequence[dict[str, Any]] | None = None,
) -> str:
    """Settle a run: ``failed`` with its error's last line; else ``incomplete`` when one of
    ``streams`` did not reach the end of its window, ``success`` when all did; with its rows and
    ``streams``. Returns the status recorded."""
    if error is not None:
        status = "failed"
    elif any(not s.get("complete") for s in streams or []):
        status = "incomplete"
    else:
        status = "success"
    line = None if error is None else error_line(error)
    ensure_extract_runs_table(conn)
    with conn.transaction():
        conn.execute(
            f"update {EXTRACT_RUNS_TABLE} set status = %s, rows = %s, error = %s, streams = %s, "
            "finished_at = clock_timestamp() where extract_run_id = %s",
            (
                status,
                rows,
                line,
                Jsonb(list(streams)) if streams is not None else None,
                extract_run_id,
            ),
        )
    return status


def latest_incremental_runs(
    conn: psycopg.Connection[Any], status: str | Sequence[str] | None = None
) -> dict[str, ExtractRun]:
    """The newest incremental run of each system (``status``: the newest with that status, or
    one of those statuses), keyed by system; backfills are left out. Empty when no run was ever
    recorded."""
    exists, current = _current(conn)
    if not exists:
        return {}
    if not current:  # an older table: bring it up to date before reading its new column
        ensure_extract_runs_table(conn)
    wanted = [status] if isinstance(status, str) else list(status or [])
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise ValueError(f"extract run status must be one of {STATUSES}, got {unknown!r}")
    rows = conn.execute(
        f"select distinct on (system) {_COLUMNS} from {EXTRACT_RUNS_TABLE} "
        "where mode = 'incremental' and (cardinality(%s::text[]) = 0 or status = any(%s::text[])) "
        "order by system, started_at desc, extract_run_id desc",
        (wanted, wanted),
    ).fetchall()
    return {row[2]: ExtractRun(*row) for row in rows}


def extract_runs(conn: psycopg.Connection[Any], system: str | None = None) -> list[ExtractRun]:
    """Every recorded run (of ``system``), oldest first."""
    exists, current = _current(conn)
    if not exists:
        return []
    if not current:
        ensure_extract_runs_table(conn)
    rows = conn.execute(
        f"select {_COLUMNS} from {EXTRACT_RUNS_TABLE} where %s::text is null or system = %s "
        "order by started_at, extract_run_id",
        (system, system),
    ).fetchall()
    return [ExtractRun(*row) for row in rows]


# -- error lines -------------------------------------------------------------------------------


def error_line(error: BaseException | str) -> str:
    """The last non-empty line of an error's message, prefixed by its type, on one line and
    with secrets masked: a URL's password (:func:`revops.warehouse.redact`), tokens and
    secret fields (:func:`revops.sources.http.redact`), and the value of any secret
    ``REVOPS_*`` setting (:func:`revops.settings.secret_values`)."""
    if isinstance(error, BaseException):
        text = str(error).strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        line = f"{type(error).__name__}: {last}" if last else type(error).__name__
    else:
        lines = [part.strip() for part in str(error).splitlines() if part.strip()]
        line = lines[-1] if lines else ""
    line = redact_body(redact_url(line))
    from revops.settings import secret_values

    for value in secret_values():
        line = line.replace(value, "***")
    return line if len(line) <= ERROR_MAX_CHARS else line[: ERROR_MAX_CHARS - 1] + "…"
