"""Google Ads: the connector sends the version the dated list names, and a retired one set by
hand fails at once with Google's answer in the message (and a warning before the request)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from warehouse_checks import new_database

from revops.simulator import Company, SimulatorServer
from revops.sources import run_extract
from revops.sources.google_ads import client
from revops.sources.http import SourceError
from revops.sources.versions import vendor

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimulatorServer]:
    company = Company.generate(seed=7, scale=0.02, as_of=AS_OF)
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as running:
        yield running


def env(server: SimulatorServer, home: Path, **extra: str) -> dict[str, str]:
    return {
        **server.env(),
        "REVOPS_HOME": str(home),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
        "REVOPS_GOOGLE_ADS_START_DATE": (AS_OF - timedelta(days=3)).date().isoformat(),
        **extra,
    }


def test_the_connector_sends_the_listed_default_and_the_simulator_serves_it(
    server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVOPS_GOOGLE_ADS_API_VERSION", raising=False)
    with mock.patch.dict(os.environ, env(server, tmp_path)):
        api = client()
    default = vendor("google_ads").default
    assert api.base_url.endswith(f"/{default}")
    assert default in [v.name for v in vendor("google_ads").supported(AS_OF.date())]


def test_a_retired_version_set_by_hand_fails_at_once_with_googles_answer(
    server: SimulatorServer, server_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with new_database(server_url, "revops_gav") as url:
        settings = env(server, tmp_path, REVOPS_GOOGLE_ADS_API_VERSION="21")
        with mock.patch.dict(os.environ, settings), caplog.at_level(logging.WARNING):
            with pytest.raises(SourceError) as err:
                run_extract("google_ads", url, until=AS_OF, streams=["customers"])
    assert err.value.system == "google_ads" and err.value.status == 400
    assert "invalid argument" in str(err.value)
    assert "UNSUPPORTED_VERSION" in str(err.value) and "v21 is deprecated" in str(err.value)
    warned = [
        r.getMessage() for r in caplog.records if "REVOPS_GOOGLE_ADS_API_VERSION" in r.message
    ]
    assert warned and "v21 was retired on 2026-08-05" in warned[0]
