"""Connectors: one module per vendor, each a dlt source loaded into ``raw_<system>``.

``run_extract`` is the one entry point: the Airflow DAG and ``revops extract`` both call it.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from revops.config import state_dir

log = logging.getLogger(__name__)

SYSTEMS: dict[str, str] = {
    "hubspot": "revops.sources.hubspot:hubspot_source",
    "google_ads": "revops.sources.google_ads:google_ads_source",
    "mailchimp": "revops.sources.mailchimp:mailchimp_source",
}


@dataclass(frozen=True)
class ExtractResult:
    """What one run of one connector loaded."""

    system: str
    dataset: str
    rows: dict[str, int]  # table -> rows written in this run (before merge dedup)
    load_ids: list[str]


def dataset_name(system: str) -> str:
    """The warehouse schema a system lands in: ``raw_<system>``."""
    return f"raw_{system}"


def _source_factory(system: str) -> Callable:
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; choose one of {', '.join(SYSTEMS)}")
    module, _, attr = SYSTEMS[system].partition(":")
    return getattr(importlib.import_module(module), attr)


def run_extract(
    system: str,
    warehouse_url: str,
    until: datetime | None = None,
) -> ExtractResult:
    """Extract one system up to ``until`` (exclusive) and merge it into ``raw_<system>``."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt

    factory = _source_factory(system)
    pipeline = dlt.pipeline(
        pipeline_name=f"revops_{system}",
        destination=dlt.destinations.postgres(credentials=warehouse_url),
        dataset_name=dataset_name(system),
        pipelines_dir=str(state_dir() / "dlt"),
        progress="log" if os.environ.get("REVOPS_PROGRESS") == "log" else None,
    )
    info = pipeline.run(factory(until=until))
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    rows = {
        table: count
        for table, count in (normalize.row_counts.items() if normalize else [])
        if not table.startswith("_dlt")
    }
    return ExtractResult(system, dataset_name(system), rows, list(info.loads_ids))
