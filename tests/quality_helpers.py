"""Test helpers for the publish gate: the dbt results a real ``dbt build`` would record.

The test worlds build their marts without dbt, so they record what ``dbt build`` records
(``revops_meta.dbt_results``, written by the ``record_dbt_results`` on-run-end hook): each
published mart built, and a test on it passed. ``record_dbt_test`` adds one test's result.
"""

from __future__ import annotations

import re
from pathlib import Path

from revops.quality.dbt_results import TABLE, model_id
from revops.quality.suites import PUBLISHED_MARTS

MACRO = Path(__file__).resolve().parents[1] / "dbt_project" / "macros" / "record_dbt_results.sql"
DDL = re.search(r"create schema.*?\);", MACRO.read_text(), re.S).group(0)
"""The hook's own ``create schema`` and ``create table`` statements."""


def record_dbt_test(
    conn,
    name: str,
    marts: tuple[str, ...],
    status: str = "pass",
    failures: int = 0,
    message: str = "",
    severity: str = "error",
) -> None:
    """Record one test result reading ``marts`` (newer than every build recorded so far)."""
    conn.execute(DDL)
    conn.execute(
        f"insert into {TABLE} (invocation_id, unique_id, resource_type, name, status, "
        "severity, failures, message, depends_on) "
        "values ('test', %s, 'test', %s, %s, %s, %s, %s, %s)",
        (
            f"test.revops.{name}",
            name,
            status,
            severity,
            failures,
            message,
            [model_id(m) for m in marts],
        ),
    )


def record_dbt_build(conn, status: str = "success") -> None:
    """Record a ``dbt build`` of every published mart and one passing test on each."""
    conn.execute(DDL)
    for mart in PUBLISHED_MARTS:
        conn.execute(
            f"insert into {TABLE} (invocation_id, unique_id, resource_type, name, status, "
            "depends_on) values ('test', %s, 'model', %s, %s, '{}')",
            (model_id(mart), mart, status),
        )
    for mart in PUBLISHED_MARTS:
        record_dbt_test(conn, f"contract_{mart}", (mart,))
