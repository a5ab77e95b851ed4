"""dbt inside revops: the warehouse connection dbt's profile reads, and one way to run dbt.

The Airflow DAG runs dbt through Astronomer Cosmos; ``revops transform`` and the tests call
:func:`run_dbt`, which runs the same project with the same profile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from revops.config import dbt_project_dir
from revops.warehouse import split_url


class DbtError(RuntimeError):
    """A dbt command failed; the message lists what failed."""


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """The variables ``dbt_project/profiles.yml`` reads, for the given warehouse."""
    parts = split_url(warehouse_url)
    return {
        "REVOPS_PG_HOST": parts.host,
        "REVOPS_PG_PORT": str(parts.port),
        "REVOPS_PG_USER": parts.user,
        "REVOPS_PG_PASSWORD": parts.password,
        "REVOPS_PG_DBNAME": parts.dbname,
    }


def run_dbt(args: Sequence[str], warehouse_url: str, quiet: bool = False) -> None:
    """Run one dbt command (e.g. ``["build"]``) on the project against the warehouse."""
    from dbt.cli.main import dbtRunner

    project = str(dbt_project_dir())
    cli = [
        *args,
        "--project-dir",
        project,
        "--profiles-dir",
        project,
    ]
    flags = ["--quiet"] if quiet else []
    # dbt's profile reads the connection from the environment: set it for this call only, so a
    # later call in the same process (another warehouse, a test) never inherits it
    connection = dbt_env(warehouse_url)
    saved = {name: os.environ.get(name) for name in connection}
    os.environ.update(connection)
    try:
        result = dbtRunner().invoke([*flags, *cli])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if result.success:
        return
    failed = []
    for node_result in getattr(result.result, "results", None) or []:
        if str(node_result.status) in ("error", "fail"):
            failed.append(f"{node_result.node.name}: {node_result.message}")
    detail = "; ".join(failed) if failed else str(result.exception or "see the dbt log above")
    detail = detail.strip().replace("\n", " ")
    raise DbtError(f"dbt {' '.join(args)} failed: {detail}")
