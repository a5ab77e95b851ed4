"""
### revops_extract

Pulls every go-to-market system into the warehouse, one task per system: each connector reads
incrementally up to the end of the run's data interval and merges on primary keys into
`raw_<system>`, so a rerun or a backfill of the same interval leaves the same rows.

Produces the assets `raw_hubspot`, `raw_google_ads`, `raw_mailchimp`; `revops_transform` is
scheduled on them. Credentials come from the environment (`REVOPS_<SYSTEM>_*`) or an Airflow
connection `revops_<system>`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

SYSTEMS = ("hubspot", "google_ads", "mailchimp")


def raw_asset(system: str) -> Asset:
    """The warehouse schema a system lands in, as an Airflow asset."""
    return Asset(name=f"raw_{system}", uri=f"revops://warehouse/raw_{system}")


@dag(
    dag_id="revops_extract",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "extract"],
    doc_md=__doc__,
    default_args={"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=2)},
)
def revops_extract():
    for system in SYSTEMS:

        @task(task_id=f"extract_{system}", outlets=[raw_asset(system)])
        def extract(system: str = system, data_interval_end: datetime | None = None) -> dict:
            from revops.pipeline import extract as run

            return run(system, until=data_interval_end)

        extract()


revops_extract()
