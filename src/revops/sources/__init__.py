"""Connectors: one module per vendor, each a dlt source loaded into ``raw_<system>``.

``run_extract`` is the one entry point: the Airflow DAGs and ``revops extract`` both call it.
Besides the rows, it reports what a data engineer needs to know about a run: each stream's rows,
pages, time and whether it reached the end of its window (a stream the vendor cut short is
incomplete, with where it stopped and why; the next run resumes it), records set aside in
``_rejected``, and
schema drift (new columns; type changes landed in variant columns, or a stop, by
``REVOPS_SCHEMA_DRIFT``).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from revops import vocabulary
from revops.config import state_dir

log = logging.getLogger(__name__)

SYSTEMS: dict[str, str] = {
    system: f"revops.sources.{system}:{system}_source" for system in vocabulary.SYSTEMS
}
"""Each system's connector (``module:source factory``), one per name in the dbt var
``systems`` (:mod:`revops.vocabulary`)."""


class SchemaDriftStopped(RuntimeError):
    """A field changed type and ``REVOPS_SCHEMA_DRIFT=stop``: nothing of the run was loaded."""


@dataclass(frozen=True)
class ExtractResult:
    """What one run of one connector loaded, and what else happened."""

    system: str
    dataset: str
    rows: dict[str, int]  # table -> rows extracted in this run (before merge dedup)
    load_ids: list[str]
    stopped: dict[str, str] = field(default_factory=dict)  # stream -> why it ended early
    rejected: dict[str, int] = field(default_factory=dict)  # stream -> records set aside
    new_columns: dict[str, list[str]] = field(default_factory=dict)  # table -> columns
    variant_columns: dict[str, list[str]] = field(default_factory=dict)  # table -> columns
    # one entry per stream read: stream, rows, pages, elapsed_s, complete, stopped_at, reason
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when the vendor cut some stream short (a used-up quota, a ``Retry-After``
        beyond the ceiling): its data does not reach the end of the window."""
        return not self.stopped and all(s["complete"] for s in self.streams)


def dataset_name(system: str) -> str:
    """The warehouse schema a system lands in: ``raw_<system>``."""
    return f"raw_{system}"


def drift_mode(system: str) -> str:
    """``REVOPS_<SYSTEM>_SCHEMA_DRIFT`` or ``REVOPS_SCHEMA_DRIFT``: ``variant`` (default) or
    ``stop``."""
    from revops.settings import connector, current

    return connector(system, "schema_drift") or current().schema_drift


def loader_format() -> str:
    """How dlt hands rows to PostgreSQL: ``csv`` (``COPY``, the default) or ``insert_values``
    (``REVOPS_LOADER_FORMAT``).

    ``COPY`` loads faster and keeps memory flat as volumes grow; it stores empty strings as
    NULL, which staging treats alike anyway.
    """
    from revops.settings import current

    return current().loader_format


def _source_factory(system: str) -> Callable:
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; choose one of {', '.join(SYSTEMS)}")
    module, _, attr = SYSTEMS[system].partition(":")
    return getattr(importlib.import_module(module), attr)


def _root_cause(err: BaseException) -> BaseException:
    """The connector's own error (SourceError, SettingsError, contract violation) inside dlt's
    wrappers, if any."""
    from dlt.common.schema.exceptions import DataValidationError

    from revops.config import ConfigError
    from revops.sources.http import SourceError
    from revops.sources.settings import SettingsError

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, SourceError | SettingsError | ConfigError | DataValidationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return err


def pipeline_for(system: str, warehouse_url: str):
    """The dlt pipeline that loads ``system`` into ``raw_<system>``.

    Its local working state is kept per warehouse (host, port, database), so pointing revops at
    another warehouse starts from that warehouse's own cursors, never from another's.
    """
    import hashlib

    import dlt

    from revops.settings import current
    from revops.sources.base import load_work_mem_mb
    from revops.warehouse import Warehouse

    target = Warehouse.parse(warehouse_url)
    credentials = target.dlt_credentials()
    # the loader's sessions hash a merge's staged rows in memory (REVOPS_LOAD_WORK_MEM_MB)
    options = f"{credentials.query.get('options', '')} -c work_mem={load_work_mem_mb()}MB"
    credentials.query = {**credentials.query, "options": options.strip()}
    where = hashlib.sha1(f"{target.host}:{target.port}/{target.dbname}".encode()).hexdigest()[:12]
    return dlt.pipeline(
        pipeline_name=f"revops_{system}",
        # no UNIQUE index on dlt's random row id ``_dlt_id``: keeping it up costs the COPY of a
        # first load a third of its time, and nothing here joins on it (no nested tables);
        # rows are identified by the streams' primary keys (DECISIONLOG "Fast loads")
        destination=dlt.destinations.postgres(credentials=credentials, create_indexes=False),
        dataset_name=dataset_name(system),
        pipelines_dir=str(state_dir() / "dlt" / where),
        progress="log" if current().progress == "log" else None,
    )


