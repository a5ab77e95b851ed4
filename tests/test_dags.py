"""DAG integrity: every DAG file imports cleanly and follows the house rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from revops.orchestration import PIPELINE_DAGS, airflow_env

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


def test_extract_tasks_are_verbs_and_declare_their_raw_assets(dagbag) -> None:
    dag = dagbag.dags["revops_extract"]
    outlets = {t.task_id: [a.name for a in t.outlets] for t in dag.tasks}
    assert outlets == {
        "extract_hubspot": ["raw_hubspot"],
        "extract_google_ads": ["raw_google_ads"],
        "extract_mailchimp": ["raw_mailchimp"],
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
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not {"now", "utcnow", "today"} & calls
