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
