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
