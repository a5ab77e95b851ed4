"""The credentials the simulator accepts, and the environment that points connectors at it."""

from __future__ import annotations

__all__ = ["SIM_CREDENTIALS", "env_exports"]

SIM_CREDENTIALS: dict[str, dict[str, str]] = {
    "hubspot": {"token": "sim-hubspot-token"},
    "google_ads": {
        "developer_token": "sim-dev-token",
        "client_id": "sim-client-id",
        "client_secret": "sim-client-secret",
        "refresh_token": "sim-refresh-token",
        "customer_id": "1234567890",
    },
    "mailchimp": {"api_key": "sim0000000000000000000000000000-us1"},
}

HUBSPOT_PREFIX = "/hubspot"
GOOGLE_ADS_PREFIX = "/google-ads/v17"
GOOGLE_OAUTH_TOKEN_PATH = "/google-oauth/token"
MAILCHIMP_PREFIX = "/mailchimp/3.0"


def env_exports(base_url: str) -> dict[str, str]:
    """Environment variables pointing every connector at the simulator rooted at ``base_url``.

    ``base_url`` is the simulator's root, e.g. ``http://127.0.0.1:8765``.
    """
    root = base_url.rstrip("/")
    google = SIM_CREDENTIALS["google_ads"]
    return {
        "REVOPS_HUBSPOT_BASE_URL": root + HUBSPOT_PREFIX,
        "REVOPS_HUBSPOT_TOKEN": SIM_CREDENTIALS["hubspot"]["token"],
        "REVOPS_GOOGLE_ADS_BASE_URL": root + GOOGLE_ADS_PREFIX,
        "REVOPS_GOOGLE_ADS_TOKEN_URL": root + GOOGLE_OAUTH_TOKEN_PATH,
        "REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN": google["developer_token"],
        "REVOPS_GOOGLE_ADS_CLIENT_ID": google["client_id"],
        "REVOPS_GOOGLE_ADS_CLIENT_SECRET": google["client_secret"],
        "REVOPS_GOOGLE_ADS_REFRESH_TOKEN": google["refresh_token"],
        "REVOPS_GOOGLE_ADS_CUSTOMER_IDS": google["customer_id"],
        "REVOPS_MAILCHIMP_BASE_URL": root + MAILCHIMP_PREFIX,
        "REVOPS_MAILCHIMP_API_KEY": SIM_CREDENTIALS["mailchimp"]["api_key"],
    }
