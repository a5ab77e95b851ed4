"""Meta's usage headers: the simulator computes them from its call counters and throttles at 100
as Meta does; the connector's MetaPacer reads them and slows down before that."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from unittest import mock

import pytest
import requests
from sim_helpers import FakeClock, trusted_simulator

from revops.config import ConfigError
from revops.simulator import Company, SimulatorServer
from revops.simulator.meta_ads import MetaAdsAPI
from revops.sources import meta_ads
from revops.sources.http import RetryPolicy, meta_usage
from revops.sources.meta_ads import MetaPacer

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ACCOUNT = "1189450230212345"


def answer(status: int = 200, **headers: object) -> requests.Response:
    """A response with Meta's usage headers (values given as JSON-able objects)."""
    response = requests.Response()
    response.status_code = status
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = json.dumps(value)
    return response


def buc(**entry: object) -> dict:
    return {ACCOUNT: [{"type": "ads_insights", **entry}]}


# -- the pacer, on fake answers -----------------------------------------------------------------


def test_below_the_threshold_there_is_no_wait() -> None:
    pacer = MetaPacer(threshold=75)
    pacer.after("GET", "u", answer(X_Business_Use_Case_Usage=buc(call_count=40, total_time=74)))
    assert pacer.before("GET", "u") == 0.0


def test_above_the_threshold_the_wait_grows_to_the_reset_time() -> None:
    pacer = MetaPacer(threshold=75)
    pacer.after(
        "GET",
        "u",
        answer(
            X_Business_Use_Case_Usage=buc(call_count=20, total_cputime=90, total_time=30),
            X_Ad_Account_Usage={"acc_id_util_pct": 10.5, "reset_time_duration": 120},
        ),
    )
    assert pacer.before("GET", "u") == pytest.approx(120 * (90 - 75) / 25)
    assert pacer.before("GET", "u") == 0.0  # waited once; the next answer says more
    pacer.after("GET", "u", answer(X_Ad_Account_Usage={"acc_id_util_pct": 100}))
    assert pacer.before("GET", "u") == pytest.approx(300.0)  # no reset time: Meta's 300 s decay


def test_a_time_to_regain_access_is_waited_for() -> None:
    pacer = MetaPacer()
    usage = buc(call_count=99, estimated_time_to_regain_access=2)
    pacer.after("GET", "u", answer(X_Business_Use_Case_Usage=usage))
    assert pacer.before("GET", "u") == 120.0
    pacer.after(
        "GET", "u", answer(X_Business_Use_Case_Usage=buc(estimated_time_to_regain_access=60))
    )
    assert pacer.before("GET", "u") == 300.0  # never longer than REVOPS_HTTP_MAX_RETRY_AFTER
    # on a throttle answer the HTTP layer waits the header's delay; the pacer adds nothing
    pacer.after("GET", "u", answer(400, X_Business_Use_Case_Usage=usage))
    assert pacer.before("GET", "u") == 0.0


def test_answers_without_usage_headers_leave_the_pace_alone() -> None:
    assert meta_usage(answer().headers) is None
    assert meta_usage(answer(X_App_Usage={"call_count": 12}).headers) == (12.0, 0.0, 0.0)
    pacer = MetaPacer()
    pacer.after("GET", "u", answer())
    assert pacer.before("GET", "u") == 0.0


def test_the_threshold_setting_is_checked() -> None:
    env = {"REVOPS_META_ADS_USAGE_THRESHOLD": "60", "REVOPS_HTTP_MAX_RETRY_AFTER": "90"}
    with mock.patch.dict(os.environ, env):
        assert (MetaPacer.from_env().threshold, MetaPacer.from_env().longest) == (60.0, 90.0)
    with mock.patch.dict(os.environ, {"REVOPS_META_ADS_USAGE_THRESHOLD": "150"}):
        with pytest.raises(ConfigError, match="REVOPS_META_ADS_USAGE_THRESHOLD"):
            MetaPacer.from_env()


# -- the simulator's headers and throttling ----------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    company = Company.generate(seed=5, scale=0.02, as_of=AS_OF)
    certs = tmp_path_factory.mktemp("tls")
    with trusted_simulator(company, certs) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorServer) -> Iterator[tuple[MetaAdsAPI, FakeClock]]:
    """A fresh Meta handler (new call counters) on a fake clock."""
    fresh = MetaAdsAPI(server.company, server.simulator.tokens)
    clock = FakeClock()
    fresh.clock = clock
    server.simulator.apis["meta_ads"] = fresh
    yield fresh, clock
    server.simulator.apis["meta_ads"] = MetaAdsAPI(server.company, server.simulator.tokens)


