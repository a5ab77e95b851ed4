"""LinkedIn versions as data: the connector's default ``LinkedIn-Version`` is one LinkedIn serves
on the simulator's clock (default: now) and the simulator accepts it; a sunset or unknown version
is refused as LinkedIn refuses it: ``426`` with
``{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 20240901 is not
active"}`` (the version spelled YYYYMMDD; many reports, e.g. PipedreamHQ/pipedream#18398).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
import requests

from revops.simulator import Company, SimulatorServer
from revops.sources import linkedin_ads, run_extract
from revops.sources.http import SourceError
from revops.sources.settings import SettingsError
from revops.sources.versions import vendor

NOW = datetime.now(UTC).replace(microsecond=0)
E2E_AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # tests/test_sources_e2e.py's clock


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    """The simulator at its default clock (``--as-of`` unset: now)."""
    company = Company.generate(seed=7, scale=0.02, as_of=NOW)
    with SimulatorServer(company, cert_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture
def no_version_settings() -> Iterator[None]:
    names = ("REVOPS_LINKEDIN_ADS_API_VERSION", "REVOPS_LINKEDIN_ADS_VERSION")
    with mock.patch.dict(os.environ):
        for name in names:
            os.environ.pop(name, None)
        yield


def get(server: SimulatorServer, path: str, version: str | None) -> requests.Response:
    env = server.env()
    headers = {
        "Authorization": f"Bearer {env['REVOPS_LINKEDIN_ADS_TOKEN']}",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    if version is not None:
        headers["LinkedIn-Version"] = version
    return requests.get(
        f"{env['REVOPS_LINKEDIN_ADS_URL']}{path}",
        headers=headers,
        timeout=30,
        verify=env["REQUESTS_CA_BUNDLE"],
    )


def retired_on(day: date) -> list[str]:
    return [v.name for v in vendor("linkedin_ads").versions if v.sunset and v.sunset <= day]


@pytest.mark.parametrize("day", [NOW.date(), E2E_AS_OF.date()], ids=["now", "e2e-as-of"])
def test_the_default_is_a_version_linkedin_serves_on_the_simulators_clock(
    day: date, no_version_settings: None
) -> None:
    default = linkedin_ads.linkedin_version()
    assert default == vendor("linkedin_ads").default
    assert default in {v.name for v in vendor("linkedin_ads").supported(day)}, (
        f"LinkedIn-Version {default} is not served on {day}: move the default in "
        "revops.sources.versions"
    )


def test_the_simulator_accepts_the_default_and_every_served_version(
    server: SimulatorServer,
) -> None:
    served = vendor("linkedin_ads").supported(NOW.date())
    assert served and vendor("linkedin_ads").default in {v.name for v in served}
    for version in served:
        answer = get(server, "/rest/adAccounts?q=search", version.name)
        assert answer.status_code == 200, (version.name, answer.text)
        assert answer.json()["elements"][0]["currency"] == "USD"


def test_a_sunset_version_is_refused_as_linkedin_refuses_it(server: SimulatorServer) -> None:
    old = retired_on(NOW.date())
    assert "202410" in old and "202509" in old  # the connector's defaults before this list
    for name in (old[0], old[-1], "202509"):
        answer = get(server, "/rest/adAccounts?q=search", name)
        assert answer.status_code == 426
        assert answer.json() == {
            "status": 426,
            "serviceErrorCode": 0,
            "code": "NONEXISTENT_VERSION",
            "message": f"Requested version {name}01 is not active",
        }


def test_a_version_not_yet_released_or_malformed_is_not_active_either(
    server: SimulatorServer,
) -> None:
    newest = max(v.released for v in vendor("linkedin_ads").versions)
    future = (newest + timedelta(days=400)).strftime("%Y%m")
    for name, shown in ((future, f"{future}01"), ("2026-10", "2026-10")):
        answer = get(server, "/rest/adAccounts?q=search", name)
        assert answer.status_code == 426
        assert answer.json()["message"] == f"Requested version {shown} is not active"
    missing = get(server, "/rest/adAccounts?q=search", None)
    assert missing.status_code == 400 and missing.json()["code"] == "VERSION_MISSING"


def test_the_connector_sends_the_default_and_loads(
    server: SimulatorServer, no_version_settings: None, fresh_db: str, tmp_path: Path
) -> None:
    env = {
        **server.env(),
        "REVOPS_HOME": str(tmp_path),
        "REVOPS_LINKEDIN_ADS_START_DATE": (NOW - timedelta(days=3)).date().isoformat(),
    }
    with mock.patch.dict(os.environ, env):
        result = run_extract("linkedin_ads", fresh_db, until=NOW)
    assert result.complete and not result.stopped
    assert result.rows["ad_accounts"] == 1 and result.rows["campaign_analytics"] > 0


def test_a_retired_version_setting_fails_the_run_with_linkedins_error(
    server: SimulatorServer, fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        **server.env(),
        "REVOPS_HOME": str(tmp_path),
        "REVOPS_LINKEDIN_ADS_API_VERSION": "202509",
    }
    with mock.patch.dict(os.environ, env), pytest.raises(Exception) as failed:
        run_extract("linkedin_ads", fresh_db, until=NOW, streams=["ad_accounts"])
    chain: list[BaseException] = []
    err: BaseException | None = failed.value
    while err is not None and all(err is not seen for seen in chain):  # chains can loop
        chain.append(err)
        err = err.__cause__ or err.__context__
    source = next(e for e in chain if isinstance(e, SourceError))
    assert source.status == 426
    assert str(source).endswith("HTTP 426: Requested version 20250901 is not active")
    # and the run said why beforehand, naming the setting and current versions
    warned = [r.getMessage() for r in caplog.records if r.name == "revops.sources.versions"]
    assert any("202509 was retired" in m for m in warned)
    assert any("REVOPS_LINKEDIN_ADS_API_VERSION" in m for m in warned)


def test_the_former_version_variable_is_refused_naming_the_new_one(
    no_version_settings: None,
) -> None:
    with mock.patch.dict(os.environ, {"REVOPS_LINKEDIN_ADS_VERSION": "202601"}):
        with pytest.raises(SettingsError, match="REVOPS_LINKEDIN_ADS_API_VERSION"):
            linkedin_ads.linkedin_version()
    with mock.patch.dict(os.environ, {"REVOPS_LINKEDIN_ADS_API_VERSION": "202601"}):
        assert linkedin_ads.linkedin_version() == "202601"
