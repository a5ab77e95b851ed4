"""Local Airflow runs: what a failed run tells the person at the terminal."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from revops.orchestration import airflow_env, failure_excerpt
from revops.orchestration.callbacks import (
    dag_failure_alert,
    log_url,
    report_late_alert,
    send_alert,
    task_failure_alert,
)
from revops.orchestration.dags import (
    Window,
    dagrun_timeout,
    extract_window,
    report_deadline,
    run_window,
    task_timeout,
)
from revops.reports.publish import marts_event_extra, send_decision

LOG = """\
2026-11-23T11:00:00Z [info     ] Task started
Traceback (most recent call last):
  File "/app/dags/revops_publish.py", line 34, in check_quality
    return quality_gate()
revops.quality.gate.GateFailed: Quality gate FAILED: 1 blocking failure in 60 checks
BLOCKING marts.fct_ad_spend_daily: expect_column_values_to_be_between on spend
    observed: 1 of 2190 rows below 0
2026-11-23T11:00:01Z [error    ] Task failed
{"dag_id": "revops_publish", "state": "failed"}
"""


def test_failure_excerpt_is_the_exception_message_not_the_frames(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text(LOG)
    assert failure_excerpt(log).splitlines() == [
        "revops.quality.gate.GateFailed: Quality gate FAILED: 1 blocking failure in 60 checks",
        "BLOCKING marts.fct_ad_spend_daily: expect_column_values_to_be_between on spend",
        "    observed: 1 of 2190 rows below 0",
    ]


def test_local_airflow_keeps_its_metadata_under_the_state_dir(tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/airflow/airflow.db"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    # the metadata DB holds XComs (report figures) and connections: only its owner may read it
    assert stat.S_IMODE((tmp_path / "airflow").stat().st_mode) == 0o700


# -- the extract window ------------------------------------------------------------------------

DAY_START = datetime(2026, 11, 24, tzinfo=UTC)
DAY_END = datetime(2026, 11, 25, tzinfo=UTC)


def _never() -> tuple[datetime, datetime]:
    raise AssertionError("the run has an interval: nothing to infer")


def test_a_scheduled_run_is_incremental_up_to_its_interval_end() -> None:
    window = extract_window("scheduled", DAY_START, DAY_END, _never)
    assert window == Window(since=None, until=DAY_END, backfill=False)
    assert window.asset_extra("scheduled") == {
        "backfill": False,
        "run_type": "scheduled",
        "window_start": None,
        "window_end": "2026-11-25T00:00:00+00:00",
    }


def test_a_run_whose_interval_ends_after_it_was_triggered_reads_up_to_its_trigger() -> None:
    # triggered by hand at 09:41 with today's logical date: the interval ends tomorrow, and an
    # incremental run must not move its cursors past the moment it read (Window.of refuses a
    # window ending in the future)
    triggered = DAY_START + timedelta(hours=9, minutes=41)
    assert extract_window("manual", DAY_START, DAY_END, _never, triggered) == Window(
        since=None, until=triggered, backfill=False
    )
    # a scheduled run is due when its interval ends: nothing changes
    assert extract_window("scheduled", DAY_START, DAY_END, _never, DAY_END).until == DAY_END


def test_a_backfill_run_re_extracts_exactly_its_interval() -> None:
    window = extract_window("backfill", DAY_START, DAY_END, _never)
    assert window == Window(since=DAY_START, until=DAY_END, backfill=True)
    assert window.asset_extra("backfill")["backfill"] is True
    with pytest.raises(ValueError, match="interval is empty"):
        extract_window("backfill", DAY_END, DAY_END, _never)
    with pytest.raises(ValueError, match="no data interval"):
        extract_window("backfill", None, None, _never)


def test_a_run_without_interval_takes_the_timetables_last_complete_day() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    from revops.orchestration.dags import EXTRACT_CRON

    dag = SimpleNamespace(timetable=CronDataIntervalTimetable(EXTRACT_CRON, timezone="UTC"))
    run = SimpleNamespace(run_type="manual", run_after=datetime(2026, 11, 25, 9, 41, tzinfo=UTC))
    context = {"dag": dag, "dag_run": run, "data_interval_start": None, "data_interval_end": None}
    assert run_window(context) == Window(since=None, until=DAY_END, backfill=False)
    # the same for an asset-triggered run; an enum run type is read by its value
    run.run_type = SimpleNamespace(value="asset_triggered")
    assert run_window(context).until == DAY_END


# -- settings ----------------------------------------------------------------------------------


def test_timeouts_and_deadline_come_from_settings_with_defaults() -> None:
    assert task_timeout({}) == timedelta(minutes=60)
    assert dagrun_timeout({}) == timedelta(hours=6)
    assert report_deadline({}) == timedelta(hours=2)
    assert task_timeout({"REVOPS_TASK_TIMEOUT_MINUTES": "90"}) == timedelta(minutes=90)
    assert dagrun_timeout({"REVOPS_DAGRUN_TIMEOUT_HOURS": "1.5"}) == timedelta(minutes=90)
    with pytest.raises(ValueError, match="REVOPS_REPORT_DEADLINE_HOURS='0' is out of range"):
        report_deadline({"REVOPS_REPORT_DEADLINE_HOURS": "0"})
    with pytest.raises(ValueError, match="REVOPS_TASK_TIMEOUT_MINUTES='an hour' is not a number"):
        task_timeout({"REVOPS_TASK_TIMEOUT_MINUTES": "an hour"})
    assert report_deadline({"REVOPS_REPORT_DEADLINE_HOURS": "off"}) is None


# -- alerts ------------------------------------------------------------------------------------


def test_log_link_is_built_the_way_airflow_builds_the_task_log_url() -> None:
    assert (
        log_url(
            "http://127.0.0.1:8080/",
            "extract_hubspot",
            "scheduled__2026-11-25T00:00:00+00:00",
            "extract_hubspot",
            -1,
            4,
        )
        == "http://127.0.0.1:8080/dags/extract_hubspot/runs/"
        "scheduled__2026-11-25T00%3A00%3A00%2B00%3A00/tasks/extract_hubspot?try_number=4"
    )
    assert (
        log_url("", "d", "r", "t", 2, None)
        == "http://localhost:8080/dags/d/runs/r/tasks/t/mapped/2"
    )


class _FakeTI:
    dag_id = "extract_hubspot"
    task_id = "extract_hubspot"
    run_id = "scheduled__2026-11-25T00:00:00+00:00"
    map_index = -1
    try_number = 4
    max_tries = 3
    log_url = "http://airflow.internal/dags/extract_hubspot/runs/x/tasks/extract_hubspot"


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from revops.reports.mailcatcher import MailCatcher

    with MailCatcher(tmp_path / "outbox") as catcher:
        for name, value in {
            "REVOPS_SMTP_HOST": "127.0.0.1",
            "REVOPS_SMTP_PORT": str(catcher.port),
            "REVOPS_SMTP_STARTTLS": "false",
            "REVOPS_REPORT_SENDER": "revops@example.com",
            "REVOPS_REPORT_RECIPIENTS": "leadership@example.com",
            "REVOPS_ALERT_RECIPIENTS": "oncall@example.com",
        }.items():
            monkeypatch.setenv(name, value)
        yield catcher


def test_a_failed_task_alerts_on_call_with_dag_task_try_error_and_log(outbox) -> None:
    error = ConnectionError(
        "retrying GET https://api.hubapi.com/crm/v3/objects/contacts\n"
        "hubspot: contacts: 503 Service Unavailable after 5 tries"
    )
    task_failure_alert({"ti": _FakeTI(), "exception": error})
    (message,) = outbox.messages()
    assert message["To"] == "oncall@example.com"
    assert message["Subject"] == (
        "revops: extract_hubspot.extract_hubspot failed (try 4 of 4): ConnectionError: "
        "hubspot: contacts: 503 Service Unavailable after 5 tries"
    )
    body = message.get_content().replace("\r\n", "\n")
    assert "DAG:    extract_hubspot\n" in body
    assert "Task:   extract_hubspot\n" in body
    assert "Run:    scheduled__2026-11-25T00:00:00+00:00\n" in body
    assert "Try:    try 4 of 4\n" in body
    assert "Error:  ConnectionError: hubspot: contacts: 503 Service Unavailable" in body
    assert f"Log:    {_FakeTI.log_url}\n" in body


def test_a_failed_gate_is_left_to_the_gates_own_alert(outbox) -> None:
    class GateFailed(RuntimeError):
        pass

    task_failure_alert({"ti": _FakeTI(), "exception": GateFailed("Quality gate FAILED")})
    assert outbox.messages() == []


def test_alert_callbacks_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_ALERT_RECIPIENTS", "oncall@example.com")
    monkeypatch.setenv("REVOPS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("REVOPS_SMTP_PORT", "1")  # nothing listens there
    monkeypatch.setenv("REVOPS_REPORT_SENDER", "revops@example.com")
    task_failure_alert({"ti": _FakeTI(), "exception": RuntimeError("boom")})
    task_failure_alert({})  # no task instance at all
    dag_failure_alert({"reason": "timed_out"})
    report_late_alert(None)
    monkeypatch.delenv("REVOPS_SMTP_HOST")
    assert send_alert("subject", "body", "test") is False


def test_a_run_that_timed_out_alerts_but_a_failed_task_does_not_twice(outbox) -> None:
    dag = SimpleNamespace(dag_id="revops_transform")
    dag_failure_alert({"dag": dag, "run_id": "r1", "reason": "task_failure"})
    assert outbox.messages() == []
    dag_failure_alert({"dag": dag, "run_id": "r1", "reason": "timed_out"})
    (message,) = outbox.messages()
    assert message["Subject"] == (
        "revops: DAG run revops_transform failed: it ran past its dagrun_timeout "
        "(REVOPS_DAGRUN_TIMEOUT_HOURS)"
    )


def test_a_late_report_alerts_with_the_run_and_its_deadline(outbox) -> None:
    report_late_alert(
        context={
            "dag_run": {
                "dag_id": "revops_publish",
                "dag_run_id": "asset_triggered__2026-11-25T00:31:00+00:00",
                "queued_at": "2026-11-25T00:31:00Z",
            },
            "deadline": {"id": "1", "deadline_time": "2026-11-25T02:31:00Z"},
        },
        deadline_hours=2.0,
    )
    (message,) = outbox.messages()
    assert message["Subject"] == (
        "revops: the report is late: revops_publish run not finished by 2026-11-25T02:31:00Z"
    )
    body = message.get_content().replace("\r\n", "\n")
    assert "asset_triggered__2026-11-25T00:31:00+00:00" in body
    assert "queued at 2026-11-25T00:31:00Z" in body and "2 h after it was queued" in body


# -- backfills don't e-mail leadership ---------------------------------------------------------


def test_marts_built_only_from_backfills_are_marked_so() -> None:
    assert marts_event_extra([{"backfill": True}, {"backfill": True}])["backfill"] is True
    assert marts_event_extra([{"backfill": True}, {"backfill": False}])["backfill"] is False
    assert marts_event_extra([])["backfill"] is False  # the daily time run


def test_publish_sends_unless_only_backfills_fed_it_and_always_when_run_by_hand() -> None:
    backfill = {"backfill": True}
    send, why = send_decision("asset_triggered", [backfill, backfill])
    assert send is False and "backfill" in why and "by hand" in why
    assert send_decision("asset_triggered", [backfill, {"backfill": False}])[0] is True
    assert send_decision("asset_triggered", [{}])[0] is True
    assert send_decision(SimpleNamespace(value="manual"), [backfill])[0] is True


# -- the warehouse, from the Airflow connection ------------------------------------------------


def test_the_warehouse_comes_from_the_airflow_connection_when_no_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from revops.warehouse import configured_url, url_from_airflow_connection

    monkeypatch.delenv("REVOPS_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_REVOPS_WAREHOUSE", raising=False)
    assert configured_url() is None
    monkeypatch.setenv("AIRFLOW_CONN_REVOPS_WAREHOUSE", "postgres://etl:s%40cret@db:5433/revops")
    assert configured_url() == "postgresql://etl:s%40cret@db:5433/revops"
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", "postgresql://postgres@127.0.0.1:5432/other")
    assert configured_url() == "postgresql://postgres@127.0.0.1:5432/other"
    assert (
        url_from_airflow_connection(
            '{"conn_type": "postgres", "host": "db", "login": "etl", "schema": "revops"}'
        )
        == "postgresql://etl@db:5432/revops"
    )


# -- the extract task calls the pipeline with its window ---------------------------------------


@pytest.mark.parametrize(
    ("run_type", "since"),
    [("backfill", DAY_START), ("scheduled", None)],
)
def test_the_extract_task_passes_its_window_and_marks_its_asset_event(
    monkeypatch: pytest.MonkeyPatch, run_type: str, since: datetime | None
) -> None:
    from collections import defaultdict

    import revops.orchestration.dags as dags
    import revops.pipeline

    calls = []

    def fake_extract(system, since=None, until=None, run_id=None):
        calls.append((system, since, until, run_id))
        return {"system": system}

    events: dict = defaultdict(lambda: SimpleNamespace(extra={}))
    run_id = f"{run_type}__2026-11-24T00:00:00+00:00"
    context = {
        "dag": None,
        "dag_run": SimpleNamespace(run_type=SimpleNamespace(value=run_type), run_after=DAY_END),
        "data_interval_start": DAY_START,
        "data_interval_end": DAY_END,
        "run_id": run_id,
        "outlet_events": events,
    }
    monkeypatch.setattr(dags, "get_current_context", lambda: context)
    monkeypatch.setattr(revops.pipeline, "extract", fake_extract)
    dag = dags.extract_dag("mailchimp")
    assert dag.dag_id == "extract_mailchimp" and dag.fileloc == __file__
    assert dag.get_task("extract_mailchimp").python_callable() == {"system": "mailchimp"}
    assert calls == [("mailchimp", since, DAY_END, run_id)]
    assert events[dags.raw_asset("mailchimp")].extra["backfill"] is (run_type == "backfill")
