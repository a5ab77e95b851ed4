"""DAG integrity: every DAG file imports cleanly and follows the house rules."""

from __future__ import annotations

import ast
from pathlib import Path

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


def test_transform_waits_for_every_raw_schema(dagbag) -> None:
    condition = dagbag.dags["revops_transform"].timetable.asset_condition
    assert {asset.name for asset in condition.objects} == {
        f"raw_{system}" for system in EXTRACT_SYSTEMS
    }


def test_publish_sends_only_after_the_gate(dagbag) -> None:
    dag = dagbag.dags["revops_publish"]
    send = dag.get_task("send_report")
    assert send.upstream_task_ids == {"check_quality"}


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
