"""Vendor simulator, server: fault injection, environment exports, lifecycle, the CLI entry."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from revops.simulator import SIM_CREDENTIALS, Company, FaultConfig, SimulatorServer, env_exports

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
HS_AUTH = {"Authorization": "Bearer sim-hubspot-token"}
MC_AUTH = ("x", "sim0000000000000000000000000000-us1")
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.02, as_of=AS_OF)


@pytest.fixture
def faulty(company: Company) -> Iterator[SimulatorServer]:
    with SimulatorServer(company, faults=FaultConfig(rate_limit_every=3)) as server:
        yield server


def google_headers(base: str) -> dict[str, str]:
    creds = SIM_CREDENTIALS["google_ads"]
    answer = requests.post(
        f"{base}/google-oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"],
        },
        timeout=10,
    ).json()
    return {
        "Authorization": f"Bearer {answer['access_token']}",
        "developer-token": creds["developer_token"],
    }


def test_env_exports_and_credentials() -> None:
    env = env_exports("http://127.0.0.1:8765/")
    assert env == {
        "REVOPS_HUBSPOT_BASE_URL": "http://127.0.0.1:8765/hubspot",
        "REVOPS_HUBSPOT_TOKEN": "sim-hubspot-token",
        "REVOPS_GOOGLE_ADS_BASE_URL": "http://127.0.0.1:8765/google-ads/v17",
        "REVOPS_GOOGLE_ADS_TOKEN_URL": "http://127.0.0.1:8765/google-oauth/token",
        "REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN": "sim-dev-token",
        "REVOPS_GOOGLE_ADS_CLIENT_ID": "sim-client-id",
        "REVOPS_GOOGLE_ADS_CLIENT_SECRET": "sim-client-secret",
        "REVOPS_GOOGLE_ADS_REFRESH_TOKEN": "sim-refresh-token",
        "REVOPS_GOOGLE_ADS_CUSTOMER_IDS": "1234567890",
        "REVOPS_MAILCHIMP_BASE_URL": "http://127.0.0.1:8765/mailchimp/3.0",
        "REVOPS_MAILCHIMP_API_KEY": "sim0000000000000000000000000000-us1",
    }
    assert SIM_CREDENTIALS["google_ads"]["customer_id"] == "1234567890"


def test_hubspot_rate_limit_every_third_request_then_normal_answer(faulty: SimulatorServer) -> None:
    url = f"{faulty.base_url}/hubspot/crm/v3/objects/contacts/search"
    answers = [requests.post(url, headers=HS_AUTH, json={"limit": 5}, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 200]
    body = answers[2].json()
    assert set(body) == {"status", "message", "errorType", "correlationId", "policyName"}
    assert (
        body["status"] == "error"
        and body["errorType"] == "RATE_LIMIT"
        and body["policyName"] == "SECONDLY"
    )
    assert body["message"] == "You have reached your secondly limit."
    assert answers[3].content == answers[0].content  # the retry gets the normal answer


def test_google_ads_rate_limit_carries_retry_info(faulty: SimulatorServer) -> None:
    headers = google_headers(faulty.base_url)  # the OAuth endpoint is never faulted
    url = f"{faulty.base_url}/google-ads/v17/customers/1234567890/googleAds:searchStream"
    answers = [
        requests.post(
            url, headers=headers, json={"query": "SELECT customer.id FROM customer"}, timeout=10
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    error = answers[2].json()["error"]
    assert error["code"] == 429 and error["status"] == "RESOURCE_EXHAUSTED"
    retry = next(
        d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    )
    assert retry["retryDelay"] == "0.05s"
    failure = next(d for d in error["details"] if d["@type"].endswith("GoogleAdsFailure"))
    assert failure["errors"][0]["errorCode"] == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}


def test_mailchimp_rate_limit_is_problem_json_without_retry_after(faulty: SimulatorServer) -> None:
    url = f"{faulty.base_url}/mailchimp/3.0/ping"
    answers = [requests.get(url, auth=MC_AUTH, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "Retry-After" not in answers[2].headers
    body = answers[2].json()
    assert body["type"] == "https://mailchimp.com/developer/marketing/docs/errors/"
    assert body["title"] == "Too Many Requests" and body["status"] == 429
    assert body["detail"] and body["instance"]
    assert answers[0].json() == {"health_status": "Everything's Chimpy!"}


def test_server_errors_every_second_request(company: Company) -> None:
    with SimulatorServer(company, faults=FaultConfig(server_error_every=2)) as server:
        url = f"{server.base_url}/hubspot/crm/v3/objects/contacts"
        codes = [requests.get(url, headers=HS_AUTH, timeout=10).status_code for _ in range(4)]
        assert codes == [200, 503, 200, 503]
        assert server.simulator.request_counts == {"hubspot": 4, "google_ads": 0, "mailchimp": 0}


def test_lifecycle_base_url_and_index(company: Company) -> None:
    server = SimulatorServer(company, port=0)
    assert server.start() is server
    try:
        assert server.base_url == f"http://127.0.0.1:{server.port}" and server.port > 0
        index = requests.get(server.base_url, timeout=10).json()
        assert index["hubspot"] == f"{server.base_url}/hubspot" and index["seed"] == 42
        assert requests.get(f"{server.base_url}/salesforce", timeout=10).status_code == 404
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url, timeout=2)


def test_default_as_of_is_todays_utc_midnight() -> None:
    before = datetime.now(UTC)
    company = Company.generate(seed=1, scale=0.01)
    after = datetime.now(UTC)
    midnights = {datetime(t.year, t.month, t.day, tzinfo=UTC) for t in (before, after)}
    assert company.as_of in midnights
    assert all(p.created_at < company.as_of for p in company.people)


def test_run_serves_in_the_foreground_and_stops_on_ctrl_c() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from revops.simulator import run; run(7, 0.01, '127.0.0.1', {port})",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line and f"revops simulate env --port {port}" in line
        assert requests.get(
            f"http://127.0.0.1:{port}/mailchimp/3.0/ping", auth=MC_AUTH, timeout=10
        ).ok
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
