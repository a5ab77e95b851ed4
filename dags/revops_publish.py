"""
### revops_publish

Once the marts are rebuilt: the Great Expectations gate checks the extract runs, the raw layer
and the marts for the report periods due (the last complete week; in a month's first week also
the last month) and records the run in `revops_meta.gate_runs`. A system whose newest
incremental extract failed, or whose extracted data ends before the period does, is a blocking
failure, as is any blocking expectation. A failed gate fails this run with the failed checks
and systems named, e-mails the engineers on call (`REVOPS_ALERT_RECIPIENTS`) with the error,
observed vs expected and the Data Docs pages, and the report is not sent. Otherwise each
edition is rendered (HTML e-mail, PDF, CSVs), archived under `out/reports/` and e-mailed once:
scheduled runs share one run key, so a period is published once however often this runs; a
retried task or a gate that passes on a rerun never sends twice.

**Backfills don't e-mail leadership.** The report covers the periods due at this run's moment
(the current ones). `decide_to_send` skips the e-mail when every `marts` update that triggered
the run was built from backfill extracts only (the transform marks its `marts` event
`{"backfill": true}`); the gate still runs. The explicit flag is a manual run of this DAG: it
always sends, under its own run key.

**Limits and alerts.** Each task times out after `REVOPS_TASK_TIMEOUT_MINUTES` (default 60),
the run after `REVOPS_DAGRUN_TIMEOUT_HOURS` (default 6); a run not finished
`REVOPS_REPORT_DEADLINE_HOURS` (default 2) after it was queued alerts that the report is late.
Task failures e-mail `REVOPS_ALERT_RECIPIENTS` with the DAG, task, try, error and log link.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, get_current_context, task

from revops.orchestration.dags import MARTS, dag_kwargs, default_args, report_deadline_alert


def _run() -> tuple[datetime, str]:
    """The run's moment (never the clock) and the run key it publishes under."""
    from revops.reports.publish import run_key_for

    dag_run = get_current_context()["dag_run"]
    moment = dag_run.logical_date or dag_run.run_after
    return moment, run_key_for(dag_run.dag_id, dag_run.run_id, dag_run.run_type)


@dag(
    schedule=[MARTS],
    default_args=default_args(),
    deadline=report_deadline_alert(),
    **dag_kwargs("revops_publish", __doc__, ["quality", "report"]),
)
def revops_publish():
    @task(retries=0)
    def check_quality() -> dict:
        from revops.pipeline import quality_gate, report_periods

        moment, run_key = _run()
        return quality_gate(report_periods(moment), run_key=run_key, as_of=moment)

    @task.short_circuit
    def decide_to_send() -> bool:
        """Send unless only backfills fed this run (a manual run always sends)."""
        import logging

        from revops.reports.publish import send_decision

        context = get_current_context()
        events = [event.extra or {} for event in context["triggering_asset_events"].get(MARTS, [])]
        send, why = send_decision(context["dag_run"].run_type, events)
        logging.getLogger(__name__).info("decide_to_send: %s: %s", send, why)
        return send

    @task
    def send_report(gate: dict) -> dict:
        from revops.pipeline import send_report

        _, run_key = _run()
        return send_report(gate["periods"], run_key=run_key)

    gate = check_quality()
    decision = decide_to_send()
    gate >> decision
    decision >> send_report(gate)


revops_publish()
