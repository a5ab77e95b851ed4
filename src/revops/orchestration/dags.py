"""Builds the project's Airflow DAGs from data, the way GitLab's analytics repo does.

``dags/extract_<system>.py`` is one call, :func:`extract_dag`, which builds the extract DAG of
one system from its entry in :data:`SOURCES` (what it pulls, the raw tables it writes). Every
DAG shares :func:`default_args` (retries, ``execution_timeout``, the failure alert) and
:func:`dag_kwargs` (``dagrun_timeout``, the DAG-level alert, ``catchup=False``). The system
list itself is ``revops.vocabulary.SYSTEMS`` (the dbt project's var ``systems``); a test holds
:data:`SOURCES` equal to it and each entry's tables equal to the connector's streams.

Settings (environment variables, read when a DAG file is parsed; a bad value is an import error
that names the variable):

- ``REVOPS_TASK_TIMEOUT_MINUTES`` (default 60): every task's ``execution_timeout``; one try of
  an extract, a dbt build, the gate or the send that runs longer fails (and alerts).
- ``REVOPS_DAGRUN_TIMEOUT_HOURS`` (default 6): every DAG run's ``dagrun_timeout``. It covers
  retries: an extract's four tries of 60 minutes and their back-off fit in 6 hours, so a vendor
  that is down is reported the same morning.
- ``REVOPS_REPORT_DEADLINE_HOURS`` (default 2; ``off`` for none): a ``revops_transform`` or
  ``revops_publish`` run not finished this long after it was queued alerts the on-call list
  that the report is late (an Airflow deadline alert), while the run carries on. Left off when
  the metadata DB is SQLite, i.e. the local ``dag.test`` runner (``make demo``): Airflow
  3.3.2's ``dag.test`` fails on a DAG with a deadline alert (it looks the alert up by the
  serialized dict instead of its id); the service's PostgreSQL scheduler runs them.

This module is imported whenever a DAG file is parsed: at module level it imports only
``airflow.sdk``, the standard library and light revops modules; heavy work happens inside tasks.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import (
    DAG,
    Asset,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    SyncCallback,
    get_current_context,
    task,
)

from revops.orchestration.callbacks import dag_failure_alert, report_late_alert, task_failure_alert
from revops.vocabulary import SYSTEMS

log = logging.getLogger(__name__)

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = "data-engineering"
EXTRACT_CRON = "0 0 * * *"
"""Extracts run at midnight UTC over the day that just ended."""
TRANSFORM_CRON = "0 4 * * *"
"""Transform also runs at 04:00 UTC, whether or not every raw asset was updated."""

TASK_TIMEOUT_ENV = "REVOPS_TASK_TIMEOUT_MINUTES"
DAGRUN_TIMEOUT_ENV = "REVOPS_DAGRUN_TIMEOUT_HOURS"
REPORT_DEADLINE_ENV = "REVOPS_REPORT_DEADLINE_HOURS"
METADATA_DB_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"

BACKFILL = "backfill"
"""``DagRunType.BACKFILL_JOB``'s value: runs made by ``airflow backfill create``."""


@dataclass(frozen=True)
class Source:
    """What the extract DAG of one system says about it and declares as its outputs."""

    pulls: str
    """What the connector reads, for the DAG's documentation."""
    tables: tuple[str, ...]
    """The raw tables it writes (one asset each); a test holds them equal to its streams."""


