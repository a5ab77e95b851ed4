"""What the simulator accepts, where each vendor listens, and the environment for connectors.

Each vendor has its own HTTPS base URL, as in real life. With ``--port P`` they listen on
consecutive ports in this fixed order (:data:`SYSTEMS`):

======  ===============  ==========================================================
port    system           what sits at the root of the base URL (as the vendor has it)
======  ===============  ==========================================================
P       ``google_ads``   ``/v{N}/customers/...`` and OAuth ``/token``
P+1     ``meta_ads``     Graph API ``/v{N}.0/act_{id}/...``
P+2     ``linkedin_ads`` ``/rest/...`` and OAuth ``/oauth/v2/accessToken``
P+3     ``mailchimp``    ``/3.0/...``
P+4     ``hubspot``      ``/crm/v3/...``, ``/crm/v4/...`` and OAuth ``/oauth/v1/token``
P+5     ``salesforce``   ``/services/data/...`` and OAuth ``/services/oauth2/token``
======  ===============  ==========================================================

Versioned APIs (Google Ads, Meta, LinkedIn, Salesforce) serve every version the vendor serves on
the company's ``as_of`` day, from the dated lists in :mod:`revops.sources.versions`, and refuse a
retired one the way that vendor does.

:func:`env_exports` gives, per system, ``REVOPS_<SYSTEM>_URL`` (the base URL, no trailing
slash), ``REVOPS_<SYSTEM>_TOKEN`` (a long-lived access token for clients that take one
directly), the OAuth settings where the vendor has OAuth (``_TOKEN_URL``, ``_CLIENT_ID``,
``_CLIENT_SECRET``, ``_REFRESH_TOKEN``), the vendor-specific settings (Google Ads developer
token and customer ids, Meta and LinkedIn ad account ids, the Mailchimp API key) and
``REQUESTS_CA_BUNDLE``, the simulator's CA certificate.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

__all__ = [
    "ENV_PREFIX",
    "OAUTH_PATHS",
    "SIM_CREDENTIALS",
    "SYSTEMS",
    "env_exports",
    "export_lines",
    "print_env",
    "urls_for",
]

SYSTEMS: tuple[str, ...] = (
    "google_ads",
    "meta_ads",
    "linkedin_ads",
    "mailchimp",
    "hubspot",
    "salesforce",
)
ENV_PREFIX: dict[str, str] = {s: f"REVOPS_{s.upper()}" for s in SYSTEMS}

# OAuth token endpoints, relative to the vendor's base URL.
OAUTH_PATHS: dict[str, str] = {
    "google_ads": "/token",
    "linkedin_ads": "/oauth/v2/accessToken",
    "hubspot": "/oauth/v1/token",
    "salesforce": "/services/oauth2/token",
}

SIM_CREDENTIALS: dict[str, dict[str, str]] = {
    "google_ads": {
        "token": "ya29.sim-google-ads-static-access-token",
        "developer_token": "sim-dev-token",
        "client_id": "sim-client-id.apps.googleusercontent.com",
        "client_secret": "sim-google-client-secret",
        "refresh_token": "1//sim-google-refresh-token",
        "customer_id": "1234567890",
    },
    "meta_ads": {
        "token": "EAAGsimMetaSystemUserToken0000000000000000",
        "account_id": "1189450230212345",
    },
    "linkedin_ads": {
        "token": "AQVsimLinkedInStaticAccessToken000000000000",
        "client_id": "86simlinkedinclient",
        "client_secret": "sim-linkedin-client-secret",
        "refresh_token": "AQWsimLinkedInRefreshToken000000000000000",
        "account_id": "508912345",
    },
    "mailchimp": {
        "api_key": "sim0000000000000000000000000000-us1",
        "token": "sim-mailchimp-oauth-access-token",
    },
    "hubspot": {
        "token": "sim-hubspot-token",
        "client_id": "sim-hubspot-client-id",
        "client_secret": "sim-hubspot-client-secret",
        "refresh_token": "sim-hubspot-refresh-token",
        "portal_id": "24680135",
    },
    "salesforce": {
        "token": "00D5g000008SIMxEAC!sim-salesforce-static-session",
        "client_id": "3MVG9simSalesforceConnectedAppConsumerKey",
        "client_secret": "sim-salesforce-consumer-secret",
        "refresh_token": "5Aep861simSalesforceRefreshToken",
        "org_id": "00D5g000008SIMxEAC",
    },
}


def urls_for(host: str, port: int) -> dict[str, str]:
    """Base URL per system when the first vendor listens on ``port`` (see the port table)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if shown in ("0.0.0.0", "[::]"):
        shown = "127.0.0.1"
    return {system: f"https://{shown}:{port + i}" for i, system in enumerate(SYSTEMS)}


