"""The publish gate over the marts, against a real PostgreSQL: the consistent world of
``test_publish_data`` passes, and each way of breaking a mart is caught, blocking, and named in
the summary with what was observed against what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from quality_helpers import record_dbt_test
from test_publish_data import AS_OF, build_world, scalar, sql

from revops.quality.gate import GateFailed, GateResult, require_pass, run_gate
from revops.quality.suites import PUBLISHED_MARTS, GateConfig, load_config
from revops.reports.periods import parse_period
from revops.warehouse import WarehouseError

W46 = parse_period("2026-W46")


@pytest.fixture
def world(fresh_db: str) -> str:
    build_world(fresh_db)
    return fresh_db


def record_failed_dbt_tests(url: str, *tests: tuple[str, tuple[str, ...], int]) -> None:
    """Record dbt tests failing as ``dbt build`` records them (name, marts read, rows)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name, marts, rows in tests:
            record_dbt_test(
                conn, name, marts, "fail", rows, f"Got {rows} results, configured to fail if != 0"
            )


def gate(url: str, tmp_path: Path, config: GateConfig | None = None, periods=(W46,)) -> GateResult:
    return run_gate(url, tmp_path / "docs", config, periods=periods, as_of=AS_OF)


def failure(result: GateResult, check: str):
    found = [f for f in result.failures if f.check == check]
    assert found, f"{check} not among failures:\n{result.summary()}"
    return found[0]


def test_the_good_world_passes_both_layers_and_builds_data_docs(world: str, tmp_path: Path) -> None:
    result = gate(world, tmp_path)
    assert result.failures == [], result.summary()
    assert result.passed is True
    assert result.docs_index == (tmp_path / "docs" / "index.html").resolve()
    index = result.docs_index.read_text()
    assert "rpt_funnel_conversion" in index and "raw_google_ads" in index
    assert len(result.marts) == 11
    assert {
        "raw_google_ads.campaign_daily",
        "raw_google_ads.customers",
        "raw_hubspot.contacts",
        "raw_hubspot.deals",
        "raw_mailchimp.email_activity",
    } <= set(result.raw_tables)
    assert "raw_salesforce.* (source not loaded; not required)" in result.not_run
    assert result.checks_run > 50
    assert result.as_of == AS_OF.isoformat() and result.periods == ["2026-W46"]
    assert result.summary().startswith("Quality gate PASSED")
    assert "11 marts and" in result.summary().splitlines()[0]
    assert require_pass(result) is result
    assert json.loads(json.dumps(result.to_dict()))["passed"] is True


def test_each_broken_mart_is_blocking_and_named_with_observed_and_expected(
    world: str, tmp_path: Path
) -> None:
    sql(
        world,
        """
        update marts.fct_attribution set revenue_credit = revenue_credit + 100
            where conversion_type = 'customer' and model = 'markov';
        update marts.rpt_lead_handoff set handed_off_within_sla = handed_off + 1
            where week_start = (select min(week_start) from marts.rpt_lead_handoff);
        delete from marts.rpt_funnel_weekly where week_start = '2026-10-05';
        update marts.rpt_funnel_conversion set customers = leads + 1000
            where period_type = 'month' and period_start = '2026-11-01'
            and source_channel = 'email';
    """,
    )
    # what dbt's tests caught in the same marts (the gate reads it, it does not re-run them)
    record_failed_dbt_tests(
        world,
        ("unique_fct_funnel_person_id", ("fct_funnel",), 1),
        ("assert_attribution_credit_sums_to_one", ("fct_attribution",), 1),
        ("assert_ad_spend_matches_staging", ("fct_ad_spend_daily",), 1),
        ("assert_pipeline_reconciles_with_opportunities", ("fct_opportunities", "rpt_pipeline"), 2),
    )
    result = gate(world, tmp_path, periods=(W46, parse_period("2026-W47")))
    assert result.passed is False
    expected = {
        "dbt.unique_fct_funnel_person_id": "fail: Got 1 results, configured to fail if != 0",
        "dbt.assert_attribution_credit_sums_to_one": "fail: Got 1 results, configured to fail "
        "if != 0",
        "rpt_funnel_weekly.no_missing_week": "1 offending row: (missing_period=2026-10-05)",
        "rpt_funnel_conversion.report_periods_present": "1 offending row: "
        "(report_period='2026-W47', period_type='week', period_start=2026-11-16)",
    }
    for check, observed in expected.items():
        assert failure(result, check).observed == observed, check
    assert failure(result, "dbt.assert_ad_spend_matches_staging").table == (
        "marts.fct_ad_spend_daily"
    )
    # a test reading two published marts is reported once, under the first
    pipeline = [f for f in result.failures if f.check.endswith("reconciles_with_opportunities")]
    assert [f.table for f in pipeline] == ["marts.fct_opportunities"]
    assert failure(result, "rpt_funnel_conversion.funnel_monotonic").observed.startswith(
        "1 offending row: (period_type='month'"
    )
    assert failure(result, "rpt_lead_handoff.counts_nest").observed.startswith(
        "3 offending rows: (week_start=2026-09-14, owner_id='u1', mqls=4, handed_off=4, "
        "handed_off_within_sla=5"
    )
    revenue = failure(result, "fct_attribution.revenue_per_conversion_equal_across_models")
    assert "offending row" in revenue.observed and "highest_model_total=" in revenue.observed
    summary = result.summary()
    assert summary.startswith("Quality gate FAILED")
    for f in result.failures:
        assert f.severity == "blocking", f.check
        assert f"[{f.check}]" in summary and f"observed: {f.observed}" in summary
        if not f.check.startswith("dbt."):
            assert f.docs_page and Path(f.docs_page).is_file(), f.check
    assert "marts.fct_funnel" in result.failed_tables
    with pytest.raises(GateFailed) as raised:
        require_pass(result)
    assert raised.value.result is result and str(raised.value) == summary


