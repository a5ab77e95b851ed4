"""The gate's suites and configuration, its result type, and its alert, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from revops.quality import suites
from revops.quality.gate import Failure, GateFailed, GateResult, require_pass, sqlalchemy_url
from revops.quality.suites import GateConfig, GateConfigError, load_config
from revops.warehouse import WarehouseError

REPO = Path(__file__).resolve().parents[1]


def test_every_expectation_names_its_mart_severity_and_expectation() -> None:
    config = load_config(REPO / "expectations" / "gate.yml")
    built = suites.all_suites(config)
    assert (
        list(built)
        == list(suites.PUBLISHED_MARTS)
        == [
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
        ]
    )
    for mart, suite in built.items():
        assert suite.name == f"marts.{mart}"
        for expectation in suite.expectations:
            meta = expectation.meta
            assert meta["table"] == f"marts.{mart}"
            assert meta["severity"] in ("blocking", "warning")
            assert meta["check"].startswith(f"{mart}.")
            assert meta["expected"]
            gx_severity = "critical" if meta["severity"] == "blocking" else "warning"
            assert expectation.severity.value == gx_severity
    names = suites.check_names(config)
    assert len(names) == len(set(names)) == 16
    built_names = [e.meta["check"] for suite in built.values() for e in suite.expectations]
    assert built_names == [n for n in names if n != "rpt_funnel_conversion.report_periods_present"]


def test_the_gate_states_no_check_dbt_states() -> None:
    """One owner per check: what dbt tests (keys, nulls, ranges, contracts' columns, credit sums,
    totals between marts, spend against staging) is read from dbt's results, never re-run."""
    names = suites.check_names()
    for dbt_owned in (
        "_not_null",
        "_unique",
        "_not_negative",
        "_between_0_and_1",
        "columns_present",
        "credit_sums_to_1",
        "totals_match_fct_funnel",
        "totals_match_fct_attribution",
        "matches_fct_opportunities",
        "spend_matches_raw",
        "won_is_closed",
    ):
        assert not [n for n in names if n.endswith(dbt_owned)], dbt_owned


def test_shipped_gate_yml_sets_the_documented_severities() -> None:
    config = load_config(REPO / "expectations" / "gate.yml")
    assert config.source.endswith("expectations/gate.yml")
    assert config.money_tolerance == 0.01
    assert config.severity("rpt_pipeline.no_missing_period") == "warning"
    for blocking in (
        "fct_attribution.conversions_match_fct_funnel",
        "rpt_funnel_weekly.no_missing_week",
        "rpt_funnel_conversion.report_periods_present",
        "rpt_lead_handoff.counts_nest",
    ):
        assert config.severity(blocking) == "blocking", blocking
    # the shipped file is the one place each default is written: it sets every setting
    assert set(suites.shipped_config()) == set(GateConfig.__dataclass_fields__) - {"source"}
    assert GateConfig(source=config.source) == config


