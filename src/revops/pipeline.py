"""The work each Airflow task does, callable outside Airflow too (the CLI runs the same code).

The DAG files in ``dags/`` stay thin: each task imports one of these functions and passes the
run's interval. Every function here is safe to rerun: extraction merges on primary keys, dbt
rebuilds its tables, the gate only reads, and the report is sent once per run key.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from revops.config import out_dir

log = logging.getLogger(__name__)


def extract(system: str, until: datetime | None = None) -> dict[str, Any]:
    """Extract one system into ``raw_<system>``; returns what was loaded (for XCom and logs)."""
    from revops.sources import run_extract
    from revops.sources.settings import apply_airflow_connection
    from revops.warehouse import warehouse_url

    apply_airflow_connection(system)
    result = run_extract(system, warehouse_url(), until=until)
    total = sum(result.rows.values())
    log.info("%s: loaded %d rows into %s: %s", system, total, result.dataset, result.rows)
    return {"system": system, "dataset": result.dataset, "rows": result.rows}


CONVERSION_TYPES = ("lead", "mql", "sql", "opportunity", "customer")
NON_CONVERTING_SQL = (
    "select journey_id, touchpoint_id, channel, touch_position "
    "from intermediate.int_nonconversion_paths_joined "
    "where conversion_type = %(conversion_type)s"
)
# dbt selections around the data-driven step: everything that does not need its credits, then
# the attribution marts that do.
BEFORE_ATTRIBUTION = ["build", "--exclude", "source:attribution+"]
ATTRIBUTION_MARTS = ["build", "--select", "source:attribution+"]


def attribute_data_driven() -> dict[str, Any]:
    """Fit Markov and Shapley on every conversion type's paths; write credits in one go each."""
    from revops.attribution.warehouse import compute_data_driven
    from revops.warehouse import connect

    written = {}
    with connect() as conn:
        for conversion_type in CONVERSION_TYPES:
            run = compute_data_driven(conn, conversion_type, non_converting_sql=NON_CONVERTING_SQL)
            written[conversion_type] = run.rows_written
            log.info("%s: markov+shapley credits for %d conversions (%d non-converting)",
                     conversion_type, run.conversions, run.non_converting_journeys)
    return written


def transform() -> None:
    """The whole dbt build with the data-driven attribution step in the middle (CLI path)."""
    from revops.transform import run_dbt
    from revops.warehouse import warehouse_url

    url = warehouse_url()
    run_dbt(BEFORE_ATTRIBUTION, url)
    attribute_data_driven()
    run_dbt(ATTRIBUTION_MARTS, url)


def quality_gate(docs_dir: Path | None = None) -> dict[str, Any]:
    """Run the quality gate; raise ``GateFailed`` naming every blocking failure."""
    from revops.quality.gate import require_pass, run_gate
    from revops.warehouse import warehouse_url

    result = run_gate(warehouse_url(), docs_dir or out_dir() / "data_docs")
    log.info("quality gate:\n%s", result.summary())
    require_pass(result)
    return result.to_dict()


def report_period(moment: datetime | date | None) -> str:
    """The report period for a run at ``moment``: the last complete ISO week before it."""
    from revops.reports.periods import last_complete_week

    if moment is None:
        moment = datetime.now(UTC)
    day = moment.date() if isinstance(moment, datetime) else moment
    return last_complete_week(day).label


def send_report(period: str, run_key: str) -> dict[str, Any]:
    """Render and send the report for ``period`` once per ``run_key``."""
    from revops.reports.periods import parse_period
    from revops.reports.send import SmtpSettings
    from revops.reports.send import send_report as send
    from revops.warehouse import connect

    settings = SmtpSettings.from_env()
    with connect() as conn:
        result = send(conn, parse_period(period), settings, run_key, out_dir())
    log.info("report %s: %s", period, result)
    return {
        "period": period,
        "already_sent": bool(getattr(result, "already_sent", False)),
        "html_path": str(getattr(result, "html_path", "")),
    }
