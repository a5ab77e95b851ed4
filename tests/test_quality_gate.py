"""The publish gate over the marts, against a real PostgreSQL: the consistent world of
``test_publish_data`` passes, and each way of breaking a mart is caught, blocking, and named in
the summary with what was observed against what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from test_publish_data import AS_OF, PEOPLE, build_world, sql

from revops.quality.gate import GateFailed, GateResult, require_pass, run_gate
from revops.quality.suites import GateConfig, load_config
from revops.reports.periods import parse_period
from revops.warehouse import WarehouseError

W46 = parse_period("2026-W46")


@pytest.fixture
def world(fresh_db: str) -> str:
    build_world(fresh_db)
    return fresh_db


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
    assert "rpt_channel_attribution" in index and "raw_google_ads" in index
    assert len(result.marts) == 11
    assert {
        "raw_google_ads.campaign_daily",
        "raw_google_ads.customers",
        "raw_hubspot.contacts",
        "raw_hubspot.deals",
        "raw_mailchimp.email_activity",
    } <= set(result.raw_tables)
    assert "raw_salesforce.* (source not loaded; not required)" in result.not_run
    assert result.checks_run > 200
    assert result.as_of == AS_OF.isoformat() and result.periods == ["2026-W46"]
    assert result.summary().startswith("Quality gate PASSED")
    assert "11 marts and" in result.summary().splitlines()[0]
    assert require_pass(result) is result
    assert json.loads(json.dumps(result.to_dict()))["passed"] is True


def test_each_broken_mart_is_blocking_and_named_with_observed_and_expected(
    world: str, tmp_path: Path
) -> None:
    backwards = next(p for p in PEOPLE if "mql" in p.at and p.person_id != "p003")
    sql(
        world,
        f"""
        insert into marts.fct_funnel select * from marts.fct_funnel where person_id = 'p003';
        update marts.fct_funnel set mql_at = lead_at - interval '1 hour'
            where person_id = '{backwards.person_id}';
        update marts.fct_attribution set credit = 0.9
            where conversion_id = 'p001:lead' and model = 'markov';
        update marts.rpt_funnel_conversion set lead_to_mql_rate = 1.5
            where period_type = 'week' and period_start = '2026-11-09'
            and source_channel = 'email';
        update marts.rpt_pipeline set won_revenue = won_revenue + 100
            where period_type = 'month' and period_start = '2026-11-01'
            and channel = 'email';
        delete from marts.rpt_funnel_weekly where week_start = '2026-10-05';
        delete from marts.fct_ad_spend_daily
            where date_day = '2026-10-01' and campaign_id = '101';
        delete from marts.rpt_channel_attribution
            where period_type = 'month' and conversion_type = 'lead' and model = 'first_touch'
            and channel = 'email' and period_start = '2026-10-01';
    """,
    )
    result = gate(world, tmp_path, periods=(W46, parse_period("2026-W47")))
    assert result.passed is False
    expected = {
        "fct_funnel.person_id_unique": "2 of 190 rows (1.1%); e.g. 'p003' x2",
        "fct_attribution.credit_sums_to_1": "1 offending row: (conversion_id='p001:lead', "
        "model='markov', credit_sum=0.9, touches=1)",
        "rpt_funnel_weekly.no_missing_week": "1 offending row: (missing_week=2026-10-05)",
        "rpt_funnel_conversion.report_periods_present": "1 offending row: "
        "(report_period='2026-W47', period_type='week', period_start=2026-11-16)",
    }
    for check, observed in expected.items():
        assert failure(result, check).observed == observed, check
    assert failure(result, "fct_funnel.mql_at_not_before_lead_at").observed.startswith(
        "1 of 190 rows (0.5%); e.g. (mql_at="
    )
    assert failure(
        result, "rpt_funnel_conversion.lead_to_mql_rate_between_0_and_1"
    ).observed.endswith("e.g. 1.5")
    won = failure(result, "rpt_pipeline.won_revenue_matches_fct_opportunities")
    assert won.observed.startswith("1 offending row: (period_type='month', in_fct_opportunities=")
    spend = failure(result, "fct_ad_spend_daily.spend_matches_raw")
    assert spend.observed.startswith("1 offending row: (platform='google_ads', raw_spend=")
    assert (
        "in_fct_attribution="
        in failure(result, "rpt_channel_attribution.totals_match_fct_attribution").observed
    )
    summary = result.summary()
    assert summary.startswith("Quality gate FAILED")
    for f in result.failures:
        assert f.severity == "blocking", f.check
        assert f"[{f.check}]" in summary and f"observed: {f.observed}" in summary
        assert f.docs_page and Path(f.docs_page).is_file(), f.check
    assert "marts.fct_funnel" in result.failed_tables
    with pytest.raises(GateFailed) as raised:
        require_pass(result)
    assert raised.value.result is result and str(raised.value) == summary


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
    assert checks[3:] == [
        f"{m}.exists"
        for m in (
            "fct_funnel",
            "rpt_funnel_weekly",
            "rpt_funnel_conversion",
            "fct_ad_spend_daily",
            "fct_opportunities",
            "fct_attribution",
            "rpt_channel_attribution",
            "rpt_pipeline",
            "rpt_lead_handoff",
            "rpt_lead_quality",
            "rpt_lead_rejections",
        )
    ]
    assert result.failures[0].observed == (
        "no raw_google_ads schema (or no _dlt_loads) in the warehouse: never loaded"
    )
    assert result.docs_index.is_file()


def test_a_warning_only_problem_passes_with_the_warning_listed(world: str, tmp_path: Path) -> None:
    sql(
        world,
        "update marts.fct_ad_spend_daily set platform_conversions = null where campaign_id = '203'",
    )
    result = gate(world, tmp_path)
    assert result.passed is True
    assert result.blocking == []
    assert [f.check for f in result.warnings] == [
        "fct_ad_spend_daily.platform_conversions_not_null"
    ]
    summary = result.summary()
    assert "PASSED" in summary and "1 warning" in summary
    assert "WARNING marts.fct_ad_spend_daily: expect_column_values_to_not_be_null" in summary
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
            "update marts.fct_attribution set credit = 0.5 "
            "where conversion_id = 'p001:lead' and model = 'last_touch'",
        )
        result = gate(url, tmp_path)
        assert "could not be evaluated" not in result.summary()
        assert [f.check for f in result.failures] == [
            "fct_attribution.credit_sums_to_1",  # and the report built from the credits:
            "rpt_channel_attribution.totals_match_fct_attribution",
        ]
    finally:
        with psycopg.connect(SYSTEM_PG, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