def run_extract(
    system: str,
    warehouse_url: str,
    until: datetime | None = None,
    streams: Sequence[str] | None = None,
    since: datetime | None = None,
) -> ExtractResult:
    """Extract one system up to ``until`` (exclusive, default now) and merge it into
    ``raw_<system>``.

    Without ``since`` the run is incremental: each stream reads from its cursor and moves it.
    With ``since`` it is a backfill of exactly ``[since, until)``: no cursor is read or moved
    (:class:`revops.sources.base.Window`); ``since >= until`` is refused with a ValueError.
    ``streams`` limits the run to some of the system's resources (benchmarks, backfills of one
    stream); by default every stream is read.
    """
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    # dlt's working files are transient; compressing them costs more time than the disk saved
    os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")
    from dlt.common.schema.exceptions import DataValidationError

    from revops.sources.base import (
        DEDUPLICATED_HINT,
        Window,
        batch_resources,
        load_batch_rows,
        load_skip_unchanged,
        reset_notes,
    )

    window = Window.of(since, until)
    batch_rows = load_batch_rows()  # a bad REVOPS_LOAD_BATCH_ROWS is refused before any work
    # PostgreSQL's MERGE (15+) lets a merge skip unchanged rows; 14 merges by delete and insert
    skip_unchanged = load_skip_unchanged() and server_has_merge(warehouse_url)
    factory = _source_factory(system)
    mode = drift_mode(system)
    notes = reset_notes()
    pipeline = pipeline_for(system, warehouse_url)
    try:
        if window.backfill:
            source = factory(until=window.until, since=window.since)
        else:
            source = factory(until=until)
        if streams:
            source = source.with_resources(*streams)
        # rows to dlt as Arrow tables in large batches
        batch_resources(source, batch_rows, skip_unchanged)
        # vendor timestamps land as the vendor sent them, offset included; staging casts them
        source.schema.remove_type_detection("iso_timestamp")
        if mode == "stop":
            source.schema_contract = {"data_type": "freeze"}
        pipeline.sync_destination()  # the destination's schema and cursors, before drift is judged
        if pipeline.default_schema_name:
            # "every key once" is declared per load by the batches (base.Batcher); a stored
            # declaration from an earlier run must not carry over to this one
            for table in pipeline.default_schema.tables.values():
                table.pop(DEDUPLICATED_HINT, None)  # type: ignore[misc]
        known = set(pipeline.default_schema.tables) if pipeline.default_schema_name else set()
        info = pipeline.run(source, loader_file_format=loader_format())
    except Exception as err:  # dlt wraps connector errors in its own; surface ours
        root = _root_cause(err)
        if isinstance(root, DataValidationError):
            # the failed package holds rows and cursor state that were never loaded: drop the
            # local working state so the next run starts again from the destination's
            pipeline.drop()
            message = (
                f"{system}: schema drift stopped the run (REVOPS_SCHEMA_DRIFT=stop): table "
                f"{dataset_name(system)}.{root.table_name} column {root.column_name!r} "
                f"changed type; nothing of this run was loaded. Set REVOPS_SCHEMA_DRIFT=variant "
                "to land such values in a variant column instead."
            )
            log.error(message)
            raise SchemaDriftStopped(message) from err
        raise root from err
    rows = dict(notes.rows)
    analyze_loaded(warehouse_url, dataset_name(system), [t for t, n in rows.items() if n])
    new_columns, variants = _drift(info, known)
    for table, columns in new_columns.items():
        log.info("%s: new columns in %s.%s: %s", system, dataset_name(system), table, columns)
    for table, columns in variants.items():
        log.warning(
            "%s: values of a changed type landed in variant columns %s.%s: %s",
            system,
            dataset_name(system),
            table,
            columns,
        )
    return ExtractResult(
        system,
        dataset_name(system),
        rows,
        list(info.loads_ids),
        stopped=dict(notes.stopped),
        rejected=dict(notes.rejected),
        new_columns=new_columns,
        variant_columns=variants,
        streams=notes.stream_reports(),
    )


def server_has_merge(warehouse_url: str) -> bool:
    """Whether the warehouse's PostgreSQL has ``MERGE`` (15 and later)."""
    from revops.warehouse import Warehouse

    with Warehouse.parse(warehouse_url).connect(autocommit=True) as conn:
        return conn.info.server_version >= 150000


def analyze_loaded(warehouse_url: str, dataset: str, tables: Sequence[str]) -> None:
    """Refresh the planner statistics of the tables a run loaded into.

    dbt reads these tables right after the extracts; under a scheduler it starts within a second
    of the last one, before autovacuum has analysed them, and without statistics PostgreSQL
    planned one staging union as a nested loop (166-228 s instead of 0.6 s at scale 1).
    """
    from psycopg import sql

    from revops.warehouse import Warehouse

    with Warehouse.parse(warehouse_url).connect(autocommit=True) as conn:
        existing = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (dataset,),
            )
        }
        for table in sorted(set(tables) & existing):
            conn.execute(
                sql.SQL("analyze {}.{}").format(sql.Identifier(dataset), sql.Identifier(table))
            )


def _drift(info, known: set[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Columns this run added to tables that existed before it, and which of them are variants
    (``<column>__v_<type>``)."""
    new: dict[str, list[str]] = {}
    variants: dict[str, list[str]] = {}
    for package in getattr(info, "load_packages", []) or []:
        for table, update in (package.schema_update or {}).items():
            if table.startswith("_dlt"):
                continue
            columns = [c for c in (update.get("columns") or {}) if not c.startswith("_dlt")]
            found = [c for c in columns if "__v_" in c]
            if found:
                variants.setdefault(table, []).extend(found)
            if columns and table in known:
                new.setdefault(table, []).extend(columns)
    return new, variants
