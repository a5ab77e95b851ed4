"""HubSpot's rate limits, the vendor's way: search paced below its per-second limit (HubSpot
sends no rate-limit headers on search), the other endpoints paced by the
``X-HubSpot-RateLimit-*`` headers they send, and the simulator enforcing both with HubSpot's
429 bodies. Time is a fake clock shared by the simulator's rate windows and the client's
sleeps: nothing here waits for real.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
import requests
from sim_helpers import FakeClock

from revops.simulator import Company, SimulatorServer
from revops.simulator.hubspot import HubSpotLimits
from revops.sources.http import SourceError
from revops.sources.hubspot import STREAMS, HubSpotPacer, client, search_window

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
AUTH = {"Authorization": "Bearer sim-hubspot-token"}


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=7, scale=0.02, as_of=AS_OF)


@pytest.fixture
def served(company: Company, tmp_path: Path) -> Iterator[tuple[SimulatorServer, HubSpotLimits]]:
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        with mock.patch.dict(os.environ, {**server.env(), "REVOPS_HTTP_BASE_DELAY": "0.01"}):
            yield server, server.simulator.apis["hubspot"].limits  # type: ignore[attr-defined]


def paced_client(clock: FakeClock, search_per_second: float):
    api = client(pacer=HubSpotPacer(search_per_second, clock=clock))
    api.sleep = clock.sleep
    return api


def read_contacts(api) -> list[str]:
    since, until = datetime(2000, 1, 1, tzinfo=UTC), AS_OF
    pages = search_window(api, STREAMS["contacts"], ["email"], since, until, page_size=20)
    return [r["id"] for page in pages for r in page]


def search(server: SimulatorServer) -> requests.Response:
    """One contacts search straight to the simulator (no client, no pacing)."""
    return requests.post(
        f"{server.urls['hubspot']}/crm/v3/objects/contacts/search",
        json={},
        headers=AUTH,
        timeout=10,
    )


def test_search_is_paced_below_the_limit_the_simulator_enforces(company, served) -> None:
    server, limits = served
    clock = FakeClock()
    limits.clock = clock
    ids = read_contacts(paced_client(clock, 4))
    assert sorted(ids, key=int) == sorted((c.id for c in company.contacts), key=int)
    searches = limits.searches
    assert searches == -(-len(ids) // 20) and searches > 10
    assert dict(limits.refused) == {}  # never throttled
    # four a second: the fake clock moved a quarter second per search after the first
    assert clock.now - 1000.0 == pytest.approx((searches - 1) / 4)


def test_unpaced_search_meets_hubspots_secondly_429(company, served) -> None:
    server, limits = served
    clock = FakeClock()
    limits.clock = clock
    with mock.patch.dict(os.environ, {"REVOPS_HTTP_MAX_ATTEMPTS": "1"}):
        api = paced_client(clock, 1000)  # practically unpaced
    with pytest.raises(SourceError) as err:
        read_contacts(api)
    assert err.value.status == 429 and "secondly limit" in str(err.value)
    assert limits.searches == 6 and limits.refused["SECONDLY"] == 1  # the sixth in a second
    # what a throttled search looks like on the wire: HubSpot's body, no rate-limit headers
    for _ in range(5):
        search(server)
    refused = search(server)
    assert refused.status_code == 429
    body = refused.json()
    assert body["policyName"] == "SECONDLY" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your secondly limit." and body["correlationId"]
    assert not [h for h in refused.headers if h.lower().startswith("x-hubspot-ratelimit")]
    clock.now += 1.0  # a second later search answers again, still without the headers
    again = search(server)
    assert again.status_code == 200
    assert not [h for h in again.headers if h.lower().startswith("x-hubspot-ratelimit")]


def test_other_endpoints_send_the_rate_limit_headers(served) -> None:
    server, limits = served
    clock = FakeClock()
    limits.clock = clock
    url = f"{server.urls['hubspot']}/crm/v3/objects/contacts"
    first = requests.get(url, headers=AUTH, params={"limit": 1}, timeout=10)
    second = requests.get(url, headers=AUTH, params={"limit": 1}, timeout=10)
    assert first.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first.headers["X-HubSpot-RateLimit-Daily"] == "625000"
    assert int(second.headers["X-HubSpot-RateLimit-Remaining"]) == (
        int(first.headers["X-HubSpot-RateLimit-Remaining"]) - 1
    )
    assert int(second.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == (
        int(first.headers["X-HubSpot-RateLimit-Daily-Remaining"]) - 1
    )
    clock.now += 10.0  # the window rolled past both
    third = requests.get(url, headers=AUTH, params={"limit": 1}, timeout=10)
    assert third.headers["X-HubSpot-RateLimit-Remaining"] == "189"


def owners_pages(api, times: int) -> int:
    pages = 0
    for _ in range(times):
        body = api.get_json("crm/v3/owners", "owners", params={"limit": 1})
        pages += len(body["results"])
    return pages


def test_the_ten_second_window_is_paced_from_the_headers(served) -> None:
    server, limits = served
    clock = FakeClock()
    limits.clock = clock
    limits.ten_second_max = 20
    assert owners_pages(paced_client(clock, 4), 60) == 60
    assert dict(limits.refused) == {}  # the pacer waited before the window ran out
    # 60 requests at 20 per 10 s: at least two full windows waited, and not much more
    assert 20.0 <= clock.now - 1000.0 <= 30.0


def test_without_reading_the_headers_the_window_runs_out(served) -> None:
    server, limits = served
    clock = FakeClock()
    limits.clock = clock
    limits.ten_second_max = 20
    api = paced_client(clock, 4)
    api.pacer.after = lambda method, url, response: None  # type: ignore[union-attr]
    owners = requests.get(
        f"{server.urls['hubspot']}/crm/v3/owners", headers=AUTH, params={"limit": 1}, timeout=10
    )
    assert owners.status_code == 200
    with pytest.raises(SourceError) as err:  # the short test backoff gives up
        owners_pages(api, 60)
    assert err.value.status == 429 and "ten_secondly_rolling" in str(err.value)
    assert limits.refused["TEN_SECONDLY_ROLLING"] > 0
    for _ in range(20):
        requests.get(f"{server.urls['hubspot']}/crm/v3/owners", headers=AUTH, timeout=10)
    refused = requests.get(f"{server.urls['hubspot']}/crm/v3/owners", headers=AUTH, timeout=10)
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_the_pacer_waits_for_its_own_oldest_request_to_leave_the_window() -> None:
    clock = FakeClock()
    pacer = HubSpotPacer(4, clock=clock)
    url = "https://api.hubapi.com/crm/v3/objects/contacts/batch/read"
    answer = requests.Response()
    answer.status_code = 200
    for _ in range(3):  # three requests, one a second
        assert pacer.before("POST", url) == 0.0
        clock.now += 1.0
    answer.headers.update(
        {"X-HubSpot-RateLimit-Remaining": "1", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    )
    pacer.after("POST", url, answer)
    # one left, kept in reserve: wait until the oldest of the three (sent at 1000) leaves
    assert pacer.before("POST", url) == pytest.approx(1000.0 + 10.0 - clock.now)
    # a 429's headers are the HTTP layer's business, not the pacer's
    throttled = requests.Response()
    throttled.status_code = 429
    throttled.headers.update({"X-HubSpot-RateLimit-Remaining": "0"})
    pacer.after("POST", url, throttled)
    assert pacer.remaining == 2
    # search is spaced by the interval pacer alone
    search = "https://api.hubapi.com/crm/v3/objects/contacts/search"
    waits = [pacer.before("POST", search) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.25, 0.5])
