"""
### extract_mailchimp

Pulls Mailchimp Marketing API 3.0 into the warehouse schema `raw_mailchimp`: audiences, members
(incremental on `last_changed`), sent campaigns and their reports, email activity events. One
task, one dlt load: every stream of the system and the cursor state that describes it are
committed together, so a retry or a rerun of the same data interval leaves the same rows (merged
on primary keys), and a run that dies commits nothing and is resumed from the last committed
cursors.

The window ends at the run's `data_interval_end` (exclusive). A used-up daily API quota ends
the run cleanly; the next run resumes. Tasks run in the pool `vendor_mailchimp` so parallel runs
(backfills) stay inside the vendor's rate limit. Credentials: `REVOPS_MAILCHIMP_*` environment
variables or the Airflow connection `revops_mailchimp`.

Produces the asset `raw_mailchimp` (and one asset per table), on which `revops_transform` is
scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

SYSTEM = "mailchimp"
POOL = "vendor_mailchimp"
TABLES = (
    "lists",
    "members",
    "campaigns",
    "reports",
    "email_activity",
)
RAW = Asset(name="raw_mailchimp", uri="revops://warehouse/raw_mailchimp")
TABLE_ASSETS = [
    Asset(name=f"raw_mailchimp.{table}", uri=f"revops://warehouse/raw_mailchimp/{table}")
    for table in TABLES
]


@dag(
    dag_id="extract_mailchimp",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "extract", "mailchimp"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "pool": POOL,
    },
)
def extract_mailchimp():
    @task(task_id="extract_mailchimp", outlets=[RAW, *TABLE_ASSETS], pool=POOL)
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Extract mailchimp up to the end of the run's data interval."""
        from revops.pipeline import extract as run

        return run(SYSTEM, until=data_interval_end)

    extract()


extract_mailchimp()
