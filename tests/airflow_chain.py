"""The daily chain through a real Airflow: a deployment to run it on and a driver that runs it.

:func:`deployment` starts everything the chain needs on loopback: a new warehouse database, the
vendor simulator (a small company), a local SMTP server and ``revops airflow start`` (through
:func:`airflow_fixtures.running_airflow`, metadata in a new database on the machine's
PostgreSQL). :func:`run_chain` runs the six extracts, then transform and publish on their assets,
through the scheduler and returns when publish succeeded. The Celery test (with the UI browser
test on its deployment) and ``scripts/bench_airflow.py`` share them; the metadata DB and the
workers' logs say which worker ran which task (:func:`task_tries`, :func:`worker_of`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from airflow_fixtures import AirflowHandle, airflow_metadata_db, running_airflow
from warehouse_checks import new_database

from revops.orchestration import EXTRACT_SYSTEMS, PIPELINE_DAGS

EXTRACTS = [f"extract_{system}" for system in EXTRACT_SYSTEMS]
DAGS = list(PIPELINE_DAGS)
LEADERSHIP = "leadership@example.com"
ONCALL = "data-oncall@example.com"


@dataclass
class Deployment:
    """A running Airflow wired to its own warehouse, simulator and mail catcher."""

    airflow: AirflowHandle
    metadata_url: str
    warehouse_url: str
    revops_home: Path
    outbox: Path
    env: dict[str, str] = field(default_factory=dict)
    chains: int = 0

    def worker_log(self, worker: str) -> Path:
        return self.airflow.settings.log_file(worker)


@dataclass(frozen=True)
class ChainRun:
    """One run of the chain: when it was started and the runs it made (dag_id -> run_id)."""

    started: datetime
    finished: datetime
    runs: dict[str, str]

    @property
    def wall_s(self) -> float:
        return (self.finished - self.started).total_seconds()


@contextmanager
def deployment(
    root: Path,
    warehouse_server: str,
    executor: str = "local",
    workers: int = 2,
    scale: float = 0.03,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """Start the warehouse database, simulator, mail catcher and Airflow; stop them all after.

    ``extra_env`` (Airflow settings such as the heartbeat timeout) goes to every Airflow
    process; the test process's own environment is restored once Airflow has started.
    """
    from revops.reports.mailcatcher import MailCatcher
    from revops.simulator import Company, SimulatorServer
    from revops.transform import dbt_env

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    company = Company.generate(seed=7, scale=scale, as_of=today)
    outbox = root / "outbox"
    revops_home = root / "state"
    with ExitStack() as stack:
        warehouse = stack.enter_context(new_database(warehouse_server, "revops_chain"))
        simulator = stack.enter_context(SimulatorServer(company).start())
        catcher = stack.enter_context(MailCatcher(outbox))
        metadata = stack.enter_context(airflow_metadata_db())
        env = {
            **simulator.env(),
            **dbt_env(warehouse),
            "REVOPS_WAREHOUSE_URL": warehouse,
            "REVOPS_HOME": str(revops_home),
            "REVOPS_OUT_DIR": str(root / "out"),
            "REVOPS_SMTP_HOST": "127.0.0.1",
            "REVOPS_SMTP_PORT": str(catcher.port),
            "REVOPS_SMTP_STARTTLS": "false",
            "REVOPS_REPORT_SENDER": "revops@example.com",
            "REVOPS_REPORT_RECIPIENTS": LEADERSHIP,
            "REVOPS_ALERT_RECIPIENTS": ONCALL,
            "REVOPS_REPORT_EDITIONS": "weekly",
            **(extra_env or {}),
        }
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            handle = stack.enter_context(
                running_airflow(root / "airflow", metadata, executor=executor, workers=workers)
            )
        yield Deployment(handle, metadata, warehouse, revops_home, outbox, env)


@contextmanager
def celery_broker(db: int = 11) -> Iterator[dict[str, str]]:
    """Settings for a Celery run on the machine's Redis that collide with no other run.

    Redis database ``db`` (not 0, the service's default) and a queue named for this run, which
    the workers consume and the executor sends to; the queue's keys (and unacked messages of a
    killed worker) are deleted afterwards. Skips when Redis does not answer, except in CI.
    """
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at 127.0.0.1:6379 for the Celery broker: {err}")
    queue = f"revops_test_{uuid.uuid4().hex[:8]}"
    try:
        yield {
            "REVOPS_CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{db}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        }
    finally:
        try:
            for key in client.scan_iter(match=f"*{queue}*"):
                client.delete(key)
            for tag, message in client.hgetall("unacked").items():
                if queue.encode() in message:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
        except redis.RedisError:
            pass


def reset_warehouse(dep: Deployment) -> None:
    """Empty the warehouse and forget dlt's local state: the next chain starts from nothing."""
    parts = urlsplit(dep.warehouse_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    shutil.rmtree(dep.revops_home / "dlt", ignore_errors=True)


def _latest_after(airflow: AirflowHandle, dag_id: str, after: datetime) -> dict | None:
    runs = [r for r in airflow.runs(dag_id) if datetime.fromisoformat(r["queued_at"]) >= after]
    return runs[-1] if runs else None


def run_chain(dep: Deployment, timeout: float = 900) -> ChainRun:
    """Run the six extracts, then (on their assets) transform and publish; wait for publish.

    The first chain of a deployment unpauses the DAGs: the scheduler runs each extract's due
    daily interval (the day that just ended). Later chains trigger the extracts by hand, which
    infers the same interval. Fails naming every run's state when a run fails or time runs out.
    """
    airflow = dep.airflow
    if dep.chains == 0:
        airflow.wait_for_dags(DAGS)
        airflow.mark_due_run_done("revops_transform")  # its 04:00 run is due: not this chain's
        airflow.unpause("revops_publish")
        airflow.unpause("revops_transform")
        started = datetime.now(UTC)
        for dag_id in EXTRACTS:
            airflow.unpause(dag_id)
    else:
        started = datetime.now(UTC)
        for dag_id in EXTRACTS:
            airflow.trigger(dag_id)
    dep.chains += 1

    def published() -> bool:
        for dag_id in EXTRACTS:
            run = _latest_after(airflow, dag_id, started)
            if run is not None and run["state"] == "failed":
                pytest.fail(f"{dag_id} failed\n{airflow.describe(DAGS)}")
        publish = _latest_after(airflow, "revops_publish", started)
        if publish is not None and publish["state"] == "failed":
            pytest.fail(f"revops_publish failed\n{airflow.describe(DAGS)}")
        return publish is not None and publish["state"] == "success"

    airflow.wait("the chain to publish", published, timeout, DAGS)
    runs = {dag_id: _latest_after(airflow, dag_id, started) for dag_id in DAGS}
    missing = [dag_id for dag_id, run in runs.items() if run is None]
    assert not missing, f"no run of {missing} in this chain\n{airflow.describe(DAGS)}"
    finished = datetime.fromisoformat(runs["revops_publish"]["end_date"])
    return ChainRun(started, finished, {d: r["dag_run_id"] for d, r in runs.items()})


# -- what ran where --------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskTry:
    """One try of one task instance, from the metadata DB."""

    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    state: str | None
    hostname: str | None
    start_date: datetime | None
    end_date: datetime | None

    @property
    def duration_s(self) -> float:
        if self.start_date is None or self.end_date is None:
            return 0.0
        return (self.end_date - self.start_date).total_seconds()


def task_tries(metadata_url: str, chain: ChainRun) -> list[TaskTry]:
    """Every try of every task of the chain's runs (current tries and earlier ones)."""
    columns = "dag_id, task_id, run_id, try_number, state, hostname, start_date, end_date"
    pairs = [(dag_id, run_id) for dag_id, run_id in chain.runs.items()]
    with psycopg.connect(metadata_url) as conn:
        rows = []
        for table in ("task_instance", "task_instance_history"):
            rows += conn.execute(
                f"select {columns} from {table} "
                "where (dag_id, run_id) in (select * from unnest(%s::text[], %s::text[]))",
                ([p[0] for p in pairs], [p[1] for p in pairs]),
            ).fetchall()
    tries = [TaskTry(*row) for row in rows]
    return sorted(tries, key=lambda t: (t.dag_id, t.task_id, t.try_number))


_WORKLOAD = re.compile(
    r"Executing workload in Celery: .*?task_id='(?P<task_id>[^']+)'.*?dag_id='(?P<dag_id>[^']+)'"
    r".*?run_id='(?P<run_id>[^']+)'.*?try_number=(?P<try_number>\d+)"
)


def worker_tries(dep: Deployment) -> dict[tuple[str, str, str, int], str]:
    """(dag_id, task_id, run_id, try_number) -> the Celery worker whose log says it ran it.

    Both workers run on this machine, so ``task_instance.hostname`` is the same for both; each
    worker's own log names the workloads it received.
    """
    found: dict[tuple[str, str, str, int], str] = {}
    for worker in dep.airflow.settings.components():
        if not worker.startswith("worker-"):
            continue
        log = dep.worker_log(worker)
        if not log.exists():
            continue
        for match in _WORKLOAD.finditer(log.read_text(errors="replace")):
            key = (match["dag_id"], match["task_id"], match["run_id"], int(match["try_number"]))
            found[key] = worker
    return found


def worker_of(dep: Deployment, task: TaskTry) -> str | None:
    return worker_tries(dep).get((task.dag_id, task.task_id, task.run_id, task.try_number))


# -- the warehouse ---------------------------------------------------------------------------


def warehouse_digests(url: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every table in the raw and marts schemas, the columns that name the
    load or build that wrote a row left out (dlt's ``_dlt_load_id``, ``_dlt_id`` and tables;
    incremental attribution's ``batch_at``): two loads of the same data are equal."""
    out = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where ((table_schema like 'raw\\_%%' and table_schema not like '%%\\_staging') "
            "or table_schema = 'marts') and table_name not like '\\_dlt%%' "
            "and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = [
                f'"{row[0]}"'
                for row in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s and column_name not like '\\_dlt%%' "
                    "and column_name <> 'batch_at' order by 1",
                    (schema, table),
                )
            ]
            out[f"{schema}.{table}"] = conn.execute(
                f"select count(*), md5(string_agg(t.r, '|' order by t.r)) from (select "
                f'row({", ".join(columns)})::text as r from "{schema}"."{table}") t'
            ).fetchone()
    return out
