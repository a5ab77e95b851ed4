"""Incremental staging and intermediate models (outside attribution): N incremental days equal a
full refresh (row count and digest), and the same check fails with change detection off
(``incremental_change_detection: false``), so the check can fail."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import psycopg
import pytest
from warehouse_checks import own_dbt_target, table_digest

from revops.simulator import Company, SimulatorServer
from revops.sources import run_extract
from revops.transform import run_dbt

pytestmark = pytest.mark.slow

SEED = 11
SCALE = 0.03
AS_OF = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)
DAYS = 3  # incremental days after the first build
# model -> the streams its sources come from, per system
MODELS = {"staging.stg_mailchimp__email_activity": {"mailchimp": ["email_activity"]}}
DETECTION_OFF = ["--vars", json.dumps({"incremental_change_detection": False})]


def extract(server: SimulatorServer, url: str, home, streams: dict[str, list[str]]) -> None:
    env = {**server.env(), "REVOPS_HOME": str(home), "REVOPS_HTTP_BASE_DELAY": "0.01"}
    with mock.patch.dict(os.environ, env):
        for system, names in streams.items():
            run_extract(system, url, until=server.company.as_of, streams=names)


def build(url: str, models: list[str], *extra: str) -> None:
    run_dbt(["run", "--select", *(m.split(".")[1] for m in models), *extra], url, quiet=True)


def delete_one_click(url: str) -> None:
    """A raw row gone (a table replaced by hand, a vendor's deletion loaded as one): the
    incremental model must lose it too."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "delete from raw_mailchimp.email_activity where ctid = "
            "(select ctid from raw_mailchimp.email_activity where action = 'click' limit 1)"
        )


@pytest.mark.parametrize("model", sorted(MODELS))
def test_incremental_days_equal_a_full_refresh(model, fresh_db, tmp_path) -> None:
    """A first build, DAYS incremental days (a raw row deleted on one of them), then the last
    day's build compared with a full refresh; the same last day without change detection
    (run before it: it reads nothing, so the detecting run still has the day to read) must
    differ from the full refresh."""
    systems = MODELS[model]
    company = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        extract(server, fresh_db, tmp_path / "state", systems)
        build(fresh_db, [model])
        first = table_digest(fresh_db, model)
        for day in range(1, DAYS + 1):
            server.set_as_of(AS_OF + timedelta(days=day))
            extract(server, fresh_db, tmp_path / "state", systems)
            if day == 2:
                delete_one_click(fresh_db)
            if day == DAYS:
                with own_dbt_target("detection-off"):
                    build(fresh_db, [model], *DETECTION_OFF)
                without_detection = table_digest(fresh_db, model)
            build(fresh_db, [model])
        incremental = table_digest(fresh_db, model)
    build(fresh_db, [model], "--full-refresh")
    full = table_digest(fresh_db, model)
    assert incremental == full
    assert without_detection != full
    # the days brought rows, and the check without detection missed the last day's
    assert first[0] < without_detection[0] < full[0], (first, without_detection, full)
