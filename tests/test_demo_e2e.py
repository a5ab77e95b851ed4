"""The demo end to end through the real Airflow DAGs: twice, to show reruns are idempotent."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import psycopg
import pytest

from revops.demo import _raw_and_mart_counts, run_demo
from revops.reports.periods import last_complete_week

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
    for mart in ("fct_funnel", "fct_touchpoints", "fct_ad_spend_daily", "fct_attribution",
                 "rpt_funnel_weekly"):
        assert first["marts"][mart] > 0

    assert run_demo(seed=3, scale=0.03) == 0
    assert _raw_and_mart_counts(fresh_db) == first
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) == 2  # a new run sends again, once

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
