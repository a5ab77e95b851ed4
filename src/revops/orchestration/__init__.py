"""Running the real Airflow DAGs locally: a metadata DB under ``.revops/airflow`` and ``dag.test``.

The demo and the end-to-end tests run the same DAG files a scheduler would, one run each, in
order (extract -> transform -> publish), the way the asset schedule chains them in production.
Airflow runs in one child process per call (all its DAGs) so its settings come from the
environment set here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
        # no usage pings from Cosmos (the service turns them off too): offline, each dbt task
        # and each run waited for one to time out
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
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
    """Run each DAG once, in order, through ``dag.test``; raise :class:`DagRunFailed` on failure.

    One child process runs them all, one after the other: Airflow, its in-process execution
    API, dlt, dbt and Great Expectations are imported and the DAG folder parsed once per call,
    not once per DAG (measured: that start-up was about half of an extract DAG's time). Each
    DAG's output goes to its own log ``<AIRFLOW_HOME>/logs/<dag_id>.log``; the child reports
    each DAG's outcome as it finishes and stops at the first that fails.
    """
    extra_env = extra_env or {}
    env = {
        **os.environ,
        **airflow_env(warehouse_url=extra_env.get("REVOPS_WAREHOUSE_URL")),
        **extra_env,
    }
    ensure_metadata_db(env)
    moment = (logical_date or datetime.now(UTC)).replace(microsecond=0)
    log_dir = Path(env["AIRFLOW_HOME"]) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    pending = list(dag_ids)
    if not pending:
        return results
    began = time.monotonic()
    if progress:
        progress(f"      {pending[0]}: running")
    command = [sys.executable, "-m", "revops.orchestration", *pending]
    command += ["--logical-date", moment.isoformat(), "--log-dir", str(log_dir)]
    child_log = log_dir / "run_dags.log"  # the child's own output outside any DAG's run
    with child_log.open("w") as log:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        assert child.stdout is not None
        for line in child.stdout:
            if not line.startswith(_OUTCOME):
                log.write(line)
                continue
            outcome = json.loads(line[len(_OUTCOME) :])
            results.append(outcome)
            dag_id = pending.pop(0)
            if progress:
                took = time.monotonic() - began
                progress(f"      {dag_id}: {outcome.get('state')} in {took:.0f}s")
                if pending and outcome.get("state") == "success":
                    progress(f"      {pending[0]}: running")
            began = time.monotonic()
        returncode = child.wait()
    failed = next((r for r in results if r.get("state") != "success"), None)
    if failed is None and returncode == 0 and not pending:
        return results
    if failed is None:  # the child died between DAGs or before reporting one
        failed = {"dag_id": pending[0] if pending else dag_ids[-1], "state": "unknown"}
    dag_id = failed["dag_id"]
    log_file = log_dir / f"{dag_id}.log"
    if not log_file.exists() or not log_file.stat().st_size:
        log_file = child_log
    tasks = ", ".join(failed.get("failed_tasks", [])) or "none recorded"
    raise DagRunFailed(
        f"DAG {dag_id} run {failed.get('state')}; failed tasks: {tasks}\n"
        f"{failure_excerpt(log_file)}\nfull log: {log_file}"
    )


_OUTCOME = "revops-dag-outcome "
"""The child's prefix of the line that reports one DAG's outcome (JSON) on its stdout."""


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


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so subprocesses and
    logging handlers too) to ``path`` inside the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _test_dags(dag_ids: Sequence[str], logical_date: datetime, log_dir: Path) -> int:
    """Child-process side: parse the DAG folder once, run each DAG with ``dag.test`` in order
    (its output to ``<log_dir>/<dag_id>.log``), report each outcome on a line of its own on
    the original stdout; stop at the first that does not succeed."""
    report = os.fdopen(os.dup(1), "w", buffering=1)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"DAG import error in {path}:\n{error}", file=sys.stderr)
        return 2
    for dag_id in dag_ids:
        outcome: dict = {"dag_id": dag_id, "state": "unknown", "failed_tasks": []}
        with _output_to(log_dir / f"{dag_id}.log"):
            dag = bag.get_dag(dag_id)
            if dag is None:
                folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
                print(f"no DAG {dag_id!r} in {folder}", file=sys.stderr)
            else:
                dag_run = dag.test(logical_date=logical_date)
                outcome = {
                    "dag_id": dag_id,
                    "run_id": dag_run.run_id,
                    "state": str(getattr(dag_run.state, "value", dag_run.state)),
                    "failed_tasks": [
                        ti.task_id for ti in dag_run.get_task_instances() if ti.state == "failed"
                    ],
                }
        print(_OUTCOME + json.dumps(outcome), file=report)
        if outcome["state"] != "success":
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m revops.orchestration DAG_ID... --logical-date ISO [--log-dir DIR]`` (used by
    :func:`run_dags`)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_ids", nargs="+", metavar="dag_id")
    parser.add_argument("--logical-date", required=True, type=datetime.fromisoformat)
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    log_dir = args.log_dir or Path(os.environ["AIRFLOW_HOME"]) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return _test_dags(args.dag_ids, args.logical_date, log_dir)
