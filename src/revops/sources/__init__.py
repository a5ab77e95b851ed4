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


def _root_cause(err: BaseException) -> BaseException:
    """The connector's own error (SourceError, SettingsError) inside dlt's wrappers, if any."""
    from revops.sources.http import SourceError
    from revops.sources.settings import SettingsError

    seen = err
    while seen is not None:
        if isinstance(seen, SourceError | SettingsError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return err


def _dlt_credentials(warehouse_url: str) -> str:
    """dlt insists on a password; a URL without one (trust or peer auth) gets a placeholder,
    which such servers never ask for."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(warehouse_url)
    if parts.password or not parts.username:
        return warehouse_url
    netloc = parts.netloc.replace(f"{parts.username}@", f"{parts.username}:unused@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


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
        destination=dlt.destinations.postgres(credentials=_dlt_credentials(warehouse_url)),
        dataset_name=dataset_name(system),
        pipelines_dir=str(state_dir() / "dlt"),
        progress="log" if os.environ.get("REVOPS_PROGRESS") == "log" else None,
    )
    try:
        info = pipeline.run(factory(until=until))
    except Exception as err:  # dlt wraps connector errors in its own; surface ours
        raise _root_cause(err) from err
    rows: dict[str, int] = {}
    # a run first finishes any package an interrupted run left behind: count every normalize
    for step in pipeline.last_trace.steps if pipeline.last_trace else []:
        if step.step == "normalize" and step.step_info is not None:
            for table, count in step.step_info.row_counts.items():
                if not table.startswith("_dlt"):
                    rows[table] = rows.get(table, 0) + count
    return ExtractResult(system, dataset_name(system), rows, list(info.loads_ids))