def _env(urls: Mapping[str, str], ca_bundle: str | Path) -> dict[str, str]:
    c = SIM_CREDENTIALS
    env: dict[str, str] = {}
    for system in SYSTEMS:
        prefix = ENV_PREFIX[system]
        url = urls[system].rstrip("/")
        env[f"{prefix}_URL"] = url
        env[f"{prefix}_TOKEN"] = c[system]["token"]
        if system in OAUTH_PATHS:
            env[f"{prefix}_TOKEN_URL"] = url + OAUTH_PATHS[system]
            env[f"{prefix}_CLIENT_ID"] = c[system]["client_id"]
            env[f"{prefix}_CLIENT_SECRET"] = c[system]["client_secret"]
            env[f"{prefix}_REFRESH_TOKEN"] = c[system]["refresh_token"]
    env["REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN"] = c["google_ads"]["developer_token"]
    env["REVOPS_GOOGLE_ADS_CUSTOMER_IDS"] = c["google_ads"]["customer_id"]
    env["REVOPS_META_ADS_ACCOUNT_IDS"] = c["meta_ads"]["account_id"]
    env["REVOPS_LINKEDIN_ADS_ACCOUNT_IDS"] = c["linkedin_ads"]["account_id"]
    env["REVOPS_MAILCHIMP_API_KEY"] = c["mailchimp"]["api_key"]
    env["REQUESTS_CA_BUNDLE"] = str(ca_bundle)
    return env


def env_exports(
    target: Any = 8765,
    host: str = "127.0.0.1",
    cert_dir: Path | str | None = None,
) -> dict[str, str]:
    """The environment that points every connector at a simulator.

    ``target`` is a running :class:`~revops.simulator.server.SimulatorServer` (its real
    ports and CA bundle), or the first port ``P`` of a simulator started with ``--port P``
    (then ``host`` and ``cert_dir`` say where it listens and keeps its certificates), or a URL
    ``https://host:P`` meaning the same.
    """
    urls = getattr(target, "urls", None)
    tls = getattr(target, "tls", None)
    if urls is not None and tls is not None:
        return _env(urls, tls.ca_bundle)
    from revops.simulator.tls import ensure_certificates

    if isinstance(target, str):
        parts = urlsplit(target if "//" in target else f"https://{target}")
        host = parts.hostname or host
        if parts.port is None:
            raise ValueError(f"no port in simulator URL {target!r}")
        port = parts.port
    else:
        port = int(target)
    files = ensure_certificates(cert_dir, [host])
    return _env(urls_for(host, port), files.ca_bundle)


def export_lines(env: Mapping[str, str]) -> list[str]:
    """``export NAME='value'`` lines for a POSIX shell, in a stable order."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def print_env(
    port: int = 8765,
    host: str = "127.0.0.1",
    cert_dir: Path | str | None = None,
    file: TextIO | None = None,
) -> dict[str, str]:
    """Print the ``export`` lines for a simulator on ``host:port`` (``revops simulate env``)."""
    env = env_exports(port, host=host, cert_dir=cert_dir)
    out = file or sys.stdout
    for line in export_lines(env):
        print(line, file=out)
    return env
