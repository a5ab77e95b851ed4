"""Connector settings as the connectors use them: required ones, API roots, id lists, OAuth.

Every ``REVOPS_<SYSTEM>_<KEY>`` (URL, token, OAuth, account ids, start date, API version,
vendor limits) is declared, typed and checked in :mod:`revops.settings` (listed by
``revops config`` and in ``docs/settings.md``); this module reads them through it and says what
to do when a required one is missing. ``revops simulate env`` prints the set that points every
connector at the simulator. TLS: ``REQUESTS_CA_BUNDLE`` names the CA to trust (the
simulator's); verification is never off.

Inside Airflow, a connection ``revops_<system>`` fills whatever the environment leaves unset:
host -> ``URL``, login -> ``CLIENT_ID``, password -> ``TOKEN`` (Mailchimp: ``API_KEY``), and
each extra by its key (``refresh_token``, ``token_url``, ``customer_ids``, ...).
"""

from __future__ import annotations

import os
import sys
from datetime import date
from typing import Any

from revops.settings import ConfigError, connector
from revops.settings import env_name as settings_env_name

SettingsError = ConfigError
"""A required connector setting is missing or malformed (the one settings error, by its
connectors' name); the message names the variable and what to do."""


def env_name(system: str, key: str) -> str:
    """``REVOPS_<SYSTEM>_<KEY>`` for a system such as ``google_ads`` and a key such as ``token``."""
    return settings_env_name(f"{system}_{key}")


def setting(system: str, key: str, default: str | None = None) -> Any:
    """One connector setting's value (:func:`revops.settings.connector`, typed); a missing
    required one raises :class:`SettingsError`."""
    value = connector(system, key)
    if value is None:
        value = default
    if value is None:
        raise SettingsError(
            f"{system}: {env_name(system, key)} is not set. Set it to your {system} "
            f"{key.replace('_', ' ')} (or run `revops simulate env` to point every connector at "
            "the simulator)."
        )
    return value


def api_url(system: str, default_host: str, api_path: str = "") -> str:
    """``REVOPS_<SYSTEM>_URL`` as the API root: a bare host (``https://host:port``) gets the
    vendor's API path (``v21``, ``rest``, ``3.0``) appended, a URL with a path is used as is.

    So both ``https://googleads.googleapis.com`` and ``https://googleads.googleapis.com/v21``
    work, as does a simulator serving each vendor at the root of its own host.
    """
    from urllib.parse import urlsplit

    url = setting(system, "url", default_host).rstrip("/")
    if api_path and urlsplit(url).path in ("", "/"):
        url = f"{url}/{api_path.strip('/')}"
    return url


def optional(system: str, key: str) -> Any:
    """A setting that may be absent (None when unset)."""
    return connector(system, key)


def id_list(system: str, key: str) -> list[str]:
    """A comma-separated list setting (``REVOPS_GOOGLE_ADS_CUSTOMER_IDS``), dashes removed."""
    return list(setting(system, key))


def start_date(system: str, default: date) -> date:
    """``REVOPS_<SYSTEM>_START_DATE`` (ISO date): the first day of history to read."""
    return connector(system, "start_date") or default


def oauth_token(system: str, default_token_url: str | None = None):
    """The OAuth token holder for a system from its ``TOKEN`` / refresh settings."""
    from revops.sources.http import OAuthToken

    return OAuthToken(
        system,
        access_token=optional(system, "token"),
        token_url=optional(system, "token_url") or default_token_url,
        client_id=optional(system, "client_id"),
        client_secret=optional(system, "client_secret"),
        refresh_token=optional(system, "refresh_token"),
    )


def apply_airflow_connection(system: str) -> bool:
    """Fill unset ``REVOPS_<SYSTEM>_*`` variables from Airflow connection ``revops_<system>``.

    Returns True when such a connection exists. Only inside an Airflow task (where Airflow is
    already loaded): elsewhere importing Airflow costs ~3 s and writes ``~/airflow``.
    """
    if "airflow" not in sys.modules:
        return False
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(f"revops_{system}")
    except Exception:  # no such connection, or not inside Airflow
        return False
    values: dict[str, str] = {}
    if conn.host:
        values["url"] = conn.host
    if conn.login:
        values["client_id"] = conn.login
    if conn.password:
        values["api_key" if system == "mailchimp" else "token"] = conn.password
    for key, value in (conn.extra_dejson or {}).items():
        values[str(key)] = str(value)
    for key, value in values.items():
        os.environ.setdefault(env_name(system, key), value)
    return True
