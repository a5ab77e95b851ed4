"""Local Airflow runs: what a failed run tells the person at the terminal."""

from __future__ import annotations

from pathlib import Path

from revops.orchestration import airflow_env, failure_excerpt

LOG = """\
2026-11-23T11:00:00Z [info     ] Task started
Traceback (most recent call last):
  File "/app/dags/revops_publish.py", line 34, in check_quality
    return quality_gate()
revops.quality.gate.GateFailed: Quality gate FAILED: 1 blocking failure in 60 checks
BLOCKING marts.fct_ad_spend_daily: expect_column_values_to_be_between on spend
    observed: 1 of 2190 rows below 0
2026-11-23T11:00:01Z [error    ] Task failed
{"dag_id": "revops_publish", "state": "failed"}
"""


def test_failure_excerpt_is_the_exception_message_not_the_frames(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(LOG)
    assert failure_excerpt(log).splitlines() == [
        "revops.quality.gate.GateFailed: Quality gate FAILED: 1 blocking failure in 60 checks",
        "BLOCKING marts.fct_ad_spend_daily: expect_column_values_to_be_between on spend",
        "    observed: 1 of 2190 rows below 0",
    ]


def test_local_airflow_keeps_its_metadata_under_the_state_dir(tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/airflow/airflow.db"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