def test_tuned_tolerance_and_warnings_reach_the_suites(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("money_tolerance: 0.5\nwarnings: [fct_attribution.revenue_totals_*]\n")
    config = load_config(path)
    suite = suites.mart_suite("fct_attribution", config)
    by_check = {e.meta["check"]: e for e in suite.expectations}
    totals = by_check["fct_attribution.revenue_totals_match_across_models"]
    assert "> 0.5" in totals.unexpected_rows_query
    assert totals.meta["severity"] == "warning"
    assert by_check["fct_attribution.conversions_match_fct_funnel"].meta["severity"] == "blocking"


def test_a_dbt_test_cannot_be_made_a_warning_in_gate_yml(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("warnings: [dbt.not_null_fct_funnel_email]\n")
    with pytest.raises(GateConfigError, match="dbt.not_null_fct_funnel_email"):
        load_config(path)


@pytest.mark.parametrize(
    "warning",
    [
        "raw_google_ads.campaign_daily.volume",
        "raw_*.*.volume",
        "raw_hubspot.freshness",
        "raw_hubspot.deals.amount_not_negative",
        "raw_salesforce.opportunity.currency_iso_code_known_currency",
        "rpt_lead_*.no_missing_week",
    ],
)
def test_raw_check_names_and_patterns_can_be_made_warnings(tmp_path: Path, warning: str) -> None:
    path = tmp_path / "gate.yml"
    path.write_text(f"warnings: ['{warning}']\n")
    config = load_config(path)
    assert warning in config.warnings


def test_a_pattern_makes_every_check_it_matches_a_warning() -> None:
    config = GateConfig(warnings=frozenset({"raw_*.*.volume"}))
    assert config.severity("raw_google_ads.campaign_daily.volume") == "warning"
    assert config.severity("raw_google_ads.campaign_daily.primary_key_unique") == "blocking"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("warnings: [raw_hubspot.contacts.volumes]\n", "volumes"),
        ("warnings: [fct_funel.*]\n", "fct_funel"),
        ("volume_min_fraction: 1.5\n", "volume_min_fraction"),
        ("raw_spend: {google_ads: {table: campaign_daily}}\n", "raw_spend"),
        ("raw_money_columns: {campaign_daily: [cost]}\n", "campaign_daily"),
        ("rates_table: fx_rates\n", "fx_rates"),
    ],
)
def test_invalid_settings_are_refused_naming_them(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "gate.yml"
    path.write_text(text)
    with pytest.raises(GateConfigError, match=named.replace(".", r"\.").replace("*", r"\*")):
        load_config(path)


def test_report_periods_make_the_funnel_mart_cover_them() -> None:
    from datetime import UTC, datetime

    from revops.reports.periods import parse_period

    ctx = suites.GateContext(
        as_of=datetime(2026, 11, 16, tzinfo=UTC),
        periods=(parse_period("2026-W46"), parse_period("2026-10")),
    )
    suite = suites.mart_suite("rpt_funnel_conversion", GateConfig(), ctx)
    [check] = [
        e
        for e in suite.expectations
        if e.meta["check"] == "rpt_funnel_conversion.report_periods_present"
    ]
    assert "'week'::text as period_type, date '2026-11-09'" in check.unexpected_rows_query
    assert "'month'::text as period_type, date '2026-10-01'" in check.unexpected_rows_query
    without = suites.mart_suite("rpt_funnel_conversion", GateConfig(), suites.GateContext())
    assert "rpt_funnel_conversion.report_periods_present" not in {
        e.meta["check"] for e in without.expectations
    }


def test_sql_that_gx_would_alias_wrongly_is_refused_when_the_suite_is_built() -> None:
    builder = suites.SuiteBuilder("fct_funnel", GateConfig())
    with pytest.raises(ValueError, match="without a JOIN"):
        builder.rows("x", "s", "e", "select 1 from {batch} as rows_")
    with pytest.raises(ValueError, match="with a JOIN, alias"):
        builder.rows("y", "s", "e", "select 1 from {batch} join marts.fct_funnel as f on true")
    with pytest.raises(ValueError, match="braces"):
        builder.rows("z", "s", "e", "select '{x}' from {batch}")


def test_a_misspelt_warning_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("warnings: [rpt_lead_handoff.no_missing_weeks]\n")
    with pytest.raises(GateConfigError, match="no_missing_weeks"):
        load_config(path)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("credit_tolerance: 0.1\n")
    with pytest.raises(GateConfigError, match="credit_tolerance"):
        load_config(path)


def test_env_variable_selects_the_config(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "custom.yml"
    path.write_text("money_tolerance: 0.001\n")
    monkeypatch.setenv(suites.CONFIG_ENV, str(path))
    assert load_config().money_tolerance == 0.001


def test_sqlalchemy_url_uses_psycopg3_and_utc() -> None:
    assert sqlalchemy_url("postgresql://u:p@h:5432/db") == (
        "postgresql+psycopg://u:p@h:5432/db?options=-c%20TimeZone%3DUTC"
    )
    # what the URL leaves out (user, port) is resolved once, as libpq would, for every consumer
    assert sqlalchemy_url("postgres://h/db?sslmode=require").startswith(
        "postgresql+psycopg://postgres@h:5432/db?sslmode=require&options="
    )
    with pytest.raises(WarehouseError) as raised:
        sqlalchemy_url("mysql://u:hunter2@h/db")
    assert "hunter2" not in str(raised.value)


def _result(*failures: Failure) -> GateResult:
    return GateResult(
        passed=all(f.severity != "blocking" for f in failures),
        failures=list(failures),
        docs_index=Path("/docs/index.html"),
        checks_run=10,
        marts=["marts.fct_funnel"],
    )


NEGATIVE_SPEND = Failure(
    table="marts.fct_ad_spend_daily",
    expectation_type="expect_column_values_to_be_between",
    column="spend",
    severity="blocking",
    observed="1 of 3 rows (33.3%); e.g. -5",
    expected=">= 0",
    check="fct_ad_spend_daily.spend_not_negative",
)
NULL_CONVERSIONS = Failure(
    table="marts.fct_ad_spend_daily",
    expectation_type="expect_column_values_to_not_be_null",
    column="platform_conversions",
    severity="warning",
    observed="1 of 3 rows (33.3%) null",
    expected="no nulls",
    check="fct_ad_spend_daily.platform_conversions_not_null",
)


def test_summary_names_table_expectation_observed_and_expected() -> None:
    result = _result(NULL_CONVERSIONS, NEGATIVE_SPEND)
    assert result.summary().splitlines() == [
        "Quality gate FAILED: 1 blocking failure and 1 warning in 10 checks on 1 mart (0.0 s);"
        " the report must not be published.",
        "BLOCKING marts.fct_ad_spend_daily: expect_column_values_to_be_between on spend"
        " [fct_ad_spend_daily.spend_not_negative]",
        "    observed: 1 of 3 rows (33.3%); e.g. -5",
        "    expected: >= 0",
        "WARNING marts.fct_ad_spend_daily: expect_column_values_to_not_be_null on"
        " platform_conversions [fct_ad_spend_daily.platform_conversions_not_null]",
        "    observed: 1 of 3 rows (33.3%) null",
        "    expected: no nulls",
        "Data Docs: /docs/index.html",
    ]
    assert result.to_dict()["blocking_count"] == 1
    assert result.to_dict()["failures"][1]["check"] == "fct_ad_spend_daily.spend_not_negative"


def test_require_pass_raises_with_the_summary_only_on_blocking_failures() -> None:
    warned = _result(NULL_CONVERSIONS)
    assert require_pass(warned) is warned
    failed = _result(NEGATIVE_SPEND)
    with pytest.raises(GateFailed) as raised:
        require_pass(failed)
    assert raised.value.result is failed
    assert str(raised.value) == failed.summary()


def test_the_summary_counts_raw_tables_and_lists_failed_tables() -> None:
    raw_failure = Failure(
        table="raw_google_ads.campaign_daily",
        expectation_type="offending_rows_expectation",
        column="rows of the newest complete day of segments__date",
        severity="blocking",
        observed="1 offending row: (newest_day=2026-11-15, rows_that_day=10)",
        expected="at least 60% of the median of the same weekday over the previous 4 weeks",
        check="raw_google_ads.campaign_daily.volume",
        docs_page="/docs/validations/raw_google_ads/campaign_daily/x.html",
    )
    result = _result(raw_failure, NEGATIVE_SPEND, NULL_CONVERSIONS)
    result.raw_tables = ["raw_google_ads.campaign_daily", "raw_hubspot.contacts"]
    assert (
        result.summary()
        .splitlines()[0]
        .startswith(
            "Quality gate FAILED: 2 blocking failures and 1 warning in 10 checks on 1 mart and "
            "2 raw tables"
        )
    )
    assert result.failed_tables == ["raw_google_ads.campaign_daily", "marts.fct_ad_spend_daily"]
    assert result.to_dict()["failures"][0]["docs_page"].endswith("x.html")


def test_the_alert_lists_each_failure_with_observed_expected_and_its_data_docs_page() -> None:
    from revops.quality.alert import alert_subject, build_alert
    from revops.reports.periods import parse_period

    page = "/docs/validations/marts/fct_ad_spend_daily/run/page.html"
    failure = Failure(**{**NEGATIVE_SPEND.__dict__, "docs_page": page})
    result = _result(failure, NULL_CONVERSIONS)
    week = parse_period("2026-W46")
    assert alert_subject(result, [week]) == (
        "revops quality gate FAILED for weekly 2026-W46: 1 blocking failure "
        "(marts.fct_ad_spend_daily)"
    )
    message = build_alert(result, [week], "scheduled", "revops@example.com", ["oncall@example.com"])
    text = message.get_body(("plain",)).get_content()
    assert "The weekly report 2026-W46 was NOT sent." in text
    assert "1. marts.fct_ad_spend_daily: fct_ad_spend_daily.spend_not_negative" in text
    assert "   observed:    1 of 3 rows (33.3%); e.g. -5" in text
    assert "   expected:    >= 0" in text
    assert f"   Data Docs:   {page}" in text
    assert "- marts.fct_ad_spend_daily: fct_ad_spend_daily.platform_conversions_not_null" in text
    html = message.get_body(("html",)).get_content()
    assert f'href="{page}"' in html and "e.g. -5" in html
    hosted = build_alert(
        result,
        [week],
        "k",
        "revops@example.com",
        ["oncall@example.com"],
        base_url="https://docs.example.com/gate",
    )
    assert (
        "https://docs.example.com/gate/validations/marts/fct_ad_spend_daily/run/page.html"
        in hosted.get_body(("plain",)).get_content()
    )


def test_importing_the_gate_logs_nothing_of_great_expectations_at_info() -> None:
    """A task log at INFO (as Airflow's) gets none of GX's import-time lines: before, about
    200 of a check_quality task log's 230 lines were GX registering its functions."""
    import subprocess
    import sys

    code = (
        "import logging; logging.basicConfig(level=logging.INFO); "
        "import revops.quality.gate; "
        "logging.getLogger('great_expectations.x').warning('gx warnings still show')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = [line for line in done.stderr.splitlines() if "great_expectations" in line]
    assert lines == ["WARNING:great_expectations.x:gx warnings still show"], lines[:5]
