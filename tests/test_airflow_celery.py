"""Distributed: the chain on CeleryExecutor with two workers, and a worker killed mid-task.

``revops airflow start`` with ``REVOPS_AIRFLOW_EXECUTOR=celery``: the machine's Redis
(127.0.0.1:6379) as broker, on its own database number and a queue no other run uses; Airflow's
metadata and Celery's results in a new database on the machine's PostgreSQL; two workers, each
its own process group.

1. A clean chain (six extracts -> transform -> publish) completes, with tasks on both workers,
   and sends the one report.
2. The warehouse is emptied and the chain runs again; while worker-1 runs an extract it is
   killed like a lost machine (SIGKILL to its process group and to the task processes it
   started, which Airflow 3.3 puts in groups of their own). The scheduler notices the task's
   missing heartbeat (``[scheduler] task_instance_heartbeat_timeout``, set to 30 s here instead
   of 300 s), fails that try and retries it; worker-2 runs the retry. Celery's late
   acknowledgement (``task_acks_late``, the provider's default) keeps the killed worker's
   message in Redis's unacked set, redelivered only after the visibility timeout (24 h), and
   Airflow ignores a redelivery of a try that is no longer queued: the retry comes from the
   scheduler. The raw and marts tables then equal the clean chain's, table by table.

Between the two, the Airflow UI as an operator sees it after the clean chain, in headless
Chromium (:mod:`airflow_ui`): it lists the project's eight DAGs, each with its latest run
succeeded. It runs on this deployment rather than on one of its own: a second Airflow and chain
would only repeat the first (the UI does not depend on the executor).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from threading import Thread

import psycopg
import pytest
from airflow_chain import (
    DAGS,
    EXTRACTS,
    LEADERSHIP,
    ChainRun,
    Deployment,
    TaskTry,
    celery_broker,
    deployment,
    reset_warehouse,
    run_chain,
    task_tries,
    warehouse_digests,
    worker_of,
    worker_tries,
)
from airflow_ui import chromium, latest_run_states  # noqa: F401 (chromium: a fixture)

pytestmark = pytest.mark.slow

BROKER_DB = os.environ.get("REVOPS_TEST_CELERY_BROKER_DB", "11")
HEARTBEAT_TIMEOUT_S = 30
CELERY_SETTINGS = {
    # a dead worker's task is failed (and retried) 30 s after its last heartbeat, checked every
    # 5 s; the task runner heartbeats every 5 s ([workers] min_heartbeat_interval), so a loaded
    # 2-core machine still has six heartbeats of slack
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # the extracts' exponential back-off (5 minutes and up) capped at 2 s for the test
    "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "2",
    # two processes per worker: six extracts spread over both workers, and 2 cores stay usable
    "REVOPS_CELERY_WORKER_CONCURRENCY": "2",
}


def _reports(outbox: Path) -> list[Path]:
    return [p for p in sorted(outbox.glob("*.eml")) if LEADERSHIP in p.read_text(errors="replace")]


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_like_a_lost_machine(dep: Deployment, worker: str) -> list[int]:
    """SIGKILL the worker's process group and every process it started; the pids killed."""
    from revops.orchestration import service

    pgid = service.component_pid(dep.airflow.settings, worker)  # its own group's id
    assert pgid is not None, f"{worker} is not running"
    tree = [pgid, *_descendants(pgid)]
    groups = {os.getpgid(pid) for pid in tree if _exists(pid)}
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_exists(pid) for pid in tree):
        time.sleep(0.2)
    assert not [pid for pid in tree if _exists(pid)], f"{worker}: processes survived SIGKILL"
    return tree


