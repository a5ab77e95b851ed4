"""The gate's check on the extract runs: is every source's newest incremental extract good?

``revops_transform`` builds the marts with whatever the warehouse has (it no longer waits for
all six vendors), so the gate must notice a source that did not arrive. It reads the newest
incremental run of each system from ``revops_meta.extract_runs``
(:func:`revops.sources.runlog.latest_incremental_runs`) and fails, blocking, under the check
``raw_<system>.extract`` when:

- the newest run **failed**: the failure names the run, its window and the error's line;
- the newest settled run is **incomplete** short of what the report needs: a stream the vendor
  cut short (a used-up quota, a ``Retry-After`` beyond ``REVOPS_HTTP_MAX_RETRY_AFTER``)
  stopped before the end of a report period the gate clears (or the freshness limit below), or
  stopped with no position at all (a stream re-read in full each run). The failure names each
  such stream, where it stopped and why: ``hubspot.contacts stopped at 2026-11-27T10:00Z:
  daily quota``. A stream that stopped after that point does not block;
- the newest settled run's data **ends too early**: its ``window_end`` is before the end of
  a report period the gate clears, or older than the source's freshness limit
  (``raw_freshness_hours``) before the gate's ``as_of``. A run still ``running`` is judged by
  the newest settled (``success`` or ``incomplete``) one before it.

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
    streams: list[dict[str, Any]] | None


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
    incremental run, ``newest_success`` its newest settled one (``success`` or
    ``incomplete``: both loaded what they read)."""
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
        good = run if run.status in ("success", "incomplete") else newest_success.get(system)
        if good is None:
            continue  # still running, never succeeded: the raw freshness check judges it
        needed = required_end(system, as_of, periods, config)
        short = [
            s
            for s in good.streams or []
            if not s.get("complete")
            and (s.get("stopped_at") is None or _parse(s["stopped_at"]) < needed)
        ]
        if good.status == "incomplete" and (short or not good.streams):
            failures.append(
                _failure(
                    system,
                    f"the newest incremental extract (run {good.run_id}) is incomplete: "
                    + (
                        "; ".join(stopped_line(system, s) for s in short)
                        or "no stream recorded where it stopped"
                    ),
                    f"every stream complete up to {_when(needed)} (the report period's end, "
                    f"and at most {config.freshness_hours(system):g} h before {_when(as_of)}); "
                    f"rerun `revops extract {system}` once the vendor answers again",
                )
            )
            continue
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
    from revops.sources.runlog import SETTLED, latest_incremental_runs

    newest = latest_incremental_runs(conn)
    if not newest:
        return []
    newest_success = latest_incremental_runs(conn, status=SETTLED)
    return extract_failures(newest, newest_success, as_of, periods, config)


def stopped_line(system: str, stream: Mapping[str, Any]) -> str:
    """``hubspot.contacts stopped at 2026-11-27T10:00Z: daily quota``."""
    at = stream.get("stopped_at")
    where = f"stopped at {_parse(at):%Y-%m-%dT%H:%MZ}" if at else "stopped before its end"
    return f"{system}.{stream.get('stream')} {where}: {stream.get('reason') or 'no reason given'}"


def _parse(text: str) -> datetime:
    return _utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))


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
