"""dbt's own quality checks: what the gate reads from dbt instead of re-running.

Freshness of the raw layer is the publish gate's (``raw_<system>.freshness``, gate.yml's
``raw_freshness_hours``), so no source declares a dbt ``freshness`` (one owner per check).

The row rules the gate's suites used to state (keys, nulls, ranges, column order, credit sums,
totals between marts, spend against staging) are dbt tests now; ``MOVED`` names the dbt test
that holds each former gate check, and the project must have every one of them.

Channels, models and periods in the tests are dbt_project.yml's vars (tests/test_vocabulary.py
holds the seeds' channels inside them). The accepted currencies are written out, not read from
the rates seed at run time (a test that refs a seed is picked by every ``--select +<model>``);
they are checked here against the seed that defines them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import psycopg
import pytest
import yaml

from revops.transform import DbtError, run_dbt

DBT = Path(__file__).resolve().parent.parent / "dbt_project"
HOUR = 3600.0
DAY = 24 * HOUR

SOURCES = ("hubspot", "salesforce", "google_ads", "meta_ads", "linkedin_ads", "mailchimp")

MOVED = {
    "fct_funnel.person_id_unique": "unique_fct_funnel_person_id",
    "fct_funnel.email_not_null": "not_null_fct_funnel_email",
    "fct_funnel.mql_at_not_before_lead_at": "assert_funnel_stages_in_order",
    "fct_funnel.no_stage_skipped": "assert_funnel_stages_in_order",
    "fct_funnel.handoff_hours_not_negative": "not_negative_fct_funnel_handoff_hours",
    "fct_funnel.disqualification_has_reason": "assert_funnel_disqualification_has_reason",
    "rpt_funnel_weekly.leads_not_negative": "not_negative_rpt_funnel_weekly_leads",
    "rpt_funnel_weekly.totals_match_fct_funnel": "assert_funnel_reports_reconcile_with_fct_funnel",
    "rpt_funnel_conversion.lead_to_mql_rate_between_0_and_1": (
        "between_zero_and_one_rpt_funnel_conversion_lead_to_mql_rate"
    ),
    "rpt_funnel_conversion.lead_to_mql_in_window_not_above_ever": (
        "not_above_rpt_funnel_conversion_lead_to_mql_rate_in_window__lead_to_mql_rate"
    ),
    "fct_ad_spend_daily.spend_matches_raw": "assert_ad_spend_matches_staging",
    "fct_ad_spend_daily.clicks_not_above_impressions": (
        "not_above_fct_ad_spend_daily_clicks__impressions"
    ),
    "fct_ad_spend_daily.platform_conversions_not_null": (
        "not_null_fct_ad_spend_daily_platform_conversions"
    ),
    "fct_opportunities.won_is_closed": "assert_opportunity_close_flags_consistent",
    "fct_opportunities.amount_reporting_not_null": "not_null_fct_opportunities_amount_reporting",
    "fct_attribution.credit_sums_to_1": "assert_attribution_credit_sums_to_one",
    "fct_attribution.revenue_credit_not_negative": "not_negative_fct_attribution_revenue_credit",
    "rpt_channel_attribution.totals_match_fct_attribution": "assert_attribution_reports_reconcile",
    "rpt_pipeline.won_revenue_matches_fct_opportunities": (
        "assert_pipeline_reconciles_with_opportunities"
    ),
    "rpt_lead_handoff.mqls_not_null": "not_null_rpt_lead_handoff_mqls",
    "rpt_lead_rejections.rejected_not_negative": "not_negative_rpt_lead_rejections_rejected",
}
"""Former gate checks -> the dbt test that holds each now (a sample of every kind)."""


def test_no_source_declares_a_freshness_the_gate_owns() -> None:
    for source in SOURCES:
        path = DBT / "models" / "staging" / source / f"_{source}__sources.yml"
        assert "freshness" not in path.read_text(), path.name


@pytest.fixture
def own_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """dbt's manifest and logs in the test's own directory, not the shared project target."""
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    return tmp_path / "target"


def test_every_check_moved_from_the_gate_is_a_dbt_test(fresh_db: str, own_target: Path) -> None:
    run_dbt(["parse"], fresh_db, quiet=True)
    nodes = json.loads((own_target / "manifest.json").read_text())["nodes"].values()
    tests = {n["name"]: n for n in nodes if n["resource_type"] == "test"}
    missing = {check: test for check, test in MOVED.items() if test not in tests}
    assert missing == {}
    assert tests["not_null_fct_funnel_email"]["config"]["severity"].lower() == "warn"
    assert tests["assert_attribution_credit_sums_to_one"]["config"]["severity"].lower() == "error"


def seed_values(seed: str, column: str) -> set[str]:
    with (DBT / "seeds" / f"{seed}.csv").open() as handle:
        return {row[column] for row in csv.DictReader(handle) if row[column]}


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


def test_a_failing_dbt_test_is_recorded_and_blocks_its_mart(
    fresh_db: str, own_target: Path
) -> None:
    """The record_dbt_results hook writes what `dbt test` found; the gate's reading of it names
    the failed test under the mart it reads."""
    from dataclasses import replace

    from revops.quality.dbt_results import judge, model_id, read_newest

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "create schema marts; create table marts.rpt_lead_rejections (period_type text, "
            "period_start date, channel text, disqualification_reason text, rejected bigint); "
            "insert into marts.rpt_lead_rejections values "
            "('week', '2026-11-09', 'email', 'no budget', 3), "
            "('week', '2026-11-09', 'paid_search', 'no budget', -1)"
        )
    with pytest.raises(DbtError, match="not_negative_rpt_lead_rejections_rejected"):
        run_dbt(["test", "--select", "rpt_lead_rejections,test_type:generic"], fresh_db, quiet=True)
    with psycopg.connect(fresh_db) as conn:
        results = read_newest(conn)
    assert results is not None
    statuses = {r.name: r.status for r in results}
    assert statuses["not_negative_rpt_lead_rejections_rejected"] == "fail"
    assert statuses["not_null_rpt_lead_rejections_rejected"] == "pass"
    # dbt test alone records no build of the mart: that blocks before its tests are read
    marts = ["rpt_lead_rejections"]
    assert [f.check for f in judge(results, marts, "marts")] == ["dbt.rpt_lead_rejections.built"]
    test = next(r for r in results if r.name == "not_negative_rpt_lead_rejections_rejected")
    built = replace(test, unique_id=model_id(marts[0]), resource_type="model", status="success")
    [found] = judge([built, *results], marts, "marts")
    assert (found.check, found.table, found.severity) == (
        "dbt.not_negative_rpt_lead_rejections_rejected",
        "marts.rpt_lead_rejections",
        "blocking",
    )
    assert found.observed == "fail: Got 1 result, configured to fail if != 0"
