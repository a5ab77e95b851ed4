"""A real Airflow for integration tests: ``revops airflow start`` on a temporary home.

:func:`running_airflow` starts the service (api-server, dag-processor, scheduler, triggerer,
Celery workers with the celery executor) with its metadata in a new database on a real
PostgreSQL server (``REVOPS_TEST_AIRFLOW_DB_SERVER``, default the machine's PostgreSQL 15 at
127.0.0.1:5432), and always stops it: every process of the service is gone afterwards, or the
test fails. :class:`AirflowHandle` drives it through the REST API.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from warehouse_checks import new_database

from revops.orchestration import service

DB_SERVER_ENV = "REVOPS_TEST_AIRFLOW_DB_SERVER"
DEFAULT_DB_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
FINISHED = {"success", "failed"}
TEST_TUNING = {
    # the DAG files do not change during a test: parse them at start and not again (the
    # service re-parses each file every minute, and the transform DAG's parse imports Cosmos;
    # on 2 cores, with three services running at once, that was CPU the tasks waited for)
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3600",
}
"""Airflow settings a test service runs with on top of the service's own tuning."""


def worker_index() -> int:
    """This pytest-xdist worker's number (``gw2`` -> 2); 0 when the tests run in one process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


def free_port_block(size: int, start: int | None = None) -> int:
    """The first port P from ``start`` with P .. P+size-1 all free on 127.0.0.1.

    By default each pytest-xdist worker searches its own range (18080 + 200 per worker): a
    block is only checked free, and two workers checking at once would pick the same one.
    """
    if start is None:
        start = 18080 + 200 * worker_index()
    for base in range(start, 60000, size):
        socks = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free block of ports on 127.0.0.1")


@contextmanager
def airflow_metadata_db() -> Iterator[str]:
    """A new database for Airflow's metadata on a real PostgreSQL server, dropped afterwards."""
    server = os.environ.get(DB_SERVER_ENV, DEFAULT_DB_SERVER)
    try:
        psycopg.connect(server, connect_timeout=5).close()
    except psycopg.OperationalError as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL server for Airflow's metadata at {server}: {err}")
    with new_database(server, "revops_airflow") as url:
        yield url


def processes_of(home: Path) -> list[str]:
    """Processes on this machine whose environment has ``AIRFLOW_HOME=<home>`` (pid and cmd)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name} {cmd.strip()}")
        except OSError:
            continue
    return found


@dataclass
class AirflowHandle:
    """A running service and a REST client for it."""

    settings: service.Settings
    api: service.Api
    _poll: dict[str, dict[str, list[dict]]] | None = field(default=None, init=False, repr=False)
    """Inside a poll of :meth:`wait`: every DAG's runs, read once at the poll's first
    :meth:`runs` (key ``"runs"``); None outside a poll."""

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed these DAGs (fail on import errors)."""

        def parsed() -> bool:
            errors = self.api.get("/importErrors")["import_errors"]
            assert not errors, "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
            known = {d["dag_id"] for d in self.api.get("/dags?limit=100")["dags"]}
            return set(dag_ids) <= known

        self.wait(f"the DAGs {', '.join(dag_ids)} to be parsed", parsed, timeout, [])

    def unpause(self, dag_id: str) -> None:
        self.api.patch(f"/dags/{dag_id}", {"is_paused": False})

    def mark_due_run_done(self, dag_id: str) -> datetime | None:
        """Record the DAG's due timed run as done, so unpausing does not start it.

        A timetable with ``catchup=False`` runs its latest due interval the moment the DAG is
        unpaused; on a fresh deployment that run finds an empty warehouse. A deployment that has
        been running has had it already: a run at that logical date, marked successful, says so
        (the scheduler never creates a second run for a logical date). The logical date, or None.
        """
        due = self.api.get(f"/dags/{dag_id}")["next_dagrun_logical_date"]
        if due is None or datetime.fromisoformat(due) > datetime.now(UTC):
            return None
        moment = datetime.fromisoformat(due)
        run_id = self.trigger(dag_id, logical_date=moment)
        self.api.patch(f"/dags/{dag_id}/dagRuns/{run_id}", {"state": "success"})
        return moment

    def trigger(
        self,
        dag_id: str,
        logical_date: datetime | None = None,
        interval: tuple[datetime, datetime] | None = None,
    ) -> str:
        """Trigger a manual run (with this logical date and data interval); its run id."""
        body: dict[str, Any] = {"logical_date": logical_date.isoformat() if logical_date else None}
        if interval:
            body["data_interval_start"] = interval[0].isoformat()
            body["data_interval_end"] = interval[1].isoformat()
        return self.api.post(f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs, oldest first (inside a poll of :meth:`wait`, as the poll read them)."""
        if self._poll is None:
            return self._every_run().get(dag_id, [])
        if "runs" not in self._poll:
            self._poll["runs"] = self._every_run()
        return self._poll["runs"].get(dag_id, [])

    def _every_run(self) -> dict[str, list[dict]]:
        """Every DAG's runs, oldest first, in as few requests as the page limit allows (one
        batch request instead of one per DAG: a poll every 2 s of eight DAGs kept the API
        server busier than the tasks' own calls)."""
        found: dict[str, list[dict]] = {}
        offset = 0
        while True:
            answer = self.api.post(
                "/dags/~/dagRuns/list",
                {"order_by": "run_after", "page_offset": offset, "page_limit": 100},
            )
            for run in answer["dag_runs"]:
                found.setdefault(run["dag_id"], []).append(run)
            offset += len(answer["dag_runs"])
            if not answer["dag_runs"] or offset >= answer["total_entries"]:
                return found

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def describe(self, dag_ids: list[str]) -> str:
        """Every run of these DAGs with its state (for failure messages)."""
        lines = []
        for dag_id in dag_ids:
            for run in self.runs(dag_id):
                lines.append(
                    f"{dag_id} {run['dag_run_id']} {run['run_type']} {run['state']} "
                    f"interval {run['data_interval_start']}..{run['data_interval_end']}"
                )
        return "\n".join(lines) or "no DAG runs"

    def wait(
        self,
        what: str,
        done: Callable[[], bool],
        timeout: float,
        dag_ids: list[str],
        poll: float = 2.0,
    ) -> float:
        """Poll ``done`` until true; fail naming ``what`` and every run's state. Seconds taken."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            self._poll = {}  # done() reads every DAG's runs once per poll, if at all
            try:
                if done():
                    return time.monotonic() - began
            finally:
                self._poll = None
            time.sleep(poll)
        pytest.fail(
            f"timed out after {timeout:.0f}s waiting for {what}\n{self.describe(dag_ids)}\n"
            f"service logs under {self.settings.home / 'logs'}"
        )


@contextmanager
def running_airflow(
    home: Path, db_url: str, executor: str = "local", workers: int = 2
) -> Iterator[AirflowHandle]:
    """Start the service on free loopback ports; stop it and check no process is left."""
    port = free_port_block(2 + 1 + workers)
    settings = service.Settings(
        home=home,
        port=port,
        executor=executor,
        db_url=db_url,
        broker_url=os.environ.get("REVOPS_CELERY_BROKER_URL", service.DEFAULT_BROKER),
        workers=workers,
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in TEST_TUNING.items():
                patch.setenv(key, value)
            service.start(settings, progress=print)
        yield AirflowHandle(settings, service.Api(settings))
    finally:
        service.stop(settings, progress=print)
        left = processes_of(home)
        assert not left, "Airflow processes left after stop:\n" + "\n".join(left)
