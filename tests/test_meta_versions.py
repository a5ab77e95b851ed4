"""Meta Marketing API versions: the simulator serves every version Meta serves on its date (the
dated list in revops.sources.versions) and refuses a retired one as Meta does (HTTP 400, code
2635, "Please update to the latest version"); the connector's default is accepted, and a retired
version set by hand fails at once with Meta's message."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from unittest import mock

import pytest
import requests
from sim_helpers import trusted_simulator

from revops.simulator import Company, SimulatorServer
from revops.sources import meta_ads
from revops.sources.http import SourceError
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # v24.0 served until 2026-11-10, v27.0 from 11-04


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    company = Company.generate(seed=3, scale=0.02, as_of=AS_OF)
    certs = tmp_path_factory.mktemp("tls")
    with trusted_simulator(company, certs) as running:
        yield running


def account(server: SimulatorServer, version: str) -> requests.Response:
    env = server.env()
    return requests.get(
        f"{env['REVOPS_META_ADS_URL']}/{version}/act_{env['REVOPS_META_ADS_ACCOUNT_IDS']}",
        params={"access_token": env["REVOPS_META_ADS_TOKEN"], "fields": "id,currency"},
        timeout=30,
    )


def test_every_version_meta_serves_on_the_day_is_answered(server) -> None:
    served = [v.name for v in vendor("meta_ads").supported(AS_OF.date())]
    assert served == ["v24.0", "v25.0", "v26.0"]
    for version in served:
        answer = account(server, version)
        assert answer.status_code == 200 and answer.json()["currency"] == "EUR", version


@pytest.mark.parametrize("version", ["v21.0", "v23.0", "v12.0"])
def test_a_retired_version_is_refused_as_meta_does(server, version) -> None:
    answer = account(server, version)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 2635 and error["type"] == "OAuthException" and error["fbtrace_id"]
    assert error["message"] == (
        "(#2635) You are calling a deprecated version of the Ads API. Please update to the "
        "latest version: v26.0."
    )


def test_a_version_not_yet_released_is_an_unknown_path(server) -> None:
    for version in ("v27.0", "v99.0"):  # v27.0 comes out on 2026-11-04
        answer = account(server, version)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 2500


def test_the_connector_default_is_accepted(server) -> None:
    with mock.patch.dict(os.environ, server.env()):
        os.environ.pop("REVOPS_META_ADS_API_VERSION", None)
        api = meta_ads.client()
        body = api.get_json(f"act_{os.environ['REVOPS_META_ADS_ACCOUNT_IDS']}", "ad_accounts")
    assert api.base_url.endswith("/" + vendor("meta_ads").default)
    assert not vendor("meta_ads").retired(vendor("meta_ads").default, AS_OF.date())
    assert body["id"].startswith("act_")


def test_a_retired_version_set_by_hand_fails_at_once_with_metas_message(server) -> None:
    env = {**server.env(), "REVOPS_META_ADS_API_VERSION": "21"}
    with mock.patch.dict(os.environ, env):
        api = meta_ads.client()
        with pytest.raises(SourceError) as err:
            api.get_json(f"act_{os.environ['REVOPS_META_ADS_ACCOUNT_IDS']}", "ad_accounts")
    assert api.base_url.endswith("/v21.0") and api.requests_made == 1  # not retried
    assert "HTTP 400: (#2635) You are calling a deprecated version of the Ads API" in str(err.value)
