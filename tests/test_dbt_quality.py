"""dbt quality checks that live outside a dbt build.

Source freshness (``dbt source freshness``): each source table is judged by the dlt load time
of its newest row against the thresholds of its ``_<source>__sources.yml``.

The raw tables here hold only ``_dlt_load_id`` (the one column freshness reads), with load ids
set hours or days in the past, so the statuses follow from the thresholds alone:
CRMs and Mailchimp warn after 1 day and fail after 3; ad platforms warn after 2 and fail after 4;
tables that change only in waves (Salesforce account, opportunity_contact_role, campaign_member;
Mailchimp members, email_activity) warn after 3 and fail after 7; the Salesforce lookups (user,
campaign) are not checked.

The accepted lists the mart tests hold (channels, currencies) are written out, not read from the
seeds at run time (a test that refs a seed is picked by every ``--select +<model>``); they are
checked here against the seeds that define them.
"""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from revops.transform import DbtError, run_dbt

DBT = Path(__file__).resolve().parent.parent / "dbt_project"
HOUR = 3600.0
DAY = 24 * HOUR

SOURCES = ("hubspot", "salesforce", "google_ads", "meta_ads", "linkedin_ads", "mailchimp")


def declared_tables() -> dict[str, list[str]]:
    """Every table the six vendor sources declare, by source."""
    tables = {}
    for source in SOURCES:
        path = DBT / "models" / "staging" / source / f"_{source}__sources.yml"
        (declared,) = yaml.safe_load(path.read_text())["sources"]
        tables[source] = [table["name"] for table in declared["tables"]]
    return tables


TABLES = declared_tables()
LOOKUPS = {"salesforce.user", "salesforce.campaign"}  # freshness: null
SLOW_TABLES = {  # warn after 3 days, error after 7
    "salesforce.account",
    "salesforce.opportunity_contact_role",
    "salesforce.campaign_member",
    "mailchimp.members",
    "mailchimp.email_activity",
}


def load_raw(url: str, age_seconds: dict[str, float]) -> None:
    """Create every source table with one row loaded ``age_seconds[source]`` ago (dlt's load id
    is the load's unix time as text), plus an older row that must not count."""
    now = time.time()
    with psycopg.connect(url, autocommit=True) as conn:
        for source, tables in TABLES.items():
            conn.execute(f"create schema raw_{source}")
            newest = f"{now - age_seconds[source]:.6f}"
            oldest = f"{now - age_seconds[source] - 30 * DAY:.6f}"
            for table in tables:
                conn.execute(f'create table raw_{source}."{table}" (_dlt_load_id text not null)')
                conn.execute(
                    f'insert into raw_{source}."{table}" values (%s), (%s)', (oldest, newest)
                )


def freshness(url: str, output: Path) -> None:
    """Run ``dbt source freshness``, writing its results to ``output``."""
    run_dbt(["source", "freshness", "--output", str(output)], url, quiet=True)


def results_by_table(output: Path) -> dict[str, dict]:
    """The freshness results by ``<source>.<table>``."""
    results = json.loads(output.read_text())["results"]
    return {r["unique_id"].removeprefix("source.revops."): r for r in results}


@pytest.fixture(autouse=True)
def own_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt's manifest and logs in the test's own directory, not the shared project target."""
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))


def test_freshness_status_per_source_and_table_follows_the_thresholds(
    fresh_db: str, tmp_path: Path
) -> None:
    load_raw(
        fresh_db,
        {
            "hubspot": 1 * HOUR,  # just loaded
            "linkedin_ads": 1 * HOUR,
            "google_ads": 3 * DAY,  # ads: past warn (2 d), inside error (4 d)
            "meta_ads": 5 * DAY,  # ads: past error
            "mailchimp": 2 * DAY,  # past warn (1 d); members, email_activity inside 3 d
            "salesforce": 5 * DAY,  # past error (3 d); the wave tables only past warn (3 d)
        },
    )
    output = tmp_path / "sources.json"
    with pytest.raises(DbtError, match=r"dbt source freshness .* failed"):  # stale: fails
        freshness(fresh_db, output)
    results = results_by_table(output)

    expected = {}
    for source, tables in TABLES.items():
        for table in tables:
            name = f"{source}.{table}"
            if name in LOOKUPS:
                continue
            expected[name] = {
                "hubspot": "pass",
                "linkedin_ads": "pass",
                "google_ads": "warn",
                "meta_ads": "error",
                "mailchimp": "pass" if name in SLOW_TABLES else "warn",
                "salesforce": "warn" if name in SLOW_TABLES else "error",
            }[source]
    assert {name: r["status"] for name, r in results.items()} == expected
    assert len(expected) == sum(map(len, TABLES.values())) - 2  # the two lookups opted out
    assert len(expected) >= 28  # 30 tables declared today, less the two lookups

    # the age is the newest load id's, not the older row's
    age = results["meta_ads.ad_insights"]["max_loaded_at_time_ago_in_s"]
    assert 5 * DAY - 120 < age < 5 * DAY + 120
    assert results["salesforce.lead"]["criteria"] == {
        "warn_after": {"count": 1, "period": "day"},
        "error_after": {"count": 3, "period": "day"},
        "filter": None,
    }


def test_freshness_passes_when_every_source_loaded_within_the_day(
    fresh_db: str, tmp_path: Path
) -> None:
    load_raw(fresh_db, dict.fromkeys(TABLES, 20 * HOUR))
    output = tmp_path / "sources.json"
    freshness(fresh_db, output)  # does not raise
    results = results_by_table(output)
    assert set(results) == {f"{s}.{t}" for s, ts in TABLES.items() for t in ts} - LOOKUPS
    assert {r["status"] for r in results.values()} == {"pass"}


def seed_values(seed: str, column: str) -> set[str]:
    with (DBT / "seeds" / f"{seed}.csv").open() as handle:
        return {row[column] for row in csv.DictReader(handle) if row[column]}


def test_accepted_channels_are_the_channels_the_seeds_define() -> None:
    text = (DBT / "tests" / "generic" / "accepted_channel.sql").read_text()
    listed = re.search(r"set seeded = \[(.*?)\]", text, re.S)
    assert listed, "accepted_channel.sql has no `seeded` list"
    accepted = set(re.findall(r"'([^']+)'", listed.group(1)))
    seeded = (
        seed_values("channel_mapping", "channel")
        | seed_values("hubspot_analytics_sources", "channel")
        | seed_values("ad_channel_types", "channel")
    )
    assert accepted == seeded


def test_accepted_currencies_are_the_currencies_with_rates() -> None:
    with_rates = seed_values("fx_rates_daily", "currency")
    checked = []
    for path in sorted((DBT / "models" / "marts").glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            for column in model.get("columns", []):
                if column["name"] != "currency":
                    continue
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        values = test["accepted_values"]["arguments"]["values"]
                        assert set(values) == with_rates, f"{model['name']}.currency"
                        checked.append(model["name"])
    assert sorted(checked) == ["dim_campaigns", "fct_ad_spend_daily", "fct_opportunities"]
