"""The gate's suites and configuration, and its result type, without a database."""

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
    assert sorted(built) == [
        "fct_ad_spend_daily",
        "fct_attribution",
        "fct_funnel",
        "rpt_funnel_weekly",
    ]
    for mart, suite in built.items():
        assert suite.name == f"marts.{mart}"
        for expectation in suite.expectations:
            meta = expectation.meta
            assert meta["table"] == f"marts.{mart}"
            assert meta["severity"] in ("blocking", "warning")
            assert meta["check"].startswith(f"{mart}.")
            assert meta["expected"]
    names = suites.check_names(config)
    assert len(names) == len(set(names))


def test_shipped_gate_yml_sets_the_documented_severities() -> None:
    config = load_config(REPO / "expectations" / "gate.yml")
    assert config.source.endswith("expectations/gate.yml")
    assert config.credit_sum_tolerance == 1e-9
    assert config.severity("fct_ad_spend_daily.platform_conversions_not_null") == "warning"
    for blocking in (
        "fct_funnel.person_id_unique",
        "fct_funnel.mql_at_not_before_lead_at",
        "fct_ad_spend_daily.spend_not_negative",
        "fct_ad_spend_daily.currency_not_null",
        "fct_ad_spend_daily.currency_iso_code",
        "fct_attribution.credit_sums_to_1",
        "fct_attribution.conversions_match_fct_funnel",
        "rpt_funnel_weekly.no_missing_week",
    ):
        assert config.severity(blocking) == "blocking", blocking
    assert load_config(REPO / "expectations" / "gate.yml").warnings == GateConfig().warnings


def test_tuned_tolerance_and_warnings_reach_the_suites(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text(
        "credit_sum_tolerance: 1.0e-6\nwarnings: [fct_ad_spend_daily.currency_iso_code]\n"
    )
    config = load_config(path)
    suite = suites.fct_attribution_suite(config)
    by_check = {e.meta["check"]: e for e in suite.expectations}
    assert "> 1e-06" in by_check["fct_attribution.credit_sums_to_1"].unexpected_rows_query
    assert by_check["fct_attribution.credit_sums_to_1"].meta["expected"] == "1 within 1e-06"
    spend = {e.meta["check"]: e.meta for e in suites.fct_ad_spend_daily_suite(config).expectations}
    assert spend["fct_ad_spend_daily.currency_iso_code"]["severity"] == "warning"
    assert spend["fct_ad_spend_daily.platform_conversions_not_null"]["severity"] == "blocking"


def test_a_misspelt_warning_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("warnings: [fct_ad_spend_daily.platform_conversion_not_null]\n")
    with pytest.raises(GateConfigError, match="platform_conversion_not_null"):
        load_config(path)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("credit_tolerance: 0.1\n")
    with pytest.raises(GateConfigError, match="credit_tolerance"):
        load_config(path)


def test_env_variable_selects_the_config(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "custom.yml"
    path.write_text("credit_sum_tolerance: 0.001\n")
    monkeypatch.setenv(suites.CONFIG_ENV, str(path))
    assert load_config().credit_sum_tolerance == 0.001


def test_sqlalchemy_url_uses_psycopg3_and_utc() -> None:
    assert sqlalchemy_url("postgresql://u:p@h:5432/db") == (
        "postgresql+psycopg://u:p@h:5432/db?options=-c%20TimeZone%3DUTC"
    )
    assert sqlalchemy_url("postgres://h/db?sslmode=require").startswith(
        "postgresql+psycopg://h/db?sslmode=require&options="
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
