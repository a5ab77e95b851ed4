"""dbt inside revops: the warehouse connection dbt's profile reads, and one way to run dbt.

The Airflow DAG runs dbt through Astronomer Cosmos; ``revops transform`` and the tests call
:func:`run_dbt`, which runs the same project with the same profile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from revops.config import dbt_project_dir
from revops.warehouse import Warehouse


class DbtError(RuntimeError):
    """A dbt command failed; the message lists what failed."""


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """The environment of a dbt call on the given warehouse: ``REVOPS_PG_*`` that
    ``dbt_project/profiles.yml`` reads (host may be a unix-socket directory; sslmode and the
    other options dbt's profile has a field for) and libpq's ``PG*`` variables for the rest
    (:meth:`revops.warehouse.Warehouse.dbt_env`)."""
    return Warehouse.parse(warehouse_url).dbt_env()


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


# -- when a build is due -----------------------------------------------------------------------

MARTS_BUILDS_TABLE = "revops_meta.marts_builds"
_BUILDS_DDL = f"""
create table if not exists {MARTS_BUILDS_TABLE} (
    build_id bigint generated always as identity primary key,
    run_id text not null,
    raw_loaded_through timestamptz not null,
    built_at timestamptz not null default clock_timestamp()
)
"""


def raw_loaded_through(conn) -> datetime | None:
    """When the newest completed load into any ``raw_<system>`` schema was committed (dlt's
    ``_dlt_loads``); None when nothing has been extracted yet."""
    schemas = [
        name
        for (name,) in conn.execute(
            "select table_schema from information_schema.tables "
            "where table_schema like 'raw\\_%%' and table_name = '_dlt_loads'"
        )
    ]
    if not schemas:
        return None
    from psycopg import sql

    union = sql.SQL(" union all ").join(
        sql.SQL("select max(inserted_at) as at from {}._dlt_loads where status = 0").format(
            sql.Identifier(schema)
        )
        for schema in schemas
    )
    return conn.execute(sql.SQL("select max(at) from ({}) as loads").format(union)).fetchone()[0]


def _ensure_builds_table(conn) -> None:
    conn.execute("create schema if not exists revops_meta")
    conn.execute(_BUILDS_DDL)


def last_build(conn) -> datetime | None:
    """The ``raw_loaded_through`` of the newest recorded marts build (None: never built)."""
    _ensure_builds_table(conn)
    return conn.execute(f"select max(raw_loaded_through) from {MARTS_BUILDS_TABLE}").fetchone()[0]


def record_build(conn, run_id: str, loaded_through: datetime) -> None:
    """Record that the marts were built on every raw load up to ``loaded_through``."""
    _ensure_builds_table(conn)
    conn.execute(
        f"insert into {MARTS_BUILDS_TABLE} (run_id, raw_loaded_through) values (%s, %s)",
        (run_id, loaded_through),
    )


def build_due(conn, timed: bool) -> tuple[bool, str, datetime | None]:
    """Whether a transform run should build, why, and the raw loads it will build on.

    Nothing extracted yet: no build (a fresh deployment's first timed run would fail on empty
    raw schemas and alert for nothing). A timed run (the daily fallback time) builds only when
    some raw load is newer than the last build, so a day whose six extracts already triggered a
    build does not build twice. A run triggered by raw assets, or by hand, always builds.
    """
    loaded = raw_loaded_through(conn)
    if loaded is None:
        return False, "nothing has been extracted yet: no raw_<system> load to build on", None
    if not timed:
        return True, f"triggered by new raw data or by hand (raw loaded through {loaded})", loaded
    built = last_build(conn)
    if built is not None and loaded <= built:
        return False, f"the marts already include every raw load (through {loaded})", loaded
    return True, f"raw data loaded through {loaded}, marts built through {built}", loaded
