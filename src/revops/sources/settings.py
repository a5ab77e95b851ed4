"""Connector settings: base URLs and credentials from the environment (or an Airflow connection).

One documented name per setting, ``REVOPS_<SYSTEM>_<KEY>``:

* ``REVOPS_<SYSTEM>_URL``: the vendor's API root (defaults to the real vendor's, e.g.
  ``https://api.hubapi.com``; Salesforce: the instance URL; Mailchimp: from the key's data
  centre). ``revops simulate env`` prints the set that points every connector at the simulator.
* ``REVOPS_<SYSTEM>_TOKEN``: an access token, used as it is when set.
* OAuth refresh (HubSpot, Google Ads, LinkedIn Ads, Salesforce): ``_TOKEN_URL``, ``_CLIENT_ID``,
  ``_CLIENT_SECRET``, ``_REFRESH_TOKEN``; an expired token is refreshed once on a 401.
* Vendor specifics: ``REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN``, ``REVOPS_GOOGLE_ADS_CUSTOMER_IDS``,
  ``REVOPS_META_ADS_ACCOUNT_IDS``, ``REVOPS_LINKEDIN_ADS_ACCOUNT_IDS``,
  ``REVOPS_MAILCHIMP_API_KEY``; ``REVOPS_<SYSTEM>_START_DATE`` where history has a start.
* ``REVOPS_<SYSTEM>_API_VERSION`` (Google Ads, Meta Ads, LinkedIn Ads, Salesforce): the API
  version sent; the default and each version's sunset are in :mod:`revops.sources.versions`.
* Vendor limits (Meta report runs and usage threshold, LinkedIn's analytics cap, HubSpot's
  property allow-lists, search pace and overlap, Salesforce Bulk API 2.0, Mailchimp's activity
  window): read where they are used, in each connector module, listed in the README.
* TLS: ``REQUESTS_CA_BUNDLE`` names the CA to trust (the simulator's); verification is never off.

Inside Airflow, a connection ``revops_<system>`` fills whatever the environment leaves unset:
host -> ``URL``, login -> ``CLIENT_ID``, password -> ``TOKEN`` (Mailchimp: ``API_KEY``), and
each extra by its key (``refresh_token``, ``token_url``, ``customer_ids``, ...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import date


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


def optional(system: str, key: str) -> str | None:
    """A setting that may be absent (None when unset or empty)."""
    return os.environ.get(env_name(system, key)) or None


def id_list(system: str, key: str) -> list[str]:
    """A comma-separated list setting (``REVOPS_GOOGLE_ADS_CUSTOMER_IDS``), dashes removed."""
    raw = setting(system, key)
    return [part.strip().replace("-", "") for part in raw.split(",") if part.strip()]


def start_date(system: str, default: date) -> date:
    """``REVOPS_<SYSTEM>_START_DATE`` (ISO date): the first day of history to read."""
    raw = optional(system, "start_date")
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(
            f"{system}: {env_name(system, 'start_date')}={raw!r} is not an ISO date (YYYY-MM-DD)"
        ) from None


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
