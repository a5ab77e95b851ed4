"""The semantic layer as the report reads it: metrics defined once in the dbt project.

The metrics (leads ... customers, cohort rates, pipeline, spend, CAC, attribution per model,
the handoff SLA) are ``semantic_models:`` and ``metrics:`` in
``dbt_project/models/marts/*/_*__semantic.yml``. MetricFlow compiles a metric query into SQL;
:func:`query` runs that SQL on the caller's connection, so the report reads every number in its
own read-only snapshot and an analyst's ``mf query`` gives the same number.

The semantic manifest comes from ``dbt parse`` of the project (no warehouse connection), cached
under the system's temporary directory by a digest of the project's files, so it follows the
definitions without a build step of its own.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from revops.config import dbt_project_dir
from revops.transform import DbtError, run_dbt

MANIFEST = "semantic_manifest.json"
# MetricFlow logs the timing of every planning step at INFO (about 130 lines per report in the
# send_report task log); its warnings and errors still show
for _logger in ("metricflow", "metricflow_semantics"):
    logging.getLogger(_logger).setLevel(logging.WARNING)
_PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds")
# dbt parse renders the profile's connection but never connects: any well-formed URL does
_PARSE_URL = "postgresql://parse@localhost:5432/parse"


class SemanticLayerError(RuntimeError):
    """The semantic layer's definitions cannot be read or a query cannot be compiled."""


def project_digest(project: Path) -> str:
    """A digest of the dbt project's definitions: files that change the semantic manifest."""
    digest = hashlib.sha256()
    for part in _PROJECT_PARTS:
        root = project / part
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            digest.update(str(path.relative_to(project)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def manifest_path() -> Path:
    """The semantic manifest of the dbt project, parsed (``dbt parse``) when not cached yet."""
    project = dbt_project_dir()
    cache = Path(tempfile.gettempdir()) / f"revops-semantic-{os.getuid()}" / project_digest(project)
    path = cache / MANIFEST
    if path.exists():
        return path
    cache.parent.mkdir(parents=True, exist_ok=True)
    # one process parses, others starting meanwhile (parallel Airflow tasks) wait for its result
    with open(cache.parent / f"{cache.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path
        target = Path(tempfile.mkdtemp(prefix="parse-", dir=cache.parent))
        try:
            args = ["parse", "--target-path", str(target), "--no-partial-parse"]
            run_dbt(args, _PARSE_URL, True)
        except DbtError as err:
            message = f"the semantic layer's definitions do not parse: {err}"
            raise SemanticLayerError(message) from err
        cache.mkdir(parents=True, exist_ok=True)
        os.replace(target / MANIFEST, path)
        shutil.rmtree(target, ignore_errors=True)
    return path


class _RenderOnlyClient:
    """MetricFlow's SQL client, for its PostgreSQL dialect only: queries run on the report's
    own connection (:func:`query`), never through this client."""

    @property
    def sql_engine_type(self) -> Any:
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.POSTGRES

    @property
    def sql_plan_renderer(self) -> Any:
        from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer

        return PostgresSQLSqlPlanRenderer()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("revops runs MetricFlow's SQL on its own connection")

    query = execute = dry_run = _refuse

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"%({bind_parameter_key})s"


@functools.cache
def _engine(path: Path) -> Any:
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantics.model.dbt_manifest_parser import (
        parse_manifest_from_dbt_generated_manifest,
    )
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    manifest = parse_manifest_from_dbt_generated_manifest(path.read_text())
    # the relations name the database dbt parsed against: read them in the connection's own
    for model in manifest.semantic_models:
        model.node_relation.database = None
        model.node_relation.relation_name = (
            f'"{model.node_relation.schema_name}"."{model.node_relation.alias}"'
        )
    return MetricFlowEngine(SemanticManifestLookup(manifest), _RenderOnlyClient())


def engine() -> Any:
    """MetricFlow's engine over the project's semantic manifest (built once per process)."""
    return _engine(manifest_path())


def metric_names() -> tuple[str, ...]:
    """Every metric the semantic layer defines."""
    lookup = engine()._semantic_manifest_lookup
    return tuple(sorted(m.name for m in lookup.semantic_manifest.metrics))


def compile_sql(
    metrics: Sequence[str], group_by: Sequence[str] = (), where: Sequence[str] = ()
) -> str:
    """The SQL MetricFlow writes for ``metrics`` by ``group_by`` (``mf query`` terms, e.g.
    ``metric_time__week``, ``person__channel``) under ``where`` (MetricFlow filters)."""
    return _compile(manifest_path(), tuple(metrics), tuple(group_by), tuple(where))


@functools.lru_cache(maxsize=512)
def _compile(
    path: Path, metrics: tuple[str, ...], group_by: tuple[str, ...], where: tuple[str, ...]
) -> str:
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    request = MetricFlowQueryRequest.create(
        metric_names=list(metrics), group_by_names=list(group_by), where_constraints=list(where)
    )
    try:
        statement = _engine(path).explain(request).sql_statement
    except Exception as err:  # MetricFlow raises its own error classes
        raise SemanticLayerError(f"cannot query {', '.join(metrics)}: {err}") from err
    if statement.bind_parameter_set.param_dict:
        raise SemanticLayerError("MetricFlow returned bound parameters; revops passes none")
    return statement.sql


def period_filter(grain: str, starts: Sequence[date]) -> str:
    """A MetricFlow filter: ``metric_time`` at ``grain`` (week, month) is one of ``starts``."""
    days = ", ".join(f"'{day.isoformat()}'" for day in starts)
    return f"{{{{ TimeDimension('metric_time', '{grain}') }}}} in ({days})"


def dimension_filter(name: str, values: Sequence[str]) -> str:
    """A MetricFlow filter: dimension ``name`` (``credit__model``) is one of ``values``."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{{{{ Dimension('{name}') }}}} in ({quoted})"


@dataclass(frozen=True)
class Rows:
    """A metric query's result: one mapping per row, column name (``mf query``'s) -> value."""

    rows: tuple[Mapping[str, Any], ...]

    def __iter__(self) -> Any:
        return iter(self.rows)


def query(
    conn: psycopg.Connection[Any],
    metrics: Sequence[str],
    group_by: Sequence[str] = (),
    where: Sequence[str] = (),
) -> Rows:
    """Run a metric query on ``conn`` (inside its open transaction, if any)."""
    cursor = conn.execute(compile_sql(metrics, group_by, where))  # type: ignore[arg-type]
    names = [column.name for column in cursor.description or ()]
    return Rows(tuple(dict(zip(names, row, strict=True)) for row in cursor.fetchall()))
