"""The record of every gate run, in the warehouse: ``revops_meta.gate_runs``, each bound to the
data it checked.

One row per (gate run, report period it was run for): its ``status`` (``running``, ``passed``,
``failed``, ``crashed``), when it started and finished, the fingerprint of the data the report
reads as the run found it (``revops.quality.fingerprint``: per table rows and a content hash,
plus one digest), the blocking failures and warnings, the summary, the failures as JSON, where the
Data Docs are, and to whom an alert went.

A gate run is recorded in three steps: :func:`begin_gate_runs` inserts ``running`` rows with the
fingerprint taken in the same transaction, before anything is checked; :func:`finish_gate_runs`
writes the outcome; :func:`crash_gate_runs` marks the rows ``crashed`` with the error when the
gate raised. A process killed mid-gate leaves ``running``, which never counts as a pass.

The report's sender reads it back (:func:`require_gate_current`): a period is sent only when
its newest gate run (by ``started_at``: the newest data decides, not the last run to finish)
passed and its fingerprint equals the data being sent. The warnings of that run go in the
report's footer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from revops.quality.fingerprint import Change, Fingerprint, changes, data_fingerprint
from revops.warehouse import table_columns

if TYPE_CHECKING:  # the gate imports Great Expectations, slow to load: not needed to read runs
    from revops.quality.gate import GateResult

GATE_RUNS_TABLE = "revops_meta.gate_runs"
STATUSES = ("running", "passed", "failed", "crashed")

_DDL = f"""
create table if not exists {GATE_RUNS_TABLE} (
    gate_run_id bigint generated always as identity primary key,
    run_key text not null,
    edition text not null,
    period text not null,
    passed boolean not null,
    blocking_count integer not null,
    warning_count integer not null,
    summary text not null,
    failures jsonb not null,
    docs_index text not null,
    as_of timestamptz,
    checked_at timestamptz not null default clock_timestamp(),
    alerted_to text[],
    alerted_at timestamptz,
    alert_error text,
    status text,
    started_at timestamptz,
    finished_at timestamptz,
    fingerprint jsonb,
    fingerprint_digest text,
    error text
)
"""

_ADDED = {
    "status": "text",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "fingerprint": "jsonb",
    "fingerprint_digest": "text",
    "error": "text",
}
"""Columns a table from before gate runs were bound to their data gains (in place)."""

_FIELDS = (
    "gate_run_id",
    "run_key",
    "edition",
    "period",
    "passed",
    "blocking_count",
    "warning_count",
    "summary",
    "failures",
    "docs_index",
    "as_of",
    "checked_at",
    "alerted_to",
    "alerted_at",
    "alert_error",
    "status",
    "started_at",
    "finished_at",
    "fingerprint",
    "fingerprint_digest",
    "error",
)
_COLUMNS = ", ".join(_FIELDS)


class GateNotPassed(RuntimeError):
    """The report of a period may not be sent: its newest gate run did not pass (failed,
    crashed, is still running, or there is none), or the data changed since it passed."""


@dataclass(frozen=True)
class GateRun:
    """One recorded gate run for one report period."""

    gate_run_id: int
    run_key: str
    edition: str
    period: str
    passed: bool
    blocking_count: int
    warning_count: int
    summary: str
    failures: list[dict[str, Any]]
    docs_index: str
    as_of: datetime | None
    checked_at: datetime
    """When the outcome was written (the insert for a ``running`` row)."""
    alerted_to: tuple[str, ...] | None
    alerted_at: datetime | None
    alert_error: str | None
    status: str = "passed"
    """``running``, ``passed``, ``failed`` or ``crashed``."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    fingerprint: dict[str, Any] | None = None
    """The data the run checked: ``{"marts.x": {"rows", "hash", "columns"}}``; None for a run
    recorded before gate runs were bound to their data."""
    fingerprint_digest: str | None = None
    error: str | None = None
    """Why a ``crashed`` run crashed."""

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """The failed warning-severity expectations (for the report's footer)."""
        return [f for f in self.failures if f.get("severity") != "blocking"]

    @property
    def blocking(self) -> list[dict[str, Any]]:
        """The failed blocking expectations."""
        return [f for f in self.failures if f.get("severity") == "blocking"]


@dataclass(frozen=True)
class GateStart:
    """The ``running`` rows of one gate run and the fingerprint of the data it started on."""

    gate_run_ids: list[int]
    fingerprint: Fingerprint
    started_at: datetime


def ensure_meta_table(
    conn: psycopg.Connection[Any],
    table: str,
    ddl: str,
    added: Mapping[str, str],
    then: Sequence[str] = (),
) -> None:
    """Create a ``revops_meta`` table from ``ddl`` if missing, or add the ``added`` columns a
    table from an earlier release lacks, then run ``then`` (upgrades of old rows, indexes, the
    table's comment); nothing when the table has every column already. Safe to run
    concurrently (an advisory lock per table)."""
    with conn.transaction():
        exists = conn.execute("select to_regclass(%s)", (table,)).fetchone()
        if exists is not None and exists[0] is not None:
            if set(added) <= table_columns(conn, table):
                return
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (table,))
        conn.execute("create schema if not exists revops_meta")
        conn.execute(ddl)
        for column, kind in added.items():
            conn.execute(f"alter table {table} add column if not exists {column} {kind}")
        for statement in then:
            conn.execute(statement)


