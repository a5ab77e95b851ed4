"""Modules revops' Airflow tasks import, loaded once in the processes that fork the tasks.

Airflow runs each task in a process forked from the LocalExecutor's workers (themselves forked
from the scheduler) or from a Celery worker's pool. A module the forking process has imported
is there in every task it forks; one it has not is imported again by every task: dlt, pyarrow
and pandas by each extract, dbt and Cosmos by each dbt task, Great Expectations by the gate
(about 0.8 s, 2.3 s and 2.2 s of CPU per task on a 2-core machine). ``airflow_local_settings``
(``airflow_config/`` in the repository; Airflow imports it at start in every process) calls
:func:`preload`, which imports them in the scheduler and in Celery workers only: the API
server, triggerer and DAG processor fork no tasks. A module that fails to import is logged and
skipped; the task that needs it fails as it would have without the preload.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

PRELOADED = (
    "revops.quality",  # first: sets Great Expectations' logger before GX is imported
    "revops.sources.base",  # dlt and its REST client
    "pyarrow",
    "pandas",  # pyarrow imports it at the first array it builds
    "revops.pipeline",
    "great_expectations",
    "dbt.cli.main",
    "cosmos.operators.local",
)
"""What is imported, in this order."""

FORKING_COMMANDS = (("scheduler",), ("celery", "worker"))
"""The ``airflow`` commands whose processes fork task processes."""


def forks_tasks(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (``sys.argv`` of an ``airflow`` process) starts a process that forks
    task processes."""
    args = [a for a in argv[1:] if not a.startswith("-")]
    return any(tuple(args[: len(command)]) == command for command in FORKING_COMMANDS)


def preload(argv: Sequence[str] | None = None) -> list[str]:
    """Import :data:`PRELOADED` if this process forks tasks; the names imported."""
    if not forks_tasks(sys.argv if argv is None else argv):
        return []
    loaded = []
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception as error:  # the task that needs it fails with its own error
            log.warning("revops: could not preload %s for the tasks (%s)", name, error)
            continue
        loaded.append(name)
    return loaded
