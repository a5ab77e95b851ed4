"""The gate's check on the extract runs: is every source's newest incremental extract good?

``revops_transform`` builds the marts with whatever the warehouse has (it no longer waits for
all six vendors), so the gate must notice a source that did not arrive. It reads the newest
incremental run of each system from ``revops_meta.extract_runs``
(:func:`revops.sources.runlog.latest_incremental_runs`) and fails, blocking, under the check
``raw_<system>.extract`` when:

- the newest run **failed**: the failure names the run, its window and the error's line;
- the newest successful run's data **ends too early**: its ``window_end`` is before the end of
  a report period the gate clears, or older than the source's freshness limit
  (``raw_freshness_hours``) before the gate's ``as_of``. A run still ``running`` is judged by
  the newest successful one before it.

Backfills are not read (they re-read the past and say nothing about freshness). A system with
no recorded run is left to the raw layer's own freshness check (``raw_<system>.freshness``),
as is a warehouse without the table (loaded before runs were recorded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from revops.quality.gate import Failure
from revops.quality.suites import GateConfig, PeriodLike

EXPECTATION = "extract_run_current"


class RunLike(Protocol):
    """What the check reads of an extract run (``revops.sources.runlog.ExtractRun``)."""

    run_id: str
    status: str
    window_end: datetime
    finished_at: datetime | None
    error: str | None


def check_name(system: str) -> str:
    """The check a source's extract runs fail under."""
    return f"raw_{system}.extract"


def required_end(system: str, as_of: datetime, periods: Sequence[PeriodLike], config: GateConfig):
    """How far a source's extracted data must reach: the end of the last report period the
    gate clears, and no older than the freshness limit before ``as_of``."""
    limit = as_of - timedelta(hours=config.freshness_hours(system))
    ends = [_end_at(p) for p in periods]
    return max([limit, *ends])


def extract_failures(
    newest: Mapping[str, RunLike],
    newest_success: Mapping[str, RunLike],
    as_of: datetime,
    periods: Sequence[PeriodLike],
    config: GateConfig,
) -> list[Failure]:
    """The blocking failures of the extract runs: ``newest`` is each system's newest
    incremental run, ``newest_success`` its newest successful one."""
    failures = []
    for system in sorted(newest):
        run = newest[system]
        if run.status == "failed":
            when = f" at {_when(run.finished_at)}" if run.finished_at else ""
            failures.append(
                _failure(
                    system,
                    f"the newest incremental extract failed{when} (run {run.run_id}, data up to "
                    f"{_when(run.window_end)}): {run.error or 'no error recorded'}",
                    "the newest incremental extract succeeded",
                )
            )
            continue
        good = run if run.status == "success" else newest_success.get(system)
        if good is None:
            continue  # still running, never succeeded: the raw freshness check judges it
        needed = required_end(system, as_of, periods, config)
        if _utc(good.window_end) < needed:
            failures.append(
                _failure(
                    system,
                    f"the newest successful incremental extract (run {good.run_id}) has data up "
                    f"to {_when(good.window_end)} only",
                    f"data up to {_when(needed)} (the report period's end, and at most "
                    f"{config.freshness_hours(system):g} h before {_when(as_of)})",
                )
            )
    return failures


def read_failures(
    conn: Any, as_of: datetime, periods: Sequence[PeriodLike], config: GateConfig
) -> list[Failure]:
    """:func:`extract_failures` over the runs recorded in the warehouse (psycopg ``conn``)."""
    from revops.sources.runlog import latest_incremental_runs

    newest = latest_incremental_runs(conn)
    if not newest:
        return []
    newest_success = latest_incremental_runs(conn, status="success")
    return extract_failures(newest, newest_success, as_of, periods, config)


def _failure(system: str, observed: str, expected: str) -> Failure:
    return Failure(
        table=f"raw_{system}",
        expectation_type=EXPECTATION,
        column="(extract run)",
        severity="blocking",
        observed=observed,
        expected=expected,
        check=check_name(system),
    )


def _end_at(period: PeriodLike) -> datetime:
    end_at = getattr(period, "end_at", None)
    if isinstance(end_at, datetime):
        return _utc(end_at)
    return datetime.combine(period.end, datetime.min.time(), tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d %H:%M} UTC"
