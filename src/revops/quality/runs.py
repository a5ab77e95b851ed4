"""The record of every gate run, in the warehouse: ``revops_meta.gate_runs``.

One row per (gate run, report period it was run for): when, whether it passed, how many
blocking failures and warnings, the summary, the failures as JSON, where the Data Docs are, and
to whom an alert went. The report's sender reads it back: a period whose latest gate run did
not pass is not sent (:func:`require_gate_passed`), and the warnings of the passing run go in
the report's footer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

if TYPE_CHECKING:  # the gate imports Great Expectations, slow to load: not needed to read runs
    from revops.quality.gate import GateResult

GATE_RUNS_TABLE = "revops_meta.gate_runs"

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
    alert_error text
)
"""

_COLUMNS = (
    "gate_run_id, run_key, edition, period, passed, blocking_count, warning_count, summary, "
    "failures, docs_index, as_of, checked_at, alerted_to, alerted_at, alert_error"
)


class GateNotPassed(RuntimeError):
    """The report of a period may not be sent: its latest gate run failed, or it has none."""


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
    alerted_to: tuple[str, ...] | None
    alerted_at: datetime | None
    alert_error: str | None

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """The failed warning-severity expectations (for the report's footer)."""
        return [f for f in self.failures if f.get("severity") != "blocking"]

    @property
    def blocking(self) -> list[dict[str, Any]]:
        """The failed blocking expectations."""
        return [f for f in self.failures if f.get("severity") == "blocking"]


def ensure_gate_runs_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``revops_meta.gate_runs`` (and its schema) if missing; safe to run concurrently."""
    with conn.transaction():
        exists = conn.execute("select to_regclass(%s)", (GATE_RUNS_TABLE,)).fetchone()
        if exists is not None and exists[0] is not None:
            return
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (GATE_RUNS_TABLE,))
        conn.execute("create schema if not exists revops_meta")
        conn.execute(_DDL)
        conn.execute(
            f"create index if not exists gate_runs_period on {GATE_RUNS_TABLE} "
            "(edition, period, checked_at desc)"
        )
        conn.execute(
            f"comment on table {GATE_RUNS_TABLE} is 'One row per quality gate run and report "
            "period: passed or not, the failures, the Data Docs (revops.quality.runs).'"
        )


def record_gate_run(
    conn: psycopg.Connection[Any],
    result: GateResult,
    periods: Sequence[Any],
    run_key: str,
) -> list[int]:
    """Record ``result`` once for each report period (objects with ``edition`` and ``label``);
    returns the new ``gate_run_id`` of each, in order. Commits its own transaction."""
    if not periods:
        raise ValueError("record_gate_run needs the report periods the gate run clears")
    ensure_gate_runs_table(conn)
    failures = json.loads(json.dumps([asdict(f) for f in result.failures], default=str))
    ids: list[int] = []
    with conn.transaction():
        for period in periods:
            row = conn.execute(
                f"insert into {GATE_RUNS_TABLE} (run_key, edition, period, passed, "
                "blocking_count, warning_count, summary, failures, docs_index, as_of) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning gate_run_id",
                (
                    run_key,
                    period.edition,
                    period.label,
                    result.passed,
                    len(result.blocking),
                    len(result.warnings),
                    result.summary(),
                    Jsonb(failures),
                    str(result.docs_index),
                    result.as_of or None,
                ),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


def record_alert(
    conn: psycopg.Connection[Any],
    gate_run_ids: Sequence[int],
    recipients: Sequence[str] | None,
    error: str | None = None,
) -> None:
    """Note on gate runs who was alerted (``alerted_at`` set when it went out) or why not."""
    with conn.transaction():
        conn.execute(
            f"update {GATE_RUNS_TABLE} set alerted_to = %s, "
            "alerted_at = case when %s::text is null and %s::text[] is not null "
            "then clock_timestamp() end, alert_error = %s "
            "where gate_run_id = any(%s)",
            (
                list(recipients) if recipients else None,
                error,
                list(recipients) if recipients else None,
                error,
                list(gate_run_ids),
            ),
        )


def latest_gate_run(conn: psycopg.Connection[Any], edition: str, period: str) -> GateRun | None:
    """The most recent gate run recorded for ``(edition, period)``, or None."""
    exists = conn.execute("select to_regclass(%s)", (GATE_RUNS_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return None
    row = conn.execute(
        f"select {_COLUMNS} from {GATE_RUNS_TABLE} where edition = %s and period = %s "
        "order by checked_at desc, gate_run_id desc limit 1",
        (edition, period),
    ).fetchone()
    if row is None:
        return None
    values = list(row)
    values[12] = tuple(values[12]) if values[12] is not None else None
    return GateRun(*values)


def require_gate_passed(conn: psycopg.Connection[Any], edition: str, period: str) -> GateRun:
    """The latest gate run of ``(edition, period)`` if it passed; else raise
    :class:`GateNotPassed` saying what to do."""
    run = latest_gate_run(conn, edition, period)
    if run is None:
        raise GateNotPassed(
            f"no quality gate run is recorded for the {edition} report {period}: run "
            f"`revops gate --period {period}` (or the DAG's check_quality task) first; the "
            "report is only sent for a period whose gate has passed"
        )
    if not run.passed:
        failed = (
            "; ".join(f"{f.get('check')} on {f.get('table')}" for f in run.blocking[:5])
            or "see the summary"
        )
        more = f" and {len(run.blocking) - 5} more" if len(run.blocking) > 5 else ""
        raise GateNotPassed(
            f"the quality gate has not passed for the {edition} report {period}: its latest "
            f"run ({run.checked_at:%Y-%m-%d %H:%M:%S %Z}, run key {run.run_key}) failed with "
            f"{run.blocking_count} blocking failure(s): {failed}{more}. Data Docs: "
            f"{run.docs_index}. Fix the data and rerun the gate; the report is sent once it "
            "passes"
        )
    return run
