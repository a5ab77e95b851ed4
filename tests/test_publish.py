"""Publishing end to end, on a real PostgreSQL and a real SMTP server: the gate decides, the
on-call engineers are alerted when it fails, leadership gets the report once when it passes.

Each broken data set the issue names (a stale source, half a day's rows, a duplicate key, a
negative spend, a missing currency rate, attribution that does not add up) is caught by the
gate, the report is not sent, and the alert names the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from test_publish_data import AS_OF, OPPORTUNITIES, build_world, sql

from revops.quality.gate import Failure, GateResult
from revops.quality.runs import GateNotPassed
from revops.reports.mailcatcher import MailCatcher
from revops.reports.periods import parse_period
from revops.reports.publish import check_and_record, publish, run_key_for

W46 = parse_period("2026-W46")
LEADERSHIP = "ceo@example.com"
ONCALL = "oncall@example.com"


@pytest.fixture
def world(fresh_db: str) -> str:
    build_world(fresh_db)
    return fresh_db


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "outbox") as running:
        yield running


def environ(catcher: MailCatcher, alerts: bool = True) -> dict[str, str]:
    env = {
        "REVOPS_SMTP_HOST": catcher.host,
        "REVOPS_SMTP_PORT": str(catcher.port),
        "REVOPS_REPORT_SENDER": "revops@example.com",
        "REVOPS_REPORT_RECIPIENTS": LEADERSHIP,
    }
    if alerts:
        env["REVOPS_ALERT_RECIPIENTS"] = ONCALL
    return env


def check(url: str, catcher: MailCatcher, tmp_path: Path, run_key: str = "scheduled"):
    return check_and_record(
        [W46],
        run_key,
        warehouse_url=url,
        docs_dir=tmp_path / "docs",
        as_of=AS_OF,
        environ=environ(catcher),
    )


def send(url: str, catcher: MailCatcher, tmp_path: Path, run_key: str = "scheduled"):
    return publish(
        [W46], run_key, warehouse_url=url, out=tmp_path / "out", environ=environ(catcher)
    )


def received(catcher: MailCatcher, to: str) -> list:
    return [m for m in catcher.messages() if m["X-RcptTo"] == to]


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        table = re.search(r"\bfrom\s+(\S+)", query)
        assert table is not None
        exists = conn.execute("select to_regclass(%s)", (table[1],)).fetchone()
        if exists is None or exists[0] is None:
            return []
        return conn.execute(query).fetchall()


def test_good_data_passes_and_the_report_goes_out_once_even_if_sent_twice(
    world: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    outcome = check(world, catcher, tmp_path)
    assert outcome.result.passed, outcome.result.summary()
    assert outcome.alerted_to == () and catcher.messages() == []
    [gate_run] = rows(
        world,
        "select gate_run_id, edition, period, passed, run_key, alerted_at, status, "
        "fingerprint_digest, fingerprint -> 'marts.fct_attribution' ->> 'rows' "
        "from revops_meta.gate_runs",
    )
    assert gate_run[1:7] == ("weekly", "2026-W46", True, "scheduled", None, "passed")
    [[attribution_rows]] = rows(world, "select count(*) from marts.fct_attribution")
    assert gate_run[8] == str(attribution_rows) and len(gate_run[7]) == 64

    [first] = send(world, catcher, tmp_path)
    [second] = send(world, catcher, tmp_path)  # the send task runs again: a retry
    assert (first.already_sent, second.already_sent) == (False, True)
    assert first.gate_run_id == gate_run[0]
    [message] = received(catcher, LEADERSHIP)
    assert message["Subject"] == "revops weekly report 2026-W46"
    html = message.get_body(("html",)).get_content()
    with psycopg.connect(world) as conn:
        won, pipeline = conn.execute(
            "select sum(won_revenue), sum(pipeline_created) from marts.rpt_pipeline "
            "where period_type = 'week' and period_start = '2026-11-09'"
        ).fetchone()
    assert f">USD {round(won):,}</td>" in html and f">USD {round(pipeline):,}</td>" in html
    assert "Quality gate passed at" in html
    [send_row] = rows(
        world, "select gate_run_id, fingerprint_digest, delivered_to from revops_meta.report_sends"
    )
    assert send_row == (gate_run[0], gate_run[7], [LEADERSHIP])  # sent under that run, that data
    assert (tmp_path / "out" / "reports" / "weekly" / "2026-W46.pdf").is_file()


def _customer_conversion() -> str:
    won = next(o for o in OPPORTUNITIES if o.is_won)
    return f"{won.person.person_id}:customer"


BROKEN = [
    pytest.param(
        "update raw_mailchimp._dlt_loads set inserted_at = inserted_at - interval '3 days'",
        "raw_mailchimp.freshness",
        "raw_mailchimp._dlt_loads",
        "age_hours=76.0",
        id="stale source",
    ),
    pytest.param(
        "delete from raw_google_ads.campaign_daily "
        "where segments__date = '2026-11-15' and campaign__id > '110';"
        "delete from marts.fct_ad_spend_daily where date_day = '2026-11-15' "
        "and campaign_id > '110'",
        "raw_google_ads.campaign_daily.volume",
        "raw_google_ads.campaign_daily",
        "rows_that_day=10, usual_rows_that_weekday=24",
        id="half a day's rows",
    ),
    pytest.param(
        "insert into raw_hubspot.contacts select * from raw_hubspot.contacts where id = '1005'",
        "raw_hubspot.contacts.primary_key_unique",
        "raw_hubspot.contacts",
        "(id='1005', copies=2)",
        id="duplicate key",
    ),
    pytest.param(
        "update raw_google_ads.campaign_daily set metrics__cost_micros = '-5000000' "
        "where segments__date = '2026-10-01' and campaign__id = '101'",
        "raw_google_ads.campaign_daily.metrics__cost_micros_not_negative",
        "raw_google_ads.campaign_daily",
        "metrics__cost_micros='-5000000'",
        id="negative spend",
    ),
    pytest.param(
        "delete from seeds.fx_rates_daily where currency = 'EUR' and rate_date = '2026-11-12'",
        "fct_ad_spend_daily.rate_known",
        "marts.fct_ad_spend_daily",
        "(currency='EUR', date_day=2026-11-12)",
        id="missing currency rate",
    ),
    pytest.param(
        "update marts.fct_attribution set credit = credit * 0.8, "
        f"revenue_credit = revenue_credit * 0.8 where conversion_id = '{_customer_conversion()}' "
        "and model = 'markov'",
        # the credit sum itself is dbt's test; the gate's revenue reconciliation still blocks
        "fct_attribution.revenue_per_conversion_equal_across_models",
        "marts.fct_attribution",
        f"(conversion_id='{_customer_conversion()}', lowest_model_total=",
        id="attribution that does not add up",
    ),
]


@pytest.mark.parametrize(("breakage", "check_name", "table", "observed"), BROKEN)
def test_broken_data_is_caught_the_report_is_not_sent_and_the_alert_names_it(
    world: str,
    catcher: MailCatcher,
    tmp_path: Path,
    breakage: str,
    check_name: str,
    table: str,
    observed: str,
) -> None:
    sql(world, breakage)
    outcome = check(world, catcher, tmp_path)
    result = outcome.result
    assert result.passed is False
    [found] = [f for f in result.blocking if f.check == check_name]
    assert found.table == table and observed in found.observed

    [alert] = received(catcher, ONCALL)
    assert alert["Subject"].startswith("revops quality gate FAILED for weekly 2026-W46")
    assert table in alert["Subject"]
    text = alert.get_body(("plain",)).get_content()
    assert "The weekly report 2026-W46 was NOT sent." in text
    assert f"{table}: {check_name}" in text
    assert observed in text and f"expected:    {found.expected}" in text
    assert f"Data Docs:   {found.docs_page}" in text and Path(found.docs_page).is_file()
    assert str(result.docs_index) in text
    assert outcome.alerted_to == (ONCALL,)
    [gate_run] = rows(
        world,
        "select passed, alerted_to, alerted_at, alert_error, failures from revops_meta.gate_runs",
    )
    assert gate_run[:2] == (False, [ONCALL]) and gate_run[2] is not None and gate_run[3] is None
    assert check_name in {f["check"] for f in gate_run[4]}

    with pytest.raises(GateNotPassed, match=check_name):
        send(world, catcher, tmp_path)
    assert received(catcher, LEADERSHIP) == []
    assert rows(world, "select * from revops_meta.report_sends") == []
    assert not (tmp_path / "out" / "reports").exists()


def test_a_gate_that_failed_then_passes_on_a_rerun_publishes_once(
    world: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    run_key = run_key_for("revops_publish", "scheduled__2026-11-16T06:00:00+00:00", "scheduled")
    sql(world, "update raw_mailchimp._dlt_loads set inserted_at = inserted_at - interval '3 days'")
    assert check(world, catcher, tmp_path, run_key).result.passed is False
    with pytest.raises(GateNotPassed):
        send(world, catcher, tmp_path, run_key)
    sql(world, "update raw_mailchimp._dlt_loads set inserted_at = inserted_at + interval '3 days'")
    assert check(world, catcher, tmp_path, run_key).result.passed is True  # the task is cleared
    sent = [send(world, catcher, tmp_path, run_key)[0] for _ in range(2)]  # and retried
    assert [r.already_sent for r in sent] == [False, True]
    assert len(received(catcher, ONCALL)) == 1 and len(received(catcher, LEADERSHIP)) == 1
    assert [
        r[0] for r in rows(world, "select passed from revops_meta.gate_runs order by gate_run_id")
    ] == [False, True]


def test_an_alert_that_cannot_go_out_is_recorded_and_never_hides_the_failure(
    world: str, catcher: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = GateResult(
        passed=False,
        docs_index=tmp_path / "docs" / "index.html",
        failures=[
            Failure(
                "marts.fct_funnel",
                "table_exists",
                "(table)",
                "blocking",
                "missing",
                "exists",
                "fct_funnel.exists",
            )
        ],
    )
    monkeypatch.setattr("revops.quality.gate.run_gate", lambda *a, **k: failed)
    outcome = check_and_record([W46], "k", warehouse_url=world, environ=environ(catcher, False))
    assert outcome.result is failed
    assert outcome.alert_error == "no alert sent: REVOPS_ALERT_RECIPIENTS is not set"
    down = {**environ(catcher), "REVOPS_SMTP_PORT": "1"}
    outcome = check_and_record([W46], "k", warehouse_url=world, environ=down)
    assert outcome.alert_error is not None and "127.0.0.1:1" in outcome.alert_error
    assert [
        r[0]
        for r in rows(world, "select alert_error from revops_meta.gate_runs order by gate_run_id")
    ] == ["no alert sent: REVOPS_ALERT_RECIPIENTS is not set", outcome.alert_error]
    assert catcher.messages() == []


@pytest.mark.parametrize(
    ("run_type", "key"),
    [
        ("scheduled", "scheduled"),
        ("asset_triggered", "scheduled"),
        ("manual", "revops_publish/manual__2026-11-16"),
        ("backfill", "revops_publish/manual__2026-11-16"),
        (None, "revops_publish/manual__2026-11-16"),
    ],
)
def test_scheduled_runs_share_one_run_key_and_manual_runs_have_their_own(
    run_type: str | None, key: str
) -> None:
    assert run_key_for("revops_publish", "manual__2026-11-16", run_type) == key


def test_the_alert_names_every_report_the_gate_held_back() -> None:
    from revops.quality.alert import held_reports

    assert held_reports([W46]) == "the weekly report 2026-W46 was"
    assert held_reports([W46, parse_period("2026-11")]) == (
        "the weekly report 2026-W46 and the monthly report 2026-11 were"
    )
    assert held_reports([]) == "the report was"
