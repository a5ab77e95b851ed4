"""revops_meta.dbt_results stays bounded: the on-run-end hook prunes old results.

The hook (dbt_project/macros/record_dbt_results.sql) records about 400 rows per dbt invocation;
it deletes a result older than the var ``dbt_results_retention_days`` unless it is its node's
newest, so the table follows the retention window, not the project's age, and the gate still
finds the newest result of a mart that was not rebuilt since.
"""

from __future__ import annotations

import psycopg
from warehouse_checks import own_dbt_target

from revops.transform import run_dbt

# the smallest dbt invocation that records a result: one model with no upstream data
SELECT = ["run", "--select", "time_spine_daily"]
NODE = "model.revops.time_spine_daily"


def insert_result(conn: psycopg.Connection, unique_id: str, days_ago: int, invocation: str) -> None:
    conn.execute(
        "insert into revops_meta.dbt_results (invocation_id, unique_id, resource_type, name, "
        "status, severity, failures, message, depends_on, recorded_at) values "
        "(%s, %s, 'model', split_part(%s, '.', 3), 'success', null, null, '', array[]::text[], "
        "clock_timestamp() - make_interval(days => %s))",
        (invocation, unique_id, unique_id, days_ago),
    )


def test_old_results_are_pruned_and_each_nodes_newest_is_kept(fresh_db: str) -> None:
    run_dbt(SELECT, fresh_db, quiet=True)  # creates the table and records one result
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        insert_result(conn, NODE, 40, "old-run")  # older than 30 days, and not the newest
        insert_result(conn, NODE, 10, "recent-run")  # inside the window
        insert_result(conn, "model.revops.retired", 40, "old-run")  # old, but its node's newest
        insert_result(conn, "model.revops.retired", 50, "older-run")  # old and superseded
    run_dbt(SELECT, fresh_db, quiet=True)
    with psycopg.connect(fresh_db) as conn:
        kept = conn.execute(
            "select unique_id, invocation_id from revops_meta.dbt_results "
            "where invocation_id in ('old-run', 'recent-run', 'older-run') order by 1, 2"
        ).fetchall()
        runs_of_node = conn.execute(
            "select count(distinct invocation_id) from revops_meta.dbt_results "
            "where unique_id = %s",
            (NODE,),
        ).fetchone()[0]
    assert kept == [("model.revops.retired", "old-run"), (NODE, "recent-run")]
    assert runs_of_node == 3  # the two dbt runs and the recent one


def test_the_retention_is_a_dbt_var(fresh_db: str) -> None:
    run_dbt(SELECT, fresh_db, quiet=True)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        insert_result(conn, NODE, 10, "ten-days-ago")
    with own_dbt_target("retention-5"):  # its own saved parse
        run_dbt([*SELECT, "--vars", "{dbt_results_retention_days: 5}"], fresh_db, quiet=True)
    with psycopg.connect(fresh_db) as conn:
        left = conn.execute(
            "select count(*) from revops_meta.dbt_results where invocation_id = 'ten-days-ago'"
        ).fetchone()[0]
    assert left == 0