def test_dbt_builds_and_tests_that_do_not_clear_a_mart_block_it(world: str, tmp_path: Path) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        conn.execute(
            "insert into revops_meta.dbt_results (invocation_id, unique_id, resource_type, name, "
            "status, message, depends_on) values ('later', 'model.revops.rpt_pipeline', 'model', "
            "'rpt_pipeline', 'error', 'Database Error: division by zero', '{}'), "
            "('later', 'model.revops.rpt_lead_quality', 'model', 'rpt_lead_quality', 'success', "
            "'SELECT 12', '{}')"
        )
        record_dbt_test(
            conn,
            "not_null_fct_funnel_email",
            ("fct_funnel",),
            "warn",
            3,
            "Got 3 results, configured to warn if != 0",
            "warn",
        )
        record_dbt_test(conn, "assert_funnel_stages_in_order", ("fct_funnel",), "skipped")
    result = gate(world, tmp_path)
    assert result.passed is False
    assert [(f.check, f.severity) for f in result.failures] == [
        ("dbt.assert_funnel_stages_in_order", "blocking"),
        ("dbt.rpt_pipeline.built", "blocking"),
        ("dbt.rpt_lead_quality.tested", "blocking"),
        ("dbt.not_null_fct_funnel_email", "warning"),
    ]
    assert failure(result, "dbt.rpt_pipeline.built").observed.startswith("error at ")
    assert failure(result, "dbt.rpt_pipeline.built").observed.endswith(
        "UTC: Database Error: division by zero"
    )


