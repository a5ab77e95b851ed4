"""Benchmark: the daily run through the real Airflow scheduler, LocalExecutor and Celery.

For each executor, ``revops airflow start`` on a temporary home (metadata in a new database on
the machine's PostgreSQL, ``REVOPS_TEST_AIRFLOW_DB_SERVER``; Celery with the machine's Redis and
two workers), the vendor simulator at ``--scale`` (default 1, the demo's) and a new warehouse
database on an embedded PostgreSQL. The six extracts are unpaused, the scheduler runs their
daily interval, then transform and publish on the assets. Measured:

- **wall**: from unpausing the extracts to the publish run's end (the metadata DB's end_date);
- **task time**: the sum of every task try's duration in those runs (task_instance and
  task_instance_history start/end dates);
- **overhead**: wall / task time (the goal's measure). The six extracts overlap, so task
  time can exceed wall; the critical path (the slowest extract, then transform's and publish's
  tasks in sequence) is printed too, and wall / critical path: what scheduling adds.

Goal: wall under 10 minutes and overhead under 1.5x.

    python scripts/bench_airflow.py                       # make bench
    python scripts/bench_airflow.py --scale 0.1 --executors local   # a quicker look
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # the chain driver the integration tests use

GOAL_WALL_S = 600.0
GOAL_OVERHEAD = 1.5


@dataclass(frozen=True)
class Result:
    executor: str
    wall_s: float
    task_s: float
    critical_s: float
    tries: int

    @property
    def overhead(self) -> float:
        return self.wall_s / self.task_s if self.task_s else float("inf")


def critical_path_s(tries: list) -> float:
    """The slowest extract plus transform's and publish's tasks, which run one after another."""
    extracts = [t.duration_s for t in tries if t.dag_id.startswith("extract_")]
    rest = sum(t.duration_s for t in tries if not t.dag_id.startswith("extract_"))
    return max(extracts, default=0.0) + rest


def bench(executor: str, root: Path, warehouse_server: str, scale: float, workers: int) -> Result:
    from airflow_chain import celery_broker, deployment, run_chain, task_tries

    with ExitStack() as stack:
        extra: dict[str, str] = {}
        if executor == "celery":
            extra = stack.enter_context(celery_broker())
        dep = stack.enter_context(
            deployment(
                root / executor,
                warehouse_server,
                executor=executor,
                workers=workers,
                scale=scale,
                extra_env=extra,
            )
        )
        chain = run_chain(dep, timeout=1800)
        tries = task_tries(dep.metadata_url, chain)
    for t in sorted(tries, key=lambda t: t.start_date or chain.started):
        began = (t.start_date - chain.started).total_seconds() if t.start_date else float("nan")
        print(
            f"  {t.dag_id}.{t.task_id} try {t.try_number}: {t.state}, "
            f"+{began:.0f}s for {t.duration_s:.0f}s"
        )
    task_s = sum(t.duration_s for t in tries)
    label = f"celery, {workers} workers" if executor == "celery" else executor
    return Result(label, chain.wall_s, task_s, critical_path_s(tries), len(tries))


def report(results: list[Result], scale: float) -> str:
    lines = [
        f"daily run through the Airflow scheduler at scale {scale:g} "
        f"(goal: wall < {GOAL_WALL_S / 60:.0f} min, overhead < {GOAL_OVERHEAD}x)",
        f"{'executor':<18} {'wall':>8} {'task time':>10} {'overhead':>9} "
        f"{'critical path':>14} {'wall/critical':>14} {'tries':>6}  goal",
    ]
    for r in results:
        met = r.wall_s < GOAL_WALL_S and r.overhead < GOAL_OVERHEAD
        lines.append(
            f"{r.executor:<18} {r.wall_s:>7.0f}s {r.task_s:>9.0f}s {r.overhead:>8.2f}x "
            f"{r.critical_s:>13.0f}s {r.wall_s / r.critical_s:>13.2f}x {r.tries:>6}  "
            f"{'met' if met else 'NOT met'}"
        )
    lines.append(
        "overhead = wall / sum of task durations (below 1 when the extracts overlap); "
        "wall / critical path = what the scheduler, asset triggers and executor hand-offs add "
        "to the tasks that must run one after another"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--executors", default="local,celery")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument(
        "--warehouse-server",
        help="a PostgreSQL server URL for the warehouse database (default: an embedded one)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the Airflow homes and logs")
    args = parser.parse_args(argv)

    from revops.warehouse import EmbeddedWarehouse

    root = Path(tempfile.mkdtemp(prefix="revops-bench-airflow-"))
    embedded = None
    try:
        server = args.warehouse_server
        if not server:
            embedded = EmbeddedWarehouse(root / "warehouse")
            server = embedded.start()
        results = []
        for executor in args.executors.split(","):
            print(f"--- {executor}", flush=True)
            result = bench(executor, root, server, args.scale, args.workers)
            print(f"{executor}: wall {result.wall_s:.0f}s, task time {result.task_s:.0f}s")
            results.append(result)
        print()
        print(report(results, args.scale))
        return 0  # a benchmark reports; the goal column says whether it was met
    finally:
        if embedded is not None:
            embedded.stop()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