def ensure_gate_runs_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``revops_meta.gate_runs`` (and its schema) if missing, or add the columns a table
    from an earlier release lacks (its rows get ``status`` from ``passed`` and no fingerprint,
    so they never authorise a send); safe to run concurrently."""
    ensure_meta_table(
        conn,
        GATE_RUNS_TABLE,
        _DDL,
        _ADDED,
        [
            f"update {GATE_RUNS_TABLE} set status = case when passed then 'passed' "
            "else 'failed' end, started_at = checked_at, finished_at = checked_at "
            "where status is null",
            f"create index if not exists gate_runs_period on {GATE_RUNS_TABLE} "
            "(edition, period, checked_at desc)",
            f"create index if not exists gate_runs_started on {GATE_RUNS_TABLE} "
            "(edition, period, started_at desc, gate_run_id desc)",
            f"comment on table {GATE_RUNS_TABLE} is 'One row per quality gate run and report "
            "period: its status, the fingerprint of the data it checked, the failures, the "
            "Data Docs (revops.quality.runs).'",
        ],
    )


def begin_gate_runs(
    conn: psycopg.Connection[Any], periods: Sequence[Any], run_key: str
) -> GateStart:
    """Record a gate run as ``running`` for each report period (objects with ``edition`` and
    ``label``), with the fingerprint of the data as it starts; call before checking anything.
    Commits its own transaction."""
    if not periods:
        raise ValueError("a gate run needs the report periods it clears")
    ensure_gate_runs_table(conn)
    ids: list[int] = []
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        found = data_fingerprint(conn)
        started = conn.execute("select now()").fetchone()
        assert started is not None
        for period in periods:
            row = conn.execute(
                f"insert into {GATE_RUNS_TABLE} (run_key, edition, period, passed, "
                "blocking_count, warning_count, summary, failures, docs_index, status, "
                "started_at, fingerprint, fingerprint_digest) "
                "values (%s, %s, %s, false, 0, 0, 'running', '[]', '', 'running', %s, %s, %s) "
                "returning gate_run_id",
                (
                    run_key,
                    period.edition,
                    period.label,
                    started[0],
                    Jsonb(found.tables),
                    found.digest,
                ),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return GateStart(ids, found, started[0])


def changed_since(conn: psycopg.Connection[Any], start: GateStart) -> list[Change]:
    """What changed in the data the report reads since ``start`` (empty: nothing)."""
    with conn.transaction():
        now = data_fingerprint(conn)
    if now.digest == start.fingerprint.digest:
        return []
    return changes(start.fingerprint.tables, now.tables)


def finish_gate_runs(
    conn: psycopg.Connection[Any], gate_run_ids: Sequence[int], result: GateResult
) -> None:
    """Write ``result`` into the ``running`` rows: ``passed`` or ``failed``. Commits."""
    failures = json.loads(json.dumps([asdict(f) for f in result.failures], default=str))
    with conn.transaction():
        conn.execute(
            f"update {GATE_RUNS_TABLE} set status = %s, passed = %s, blocking_count = %s, "
            "warning_count = %s, summary = %s, failures = %s, docs_index = %s, as_of = %s, "
            "checked_at = clock_timestamp(), finished_at = clock_timestamp() "
            "where gate_run_id = any(%s)",
            (
                "passed" if result.passed else "failed",
                result.passed,
                len(result.blocking),
                len(result.warnings),
                result.summary(),
                Jsonb(failures),
                str(result.docs_index),
                result.as_of or None,
                list(gate_run_ids),
            ),
        )


def crash_gate_runs(conn: psycopg.Connection[Any], gate_run_ids: Sequence[int], error: str) -> None:
    """Mark the ``running`` rows ``crashed`` with ``error`` (the gate raised). Commits."""
    with conn.transaction():
        conn.execute(
            f"update {GATE_RUNS_TABLE} set status = 'crashed', passed = false, error = %s, "
            "summary = %s, checked_at = clock_timestamp(), finished_at = clock_timestamp() "
            "where gate_run_id = any(%s) and status = 'running'",
            (error, f"Quality gate CRASHED: {error}", list(gate_run_ids)),
        )


def record_gate_run(
    conn: psycopg.Connection[Any],
    result: GateResult,
    periods: Sequence[Any],
    run_key: str,
) -> list[int]:
    """Record a finished ``result`` for each report period, bound to the data as it is now;
    returns the new ``gate_run_id`` of each, in order. For a result known to be about the
    current data (tests, tools); the gate itself records with :func:`begin_gate_runs` before
    checking and :func:`finish_gate_runs` after, so a change while it runs is caught."""
    start = begin_gate_runs(conn, periods, run_key)
    finish_gate_runs(conn, start.gate_run_ids, result)
    return start.gate_run_ids


def record_alert(
    conn: psycopg.Connection[Any],
    gate_run_ids: Sequence[int],
    recipients: Sequence[str] | None,
    error: str | None = None,
) -> None:
    """Note on gate runs who was alerted (``alerted_at`` set when it went out to anyone) and
    why not, or not to everyone (``error``: the SMTP server refused some recipients)."""
    with conn.transaction():
        conn.execute(
            f"update {GATE_RUNS_TABLE} set alerted_to = %s, "
            "alerted_at = case when %s::text[] is not null then clock_timestamp() end, "
            "alert_error = %s where gate_run_id = any(%s)",
            (
                list(recipients) if recipients else None,
                list(recipients) if recipients else None,
                error,
                list(gate_run_ids),
            ),
        )


def latest_gate_run(conn: psycopg.Connection[Any], edition: str, period: str) -> GateRun | None:
    """The newest gate run recorded for ``(edition, period)`` (by when it started), or None."""
    exists = conn.execute("select to_regclass(%s)", (GATE_RUNS_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return None
    present = table_columns(conn, GATE_RUNS_TABLE)
    columns = ", ".join(f if f in present else f"null as {f}" for f in _FIELDS)
    order = "coalesce(started_at, checked_at)" if "started_at" in present else "checked_at"
    row = conn.execute(
        f"select {columns} from {GATE_RUNS_TABLE} where edition = %s and period = %s "
        f"order by {order} desc, gate_run_id desc limit 1",
        (edition, period),
    ).fetchone()
    if row is None:
        return None
    values = dict(zip(_FIELDS, row, strict=True))
    values["alerted_to"] = tuple(values["alerted_to"]) if values["alerted_to"] else None
    values["status"] = values["status"] or ("passed" if values["passed"] else "failed")
    return GateRun(**values)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}".strip() if moment else "an unknown time"


def require_gate_current(
    conn: psycopg.Connection[Any], edition: str, period: str, current: Fingerprint
) -> GateRun:
    """The newest gate run of ``(edition, period)`` if it passed over exactly the data whose
    fingerprint is ``current``; else raise :class:`GateNotPassed` saying what is wrong and what
    to do. Call it in the transaction (snapshot) the report is rendered from."""
    rerun = f"run `revops gate --period {period}`"
    run = latest_gate_run(conn, edition, period)
    if run is None:
        raise GateNotPassed(
            f"no quality gate run is recorded for the {edition} report {period}: {rerun} (or "
            "the DAG's check_quality task) first; the report is only sent for a period whose "
            "gate has passed"
        )
    which = f"run {run.gate_run_id}, run key {run.run_key}, started {_when(run.started_at)}"
    if run.status == "running":
        raise GateNotPassed(
            f"the {edition} report {period} is not sent: its newest quality gate run ({which}) "
            "is still running (or its process died). Wait for it to finish; if its process is "
            f"gone, {rerun}. The report is sent once the newest gate run passes"
        )
    if run.status == "crashed":
        raise GateNotPassed(
            f"the {edition} report {period} is not sent: its newest quality gate run ({which}) "
            f"crashed: {run.error}. Fix the cause and {rerun}; a crashed run counts as failed"
        )
    if not run.passed:
        failed = (
            "; ".join(f"{f.get('check')} on {f.get('table')}" for f in run.blocking[:5])
            or "see the summary"
        )
        more = f" and {len(run.blocking) - 5} more" if len(run.blocking) > 5 else ""
        raise GateNotPassed(
            f"the quality gate has not passed for the {edition} report {period}: its latest "
            f"run ({run.gate_run_id}, {_when(run.checked_at)}, run key {run.run_key}) failed "
            f"with {run.blocking_count} blocking failure(s): {failed}{more}. Data Docs: "
            f"{run.docs_index}. Fix the data and rerun the gate; the report is sent once it "
            "passes"
        )
    since = f"since gate run {run.gate_run_id} passed at {_when(run.checked_at)}"
    if run.fingerprint is None:
        raise GateNotPassed(
            f"the {edition} report {period} is not sent: gate run {run.gate_run_id} passed at "
            f"{_when(run.checked_at)}, before gate runs recorded the data they checked, so "
            f"nothing says the data is still what it checked: {rerun}"
        )
    if run.fingerprint_digest != current.digest:
        found = changes(run.fingerprint, current.tables)
        if len(found) == 1 and found[0].kind == "changed":
            what = f"{found[0].table} changed {since}: {found[0].detail}"
        elif len(found) == 1:
            what = f"{found[0]} {since}"
        else:
            listed = "; ".join(str(c) for c in found) or "the fingerprint differs"
            what = f"the data the report reads changed {since}: {listed}"
        raise GateNotPassed(
            f"the {edition} report {period} is not sent: {what}; {rerun} to check the data as "
            "it is now (the report is sent once a gate run over this data passes)"
        )
    return run
