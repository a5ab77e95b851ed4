"""Vendor simulator, server: ports and environment, HTTPS, OAuth expiry, faults, the CLI entry."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from revops.simulator import (
    FAULT_KINDS,
    SIM_CREDENTIALS,
    SYSTEMS,
    Company,
    FaultConfig,
    SimulatorServer,
    env_exports,
    export_lines,
    print_env,
)
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
# the newest version each vendor serves on the simulated day (the simulator refuses retired ones)
VERSION = {
    system: vendor(system).supported(AS_OF.date())[-1].name
    for system in ("google_ads", "meta_ads", "linkedin_ads")
}
GOOGLE_V, META_V = VERSION["google_ads"], VERSION["meta_ads"]
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module", autouse=True)
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The simulator's certificates for this module; requests trusts its CA meanwhile."""
    path = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(path / "ca.pem"))
        yield path


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.02, as_of=AS_OF)


@pytest.fixture(scope="module")
def server(company: Company, certs: Path) -> Iterator[SimulatorServer]:
    with SimulatorServer(company, cert_dir=certs) as srv:
        yield srv


def free_port_block(count: int = 6) -> int:
    """A base port P such that P..P+count-1 are free right now."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + count > 65535:
            continue
        ok = True
        for p in range(base, base + count):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free block of ports")


# One request per vendor that needs no setup beyond the static credentials.
def probe(env: dict[str, str], system: str) -> requests.Response:
    c = SIM_CREDENTIALS
    url = env[f"REVOPS_{system.upper()}_URL"]
    if system == "google_ads":
        return requests.post(
            f"{url}/{GOOGLE_V}/customers/1234567890/googleAds:searchStream",
            headers={
                "Authorization": f"Bearer {c['google_ads']['token']}",
                "developer-token": c["google_ads"]["developer_token"],
            },
            json={"query": "SELECT customer.id FROM customer"},
            timeout=10,
        )
    if system == "meta_ads":
        return requests.get(
            f"{url}/{META_V}/act_{c['meta_ads']['account_id']}",
            params={"access_token": c["meta_ads"]["token"], "fields": "id,currency"},
            timeout=10,
        )
    if system == "linkedin_ads":
        return requests.get(
            f"{url}/rest/adAccounts/{c['linkedin_ads']['account_id']}",
            headers={
                "Authorization": f"Bearer {c['linkedin_ads']['token']}",
                "LinkedIn-Version": VERSION["linkedin_ads"],
                "X-Restli-Protocol-Version": "2.0.0",
            },
            timeout=10,
        )
    if system == "mailchimp":
        return requests.get(f"{url}/3.0/ping", auth=("x", c["mailchimp"]["api_key"]), timeout=10)
    if system == "hubspot":
        return requests.get(
            f"{url}/crm/v3/objects/contacts",
            headers={"Authorization": f"Bearer {c['hubspot']['token']}"},
            params={"limit": 2},
            timeout=10,
        )
    return requests.get(
        f"{url}/services/data/v59.0/query",
        headers={"Authorization": f"Bearer {c['salesforce']['token']}"},
        params={"q": "SELECT Id FROM User LIMIT 2"},
        timeout=10,
    )


# ------------------------------------------------------------------------ environment


def test_env_exports_for_a_port_follow_the_documented_order(certs: Path) -> None:
    env = env_exports(9100, host="127.0.0.1", cert_dir=certs)
    assert [env[f"REVOPS_{s.upper()}_URL"] for s in SYSTEMS] == [
        f"https://127.0.0.1:{9100 + i}" for i in range(6)
    ]
    assert SYSTEMS == (
        "google_ads",
        "meta_ads",
        "linkedin_ads",
        "mailchimp",
        "hubspot",
        "salesforce",
    )
    assert env["REVOPS_GOOGLE_ADS_TOKEN_URL"] == "https://127.0.0.1:9100/token"
    assert env["REVOPS_LINKEDIN_ADS_TOKEN_URL"] == "https://127.0.0.1:9102/oauth/v2/accessToken"
    assert env["REVOPS_HUBSPOT_TOKEN_URL"] == "https://127.0.0.1:9104/oauth/v1/token"
    assert env["REVOPS_SALESFORCE_TOKEN_URL"] == "https://127.0.0.1:9105/services/oauth2/token"
    for system in ("google_ads", "linkedin_ads", "hubspot", "salesforce"):
        prefix = f"REVOPS_{system.upper()}"
        assert env[f"{prefix}_CLIENT_ID"] == SIM_CREDENTIALS[system]["client_id"]
        assert env[f"{prefix}_CLIENT_SECRET"] == SIM_CREDENTIALS[system]["client_secret"]
        assert env[f"{prefix}_REFRESH_TOKEN"] == SIM_CREDENTIALS[system]["refresh_token"]
    assert "REVOPS_META_ADS_TOKEN_URL" not in env and "REVOPS_MAILCHIMP_TOKEN_URL" not in env
    assert all(env[f"REVOPS_{s.upper()}_TOKEN"] for s in SYSTEMS)
    assert env["REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN"] == "sim-dev-token"
    assert env["REVOPS_GOOGLE_ADS_CUSTOMER_IDS"] == "1234567890"
    assert env["REVOPS_META_ADS_ACCOUNT_IDS"] == "1189450230212345"
    assert env["REVOPS_LINKEDIN_ADS_ACCOUNT_IDS"] == "508912345"
    assert env["REVOPS_MAILCHIMP_API_KEY"].endswith("-us1")
    assert env["REQUESTS_CA_BUNDLE"] == str(certs / "ca.pem")
    assert Path(env["REQUESTS_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert not any(name.endswith("_BASE_URL") for name in env)
    assert env_exports("https://127.0.0.1:9100", cert_dir=certs) == env


def test_print_env_writes_shell_exports_a_shell_can_eval(certs: Path, tmp_path: Path) -> None:
    out = tmp_path / "env.sh"
    with out.open("w") as fh:
        env = print_env(9200, cert_dir=certs, file=fh)
    lines = out.read_text().splitlines()
    assert lines == export_lines(env) and all(
        line.startswith("export REVOPS_") or line.startswith("export REQUESTS_") for line in lines
    )
    shown = subprocess.run(
        ["bash", "-c", f". {out} && echo $REVOPS_SALESFORCE_URL $REVOPS_HUBSPOT_TOKEN"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == ["https://127.0.0.1:9205", "sim-hubspot-token"]


def test_consecutive_ports_and_env_of_a_running_server(company: Company, certs: Path) -> None:
    base = free_port_block()
    with SimulatorServer(company, port=base, cert_dir=certs) as srv:
        assert srv.ports == {s: base + i for i, s in enumerate(SYSTEMS)}
        env = srv.env()
        assert env == env_exports(base, cert_dir=certs)
        for system in SYSTEMS:
            answer = probe(env, system)
            assert answer.status_code == 200, (system, answer.text)
        # each vendor only answers on its own port
        wrong = requests.get(f"{env['REVOPS_HUBSPOT_URL']}/services/data/", timeout=10)
        assert wrong.status_code in (401, 404)


def test_https_needs_the_simulator_ca(
    server: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = server.env()
    assert requests.get(
        f"{env['REVOPS_MAILCHIMP_URL']}/3.0/ping",
        auth=("x", env["REVOPS_MAILCHIMP_API_KEY"]),
        verify=env["REQUESTS_CA_BUNDLE"],
        timeout=10,
    ).ok
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"{env['REVOPS_MAILCHIMP_URL']}/3.0/ping", timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            env["REVOPS_MAILCHIMP_URL"].replace("https:", "http:") + "/3.0/ping", timeout=5
        )


# ------------------------------------------------------------------------ OAuth


def refresh(env: dict[str, str], system: str) -> dict:
    prefix = f"REVOPS_{system.upper()}"
    answer = requests.post(
        env[f"{prefix}_TOKEN_URL"],
        data={
            "grant_type": "refresh_token",
            "client_id": env[f"{prefix}_CLIENT_ID"],
            "client_secret": env[f"{prefix}_CLIENT_SECRET"],
            "refresh_token": env[f"{prefix}_REFRESH_TOKEN"],
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def call_with(env: dict[str, str], system: str, token: str) -> requests.Response:
    url = env[f"REVOPS_{system.upper()}_URL"]
    if system == "hubspot":
        return requests.get(
            f"{url}/crm/v3/owners", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    if system == "salesforce":
        return requests.get(
            f"{url}/services/data/v59.0/query",
            params={"q": "SELECT COUNT() FROM Lead"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    if system == "google_ads":
        return requests.get(
            f"{url}/{GOOGLE_V}/customers:listAccessibleCustomers",
            headers={
                "Authorization": f"Bearer {token}",
                "developer-token": env["REVOPS_GOOGLE_ADS_DEVELOPER_TOKEN"],
            },
            timeout=10,
        )
    return requests.get(
        f"{url}/rest/adAccounts",
        params={"q": "search"},
        headers={"Authorization": f"Bearer {token}", "LinkedIn-Version": VERSION["linkedin_ads"]},
        timeout=10,
    )


EXPIRED = {
    "hubspot": lambda r: r.json()["category"] == "EXPIRED_AUTHENTICATION",
    "salesforce": lambda r: (
        r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    ),
    "google_ads": lambda r: r.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED",
    "linkedin_ads": lambda r: (
        r.json()["serviceErrorCode"] == 65601 and r.json()["code"] == "EXPIRED_ACCESS_TOKEN"
    ),
}


@pytest.mark.parametrize("system", ["hubspot", "salesforce", "google_ads", "linkedin_ads"])
def test_oauth_tokens_expire_and_refresh(server: SimulatorServer, system: str) -> None:
    env = server.env()
    granted = refresh(env, system)
    token = granted["access_token"]
    if system == "salesforce":
        assert (
            "expires_in" not in granted and granted["instance_url"] == env["REVOPS_SALESFORCE_URL"]
        )
    else:
        assert granted["expires_in"] > 0
    assert call_with(env, system, token).status_code == 200
    assert server.expire_tokens() >= 1
    expired = call_with(env, system, token)
    assert expired.status_code == 401 and EXPIRED[system](expired), expired.text
    assert call_with(env, system, refresh(env, system)["access_token"]).status_code == 200
    # the static token never expires
    assert call_with(env, system, env[f"REVOPS_{system.upper()}_TOKEN"]).status_code == 200


def test_token_lifetime_is_measured_in_wall_clock_seconds(company: Company, certs: Path) -> None:
    with SimulatorServer(company, cert_dir=certs, token_lifetime=1) as srv:
        env = srv.env()
        granted = refresh(env, "hubspot")
        assert granted["expires_in"] == 1
        assert call_with(env, "hubspot", granted["access_token"]).status_code == 200
        time.sleep(1.1)
        assert call_with(env, "hubspot", granted["access_token"]).status_code == 401


def test_bad_refresh_tokens_are_refused_in_each_vendor_words(server: SimulatorServer) -> None:
    env = server.env()
    for system, status, key in (
        ("hubspot", 400, "status"),
        ("salesforce", 400, "error"),
        ("google_ads", 400, "error"),
        ("linkedin_ads", 400, "error"),
    ):
        prefix = f"REVOPS_{system.upper()}"
        answer = requests.post(
            env[f"{prefix}_TOKEN_URL"],
            data={
                "grant_type": "refresh_token",
                "client_id": env[f"{prefix}_CLIENT_ID"],
                "client_secret": env[f"{prefix}_CLIENT_SECRET"],
                "refresh_token": "stolen",
            },
            timeout=10,
        )
        assert answer.status_code == status, (system, answer.text)
        assert answer.json()[key] in ("BAD_REFRESH_TOKEN", "invalid_grant", "invalid_request")


# ------------------------------------------------------------------------ faults


def test_fault_config_parsing() -> None:
    assert FaultConfig.parse("0.1") == FaultConfig(rate=0.1)
    assert FaultConfig.parse("0.25:429,reset").kinds == ("rate_limit", "reset")
    assert FaultConfig.parse("0.5:500,truncated_body,slow").kinds == (
        "server_error",
        "truncated",
        "slow",
    )
    assert FaultConfig.parse("").active is False and FaultConfig.parse("0.1").active
    assert set(FaultConfig().kinds) == set(FAULT_KINDS) and "malformed" not in FAULT_KINDS
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultConfig.parse("0.1:teapot")
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultConfig(rate=2)


THROTTLE = {
    "google_ads": (429, lambda r: r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"),
    "meta_ads": (400, lambda r: r.json()["error"]["code"] in (17, 613, 4, 80004)),
    "linkedin_ads": (429, lambda r: r.json()["code"] == "TOO_MANY_REQUESTS"),
    "mailchimp": (429, lambda r: r.json()["title"] == "Too Many Requests"),
    "hubspot": (429, lambda r: r.json()["errorType"] == "RATE_LIMIT"),
    "salesforce": (403, lambda r: r.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"),
}


@pytest.mark.parametrize("kind", ["rate_limit", "rate_limit_no_retry_after"])
def test_rate_limit_faults_answer_each_vendor_throttling(
    company: Company, certs: Path, kind: str
) -> None:
    faults = FaultConfig(rate=1.0, kinds=(kind,), max_consecutive=1, retry_after=2)
    with SimulatorServer(company, cert_dir=certs, faults=faults) as srv:
        env = srv.env()
        for system in SYSTEMS:
            first, second = probe(env, system), probe(env, system)
            status, check = THROTTLE[system]
            assert first.status_code == status and check(first), (system, first.text)
            assert ("Retry-After" in first.headers) == (kind == "rate_limit"), system
            if kind == "rate_limit":
                assert first.headers["Retry-After"] == "2"
            assert second.status_code == 200, (system, second.text)  # the retry gets through
        if kind == "rate_limit":
            google = probe(env, "google_ads")  # third request: faulted again
            details = google.json()["error"]["details"]
            assert {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": "2s",
            } in details


def test_wire_faults_reset_truncate_slow_and_malformed(company: Company, certs: Path) -> None:
    def server_with(kind: str) -> SimulatorServer:
        return SimulatorServer(
            company,
            cert_dir=certs,
            faults=FaultConfig(rate=1.0, kinds=(kind,), max_consecutive=1, slow_seconds=0.4),
        )

    with server_with("reset") as srv:
        with pytest.raises(requests.exceptions.ConnectionError):
            probe(srv.env(), "hubspot")
        assert probe(srv.env(), "hubspot").status_code == 200
    with server_with("truncated") as srv:
        with pytest.raises(
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
        ):
            probe(srv.env(), "salesforce")
        assert probe(srv.env(), "salesforce").status_code == 200
    with server_with("slow") as srv:
        started = time.monotonic()
        assert probe(srv.env(), "meta_ads").status_code == 200
        assert time.monotonic() - started >= 0.4
    with server_with("server_error") as srv:
        for system in SYSTEMS:
            assert probe(srv.env(), system).status_code == 500
    with server_with("malformed") as srv:
        answer = probe(srv.env(), "mailchimp")
        assert answer.status_code == 200
        with pytest.raises(ValueError):
            answer.json()


def fetch_all(env: dict[str, str]) -> tuple[list[str], list[bytes]]:
    """A retrying client: the faults it met, and the bodies it finally got."""
    met: list[str] = []
    bodies: list[bytes] = []
    for system in SYSTEMS:
        for _ in range(3):
            for _attempt in range(20):
                try:
                    answer = probe(env, system)
                except requests.exceptions.RequestException:
                    met.append(f"{system}:dropped")  # reset or truncated: the client can't tell
                    continue
                if answer.status_code == 200:
                    body = answer.content
                    for url in (env[f"REVOPS_{s.upper()}_URL"] for s in SYSTEMS):
                        body = body.replace(url.encode(), b"https://SIM")
                    bodies.append(body)
                    break
                met.append(f"{system}:{answer.status_code}")
            else:
                raise AssertionError(f"{system} never answered")
    return met, bodies


def test_faulty_runs_are_deterministic_and_end_like_a_clean_run(
    company: Company, certs: Path
) -> None:
    faults = FaultConfig(
        rate=0.5, kinds=("rate_limit_no_retry_after", "server_error", "reset", "truncated")
    )
    with SimulatorServer(company, cert_dir=certs) as clean:
        expected = fetch_all(clean.env())
    runs = []
    for _ in range(2):
        with SimulatorServer(company, cert_dir=certs, faults=faults) as srv:
            runs.append(fetch_all(srv.env()))
            assert sum(srv.simulator.faults.injected.values()) == len(runs[-1][0])
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) >= 6  # the same faults, in order
    assert expected[0] == []
    assert [b for b in runs[0][1]] == expected[1]  # and the same answers in the end


def test_every_nth_request_faults_keep_working(company: Company, certs: Path) -> None:
    with SimulatorServer(company, cert_dir=certs, faults=FaultConfig(server_error_every=2)) as srv:
        codes = [probe(srv.env(), "hubspot").status_code for _ in range(4)]
        assert codes == [200, 500, 200, 500]
        assert srv.simulator.request_counts["hubspot"] == 4
        assert srv.simulator.request_counts["salesforce"] == 0


# ------------------------------------------------------------------------ lifecycle and CLI


def test_lifecycle_and_clock_moves_on_a_running_server(company: Company, certs: Path) -> None:
    server = SimulatorServer(company, cert_dir=certs)
    assert server.start() is server
    try:
        env = server.env()
        before = probe(env, "salesforce").json()
        later = server.set_as_of("2026-12-01")
        assert later.as_of == datetime(2026, 12, 1, tzinfo=UTC) and server.company is later
        assert server.env() == env  # same URLs and credentials after the clock moved
        counts = requests.get(
            f"{env['REVOPS_SALESFORCE_URL']}/services/data/v59.0/query",
            headers={"Authorization": f"Bearer {env['REVOPS_SALESFORCE_TOKEN']}"},
            params={"q": "SELECT COUNT() FROM Lead"},
            timeout=10,
        ).json()
        assert counts["totalSize"] == len(later.salesforce("Lead"))
        assert before["records"]
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(env["REVOPS_HUBSPOT_URL"], timeout=2)


def test_default_as_of_is_now_truncated_to_the_minute() -> None:
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    company = Company.generate(seed=1, scale=0.01)
    after = datetime.now(UTC).replace(second=0, microsecond=0)
    assert before <= company.as_of <= after and company.as_of.second == 0
    assert all(p.created_at < company.as_of for p in company.people)
    assert Company.generate(seed=1, scale=0.01, as_of="2026-11-02T10:30").as_of == datetime(
        2026, 11, 2, 10, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_run_serves_in_the_foreground_and_stops_on_ctrl_c_or_sigterm(
    certs: Path, stop_signal: signal.Signals
) -> None:
    """Started the way a script's background job starts it (SIGINT ignored, inherited), it
    still stops cleanly on Ctrl-C, and on SIGTERM (``docker compose stop``)."""
    port = free_port_block()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            # SIGINT ignored as a script's background job inherits it (Python keeps it ignored)
            "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "from revops.simulator import run; "
            f"run(7, 0.01, '127.0.0.1', {port}, faults='0.0', as_of='2026-11-02', "
            f"cert_dir={str(certs)!r})",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"https://127.0.0.1:{port}" in line and f"revops simulate env --port {port}" in line
        assert "as_of=2026-11-02T00:00:00+00:00" in line
        details = proc.stdout.readline()
        assert f"salesforce=https://127.0.0.1:{port + 5}" in details
        assert requests.get(
            f"https://127.0.0.1:{port + 3}/3.0/ping",
            auth=("x", SIM_CREDENTIALS["mailchimp"]["api_key"]),
            timeout=10,
        ).ok
        proc.send_signal(stop_signal)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