def test_a_warehouse_without_dbt_results_blocks(fresh_db: str, tmp_path: Path) -> None:
    build_world(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("drop table if exists revops_meta.dbt_results")
    result = gate(fresh_db, tmp_path)
    assert [f.check for f in result.blocking] == ["dbt.results_recorded"]
    assert result.blocking[0].observed.startswith("no dbt results in revops_meta.dbt_results")


def test_a_missing_mart_blocks_unless_it_is_optional_and_its_readers_are_skipped(
    world: str, tmp_path: Path
) -> None:
    sql(world, "drop table marts.rpt_lead_rejections; drop table marts.rpt_lead_handoff")
    config = GateConfig(optional_marts=("rpt_lead_handoff",), source="test")
    result = gate(world, tmp_path, config)
    assert result.passed is False
    assert [(f.table, f.check, f.expectation_type) for f in result.failures] == [
        ("marts.rpt_lead_rejections", "rpt_lead_rejections.exists", "table_exists")
    ]
    assert result.skipped == ["rpt_lead_quality.rejected_matches_rpt_lead_rejections"]
    assert "marts.rpt_lead_handoff (optional, not built)" in result.not_run
    assert "observed: no table or view marts.rpt_lead_rejections in the warehouse" in (
        result.summary()
    )
    assert result.docs_index.is_file()


def test_an_empty_warehouse_fails_on_every_source_and_mart_without_crashing(
    fresh_db: str, tmp_path: Path
) -> None:
    result = gate(fresh_db, tmp_path)
    assert result.passed is False
    checks = [f.check for f in result.failures]
    assert checks[:3] == [
        "raw_google_ads.freshness",
        "raw_hubspot.freshness",
        "raw_mailchimp.freshness",
    ]
    assert checks[3:] == [f"{m}.exists" for m in PUBLISHED_MARTS] + ["dbt.results_recorded"]
    assert result.failures[-1].severity == "blocking"
    assert result.failures[0].observed == (
        "no raw_google_ads schema (or no _dlt_loads) in the warehouse: never loaded"
    )
    assert result.docs_index.is_file()


def test_a_warning_only_problem_passes_with_the_warning_listed(world: str, tmp_path: Path) -> None:
    sql(
        world,
        "update marts.fct_ad_spend_daily set platform_conversions = null where campaign_id = '203'",
    )
    with psycopg.connect(world, autocommit=True) as conn:  # dbt's own `severity: warn`
        record_dbt_test(
            conn,
            "not_null_fct_ad_spend_daily_platform_conversions",
            ("fct_ad_spend_daily",),
            "warn",
            4,
            "Got 4 results, configured to warn if != 0",
            "warn",
        )
    result = gate(world, tmp_path)
    assert result.passed is True
    assert result.blocking == []
    assert [f.check for f in result.warnings] == [
        "dbt.not_null_fct_ad_spend_daily_platform_conversions"
    ]
    summary = result.summary()
    assert "PASSED" in summary and "1 warning" in summary
    assert "WARNING marts.fct_ad_spend_daily: dbt_test on not_null_fct_ad_spend_daily" in summary
    # for the report's readers: the mart's row count read when the gate ran
    total = int(scalar(world, "select count(*) from marts.fct_ad_spend_daily"))
    assert total > 1000
    assert result.warnings[0].plain == (
        f"Ad spend (daily): platform conversions is empty on 4 of {total:,} rows "
        f"({100 * 4 / total:.1f}%)"
    )
    assert require_pass(result) is result


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_the_password_never_appears_in_summary_exception_or_docs(
    world: str, tmp_path: Path
) -> None:
    # The embedded test server trusts local connections, so any password is accepted; an
    # external test server's own password is the one that must not leak.
    password = urlsplit(world).password or "Hunter2-s3cret"
    url = world if urlsplit(world).password else _with_password(world, password)
    sql(
        world,
        "drop table marts.fct_attribution; "
        "update marts.fct_ad_spend_daily set spend = -1 where campaign_id = '101'",
    )
    result = gate(url, tmp_path)
    assert result.passed is False
    with pytest.raises(GateFailed) as raised:
        require_pass(result)
    texts = [result.summary(), str(raised.value), json.dumps(result.to_dict())]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "docs").rglob("*") if p.is_file()]
    assert all(password not in text for text in texts)
    assert "marts.fct_attribution" in str(raised.value)


def test_an_unreachable_warehouse_raises_with_the_password_redacted(tmp_path: Path) -> None:
    url = "postgresql://bob:Hunter2-s3cret@127.0.0.1:1/revops"
    with pytest.raises(WarehouseError) as raised:
        run_gate(url, tmp_path / "docs")
    assert "Hunter2-s3cret" not in str(raised.value)
    assert "postgresql://bob:***@127.0.0.1:1/revops" in str(raised.value)


def test_the_shipped_gate_yml_passes_the_world(world: str, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    result = gate(world, tmp_path, load_config(repo / "expectations" / "gate.yml"))
    assert result.passed and result.failures == [], result.summary()


SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _system_postgres_reachable() -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


@pytest.mark.skipif(
    not _system_postgres_reachable(),
    reason="no PostgreSQL server on 127.0.0.1:5432 (the gate runs on the "
    "embedded PostgreSQL in the other tests)",
)
def test_every_check_evaluates_on_postgresql_15_and_catches_bad_data(tmp_path: Path) -> None:
    """PostgreSQL before 16 demands an alias on every subquery in FROM: every check must run."""
    import uuid

    name = f"revops_gate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SYSTEM_PG, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = SYSTEM_PG.rsplit("/", 1)[0] + f"/{name}"
    try:
        build_world(url)
        sql(
            url,
            "update marts.fct_attribution set revenue_credit = revenue_credit + 100 "
            "where conversion_type = 'customer' and model = 'last_touch'",
        )
        result = gate(url, tmp_path)
        assert "could not be evaluated" not in result.summary()
        assert [f.check for f in result.failures] == [
            "fct_attribution.revenue_per_conversion_equal_across_models",
            "fct_attribution.revenue_totals_match_across_models",
        ]
    finally:
        with psycopg.connect(SYSTEM_PG, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
