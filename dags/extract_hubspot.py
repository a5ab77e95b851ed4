"""
### extract_hubspot

Pulls HubSpot CRM v3 into the warehouse schema `raw_hubspot`: contacts, companies and deals
(incremental on their last-modified property, archived records kept and flagged), deal stage
history and deal contacts, pipelines with their stages, owners. One task, one dlt load: every
stream of the system and the cursor state that describes it are committed together, so a retry
or a rerun of the same data interval leaves the same rows (merged on primary keys), and a run
that dies commits nothing and is resumed from the last committed cursors.

The window ends at the run's `data_interval_end` (exclusive). A used-up daily API quota ends
the run cleanly; the next run resumes. Tasks run in the pool `vendor_hubspot` so parallel runs
(backfills) stay inside the vendor's rate limit. Credentials: `REVOPS_HUBSPOT_*` environment
variables or the Airflow connection `revops_hubspot`.

Produces the asset `raw_hubspot` (and one asset per table), on which `revops_transform` is
scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

SYSTEM = "hubspot"
POOL = "vendor_hubspot"
TABLES = (
    "contacts",
    "companies",
    "deals",
    "contact_property_history",
    "deal_stage_history",
    "deal_contacts",
    "deal_pipelines",
    "deal_pipeline_stages",
    "owners",
)
RAW = Asset(name="raw_hubspot", uri="revops://warehouse/raw_hubspot")
TABLE_ASSETS = [
    Asset(name=f"raw_hubspot.{table}", uri=f"revops://warehouse/raw_hubspot/{table}")
    for table in TABLES
]


@dag(
    dag_id="extract_hubspot",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "extract", "hubspot"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "pool": POOL,
    },
)
def extract_hubspot():
    @task(task_id="extract_hubspot", outlets=[RAW, *TABLE_ASSETS], pool=POOL)
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Extract hubspot up to the end of the run's data interval."""
        from revops.pipeline import extract as run

        return run(SYSTEM, until=data_interval_end)

    extract()


extract_hubspot()