def get(server: SimulatorServer, path: str) -> requests.Response:
    env = server.env()
    url = f"{env['REVOPS_META_ADS_URL']}/v26.0/act_{env['REVOPS_META_ADS_ACCOUNT_IDS']}{path}"
    return requests.get(url, params={"access_token": env["REVOPS_META_ADS_TOKEN"]}, timeout=30)


def test_usage_headers_count_calls_and_throttle_at_100(server, sim) -> None:
    api, clock = sim
    api.set_usage_limits(insights=4, management=10, account_score=1000, window=60)
    seen = []
    for _ in range(4):
        response = get(server, "/insights")
        assert response.status_code == 200
        seen.append(json.loads(response.headers["X-Business-Use-Case-Usage"]))
    assert [s[ACCOUNT][0]["call_count"] for s in seen] == [25, 50, 75, 100]
    assert {s[ACCOUNT][0]["type"] for s in seen} == {"ads_insights"}
    account = json.loads(response.headers["X-Ad-Account-Usage"])
    assert account["acc_id_util_pct"] == pytest.approx(0.4)
    assert 0 < account["reset_time_duration"] <= 300
    throttled = get(server, "/insights")
    error = throttled.json()["error"]
    assert throttled.status_code == 400 and error["code"] == 80000
    regain = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[ACCOUNT][0]
    assert regain["call_count"] == 100 and regain["estimated_time_to_regain_access"] == 1
    # another use case has its own budget; time passing frees the insights one
    campaigns = get(server, "/campaigns")
    assert campaigns.status_code == 200
    management = json.loads(campaigns.headers["X-Business-Use-Case-Usage"])[ACCOUNT][0]
    assert management["type"] == "ads_management" and management["call_count"] == 10
    clock.now += 61
    assert get(server, "/insights").status_code == 200


def test_the_ad_account_score_counts_writes_three_times(server, sim) -> None:
    api, _ = sim
    api.set_usage_limits(account_score=10)
    env = server.env()
    url = f"{env['REVOPS_META_ADS_URL']}/v26.0/act_{env['REVOPS_META_ADS_ACCOUNT_IDS']}/insights"
    body = {"access_token": env["REVOPS_META_ADS_TOKEN"], "date_preset": "last_7d"}
    posted = requests.post(url, data=body, timeout=30)
    assert json.loads(posted.headers["X-Ad-Account-Usage"])["acc_id_util_pct"] == 30.0
    for _ in range(7):
        assert get(server, "").status_code == 200
    refused = get(server, "").json()["error"]
    assert refused["code"] == 17 and refused["error_subcode"] == 2446079


def connector_client(server: SimulatorServer, clock: FakeClock):
    with mock.patch.dict(os.environ, server.env()):
        api = meta_ads.client()
    api.sleep = clock.sleep
    api.policy = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=8, max_retry_after=3600)
    return api


def read_campaigns(api, server: SimulatorServer, times: int) -> None:
    account = "act_" + server.env()["REVOPS_META_ADS_ACCOUNT_IDS"]
    for _ in range(times):
        api.get_json(account, "ad_accounts", params={"fields": "id"})


def test_the_pacer_slows_down_before_meta_throttles(server, sim) -> None:
    api, clock = sim
    api.set_usage_limits(management=20, window=120, account_window=100)
    client = connector_client(server, clock)
    read_campaigns(client, server, 40)
    assert client.retries == 0  # never throttled
    assert isinstance(client.pacer, MetaPacer) and client.pacer.waits
    assert clock.slept == client.pacer.waits


def test_without_the_pacer_the_same_calls_are_throttled(server, sim) -> None:
    api, clock = sim
    api.set_usage_limits(management=20, window=120, account_window=100)
    client = connector_client(server, clock)
    client.pacer = None
    read_campaigns(client, server, 40)
    assert client.retries >= 1  # throttled (code 80004), then waited the header's regain time
    assert clock.slept == [120.0]  # estimated_time_to_regain_access: 2 minutes
