"""Connector settings: base URLs and credentials from the environment (or an Airflow connection).

Every setting is ``REVOPS_<SYSTEM>_<KEY>``; ``revops simulate env`` prints the set that points
every connector at the vendor simulator. Inside Airflow, a connection ``revops_<system>`` fills
whatever the environment leaves unset (host -> base URL, password -> token or API key, extras ->
the other keys by name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class SettingsError(RuntimeError):
    """A required setting is missing or malformed; the message names it and what to do."""


def env_name(system: str, key: str) -> str:
    """``REVOPS_<SYSTEM>_<KEY>`` for a system such as ``google_ads`` and a key such as ``token``."""
    return f"REVOPS_{system}_{key}".upper()


def setting(
    system: str,
    key: str,
    default: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """One setting's value; a missing required one raises :class:`SettingsError`."""
    environ = os.environ if environ is None else environ
    name = env_name(system, key)
    value = environ.get(name) or default
    if value is None:
        raise SettingsError(
            f"{system}: {name} is not set. Set it to your {system} {key.replace('_', ' ')} "
            "(or run `revops simulate env` to point every connector at the simulator)."
        )
    return value


def apply_airflow_connection(system: str) -> bool:
    """Fill unset ``REVOPS_<SYSTEM>_*`` variables from Airflow connection ``revops_<system>``.

    Returns True when such a connection exists. Called inside Airflow tasks only.
    """
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(f"revops_{system}")
    except Exception:  # no such connection, or not inside Airflow
        return False
    values: dict[str, str] = {}
    if conn.host:
        values["base_url"] = conn.host
    if conn.password:
        values["api_key" if system == "mailchimp" else "token"] = conn.password
    for key, value in (conn.extra_dejson or {}).items():
        values[str(key)] = str(value)
    for key, value in values.items():
        os.environ.setdefault(env_name(system, key), value)
    return True
