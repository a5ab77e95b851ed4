"""The work each Airflow task does, callable outside Airflow too (the CLI runs the same code).

The DAG files in ``dags/`` stay thin: each task imports one of these functions and passes the
run's interval. Every function here is safe to rerun: extraction merges on primary keys, dbt
rebuilds its tables, the gate only reads, and the report is sent once per run key.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from revops.config import out_dir
from revops.vocabulary import CONVERSION_TYPES  # the data-driven models credit every type

log = logging.getLogger(__name__)


def extract(
    system: str,
    since: datetime | None = None,
    until: datetime | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Extract one system into ``raw_<system>``; returns what was loaded (for XCom and logs).

    ``since`` None: incremental from the dlt cursors up to ``until`` (default now); the cursors
    advance. ``since`` given: a backfill of exactly ``[since, until)`` that neither reads nor
    moves a cursor; rows merge on their primary keys, so running it again changes nothing.
    ``since >= until`` is refused (ValueError) before anything is recorded.

    Every run is recorded in ``revops_meta.extract_runs`` (:mod:`revops.sources.runlog`):
    ``running`` at the start, then ``success`` with its rows and streams, ``incomplete`` when
    the vendor cut a stream short, or ``failed`` with the error's last line, and the error is
    raised again. ``run_id`` names the run there (the Airflow run id; a new one by default).

    The result has ``streams``: one ``{"stream", "rows", "pages", "elapsed_s", "complete",
    "stopped_at", "reason"}`` per stream read, and ``complete``: whether every stream reached
    the end of the window. An incomplete stream (a used-up quota, a ``Retry-After`` beyond
    ``REVOPS_HTTP_MAX_RETRY_AFTER``) is one warning line each; the call still returns (what was
    read is loaded with its cursors, the next run resumes), and the gate blocks a report the
    stream does not cover. Records set aside in ``_rejected`` and values that changed type are
    logged as warnings and returned.
    """
    import uuid

    from revops.sources import run_extract
    from revops.sources.base import Window
    from revops.sources.runlog import finish_run, start_run
    from revops.sources.settings import apply_airflow_connection
    from revops.warehouse import connect, warehouse_url

    window = Window.of(since, until)  # the window is fixed here, so the record says what is read
    run_id = run_id or f"manual__{uuid.uuid4().hex[:12]}"
    url = warehouse_url()
    with connect(url, autocommit=True) as conn:
        record = start_run(conn, run_id, system, window.mode, window.since, window.until)
    try:
        apply_airflow_connection(system)
        result = run_extract(system, url, until=window.until, since=window.since)
    except BaseException as err:
        try:
            with connect(url, autocommit=True) as conn:
                finish_run(conn, record, error=err)
        except Exception:  # the run's own error matters more than its record
            log.exception("%s: could not record the failed extract run %s", system, run_id)
        raise
    total = sum(result.rows.values())
    with connect(url, autocommit=True) as conn:
        status = finish_run(conn, record, rows=total, streams=result.streams)
    log.info(
        "%s: %s run %s loaded %d rows into %s: %s",
        system,
        window.mode,
        run_id,
        total,
        result.dataset,
        result.rows,
    )
    for stream in sorted(result.streams, key=lambda s: s["stream"]):
        if not stream["complete"]:
            where = f"at {stream['stopped_at']}" if stream["stopped_at"] else "before its end"
            log.warning(
                "%s.%s incomplete: stopped %s: %s; the next run resumes",
                system,
                stream["stream"],
                where,
                stream["reason"],
            )
    if result.rejected:
        log.warning(
            "%s: records without a primary key set aside in %s._rejected: %s",
            system,
            result.dataset,
            result.rejected,
        )
    return {
        "system": system,
        "dataset": result.dataset,
        "run_id": run_id,
        "mode": window.mode,
        "window_start": window.since.isoformat() if window.since else None,
        "window_end": window.until.isoformat(),
        "rows": result.rows,
        "load_ids": result.load_ids,
        "status": status,
        "complete": result.complete,
        "streams": result.streams,
        "stopped": result.stopped,
        "rejected": result.rejected,
        "variant_columns": result.variant_columns,
    }


NON_CONVERTING_SQL = (
    "select journey_id, touchpoint_id, channel, touch_position "
    "from intermediate.int_nonconversion_paths_joined "
    "where conversion_type = %(conversion_type)s"
)
LATEST_CONVERSION_SQL = "select max(converted_at) from intermediate.int_conversions_unpivoted"
# dbt selections around the data-driven step: everything that does not need its credits, then
# the attribution marts that do.
ATTRIBUTION_SELECTOR = "source:attribution+"
# the daily build runs the models and their data tests, not dbt's unit tests: those check the
# SQL on fixed inputs, so they belong to CI (`make test` runs them), as dbt recommends
BUILD_FLAGS = ["--exclude-resource-type", "unit_test"]


def before_attribution(seeds_exclude: str = "") -> list[str]:
    """The build of everything that does not need the data-driven credits, leaving out too the
    seeds the warehouse already holds as they are (``seeds_exclude``:
    :func:`revops.transform.seeds_plan`'s ``exclude``)."""
    return ["build", "--exclude", f"{ATTRIBUTION_SELECTOR} {seeds_exclude}".strip(), *BUILD_FLAGS]


