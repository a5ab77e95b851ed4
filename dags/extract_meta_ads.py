"""
### extract_meta_ads

Pulls Meta Marketing API (Graph) into the warehouse schema `raw_meta_ads`: ad accounts,
campaigns, ad sets and ads (deleted and archived included); daily ad-level insights re-read 28
days back. One task, one dlt load: every stream of the system and the cursor state that
describes it are committed together, so a retry or a rerun of the same data interval leaves the
same rows (merged on primary keys), and a run that dies commits nothing and is resumed from the
last committed cursors.

The window ends at the run's `data_interval_end` (exclusive). A used-up daily API quota ends
the run cleanly; the next run resumes. Tasks run in the pool `vendor_meta_ads` so parallel runs
(backfills) stay inside the vendor's rate limit. Credentials: `REVOPS_META_ADS_*` environment
variables or the Airflow connection `revops_meta_ads`.

Produces the asset `raw_meta_ads` (and one asset per table), on which `revops_transform` is
scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, task

SYSTEM = "meta_ads"
POOL = "vendor_meta_ads"
TABLES = (
    "ad_accounts",
    "campaigns",
    "ad_sets",
    "ads",
    "ad_insights",
)
RAW = Asset(name="raw_meta_ads", uri="revops://warehouse/raw_meta_ads")
TABLE_ASSETS = [
    Asset(name=f"raw_meta_ads.{table}", uri=f"revops://warehouse/raw_meta_ads/{table}")
    for table in TABLES
]


@dag(
    dag_id="extract_meta_ads",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "extract", "meta_ads"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "pool": POOL,
    },
)
def extract_meta_ads():
    @task(task_id="extract_meta_ads", outlets=[RAW, *TABLE_ASSETS], pool=POOL)
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Extract meta_ads up to the end of the run's data interval."""
        from revops.pipeline import extract as run

        return run(SYSTEM, until=data_interval_end)

    extract()


extract_meta_ads()