SOURCES: dict[str, Source] = {
    "hubspot": Source(
        "HubSpot CRM v3: contacts, companies and deals (incremental on their last-modified "
        "property, archived records kept and flagged), deal stage history and deal contacts, "
        "pipelines with their stages, owners.",
        (
            "contacts",
            "companies",
            "deals",
            "contact_property_history",
            "deal_stage_history",
            "deal_contacts",
            "deal_pipelines",
            "deal_pipeline_stages",
            "owners",
        ),
    ),
    "salesforce": Source(
        "Salesforce REST (SOQL `queryAll`): every object incremental on `SystemModstamp` "
        "through `queryAll`, so deleted rows arrive flagged `is_deleted`.",
        (
            "user",
            "account",
            "contact",
            "lead",
            "lead_history",
            "campaign",
            "campaign_member",
            "opportunity",
            "opportunity_history",
            "opportunity_contact_role",
            "task",
            "event",
        ),
    ),
    "google_ads": Source(
        "Google Ads API (`searchStream`, GAQL): customers, campaigns, ad groups; daily campaign "
        "metrics re-read 14 days back; `click_view` one day per query, at most 90 days back.",
        ("customers", "campaigns", "ad_groups", "campaign_daily", "click_views"),
    ),
    "meta_ads": Source(
        "Meta Marketing API (Graph): ad accounts, campaigns, ad sets and ads (deleted and "
        "archived included); daily ad-level insights re-read 28 days back.",
        ("ad_accounts", "campaigns", "ad_sets", "ads", "ad_insights"),
    ),
    "linkedin_ads": Source(
        "LinkedIn Marketing API: ad accounts, campaign groups and campaigns (removed included); "
        "daily campaign analytics re-read 14 days back.",
        ("ad_accounts", "campaign_groups", "campaigns", "campaign_analytics"),
    ),
    "mailchimp": Source(
        "Mailchimp Marketing API 3.0: audiences, members (incremental on `last_changed`), sent "
        "campaigns and their reports, email activity events.",
        ("lists", "members", "campaigns", "reports", "email_activity"),
    ),
}


# -- settings ---------------------------------------------------------------------------------


def settings(environ: Mapping[str, str] | None = None) -> Any:
    """The settings (:mod:`revops.settings`) when a DAG file is parsed, or those of ``environ``."""
    from revops.settings import current, load

    return current() if environ is None else load(environ)


def task_timeout(environ: Mapping[str, str] | None = None) -> timedelta:
    """Every task's ``execution_timeout`` (``REVOPS_TASK_TIMEOUT_MINUTES``)."""
    return timedelta(minutes=settings(environ).task_timeout_minutes)


def dagrun_timeout(environ: Mapping[str, str] | None = None) -> timedelta:
    """Every DAG run's ``dagrun_timeout`` (``REVOPS_DAGRUN_TIMEOUT_HOURS``)."""
    return timedelta(hours=settings(environ).dagrun_timeout_hours)


def report_deadline(environ: Mapping[str, str] | None = None) -> timedelta | None:
    """How long after being queued a transform or publish run alerts as late (None: ``off``)."""
    hours = settings(environ).report_deadline_hours
    return None if hours is None else timedelta(hours=hours)


# -- shared DAG arguments ---------------------------------------------------------------------


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults every DAG shares: owner, retries, ``execution_timeout`` and the alert."""
    return {
        "owner": OWNER,
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": task_timeout(),
        "on_failure_callback": task_failure_alert,
        **overrides,
    }


def dag_kwargs(dag_id: str, doc_md: str, tags: list[str], **overrides: Any) -> dict[str, Any]:
    """DAG arguments every DAG shares: no catch-up, one run at a time, a run timeout and the
    DAG-level alert (a run that times out has no failed task to alert for it)."""
    return {
        "dag_id": dag_id,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": dagrun_timeout(),
        "on_failure_callback": dag_failure_alert,
        "doc_md": doc_md,
        "tags": ["revops", *tags],
        **overrides,
    }


def deadline_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``REVOPS_REPORT_DEADLINE_HOURS`` is ``off`` or the metadata DB is SQLite (the
    local ``dag.test`` runner, which cannot run DAGs with deadline alerts in Airflow 3.3.2)."""
    if report_deadline(environ) is None:
        return False
    env = os.environ if environ is None else environ
    return not (env.get(METADATA_DB_ENV) or "").startswith("sqlite")


def report_deadline_alert() -> list[DeadlineAlert]:
    """The deadline on the report's DAG runs (``deadline=``): alert when one is not finished
    in time; none when :func:`deadline_enabled` says so."""
    if not deadline_enabled():
        return []
    deadline = report_deadline()
    alert = DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=deadline,
        callback=SyncCallback(
            report_late_alert, kwargs={"deadline_hours": deadline.total_seconds() / 3600}
        ),
        name="report_late",
    )
    return [alert]


