"""revops: one set of numbers for Sales and Marketing."""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

DLT_AIRFLOW_SECRETS_ENV = "PROVIDERS__ENABLE_AIRFLOW_SECRETS"
"""dlt's switch for reading its settings from Airflow Variables (on by default in dlt 1.x)."""
_DLT_AIRFLOW_PROVIDER = "Airflow Secrets TOML Provider"


def dlt_without_airflow_variables() -> None:
    """Keep dlt from reading its configuration through Airflow Variables.

    dlt 1.x adds an Airflow Variables provider whenever ``airflow`` is importable
    (``ConfigProvidersConfiguration.enable_airflow_secrets``, default true): every setting dlt
    looks up (679 for one small extract) becomes a ``Variable.get``. Outside Airflow each is a
    logged exception against a missing metadata DB, and importing Airflow creates
    ``~/airflow/airflow.db``; inside Airflow each is a metadata-DB round trip. revops passes no
    setting through Airflow Variables (its settings are ``REVOPS_*``, connections and dlt's
    environment variables), so it is off in every process that imports revops. If dlt already
    set up its providers in this process, the Airflow one is dropped from them.
    """
    os.environ[DLT_AIRFLOW_SECRETS_ENV] = "false"
    if "dlt" not in sys.modules:
        return
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

    container = Container()
    if PluggableRunContext in container:
        providers = container[PluggableRunContext].providers.providers
        providers[:] = [p for p in providers if p.name != _DLT_AIRFLOW_PROVIDER]


dlt_without_airflow_variables()
