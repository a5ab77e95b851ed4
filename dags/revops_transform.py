"""
### revops_transform

Builds the dbt project (staging -> intermediate -> marts) with Astronomer Cosmos, testing as it
builds (`dbt build`); in the middle, the exact data-driven attribution models (Markov, Shapley)
are fitted on the path tables dbt built and their credits written back in one transaction, then
the attribution marts are built on them. Produces the asset `marts`, on which `revops_publish`
is scheduled.

**Schedule.** When all six raw assets (`raw_<system>`) have been updated since the last run, or
at 04:00 UTC every day, whichever comes first (`AssetOrTimeSchedule`): one vendor that is down
or slow no longer holds the marts back. The build runs with what the warehouse has, and the
publish gate decides: a system whose newest incremental extract failed, or whose data ends too
early, blocks the report and the gate's alert names the system and its error.

**Nothing to build.** The first task, `check_new_data`, skips the run (and so publish) when
nothing has been extracted yet (a fresh deployment), and skips a timed run when the marts
already include every raw load (the six extracts triggered a build earlier that day). Runs
triggered by raw assets, or by hand, always build.

**Seeds.** dbt would reload every seed on every build; `check_new_data` also plans which seeds
the warehouse holds already as the project has them (`revops_meta.seed_loads`: same file and
configuration, no rows lost), and `build_models` leaves those out. A changed seed is loaded and
tested as before, and recorded by `announce_marts` once the run succeeded.

**Warehouse.** dbt connects through the Airflow connection `revops_warehouse` (Cosmos
`PostgresUserPasswordProfileMapping`, extended for a unix-socket host, no password and every
libpq option of the connection's extras; schema `marts`): the same warehouse as the extracts
and the gate (`revops airflow start` sets it from `REVOPS_WAREHOUSE_URL`).

**Backfills.** The `marts` event of a run triggered only by backfill extracts carries
`{"backfill": true}`, so `revops_publish` sends no report for it.

**Limits and alerts.** Each task times out after `REVOPS_TASK_TIMEOUT_MINUTES` (default 60),
the run after `REVOPS_DAGRUN_TIMEOUT_HOURS` (default 6); a run not finished
`REVOPS_REPORT_DEADLINE_HOURS` (default 2) after it was queued alerts that the report is late.
Failures e-mail `REVOPS_ALERT_RECIPIENTS` with the DAG, task, try, error and log link.
"""

from __future__ import annotations

from airflow.sdk import (
    AssetAll,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    dag,
    get_current_context,
    task,
)

from revops.orchestration.dags import (
    MARTS,
    SOURCES,
    TRANSFORM_CRON,
    dag_kwargs,
    default_args,
    raw_asset,
    report_deadline_alert,
)

RAW = [raw_asset(system) for system in SOURCES]


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(TRANSFORM_CRON, timezone="UTC"), assets=AssetAll(*RAW)
    ),
    default_args=default_args(),
    deadline=report_deadline_alert(),
    **dag_kwargs("revops_transform", __doc__, ["transform", "dbt"]),
)
def revops_transform():
    from cosmos import ProfileConfig
    from cosmos.operators.local import DbtBuildLocalOperator

    from revops.config import dbt_project_dir
    from revops.orchestration.objects import dbt_parse_cache, warehouse_profile_mapping
    from revops.pipeline import ATTRIBUTION_SELECTOR, BUILD_FLAGS

    dbt = {
        "project_dir": str(dbt_project_dir()),
        "profile_config": ProfileConfig(
            profile_name="revops",
            target_name="warehouse",
            profile_mapping=warehouse_profile_mapping(
                schema="marts", threads=2, connect_timeout=10
            ),
        ),
        "install_deps": False,
        "dbt_cmd_flags": BUILD_FLAGS,  # no unit tests on the daily build: CI runs them
        # dbt's partial-parse state kept between tasks and runs: no full parse per task
        "cache_dir": dbt_parse_cache("revops_transform"),
        # `announce_marts` updates the one asset downstream DAGs use; Cosmos's own per-table
        # assets (OpenLineage URIs naming the warehouse host) would be undeclared noise
        "emit_datasets": False,
    }

    @task.short_circuit
    def check_new_data() -> str | None:
        """Build only when there is raw data the marts do not include yet (see doc_md)."""
        from revops.transform import build_due, seeds_plan
        from revops.warehouse import connect

        run_type = get_current_context()["dag_run"].run_type
        timed = str(getattr(run_type, "value", run_type)).lower() == "scheduled"
        with connect(autocommit=True) as conn:
            due, why, loaded = build_due(conn, timed=timed)
            seeds = seeds_plan(conn) if due and loaded else None
        print(f"{'building' if due else 'skipping'}: {why}")
        if not seeds:
            return None
        print(f"seeds loaded already, left out of the build: {seeds['unchanged'] or 'none'}")
        return {"loaded_through": loaded.isoformat(), "seeds": seeds}

    # everything that does not need the data-driven credits (staging, intermediate, marts),
    # without the seeds the warehouse holds as they are
    build_models = DbtBuildLocalOperator(
        task_id="build_models",
        exclude=[
            ATTRIBUTION_SELECTOR,
            "{{ ti.xcom_pull(task_ids='check_new_data')['seeds']['exclude'] }}",
        ],
        **dbt,
    )

    @task
    def attribute_data_driven() -> dict:
        from revops.pipeline import attribute_data_driven as run

        return run()

    # the attribution marts, once markov and shapley credits are written
    build_attribution_marts = DbtBuildLocalOperator(
        task_id="build_attribution_marts", select=[ATTRIBUTION_SELECTOR], **dbt
    )

    @task(outlets=[MARTS])
    def announce_marts(check: dict) -> dict:
        """Record the build and the seeds it loaded, and update the `marts` asset, saying
        whether only backfills fed this build."""
        from datetime import datetime

        from revops.reports.publish import marts_event_extra
        from revops.transform import record_build, record_seeds
        from revops.warehouse import connect

        context = get_current_context()
        loaded_through = datetime.fromisoformat(check["loaded_through"])
        with connect(autocommit=True) as conn:
            record_seeds(conn, check["seeds"])
            record_build(conn, context["dag_run"].run_id, loaded_through)
        raw = {asset.name for asset in RAW}
        events = [
            event
            for asset, asset_events in context["triggering_asset_events"].items()
            if asset.name in raw
            for event in asset_events
        ]
        extra = marts_event_extra([event.extra or {} for event in events])
        context["outlet_events"][MARTS].extra = extra
        return extra

    loaded = check_new_data()
    loaded >> build_models >> attribute_data_driven() >> build_attribution_marts
    build_attribution_marts >> announce_marts(loaded)


revops_transform()