def raw_asset(system: str) -> Asset:
    """The asset an extract DAG updates and ``revops_transform`` is scheduled on."""
    return Asset(name=f"raw_{system}", uri=f"revops://warehouse/raw_{system}")


MARTS = Asset(name="marts", uri="revops://warehouse/marts")
"""The asset ``revops_transform`` updates and ``revops_publish`` is scheduled on."""


# -- the extract window -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What one extract run reads: ``[since, until)``; ``since`` None reads from the cursors."""

    since: datetime | None
    until: datetime
    backfill: bool

    def asset_extra(self, run_type: str) -> dict[str, Any]:
        """The ``raw_<system>`` asset event's extra: downstream runs learn it was a backfill."""
        return {
            "backfill": self.backfill,
            "run_type": run_type,
            "window_start": self.since.isoformat() if self.since else None,
            "window_end": self.until.isoformat(),
        }


def extract_window(
    run_type: str,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    infer_interval: Callable[[], tuple[datetime, datetime]],
    run_after: datetime | None = None,
) -> Window:
    """The window of an extract run, from the run alone (never the clock).

    A backfill run re-extracts exactly its data interval. Any other run is incremental up to the
    end of its data interval, or up to ``run_after`` (when the run was due or triggered) if
    that is earlier: a run triggered by hand with a logical date of today has an interval that
    ends tomorrow, and cursors must not move past the moment the data was read. A run without
    an interval (manual or asset-triggered, no logical date) takes the interval
    ``infer_interval`` gives (the timetable's last complete interval before the run was
    triggered).
    """
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    if kind == BACKFILL:
        if data_interval_start is None or data_interval_end is None:
            raise ValueError("a backfill run has no data interval: nothing to re-extract")
        if not data_interval_start < data_interval_end:
            raise ValueError(
                f"a backfill run's data interval is empty ({data_interval_start.isoformat()} to "
                f"{data_interval_end.isoformat()}): the DAG needs an interval timetable"
            )
        return Window(data_interval_start, data_interval_end, backfill=True)
    if data_interval_end is None:
        _, data_interval_end = infer_interval()
    if run_after is not None and run_after < data_interval_end:
        return Window(None, run_after, backfill=False)
    return Window(None, data_interval_end, backfill=False)


def _inferred_interval(dag: Any, run_after: datetime) -> tuple[datetime, datetime]:
    """The timetable's interval for a run triggered at ``run_after`` (Airflow's own rule)."""
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable

    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(
        run_after=pendulum.instance(run_after)
    )
    return interval.start, interval.end


def run_window(context: Mapping[str, Any]) -> Window:
    """:func:`extract_window` for the running task's DAG run."""
    dag_run = context["dag_run"]
    return extract_window(
        dag_run.run_type,
        context.get("data_interval_start"),
        context.get("data_interval_end"),
        lambda: _inferred_interval(context["dag"], dag_run.run_after),
        dag_run.run_after,
    )


# -- the extract DAGs -------------------------------------------------------------------------


