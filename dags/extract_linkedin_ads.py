"""
### extract_linkedin_ads

Pulls LinkedIn Marketing API into the warehouse schema `raw_linkedin_ads`: ad accounts, campaign
groups and campaigns (removed included); daily campaign analytics re-read 14 days back. One
task, one dlt load: every stream of the system and the cursor state that describes it are
committed together, so a retry or a rerun of the same data interval leaves the same rows (merged
on primary keys), and a run that dies commits nothing and is resumed from the last committed
cursors.

The window ends at the run's `data_interval_end` (exclusive). A used-up daily API quota ends
the run cleanly; the next run resumes. Tasks run in the pool `vendor_linkedin_ads` so parallel runs
(backfills) stay inside the vendor's rate limit. Credentials: `REVOPS_LINKEDIN_ADS_*` environment
variables or the Airflow connection `revops_linkedin_ads`.

Produces the asset `raw_linkedin_ads` (and one asset per table), on which `revops_transform` is
scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

SYSTEM = "linkedin_ads"
POOL = "vendor_linkedin_ads"
TABLES = (
    "ad_accounts",
    "campaign_groups",
    "campaigns",
    "campaign_analytics",
)
RAW = Asset(name="raw_linkedin_ads", uri="revops://warehouse/raw_linkedin_ads")
TABLE_ASSETS = [
    Asset(name=f"raw_linkedin_ads.{table}", uri=f"revops://warehouse/raw_linkedin_ads/{table}")
    for table in TABLES
]


@dag(
    dag_id="extract_linkedin_ads",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "extract", "linkedin_ads"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "pool": POOL,
    },
)
def extract_linkedin_ads():
    @task(task_id="extract_linkedin_ads", outlets=[RAW, *TABLE_ASSETS], pool=POOL)
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Extract linkedin_ads up to the end of the run's data interval."""
        from revops.pipeline import extract as run

        return run(SYSTEM, until=data_interval_end)

    extract()


extract_linkedin_ads()
