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

from revops.orchestration import VENDOR_POOLS
from revops.warehouse import PLACEHOLDER_PASSWORD, Warehouse

WAREHOUSE_CONN_ID = "revops_warehouse"
WAREHOUSE_CONN_ENV = "AIRFLOW_CONN_REVOPS_WAREHOUSE"
# PLACEHOLDER_PASSWORD (from revops.warehouse): the connection's password when the URL has none
# (Cosmos requires one); it is read back as "no password"
__all__ = ["PLACEHOLDER_PASSWORD", "POOLS", "VARIABLES", "WAREHOUSE_CONN_ENV", "WAREHOUSE_CONN_ID"]

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
    """The Airflow connection URI (``postgres://``) of a warehouse URL in any libpq form: a
    socket host percent-encoded in the host part, the libpq options as extras, and a password
    (the placeholder when the URL has none)."""
    return Warehouse.parse(url).airflow_connection_uri()


def warehouse_profile_mapping(**profile_args):
    """Cosmos's profile mapping for the connection ``revops_warehouse``, giving dbt inside
    Airflow the same warehouse every other task uses: a socket host, no password (the
    placeholder), sslmode and the other libpq options of the connection's extras."""
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    class WarehouseProfileMapping(PostgresUserPasswordProfileMapping):
        # dbt's postgres profile fields, taken from the connection's extras
        airflow_param_mapping = {
            **PostgresUserPasswordProfileMapping.airflow_param_mapping,
            **{
                name: f"extra.{name}"
                for name in ("sslmode", "sslcert", "sslkey", "sslrootcert", "keepalives_idle")
            },
        }
        required_fields = ["host", "user", "dbname"]

        def _warehouse(self) -> Warehouse:
            conn = self.conn
            return Warehouse.from_airflow_connection(
                json.dumps(
                    {
                        "host": conn.host,
                        "port": conn.port,
                        "login": conn.login,
                        "password": conn.password,
                        "schema": conn.schema,
                        "extra": conn.extra_dejson,
                    }
                )
            )

        @property
        def profile(self) -> dict:
            found = self._warehouse()
            profile = dict(super().profile)
            for name in ("connect_timeout", "application_name"):
                if found.option(name):
                    profile[name] = found.option(name)
            return profile

        @property
        def env_vars(self) -> dict[str, str]:
            found = self._warehouse()
            exclude = (
                "sslmode",
                "sslcert",
                "sslkey",
                "sslrootcert",
                "keepalives_idle",
                "connect_timeout",
                "application_name",
            )
            env = found.libpq_env(exclude=exclude)
            env[self.get_env_var_name("password")] = found.password or ""
            if self.disable_event_tracking:
                env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
                env["DO_NOT_TRACK"] = "1"
            return env

    return WarehouseProfileMapping(conn_id=WAREHOUSE_CONN_ID, profile_args=profile_args)


def dbt_parse_cache(dag_id: str) -> Path:
    """Where Cosmos keeps dbt's partial-parse state (``target/partial_parse.msgpack`` and the
    manifest) between the dbt tasks and runs of ``dag_id``: ``<REVOPS_HOME>/dbt/<dag_id>``.

    Cosmos runs each dbt task in a new temporary copy of the project; without a cache directory
    every task parsed the whole project from scratch (dbt's "saved manifest not found. Starting
    full parse"), the largest fixed cost of a dbt task. With it, dbt re-parses only the files
    that changed, and parses in full whenever its own checks say the saved state is stale (dbt
    version, vars, profile or connection, ``env_var`` values). Computed when the DAG file is
    parsed; created by Cosmos when a task first writes it.
    """
    from revops.config import state_dir

    return state_dir() / "dbt" / dag_id


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
