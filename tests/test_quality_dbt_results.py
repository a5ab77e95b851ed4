"""The gate's judgement of dbt's recorded results (pure: no database), and the record's shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from revops.quality.dbt_results import COLUMNS, NodeResult, judge, model_id

BUILT = datetime(2026, 11, 16, 5, tzinfo=UTC)
MACRO = Path(__file__).resolve().parents[1] / "dbt_project" / "macros" / "record_dbt_results.sql"


def node(name: str, kind: str, status: str, marts=(), minutes: int = 1, **kw) -> NodeResult:
    return NodeResult(
        invocation_id=kw.get("invocation", f"run at {minutes}"),
        unique_id=model_id(name) if kind == "model" else f"test.revops.{name}",
        resource_type=kind,
        name=name,
        status=status,
        severity=kw.get("severity"),
        failures=kw.get("failures"),
        message=kw.get("message", ""),
        depends_on=tuple(model_id(m) for m in marts),
        recorded_at=BUILT + timedelta(minutes=minutes),
    )


def checks(findings) -> list[tuple[str, str]]:
    return [(f.check, f.severity) for f in findings]


def test_a_built_and_tested_mart_is_cleared() -> None:
    results = [node("fct_funnel", "model", "success", minutes=0)]
    results.append(node("unique_fct_funnel_person_id", "test", "pass", ["fct_funnel"]))
    assert judge(results, ["fct_funnel"], "marts") == []


@pytest.mark.parametrize(
    ("status", "severity"),
    [("fail", "blocking"), ("error", "blocking"), ("skipped", "blocking"), ("warn", "warning")],
)
def test_a_test_that_did_not_pass_is_named_with_its_dbt_message(status: str, severity: str) -> None:
    results = [
        node("fct_attribution", "model", "success", minutes=0),
        node(
            "assert_attribution_credit_sums_to_one",
            "test",
            status,
            ["fct_attribution"],
            failures=3,
            message="Got 3 results, configured to fail if != 0",
        ),
    ]
    [found] = judge(results, ["fct_attribution"], "marts")
    assert (found.check, found.severity, found.table) == (
        "dbt.assert_attribution_credit_sums_to_one",
        severity,
        "marts.fct_attribution",
    )
    assert found.observed == f"{status}: Got 3 results, configured to fail if != 0"


def test_a_failed_build_and_a_build_newer_than_its_tests_block() -> None:
    results = [
        node("rpt_pipeline", "model", "error", minutes=0, message="division by zero"),
        node("rpt_lead_quality", "model", "success", minutes=5),
        node("unique_rpt_lead_quality_x", "test", "pass", ["rpt_lead_quality"], minutes=2),
    ]
    found = judge(results, ["rpt_pipeline", "rpt_lead_quality", "fct_funnel"], "marts")
    assert checks(found) == [
        ("dbt.rpt_pipeline.built", "blocking"),
        ("dbt.rpt_lead_quality.tested", "blocking"),
        ("dbt.fct_funnel.built", "blocking"),
    ]
    assert found[0].observed == "error at 2026-11-16 05:00 UTC: division by zero"
    assert found[2].observed == "no build recorded"


def test_a_test_of_the_same_invocation_counts_whatever_the_order_recorded() -> None:
    results = [
        node("fct_funnel", "model", "success", minutes=2, invocation="build"),
        node("unique_fct_funnel_person_id", "test", "pass", ["fct_funnel"], 1, invocation="build"),
    ]
    assert judge(results, ["fct_funnel"], "marts") == []


def test_no_results_at_all_block_once() -> None:
    for results in (None, []):
        assert checks(judge(results, ["fct_funnel"], "marts")) == [
            ("dbt.results_recorded", "blocking")
        ]


def test_the_hook_writes_the_columns_the_reader_reads() -> None:
    text = MACRO.read_text()
    created = re.findall(r"^\s+(\w+) (?:text|bigint|timestamptz)", text, re.M)
    assert tuple(created) == COLUMNS


# -- the readers' words -------------------------------------------------------------------------

SPEND_COLUMNS = ("date_day", "channel", "spend", "platform_conversions", "campaign_id")


def test_a_warning_says_which_mart_column_and_rule_on_how_many_rows_of_how_many() -> None:
    """The footer's sentence for dbt's ``not_null`` warning; the test name stays for engineers."""
    results = [
        node("fct_ad_spend_daily", "model", "success", minutes=0),
        node(
            "not_null_fct_ad_spend_daily_platform_conversions",
            "test",
            "warn",
            ["fct_ad_spend_daily"],
            severity="warn",
            failures=1304,
            message="Got 1304 results, configured to warn if != 0",
        ),
    ]
    counted: list[str] = []

    def rows(mart: str) -> int:
        counted.append(mart)
        return 5319

    [found] = judge(
        results, ["fct_ad_spend_daily"], "marts", {"fct_ad_spend_daily": SPEND_COLUMNS}, rows
    )
    assert found.plain == (
        "Ad spend (daily): platform conversions is empty on 1,304 of 5,319 rows (24.5%)"
    )
    assert found.check == "dbt.not_null_fct_ad_spend_daily_platform_conversions"
    assert found.observed == "warn: Got 1304 results, configured to warn if != 0"
    assert counted == ["fct_ad_spend_daily"]  # the mart is counted only for its finding


@pytest.mark.parametrize(
    ("name", "mart", "columns", "failures", "rows", "plain"),
    [
        (
            "not_above_fct_opportunities_created_at__closed_at",
            "fct_opportunities",
            ("created_at", "closed_at"),
            3,
            1200,
            "Opportunities: created at is later than closed at on 3 of 1,200 rows (0.2%)",
        ),
        (
            "not_negative_fct_ad_spend_daily_platform_conversions",
            "fct_ad_spend_daily",
            SPEND_COLUMNS,
            1,
            20000,
            "Ad spend (daily): platform conversions is negative on 1 of 20,000 rows (<0.1%)",
        ),
        (
            "relationships_fct_funnel_person_id__person_id__ref_dim_people_",
            "fct_funnel",
            ("person_id", "email"),
            7,
            None,
            "Funnel: person id matches nothing in People on 7 rows",
        ),
        (
            "unique_rpt_lead_handoff_week_owner",
            "rpt_lead_handoff",
            ("week_owner",),
            2,
            90,
            "Lead handoff: week owner is not unique: 2 values repeat (in 90 rows)",
        ),
        (
            "accepted_channel_fct_ad_spend_daily_channel__none_",
            "fct_ad_spend_daily",
            SPEND_COLUMNS,
            1,
            10,
            "Ad spend (daily): channel holds 1 value outside the accepted list",
        ),
        (
            "assert_funnel_disqualification_has_reason",
            "fct_funnel",
            ("person_id",),
            12,
            5000,
            "Funnel: 12 rows break the rule “funnel disqualification has reason”",
        ),
    ],
)
def test_each_rule_reads_as_a_sentence(name, mart, columns, failures, rows, plain) -> None:
    from revops.quality.dbt_results import for_readers

    test = node(name, "test", "warn", [mart], failures=failures)
    assert for_readers(test, mart, columns, rows) == plain


def test_mart_labels_drop_the_layer_and_bracket_the_grain() -> None:
    from revops.quality.dbt_results import mart_label

    assert [mart_label(m) for m in ("fct_ad_spend_daily", "rpt_funnel_weekly", "dim_people")] == [
        "Ad spend (daily)",
        "Funnel (weekly)",
        "People",
    ]
