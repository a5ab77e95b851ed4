"""
### revops_transform

Builds the dbt project (staging -> intermediate -> marts) with Astronomer Cosmos once every raw
schema has new data, testing as it builds (`dbt build`); in the middle, the exact data-driven
attribution models (Markov, Shapley) are fitted on the path tables dbt built and their credits
written back in one transaction, then the attribution marts are built on them. Produces the
asset `marts`, on which `revops_publish` is scheduled.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Asset, dag, task
from cosmos import ProfileConfig
from cosmos.operators.local import DbtBuildLocalOperator

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
SYSTEMS = ("hubspot", "salesforce", "google_ads", "meta_ads", "linkedin_ads", "mailchimp")
RAW = [Asset(name=f"raw_{s}", uri=f"revops://warehouse/raw_{s}") for s in SYSTEMS]
MARTS = Asset(name="marts", uri="revops://warehouse/marts")


@dag(
    dag_id="revops_transform",
    schedule=RAW,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["revops", "transform", "dbt"],
    doc_md=__doc__,
    default_args={"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=2)},
)
def revops_transform():
    dbt = {
        "project_dir": str(DBT_PROJECT),
        "profile_config": ProfileConfig(
            profile_name="revops",
            target_name="warehouse",
            profiles_yml_filepath=DBT_PROJECT / "profiles.yml",
        ),
        "env": {k: v for k, v in os.environ.items() if k.startswith("REVOPS_PG_")},
        "install_deps": False,
    }
    # everything that does not need the data-driven credits (staging, intermediate, marts)
    build_models = DbtBuildLocalOperator(
        task_id="build_models", exclude=["source:attribution+"], **dbt
    )

    @task
    def attribute_data_driven() -> dict:
        from revops.pipeline import attribute_data_driven as run

        return run()

    # the attribution marts, once markov and shapley credits are written
    build_attribution_marts = DbtBuildLocalOperator(
        task_id="build_attribution_marts", select=["source:attribution+"], outlets=[MARTS], **dbt
    )

    build_models >> attribute_data_driven() >> build_attribution_marts


revops_transform()
