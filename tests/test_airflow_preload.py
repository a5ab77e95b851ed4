"""Airflow's processes that fork tasks (the scheduler, Celery workers) preload what revops'
tasks import, through revops' ``airflow_local_settings.py``; the other processes do not."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from revops.orchestration.preload import PRELOADED, forks_tasks

PROBE = """
import json, sys
argv, names = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = argv  # as the airflow command would have it
import airflow  # imports airflow_local_settings, as every Airflow process does at start
print(json.dumps({name: name in sys.modules for name in names}))
"""


@pytest.mark.parametrize(
    "argv, forks",
    [
        (["airflow", "scheduler"], True),
        (["/venv/bin/airflow", "celery", "worker", "--celery-hostname", "w1@%h"], True),
        (["airflow", "api-server", "--port", "8080"], False),
        (["airflow", "dag-processor"], False),
        (["airflow", "triggerer"], False),
        (["airflow", "celery", "flower"], False),
        (["airflow", "db", "migrate"], False),
    ],
)
def test_only_the_processes_that_fork_tasks_preload(argv, forks):
    assert forks_tasks(argv) is forks


@pytest.mark.parametrize("command, loaded", [("scheduler", True), ("api-server", False)])
def test_airflow_started_with_the_service_env_preloads_only_in_the_scheduler(
    tmp_path, command, loaded
):
    from revops.orchestration.service import process_env

    # process_env's additions to the inherited environment (PATH, PYTHONPATH...), without the
    # service's Airflow wiring, and a throwaway Airflow home
    env = {**process_env(None, {}), "AIRFLOW_HOME": str(tmp_path / "airflow")}
    assert env["PYTHONPATH"].split(os.pathsep)[0].endswith("airflow_config")
    argv = [str(tmp_path / "airflow"), command]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(PRELOADED)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == dict.fromkeys(PRELOADED, loaded), seen
