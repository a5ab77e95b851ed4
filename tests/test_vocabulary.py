"""revops.vocabulary reads each list from dbt_project.yml, and the seeds map onto its channels."""

from __future__ import annotations

import csv

from revops import vocabulary
from revops.config import dbt_project_dir


def test_the_lists_as_the_dbt_project_writes_them() -> None:
    assert vocabulary.SYSTEMS == tuple(
        "hubspot salesforce google_ads meta_ads linkedin_ads mailchimp".split()
    )
    assert len(vocabulary.MODELS) == 10
    assert vocabulary.MODELS[:2] == ("first_touch", "last_touch")
    assert vocabulary.DATA_DRIVEN_MODELS == ("markov", "shapley")
    assert vocabulary.HEURISTIC_MODELS == vocabulary.MODELS[:8]
    assert vocabulary.PERIODS == ("week", "month")
    assert dict(vocabulary.MODEL_CONVERSION_TYPES) == {
        "w_shaped": ("opportunity", "customer"),
        "full_path": ("customer",),
    }
    assert vocabulary.MODEL_WEIGHTS["position_based"] == {"first": 0.4, "last": 0.4}
    assert vocabulary.MODEL_WEIGHTS["w_shaped"]["milestone"] == 0.3
    assert vocabulary.MODEL_WEIGHTS["full_path"]["milestone"] == 0.225
    assert vocabulary.MODEL_WEIGHTS["time_decay"]["half_life_days"] == 7.0
    assert vocabulary.STAGES == ("lead", "mql", "sal", "sql", "opportunity", "customer")
    assert vocabulary.STAGE_COUNTS["opportunity"] == "opportunities"
    assert vocabulary.CONVERSION_TYPES == tuple(s for s in vocabulary.STAGES if s != "sal")
    assert vocabulary.VALUED_CONVERSION_TYPES == ("opportunity", "customer")


def test_every_channel_a_mapping_seed_assigns_is_a_channel() -> None:
    seeds = dbt_project_dir() / "seeds"
    seeded = set()
    for name in ("channel_mapping", "hubspot_analytics_sources", "ad_channel_types"):
        with open(seeds / f"{name}.csv", newline="") as handle:
            seeded |= {row["channel"] for row in csv.DictReader(handle)}
    assert seeded <= set(vocabulary.CHANNELS), seeded - set(vocabulary.CHANNELS)
    # `sales` (sales activities) is the one channel a model assigns that no seed maps to
    assert set(vocabulary.CHANNELS) - seeded == {"sales"}


def test_the_report_labels_every_model_and_stage_of_the_vocabulary():
    from revops.reports.data import MODEL_LABELS, STAGE_MEASURES, STEPS

    assert tuple(MODEL_LABELS) == vocabulary.MODELS
    assert STAGE_MEASURES == (
        ("leads", "Leads"),
        ("mqls", "MQLs"),
        ("sals", "SALs"),
        ("sqls", "SQLs"),
        ("opportunities", "Opportunities"),
        ("customers", "Customers"),
    )
    assert [step for step, _ in STEPS] == [
        "lead_to_mql",
        "mql_to_sal",
        "sal_to_sql",
        "sql_to_opportunity",
        "opportunity_to_customer",
    ]
    assert STEPS[-1][1] == "Opportunity \u2192 Customer"