BEFORE_ATTRIBUTION = before_attribution()
ATTRIBUTION_MARTS = ["build", "--select", ATTRIBUTION_SELECTOR, *BUILD_FLAGS]


def attribute_data_driven(as_of: datetime | None = None) -> dict[str, Any]:
    """Bring the Markov and Shapley credits of every conversion type up to date (incremental:
    :func:`revops.attribution.warehouse.update_data_driven`; a refit every
    ``REVOPS_ATTRIBUTION_REFIT_DAYS`` on ``REVOPS_ATTRIBUTION_FIT_WINDOW_DAYS`` of journeys).

    ``as_of`` is the data's clock the cadence and the window count from (default: the latest
    conversion in the warehouse, so a rerun over the same data does the same thing). Returns,
    per conversion type, the rows written, whether it refitted and the fit the credits are from.
    """
    from revops.attribution.warehouse import update_data_driven
    from revops.settings import current
    from revops.warehouse import connect

    settings = current()
    written: dict[str, Any] = {}
    with connect() as conn:
        if as_of is None:
            (as_of,) = conn.execute(LATEST_CONVERSION_SQL).fetchone()  # type: ignore[misc]
        if as_of is None:  # no conversion at all: nothing to credit
            return written
        for conversion_type in CONVERSION_TYPES:
            run = update_data_driven(
                conn,
                conversion_type,
                as_of=as_of,
                window_days=settings.attribution_fit_window_days,
                refit_days=settings.attribution_refit_days,
            )
            written[conversion_type] = {
                "rows": run.rows_written,
                "refit": run.refit,
                "fit_id": run.fit_id,
                "credited_conversions": run.credited_conversions,
            }
            log.info(
                "%s: markov+shapley %s fit %s (window %s to %s: %d conversions, %d "
                "non-converting); %d conversions credited, %d removed",
                conversion_type,
                "new" if run.refit else "last",
                run.fit_id,
                run.window_start,
                run.window_end,
                run.fitted_conversions,
                run.non_converting_journeys,
                run.credited_conversions,
                run.removed_conversions,
            )
    return written


def transform() -> None:
    """The whole dbt build with the data-driven attribution step in the middle (CLI path)."""
    from revops.transform import raw_loaded_through, record_build, record_seeds, run_dbt, seeds_plan
    from revops.warehouse import connect, warehouse_url

    url = warehouse_url()
    with connect(url, autocommit=True) as conn:
        loaded = raw_loaded_through(conn)
        seeds = seeds_plan(conn)
    run_dbt(before_attribution(seeds["exclude"]), url)
    attribute_data_driven()
    run_dbt(ATTRIBUTION_MARTS, url)
    with connect(url, autocommit=True) as conn:
        record_seeds(conn, seeds)
        if loaded is not None:  # the daily timed transform run then knows these loads are built
            record_build(conn, "revops transform", loaded)


EDITIONS_ENV = "REVOPS_REPORT_EDITIONS"


def report_periods(moment: datetime | date | None) -> list[str]:
    """The report periods a publish run at ``moment`` covers: the last complete ISO week, and
    in a month's first week the last complete month (``REVOPS_REPORT_EDITIONS`` narrows it;
    an unknown edition is refused with ConfigError, never dropped)."""
    from revops.reports.periods import due_periods
    from revops.settings import current

    wanted = current().report_editions  # EDITIONS_ENV
    return [p.label for p in due_periods(moment or datetime.now(UTC), wanted)]  # type: ignore[arg-type]


def report_period(moment: datetime | date | None) -> str:
    """The weekly report period for a run at ``moment``: the last complete ISO week before it."""
    from revops.reports.periods import last_complete_week

    if moment is None:
        moment = datetime.now(UTC)
    day = moment.date() if isinstance(moment, datetime) else moment
    return last_complete_week(day).label


def quality_gate(
    periods: list[str] | None = None,
    run_key: str = "manual",
    as_of: datetime | None = None,
    docs_dir: Path | None = None,
    alert: bool = True,
) -> dict[str, Any]:
    """Run the gate (raw layer and marts) for the report periods, record it in
    revops_meta.gate_runs, alert the engineers on call when it fails, and raise GateFailed
    naming every blocking failure."""
    from revops.quality.gate import require_pass
    from revops.reports.periods import parse_period
    from revops.reports.publish import check_and_record

    moment = as_of or datetime.now(UTC)
    labels = periods or report_periods(moment)
    outcome = check_and_record(
        [parse_period(p) for p in labels],
        run_key,
        docs_dir=docs_dir or out_dir() / "data_docs",
        as_of=moment,
        alert=alert,
    )
    log.info("quality gate:\n%s", outcome.result.summary())
    require_pass(outcome.result)
    return outcome.to_dict()


def send_report(periods: list[str] | str, run_key: str) -> dict[str, Any]:
    """Send each period's edition once per run_key; refused (GateNotPassed) unless its gate
    passed."""
    from revops.reports.periods import parse_period
    from revops.reports.publish import publish, result_dict

    labels = [periods] if isinstance(periods, str) else list(periods)
    results = publish([parse_period(p) for p in labels], run_key)
    return {
        "periods": labels,
        "sent": [result_dict(r) for r in results],
        "already_sent": all(r.already_sent for r in results),
        "html_path": str(results[0].html_path) if results else "",
    }
