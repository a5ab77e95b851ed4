"""
### revops_publish

Once the marts are rebuilt: the Great Expectations gate checks the raw layer and the marts for
the report periods due (the last complete week; in a month's first week also the last month)
and records the run in `revops_meta.gate_runs`. A failed gate fails this run with the failed
expectations and tables named, e-mails the engineers on call (`REVOPS_ALERT_RECIPIENTS`) with
observed vs expected and the Data Docs pages, and the report is not sent. Otherwise each
edition is rendered (HTML e-mail, PDF, CSVs), archived under `out/reports/` and e-mailed once:
scheduled runs share one run key, so a period is published once however often this runs; a
retried task or a gate that passes on a rerun never sends twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, get_current_context, task

MARTS = Asset(name="marts", uri="revops://warehouse/marts")


def _run() -> tuple[datetime, str]:
    """The run's moment (never the clock) and the run key it publishes under."""
    from revops.reports.publish import run_key_for

    dag_run = get_current_context()["dag_run"]
    moment = dag_run.logical_date or dag_run.run_after
    return moment, run_key_for(dag_run.dag_id, dag_run.run_id, dag_run.run_type)


@dag(
    dag_id="revops_publish",
    schedule=[MARTS],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "quality", "report"],
    doc_md=__doc__,
    default_args={"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=2)},
)
def revops_publish():
    @task(retries=0)
    def check_quality() -> dict:
        from revops.pipeline import quality_gate, report_periods

        moment, run_key = _run()
        return quality_gate(report_periods(moment), run_key=run_key, as_of=moment)

    @task
    def send_report(gate: dict) -> dict:
        from revops.pipeline import send_report

        _, run_key = _run()
        return send_report(gate["periods"], run_key=run_key)

    send_report(check_quality())


revops_publish()
