"""dbt inside revops: the warehouse connection dbt's profile reads, and one way to run dbt.

The Airflow DAG runs dbt through Astronomer Cosmos; ``revops transform`` and the tests call
:func:`run_dbt`, which runs the same project with the same profile.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

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


# -- seeds: loaded when they change ------------------------------------------------------------
# dbt reloads every seed on every build (truncate, then inserts built in Python): the 27,000
# FX rates took several seconds of each daily run and of every test build, for files that change
# a few times a year. A build excludes the seeds this warehouse already holds as the project has
# them (:func:`seeds_plan`); a seed whose file or configuration changed, or whose table is
# missing or lost rows, is loaded and tested by the build as before, and recorded after it
# (:func:`record_seeds`).

SEED_LOADS_TABLE = "revops_meta.seed_loads"
_SEED_LOADS_DDL = f"""
create table if not exists {SEED_LOADS_TABLE} (
    seed text primary key,
    digest text not null,
    relation text not null,
    row_count bigint not null,
    loaded_at timestamptz not null default clock_timestamp()
)
"""


@dataclass(frozen=True)
class Seed:
    """One seed of the dbt project: its file (relative to the project), the table dbt loads it
    into, and a digest of what loading it depends on."""

    name: str
    file: str
    relation: str
    digest: str


def project_seeds() -> dict[str, Seed]:
    """The dbt project's seeds by name. The digest covers the CSV file, ``dbt_project.yml`` and
    every property file beside the seeds; the table is in the project's seed schema
    (``dbt_project.yml``: ``seeds: <project>: +schema``, used as it is by
    macros/generate_schema_name.sql)."""
    root = dbt_project_dir()
    with (root / "dbt_project.yml").open() as handle:
        project = yaml.safe_load(handle)
    folders = [root / path for path in project.get("seed-paths") or ["seeds"]]
    schema = ((project.get("seeds") or {}).get(project["name"]) or {}).get("+schema", "marts")
    config = hashlib.sha256()
    for path in [root / "dbt_project.yml", *sorted(p for f in folders for p in f.rglob("*.yml"))]:
        config.update(f"{path.relative_to(root)}\0".encode() + path.read_bytes() + b"\0")
    return {
        csv.stem: Seed(
            name=csv.stem,
            file=str(csv.relative_to(root)),
            relation=f"{schema}.{csv.stem}",
            digest=hashlib.sha256(config.digest() + csv.read_bytes()).hexdigest(),
        )
        for csv in sorted(p for folder in folders for p in folder.rglob("*.csv"))
    }


def _row_count(conn, relation: str) -> int | None:
    from psycopg import sql

    if conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is None:
        return None
    table = sql.Identifier(*relation.split("."))
    return conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0]


def _ensure_seed_loads_table(conn) -> None:
    conn.execute("create schema if not exists revops_meta")
    conn.execute(_SEED_LOADS_DDL)


def seeds_plan(conn) -> dict[str, Any]:
    """What the next build does with the seeds: ``digests`` and ``relations`` (every seed's,
    for :func:`record_seeds`), ``unchanged`` (the seeds this warehouse holds loaded from the same
    file and configuration, with every row still there) and ``exclude``, a dbt selector for
    ``--exclude`` naming those by file (so a model of the same name is never excluded; empty
    when there are none)."""
    seeds = project_seeds()
    _ensure_seed_loads_table(conn)
    loaded = conn.execute(f"select seed, digest, relation, row_count from {SEED_LOADS_TABLE}")
    unchanged = sorted(
        name
        for name, digest, relation, row_count in loaded.fetchall()
        if name in seeds
        and (seeds[name].digest, seeds[name].relation) == (digest, relation)
        and _row_count(conn, relation) == row_count
    )
    return {
        "digests": {name: seed.digest for name, seed in seeds.items()},
        "relations": {name: seed.relation for name, seed in seeds.items()},
        "unchanged": unchanged,
        "exclude": " ".join(f"path:{seeds[name].file}" for name in unchanged),
    }


def record_seeds(conn, plan: dict[str, Any]) -> list[str]:
    """After a successful build on ``plan`` (:func:`seeds_plan`): record the seeds it loaded
    (all but the unchanged) with the digest planned and their tables' row counts; returns their
    names. A seed whose file changed during the build keeps the planned digest, so the next
    build loads it again."""
    _ensure_seed_loads_table(conn)
    loaded = sorted(set(plan["digests"]) - set(plan["unchanged"]))
    for name in loaded:
        relation = plan["relations"][name]
        count = _row_count(conn, relation)
        if count is None:  # the seed's table is gone (it left the project): nothing to record
            continue
        conn.execute(
            f"insert into {SEED_LOADS_TABLE} (seed, digest, relation, row_count) "
            "values (%s, %s, %s, %s) on conflict (seed) do update set digest = excluded.digest, "
            "relation = excluded.relation, row_count = excluded.row_count, "
            "loaded_at = clock_timestamp()",
            (name, plan["digests"][name], relation, count),
        )
    return loaded
