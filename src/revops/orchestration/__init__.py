"""Running the real Airflow DAGs locally: a metadata DB under ``.revops/airflow`` and ``dag.test``.

The demo and the end-to-end tests run the same DAG files a scheduler would, one run each, in
order (extract -> transform -> publish), the way the asset schedule chains them in production.
Airflow runs in a child process so its settings come from the environment set here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from revops.config import private_dir, project_root, state_dir
from revops.vocabulary import SYSTEMS

EXTRACT_SYSTEMS = SYSTEMS  # the one list of systems: the dbt var `systems` (revops.vocabulary)
PIPELINE_DAGS = (
    *(f"extract_{system}" for system in EXTRACT_SYSTEMS),
    "revops_transform",
    "revops_publish",
)
VENDOR_POOLS = {f"vendor_{system}": 1 for system in EXTRACT_SYSTEMS}


class DagRunFailed(RuntimeError):
    """A DAG run did not succeed; the message names the DAG and its failed tasks."""


def airflow_env(home: Path | None = None, warehouse_url: str | None = None) -> dict[str, str]:
    """Environment for a local Airflow: SQLite metadata under ``.revops/airflow``, our DAGs.

    With a warehouse URL (given, or ``REVOPS_WAREHOUSE_URL``) it also carries the connection
    ``revops_warehouse`` as ``AIRFLOW_CONN_REVOPS_WAREHOUSE``, as the service's processes do.
    """
    from revops.orchestration.objects import WAREHOUSE_CONN_ENV, warehouse_connection_uri

    home = private_dir(home or state_dir() / "airflow")  # its metadata DB holds XComs and logs
    from revops.settings import current

    url = warehouse_url or current().warehouse_url
    connection = {WAREHOUSE_CONN_ENV: warehouse_connection_uri(url)} if url else {}
    return {
        **connection,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root() / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": (current().airflow_log_level or "warning").upper(),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "NO_PROXY": "*",
    }


def ensure_metadata_db(env: dict[str, str]) -> None:
    """Create or upgrade the local Airflow metadata DB and its vendor pools (fast when current).

    Each extract task runs in a pool ``vendor_<system>`` (one slot: one extract per vendor at a
    time); the pools (:data:`revops.orchestration.objects.POOLS`) are created here so
    ``dag.test`` finds them.
    """
    from revops.orchestration.objects import POOLS

    home = Path(env["AIRFLOW_HOME"])
    airflow = Path(sys.executable).with_name("airflow")
    marker = home / ".revops-db-migrated"
    if not marker.exists():
        subprocess.run(
            [str(airflow), "db", "migrate"],
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        marker.write_text(datetime.now(UTC).isoformat())
    pools = POOLS
    pools_file = home / "revops-pools.json"
    wanted = json.dumps(pools, sort_keys=True)
    pools_marker = home / ".revops-pools"
    if pools_marker.exists() and pools_marker.read_text() == wanted:
        return
    pools_file.write_text(wanted)
    subprocess.run(
        [str(airflow), "pools", "import", str(pools_file)],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pools_marker.write_text(wanted)


def run_dags(
    dag_ids: Sequence[str] = PIPELINE_DAGS,
    logical_date: datetime | None = None,
    extra_env: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run each DAG once, in order, through ``dag.test``; raise :class:`DagRunFailed` on failure."""
    extra_env = extra_env or {}
    env = {
        **os.environ,
        **airflow_env(warehouse_url=extra_env.get("REVOPS_WAREHOUSE_URL")),
        **extra_env,
    }
    ensure_metadata_db(env)
    moment = (logical_date or datetime.now(UTC)).replace(microsecond=0)
    results = []
    for dag_id in dag_ids:
        began = time.monotonic()
        if progress:
            progress(f"      {dag_id}: running")
        log_file = Path(env["AIRFLOW_HOME"]) / "logs" / f"{dag_id}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("w") as log:
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "revops.orchestration",
                    dag_id,
                    "--logical-date",
                    moment.isoformat(),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            log.write(completed.stdout)
        lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
        outcome = json.loads(lines[-1]) if lines else {"dag_id": dag_id, "state": "unknown"}
        results.append(outcome)
        if progress:
            progress(f"      {dag_id}: {outcome.get('state')} in {time.monotonic() - began:.0f}s")
        if completed.returncode != 0 or outcome.get("state") != "success":
            failed = ", ".join(outcome.get("failed_tasks", [])) or "none recorded"
            raise DagRunFailed(
                f"DAG {dag_id} run {outcome.get('state')}; failed tasks: {failed}\n"
                f"{failure_excerpt(log_file)}\nfull log: {log_file}"
            )
    return results


_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Failed|Exception|Exit)\b[^:]*:")
_LOG_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d[T ]|\[|\{)")


def failure_excerpt(log_file: Path, limit: int = 40) -> str:
    """What the last exception in a failed run's log said (its message, not its frames)."""
    lines = log_file.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if not starts:
        return "\n".join(lines[-limit:])
    excerpt = []
    for line in lines[starts[-1] :]:
        if excerpt and _LOG_RECORD.match(line):
            break
        excerpt.append(line)
    return "\n".join(excerpt[:limit])


def _test_one(dag_id: str, logical_date: datetime) -> int:
    """Child-process side: parse the DAG folder, run one DAG with ``dag.test``, print JSON."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"DAG import error in {path}:\n{error}", file=sys.stderr)
        return 2
    dag = bag.get_dag(dag_id)
    if dag is None:
        print(f"no DAG {dag_id!r} in {os.environ['AIRFLOW__CORE__DAGS_FOLDER']}", file=sys.stderr)
        return 2
    dag_run = dag.test(logical_date=logical_date)
    failed = [ti.task_id for ti in dag_run.get_task_instances() if ti.state == "failed"]
    state = str(getattr(dag_run.state, "value", dag_run.state))
    print(
        json.dumps(
            {"dag_id": dag_id, "run_id": dag_run.run_id, "state": state, "failed_tasks": failed}
        )
    )
    return 0 if state == "success" else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m revops.orchestration DAG_ID --logical-date ISO`` (used by :func:`run_dags`)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--logical-date", required=True, type=datetime.fromisoformat)
    args = parser.parse_args(argv)
    return _test_one(args.dag_id, args.logical_date)
