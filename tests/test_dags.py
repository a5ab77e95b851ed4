"""DAG integrity: every DAG file imports cleanly and follows the house rules."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pendulum
import pytest

from revops.orchestration import EXTRACT_SYSTEMS, PIPELINE_DAGS, VENDOR_POOLS, airflow_env

DAGS = Path(__file__).resolve().parent.parent / "dags"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    import os

    env = airflow_env(tmp_path_factory.mktemp("airflow"))
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS))
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_dag_files_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dags) == sorted(PIPELINE_DAGS)


@pytest.mark.parametrize("dag_id", PIPELINE_DAGS)
def test_each_dag_has_tags_docs_retries_and_its_file_name(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert Path(dag.fileloc).stem == dag_id
    assert "revops" in dag.tags
    assert dag.doc_md and dag_id in dag.doc_md
    assert dag.default_args["retries"] >= 1
    assert dag.catchup is False


def _tables(system: str) -> set[str]:
    """The raw tables a connector writes, from its stream declarations."""
    import importlib

    module = importlib.import_module(f"revops.sources.{system}")
    return set(module.STREAMS)


@pytest.mark.parametrize("system", EXTRACT_SYSTEMS)
def test_each_extract_dag_declares_its_raw_assets_pool_and_retries(dagbag, system: str) -> None:
    dag = dagbag.dags[f"extract_{system}"]
    assert [t.task_id for t in dag.tasks] == [f"extract_{system}"]
    task = dag.tasks[0]
    outlets = {a.name for a in task.outlets}
    assert f"raw_{system}" in outlets
    # one asset per raw table the connector writes, no more and no less
    assert {name.split(".", 1)[1] for name in outlets if "." in name} == _tables(system)
    assert task.pool == f"vendor_{system}" and task.pool in VENDOR_POOLS
    assert task.retries >= 2
    assert {"revops", "extract", system} <= set(dag.tags)


def test_transform_runs_when_every_raw_schema_updated_or_at_a_daily_time(dagbag) -> None:
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    from revops.orchestration.dags import EXTRACT_CRON, TRANSFORM_CRON

    timetable = dagbag.dags["revops_transform"].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert {asset.name for asset in timetable.asset_condition.objects} == {
        f"raw_{system}" for system in EXTRACT_SYSTEMS
    }
    assert type(timetable.asset_condition).__name__ == "AssetAll"
    assert isinstance(timetable.timetable, CronTriggerTimetable)
    # a few hours after the extracts' midnight run
    assert EXTRACT_CRON == "0 0 * * *" and TRANSFORM_CRON == "0 4 * * *"


def test_transform_builds_dbt_on_the_revops_warehouse_connection(dagbag) -> None:
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    from revops.pipeline import ATTRIBUTION_SELECTOR, BUILD_FLAGS

    dag = dagbag.dags["revops_transform"]
    builds = [t for t in dag.tasks if t.task_id.startswith("build_")]
    assert [t.task_id for t in builds] == ["build_models", "build_attribution_marts"]
    for build in builds:
        mapping = build.profile_config.profile_mapping
        assert isinstance(mapping, PostgresUserPasswordProfileMapping)
        assert mapping.conn_id == "revops_warehouse"
        assert mapping.profile_args["schema"] == "marts"
        assert build.profile_config.target_name == "warehouse"
        assert not any(k.startswith("REVOPS_PG_") for k in (build.env or {}))
        assert build.emit_datasets is False
        # the same selections and flags as `revops transform`: no dbt unit tests on the data
        assert build.dbt_cmd_flags == BUILD_FLAGS == ["--exclude-resource-type", "unit_test"]
    assert builds[1].select == [ATTRIBUTION_SELECTOR] == builds[0].exclude[:1]
    # and the seeds the warehouse holds as they are (check_new_data's plan, a template)
    assert builds[0].exclude[1:] == [
        "{{ ti.xcom_pull(task_ids='check_new_data')['seeds']['exclude'] }}"
    ]
    # the marts asset is announced last, by the task that passes the backfill mark on
    announce = dag.get_task("announce_marts")
    assert {a.name for a in announce.outlets} == {"marts"}
    assert announce.upstream_task_ids == {"build_attribution_marts", "check_new_data"}
    # nothing builds before the check that there is new raw data (a short circuit skips all)
    check = dag.get_task("check_new_data")
    assert dag.get_task("build_models").upstream_task_ids == {"check_new_data"}
    assert check.upstream_task_ids == set()
    assert type(check).__name__ == "_ShortCircuitDecoratedOperator"


def test_publish_sends_only_after_the_gate_and_the_backfill_decision(dagbag) -> None:
    dag = dagbag.dags["revops_publish"]
    assert dag.get_task("decide_to_send").upstream_task_ids == {"check_quality"}
    assert dag.get_task("send_report").upstream_task_ids == {"check_quality", "decide_to_send"}


@pytest.mark.parametrize("dag_id", PIPELINE_DAGS)
def test_every_task_times_out_and_alerts_and_every_run_times_out(dagbag, dag_id: str) -> None:
    from revops.orchestration.callbacks import dag_failure_alert, task_failure_alert
    from revops.orchestration.dags import dagrun_timeout, task_timeout

    dag = dagbag.dags[dag_id]
    assert dag.dagrun_timeout == dagrun_timeout() == timedelta(hours=6)
    assert dag.on_failure_callback in (dag_failure_alert, [dag_failure_alert])
    for task in dag.tasks:
        assert task.execution_timeout == task_timeout() == timedelta(minutes=60), task.task_id
        assert task_failure_alert in task.on_failure_callback, task.task_id


@pytest.mark.parametrize("dag_id", ["revops_transform", "revops_publish"])
def test_the_report_dags_have_a_deadline(
    dagbag, dag_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import DeadlineReference

    from revops.orchestration.dags import deadline_enabled, report_deadline_alert

    source = (DAGS / f"{dag_id}.py").read_text()
    assert "deadline=report_deadline_alert()" in source
    # the local dag.test runner (SQLite) cannot run deadline alerts in Airflow 3.3.2
    assert dagbag.dags[dag_id].deadline in (None, [])
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://airflow@db/airflow")
    monkeypatch.delenv("REVOPS_REPORT_DEADLINE_HOURS", raising=False)
    (alert,) = report_deadline_alert()
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.interval == timedelta(hours=2)
    assert alert.callback.path == "revops.orchestration.callbacks.report_late_alert"
    assert alert.callback.kwargs == {"deadline_hours": 2.0}
    monkeypatch.setenv("REVOPS_REPORT_DEADLINE_HOURS", "off")
    assert deadline_enabled() is False and report_deadline_alert() == []


@pytest.mark.parametrize("system", EXTRACT_SYSTEMS)
def test_extract_runs_have_a_real_daily_data_interval(dagbag, system: str) -> None:
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    dag = dagbag.dags[f"extract_{system}"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    core = coerce_to_core_timetable(dag.timetable)
    scheduled = core.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert scheduled.data_interval.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert scheduled.data_interval.end == datetime(2026, 1, 2, tzinfo=UTC)
    manual = core.infer_manual_data_interval(
        run_after=pendulum.datetime(2026, 11, 25, 10, 30, tz="UTC")
    )
    assert (manual.start, manual.end) == (
        datetime(2026, 11, 24, tzinfo=UTC),
        datetime(2026, 11, 25, tzinfo=UTC),
    )


def test_extract_dags_are_built_from_the_one_list_of_systems() -> None:
    from revops.orchestration.dags import SOURCES
    from revops.vocabulary import SYSTEMS

    assert list(SOURCES) == list(SYSTEMS)
    assert set(EXTRACT_SYSTEMS) == set(SYSTEMS)
    assert sorted(p.stem for p in DAGS.glob("extract_*.py")) == sorted(
        f"extract_{s}" for s in SYSTEMS
    )


@pytest.mark.parametrize("system", EXTRACT_SYSTEMS)
def test_extract_dag_files_are_one_call_that_airflow_safe_mode_parses(system: str) -> None:
    from airflow.utils.file import might_contain_dag_via_default_heuristic

    path = DAGS / f"extract_{system}.py"
    assert might_contain_dag_via_default_heuristic(str(path))
    tree = ast.parse(path.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert len(calls) == 1 and calls[0].func.id == "extract_dag"
    assert [a.value for a in calls[0].args] == [system]


@pytest.mark.parametrize("system", EXTRACT_SYSTEMS)
def test_extract_dag_docs_keep_what_each_system_pulls(dagbag, system: str) -> None:
    from revops.orchestration.dags import SOURCES

    doc = dagbag.dags[f"extract_{system}"].doc_md
    assert SOURCES[system].pulls in doc
    assert f"vendor_{system}" in doc and f"revops_{system}" in doc
    assert "airflow backfill create" in doc and "REVOPS_TASK_TIMEOUT_MINUTES" in doc


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_call_no_clock(path: Path) -> None:
    """Windows come from the data interval, never now()."""
    source = path.read_text()
    tree = ast.parse(source)
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not {"now", "utcnow", "today"} & calls


def test_the_backfill_run_type_is_airflows() -> None:
    from airflow.utils.types import DagRunType

    from revops.orchestration.dags import BACKFILL

    assert DagRunType.BACKFILL_JOB.value == BACKFILL