def completeness_extra(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the ``raw_<system>`` asset event adds from an extract's result: whether every
    stream reached the end of the window, and which did not."""
    streams = result.get("streams") or []
    return {
        "complete": bool(result.get("complete")),
        "incomplete_streams": [s["stream"] for s in streams if not s.get("complete")],
    }


_EXTRACT_DOC = """\
### extract_{system}

Pulls {pulls} Lands in the warehouse schema `raw_{system}`. One task, one dlt load: every
stream of the system and the cursor state that describes it are committed together, so a retry
or a rerun of the same interval leaves the same rows (merged on primary keys), and a run that
dies commits nothing. Every run is recorded in `revops_meta.extract_runs` (mode, window, status,
rows, error); the publish gate reads it.

**Schedule and window.** Daily at 00:00 UTC over the day that just ended: a real data interval
(`data_interval_start` < `data_interval_end`). Scheduled and manual runs are incremental: they
read from the dlt cursors up to `data_interval_end` (exclusive) and move the cursors. A manual
or asset-triggered run without a logical date takes the timetable's last complete day before it
was triggered, never "now".

**Completeness.** A stream the vendor cuts short (a used-up daily quota, or a `Retry-After`
longer than `REVOPS_HTTP_MAX_RETRY_AFTER`, default 300 s; shorter ones are waited for) ends
there: what it read is loaded with its cursor, and the run is recorded `incomplete` in
`revops_meta.extract_runs` with each stream's rows, pages, where it stopped and why. The task
still succeeds, with a warning line per incomplete stream, `complete: false` in its result and
in its asset event's extra; the next run resumes from the cursors, and the publish gate blocks
any report whose period such a stream does not cover, naming it.

**Backfills.** `airflow backfill create --dag-id extract_{system} --from-date 2026-11-01
--to-date 2026-11-03` re-extracts exactly each run's interval, merges on primary keys (rerun it
at will) and moves no incremental cursor. Its `raw_{system}` asset event carries
`{{"backfill": true}}`: `revops_transform` rebuilds the marts with it, and `revops_publish`
sends no report for a chain made only of backfills (trigger `revops_publish` by hand to send).

**Limits and alerts.** Runs in the pool `vendor_{system}` (one slot) so parallel runs stay
inside the vendor's rate limit; {retries} retries with exponential back-off from 5 minutes.
Each try times out after `REVOPS_TASK_TIMEOUT_MINUTES` (default 60), the run after
`REVOPS_DAGRUN_TIMEOUT_HOURS` (default 6); a failure e-mails `REVOPS_ALERT_RECIPIENTS` with the
DAG, task, try, error and log link. Credentials: `REVOPS_{upper}_*` environment variables or
the Airflow connection `revops_{system}`.

Produces the asset `raw_{system}` (and `raw_{system}.<table>` per table), on which
`revops_transform` is scheduled.
"""

EXTRACT_RETRIES = 3


def extract_doc(system: str) -> str:
    """The ``doc_md`` of ``extract_<system>``."""
    return _EXTRACT_DOC.format(
        system=system,
        upper=system.upper(),
        pulls=SOURCES[system].pulls,
        retries=EXTRACT_RETRIES,
    )


def extract_dag(system: str) -> DAG:
    """The DAG ``extract_<system>``: one task that extracts the system over the run's window.

    Call it at the top level of ``dags/extract_<system>.py`` (the DAG's id is that file's name).
    """
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    dag_id = f"extract_{system}"
    pool = f"vendor_{system}"
    raw = raw_asset(system)
    tables = [
        Asset(name=f"raw_{system}.{table}", uri=f"revops://warehouse/raw_{system}/{table}")
        for table in SOURCES[system].tables
    ]
    with DAG(
        schedule=CronDataIntervalTimetable(EXTRACT_CRON, timezone="UTC"),
        default_args=default_args(
            retries=EXTRACT_RETRIES,
            retry_delay=timedelta(minutes=5),
            retry_exponential_backoff=True,
            pool=pool,
        ),
        **dag_kwargs(dag_id, extract_doc(system), ["extract", system]),
    ) as dag:

        @task(task_id=dag_id, outlets=[raw, *tables], pool=pool)
        def extract() -> dict:
            """Extract the system over the run's window (a backfill: exactly its interval)."""
            from revops.pipeline import extract as run

            context = get_current_context()
            window = run_window(context)
            result = run(system, since=window.since, until=window.until, run_id=context["run_id"])
            run_type = context["dag_run"].run_type
            extra = window.asset_extra(str(getattr(run_type, "value", run_type)))
            extra.update(completeness_extra(result))
            context["outlet_events"][raw].extra = extra
            if not extra["complete"]:  # recorded incomplete: the gate blocks, the next run resumes
                log.warning(
                    "extract_%s is INCOMPLETE (recorded in revops_meta.extract_runs; the gate "
                    "blocks a report it does not cover): %s",
                    system,
                    ", ".join(extra["incomplete_streams"]),
                )
            return result

        extract()
    caller = sys._getframe(1).f_code.co_filename  # the DAG file (the DagBag sets it too)
    dag.fileloc = caller
    return dag
