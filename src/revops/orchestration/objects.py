"""The Airflow objects the project's DAGs need, declared as code and applied on every start.

- pools ``vendor_<system>``: one slot each, so one extract per vendor runs at a time (backfills
  included) and each vendor's rate limit holds;
- the connection ``revops_warehouse``: the warehouse every task and dbt (through Cosmos) uses,
  given to every Airflow process as ``AIRFLOW_CONN_REVOPS_WAREHOUSE`` (environment
  connections are never written to the metadata DB, so there is nothing to keep in sync);
- variables: none yet; :data:`VARIABLES` is where they go.

``revops airflow start`` runs ``python -m revops.orchestration.objects`` with the service's
environment: it migrates the metadata DB when it is not current (``airflow db migrate``) and
creates or updates the pools and variables, so running it twice changes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from revops.orchestration import VENDOR_POOLS

WAREHOUSE_CONN_ID = "revops_warehouse"
WAREHOUSE_CONN_ENV = "AIRFLOW_CONN_REVOPS_WAREHOUSE"
# trust-auth servers (the embedded warehouse, the CI PostgreSQL) take no password, but Cosmos's
# PostgresUserPasswordProfileMapping requires one: any value works, the server ignores it
PLACEHOLDER_PASSWORD = "trust-auth-ignores-this"

POOLS: dict[str, dict] = {
    name: {
        "slots": slots,
        "description": f"extracts from {name.removeprefix('vendor_')}: one at a time "
        "(the vendor's rate limit)",
        "include_deferred": False,
    }
    for name, slots in VENDOR_POOLS.items()
}
VARIABLES: dict[str, str] = {}


def warehouse_connection_uri(url: str) -> str:
    """The Airflow connection URI (``postgres://``) for a warehouse URL, with a password."""
    parts = urlsplit(url)  # username and password come back still percent-encoded
    user = quote(unquote(parts.username or "postgres"), safe="")
    password = quote(unquote(parts.password or PLACEHOLDER_PASSWORD), safe="")
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}:{parts.port or 5432}"
    return urlunsplit(("postgres", netloc, parts.path or "/postgres", parts.query, ""))


def apply() -> dict:
    """Migrate the metadata DB if needed; create or update the pools and variables.

    Runs inside a process configured for the service (AIRFLOW_HOME, the metadata DB URL).
    """
    from airflow.models import Variable
    from airflow.models.pool import Pool
    from airflow.utils import db

    migrated = False
    try:
        db.check_migrations(timeout=1)
    except Exception:  # not current, or a fresh database without Airflow's tables
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
        migrated = True
    for name, pool in POOLS.items():
        Pool.create_or_update_pool(
            name=name,
            slots=pool["slots"],
            description=pool["description"],
            include_deferred=pool["include_deferred"],
        )
    for key, value in VARIABLES.items():
        Variable.set(key, value)
    return {"migrated": migrated, "pools": sorted(POOLS), "variables": sorted(VARIABLES)}


if __name__ == "__main__":
    print(json.dumps(apply()))
