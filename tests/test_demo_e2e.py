"""The demo end to end through the real Airflow DAGs: twice, to show reruns are idempotent."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import psycopg
import pytest
import yaml
from warehouse_checks import table_digest

from revops.config import dbt_project_dir
from revops.demo import _raw_and_mart_counts, run_demo
from revops.reports.periods import last_complete_week
from revops.transform import run_dbt
from revops.vocabulary import MODEL_CONVERSION_TYPES, MODELS

pytestmark = pytest.mark.slow


def test_demo_runs_the_dags_twice_with_the_same_tables_and_one_email_each(
    fresh_db, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", fresh_db)
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("REVOPS_OUT_DIR", str(tmp_path / "out"))
    outbox = tmp_path / "out" / "outbox"

    assert run_demo(seed=3, scale=0.03) == 0
    first = _raw_and_mart_counts(fresh_db)
    printed = capsys.readouterr().out
    assert "revops_publish: success" in printed and "quality gate: passed" in printed
    assert len(list(outbox.glob("*.eml"))) == 1

    for schema in ("raw_hubspot", "raw_google_ads", "raw_mailchimp", "marts"):
        assert schema in first and all(n > 0 for n in first[schema].values()), schema
    for mart in (
        "fct_funnel",
        "fct_touchpoints",
        "fct_ad_spend_daily",
        "fct_attribution",
        "rpt_funnel_weekly",
    ):
        assert first["marts"][mart] > 0

    check_attribution_reconciles(fresh_db)
    check_bi_reader_reads_marts_only(fresh_db)

    assert run_demo(seed=3, scale=0.03) == 0
    assert _raw_and_mart_counts(fresh_db) == first
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) == 2  # a new run sends again, once

    # the second run built the incremental facts incrementally: a full refresh gives the same
    incremental = table_digest(fresh_db, "marts.fct_ad_spend_daily")
    run_dbt(["build", "--select", "fct_ad_spend_daily", "--full-refresh"], fresh_db, quiet=True)
    assert table_digest(fresh_db, "marts.fct_ad_spend_daily") == incremental

    check_dbt_unit_tests_pass(fresh_db)

    message = email.message_from_bytes(Path(messages[-1]).read_bytes(), policy=policy.default)
    html = message.get_body(("html",)).get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert images and all(f"cid:{p['Content-ID'].strip('<>')}" in html for p in images)
    week = last_complete_week(datetime.now(UTC).date())
    with psycopg.connect(fresh_db) as conn:
        sends = conn.execute("select count(*) from revops_meta.report_sends").fetchone()[0]
        leads, mqls = conn.execute(
            "select count(*) filter (where lead_at >= %(s)s and lead_at < %(e)s), "
            "count(*) filter (where mql_at >= %(s)s and mql_at < %(e)s) from marts.fct_funnel",
            {"s": week.start_at, "e": week.end_at},
        ).fetchone()
    assert sends == 2
    assert message["Subject"] == f"revops weekly report {week.label}"
    shown = dict(re.findall(r">(Leads|MQLs)</td>\s*<td[^>]*>([\d,]+)</td>", html))
    assert shown == {"Leads": f"{leads:,}", "MQLs": f"{mqls:,}"}


APPLIES = MODEL_CONVERSION_TYPES  # models limited to some conversion types (dbt vars)


def check_attribution_reconciles(url: str) -> None:
    """Every model attributes exactly the conversions the marts count (people for lead, mql,
    sql; opportunities created and won for opportunity and customer, account-based), credit
    summing to 1 per conversion and revenue credit to the won revenue."""
    with psycopg.connect(url) as conn:
        expected = dict(
            zip(
                ("lead", "mql", "sql", "opportunity", "customer"),
                conn.execute(
                    "select (select count(lead_at) from marts.fct_funnel), "
                    "(select count(mql_at) from marts.fct_funnel), "
                    "(select count(sql_at) from marts.fct_funnel), "
                    "(select count(*) from marts.fct_opportunities), "
                    "(select count(*) from marts.fct_opportunities where is_won)"
                ).fetchone(),
                strict=True,
            )
        )
        won_revenue = conn.execute(
            "select coalesce(sum(won_revenue), 0) from marts.rpt_pipeline "
            "where period_type = 'month'"
        ).fetchone()[0]
        rows = conn.execute(
            "select model, conversion_type, count(distinct conversion_id), sum(credit), "
            "max(abs(per_conversion - 1)), sum(revenue_credit) from (select model, "
            "conversion_type, conversion_id, credit, revenue_credit, sum(credit) over "
            "(partition by model, conversion_id) as per_conversion "
            "from marts.fct_attribution) as credited group by 1, 2"
        ).fetchall()
    assert expected["customer"] > 0 and won_revenue > 0
    seen = {(model, ctype): rest for model, ctype, *rest in rows}
    for model in MODELS:
        for ctype, count in expected.items():
            if ctype not in APPLIES.get(model, expected):
                assert (model, ctype) not in seen
                continue
            n, total, worst, revenue = seen[(model, ctype)]
            assert n == count, (model, ctype)
            assert abs(total - count) < 1e-6 and worst < 1e-9, (model, ctype)
            if ctype == "customer":
                assert abs(revenue - won_revenue) < 0.01, model


def check_bi_reader_reads_marts_only(url: str) -> None:
    """The bi_reader role dbt grants: marts readable, raw schemas not."""
    import uuid

    login = f"bi_tool_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create role {login} login in role bi_reader")
        try:
            conn.execute(f"set role {login}")
            assert conn.execute("select count(*) from marts.fct_funnel").fetchone()[0] > 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select count(*) from raw_hubspot.contacts")
        finally:
            conn.execute("reset role")
            conn.execute(f"drop role {login}")


def check_dbt_unit_tests_pass(url: str) -> None:
    """dbt's unit tests, which the daily build leaves out (revops.pipeline.BUILD_FLAGS), run
    here on the demo's warehouse (they need the tested models' parents to exist): every one
    declared in the project ran and passed, as the `record_dbt_results` hook recorded them (a
    failure also raises)."""
    from revops.quality.dbt_results import read_newest

    declared = {
        case["name"]
        for path in dbt_project_dir().glob("models/**/*.yml")
        for case in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }
    run_dbt(["test", "--select", "test_type:unit"], url, quiet=True)
    with psycopg.connect(url) as conn:
        results = [r for r in read_newest(conn) or [] if r.resource_type == "unit_test"]
    newest = max(results, key=lambda r: r.recorded_at).invocation_id if results else None
    ran = {r.name: r.status for r in results if r.invocation_id == newest}
    assert declared and ran == dict.fromkeys(declared, "pass"), ran
