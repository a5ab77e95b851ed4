"""
### extract_salesforce

Pulls Salesforce REST (SOQL `queryAll`) into the warehouse schema `raw_salesforce`: every object
incremental on `SystemModstamp` through `queryAll`, so deleted rows arrive flagged `is_deleted`.
One task, one dlt load: every stream of the system and the cursor state that describes it are
committed together, so a retry or a rerun of the same data interval leaves the same rows (merged
on primary keys), and a run that dies commits nothing and is resumed from the last committed
cursors.

The window ends at the run's `data_interval_end` (exclusive). A used-up daily API quota ends
the run cleanly; the next run resumes. Tasks run in the pool `vendor_salesforce` so parallel runs
(backfills) stay inside the vendor's rate limit. Credentials: `REVOPS_SALESFORCE_*` environment
variables or the Airflow connection `revops_salesforce`.

Produces the asset `raw_salesforce` (and one asset per table), on which `revops_transform` is
scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

SYSTEM = "salesforce"
POOL = "vendor_salesforce"
TABLES = (
    "user",
    "account",
    "contact",
    "lead",
    "lead_history",
    "campaign",
    "campaign_member",
    "opportunity",
    "opportunity_history",
    "opportunity_contact_role",
    "task",
    "event",
)
RAW = Asset(name="raw_salesforce", uri="revops://warehouse/raw_salesforce")
TABLE_ASSETS = [
    Asset(name=f"raw_salesforce.{table}", uri=f"revops://warehouse/raw_salesforce/{table}")
    for table in TABLES
]


@dag(
    dag_id="extract_salesforce",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "extract", "salesforce"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "pool": POOL,
    },
)
def extract_salesforce():
    @task(task_id="extract_salesforce", outlets=[RAW, *TABLE_ASSETS], pool=POOL)
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Extract salesforce up to the end of the run's data interval."""
        from revops.pipeline import extract as run

        return run(SYSTEM, until=data_interval_end)

    extract()


extract_salesforce()
