"""
### revops_publish

Once the marts are rebuilt: the Great Expectations gate checks them, and only if no blocking
expectation failed is the leadership report rendered and emailed. A failed gate fails this run
with the failed expectations and tables named; the report is then not sent. The report is sent
once per run: a retried task does not send twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, get_current_context, task

MARTS = Asset(name="marts", uri="revops://warehouse/marts")


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
        from revops.pipeline import quality_gate

        return quality_gate()

    @task
    def send_report(gate: dict) -> dict:
        from revops.pipeline import report_period, send_report

        context = get_current_context()
        dag_run = context["dag_run"]
        moment = dag_run.logical_date or dag_run.run_after
        return send_report(report_period(moment), run_key=f"{dag_run.dag_id}/{dag_run.run_id}")

    send_report(check_quality())


revops_publish()