def _exists(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _running_extract_on(dep: Deployment, worker: str, since_s: float) -> TaskTry | None:
    """An extract's first try that ``worker`` has been running for ``since_s`` seconds."""
    with psycopg.connect(dep.metadata_url) as conn:
        rows = conn.execute(
            "select dag_id, task_id, run_id, try_number, state, hostname, start_date, end_date "
            "from task_instance where state = 'running' and try_number = 1 "
            "and dag_id = any(%s) and start_date < now() - make_interval(secs => %s)",
            (EXTRACTS, since_s),
        ).fetchall()
    ran = worker_tries(dep)
    for row in rows:
        task = TaskTry(*row)
        if ran.get((task.dag_id, task.task_id, task.run_id, task.try_number)) == worker:
            return task
    return None


@pytest.fixture(scope="module")
def celery(tmp_path_factory, server_url):
    root = tmp_path_factory.mktemp("celery")
    with celery_broker(int(BROKER_DB)) as broker:
        settings = {**CELERY_SETTINGS, **broker}
        with deployment(root, server_url, executor="celery", extra_env=settings) as dep:
            yield dep


@dataclass(frozen=True)
class CleanChain:
    """The first chain of the deployment and the raw and marts tables it left."""

    run: ChainRun
    digests: dict[str, tuple[int, str]]


@pytest.fixture(scope="module")
def clean_chain(celery: Deployment) -> CleanChain:
    run = run_chain(celery)
    print(f"clean chain on Celery: {run.wall_s:.0f}s")
    return CleanChain(run, warehouse_digests(celery.warehouse_url))


def test_a_clean_chain_runs_on_both_workers_and_sends_one_report(
    celery: Deployment, clean_chain: CleanChain
):
    tries = task_tries(celery.metadata_url, clean_chain.run)
    workers = {task: worker_of(celery, task) for task in tries}
    assert None not in workers.values(), [t for t, w in workers.items() if w is None]
    assert set(workers.values()) == {"worker-1", "worker-2"}, workers
    assert all(task.state == "success" for task in tries), tries
    assert len(_reports(celery.outbox)) == 1
    reference = clean_chain.digests
    assert {name.split(".")[0] for name in reference} >= {"marts", "raw_hubspot"}
    assert reference["marts.fct_funnel"][0] > 0 and reference["raw_hubspot.contacts"][0] > 0


@pytest.mark.browser
@pytest.mark.usefixtures("chromium")
def test_the_ui_shows_every_dag_with_its_last_run_succeeded(
    celery: Deployment, clean_chain: CleanChain, tmp_path: Path
):
    from revops.orchestration import service

    settings = celery.airflow.settings
    screenshot = tmp_path / "airflow-dags.png"
    states = latest_run_states(settings.ui_url, service.admin_password(settings), screenshot)
    assert states == {dag_id: "success" for dag_id in DAGS}
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {screenshot}")


def test_a_killed_worker_is_retried_on_the_other_and_the_tables_equal_the_clean_chains(
    celery: Deployment, clean_chain: CleanChain
):
    reference = clean_chain.digests
    # the same chain from an empty warehouse, worker-1 killed while it runs an extract
    reset_warehouse(celery)
    started = time.monotonic()
    victim: TaskTry | None = None
    result: dict = {}
    chain = Thread(target=_run_into, args=(celery, result), daemon=True)
    chain.start()
    while victim is None and chain.is_alive() and time.monotonic() - started < 300:
        victim = _running_extract_on(celery, "worker-1", since_s=1.0)
        if victim is None:
            time.sleep(0.5)
    if "error" in result:
        raise result["error"]
    assert victim is not None, "worker-1 ran no extract long enough to be killed mid-task"
    killed = _kill_like_a_lost_machine(celery, "worker-1")
    print(f"killed worker-1 ({len(killed)} processes) while it ran {victim.task_id}")
    chain.join(timeout=900)
    assert not chain.is_alive(), "the chain did not finish after the kill"
    if "error" in result:
        raise result["error"]
    run = result["run"]
    print(f"chain with a killed worker: {run.wall_s:.0f}s")

    tries = task_tries(celery.metadata_url, run)
    of_victim = [t for t in tries if (t.dag_id, t.task_id) == (victim.dag_id, victim.task_id)]
    final = max(of_victim, key=lambda t: t.try_number)
    assert final.state == "success" and final.try_number > 1, of_victim
    assert worker_of(celery, final) == "worker-2", (final, worker_tries(celery))
    first = min(of_victim, key=lambda t: t.try_number)
    assert first.state == "failed", of_victim  # failed by the heartbeat timeout, not finished
    after = warehouse_digests(celery.warehouse_url)
    differ = sorted(t for t in set(after) | set(reference) if after.get(t) != reference.get(t))
    assert not differ, {t: (reference.get(t), after.get(t)) for t in differ}


def _run_into(dep: Deployment, result: dict) -> None:
    """Run the chain (in a thread, while the test kills a worker); its run or its error."""
    try:
        result["run"] = run_chain(dep)
    except BaseException as err:  # pytest.fail raises outcomes.Failed, a BaseException
        result["error"] = err
