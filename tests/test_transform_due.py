"""When a transform run builds: never on an empty warehouse, and a timed run only on new loads."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from revops.transform import build_due, record_build


def _load(conn: psycopg.Connection, schema: str, at: datetime, status: int = 0) -> None:
    conn.execute(f"create schema if not exists {schema}")
    conn.execute(
        f"create table if not exists {schema}._dlt_loads "
        "(load_id text, status bigint, inserted_at timestamptz)"
    )
    conn.execute(f"insert into {schema}._dlt_loads values ('x', %s, %s)", (status, at))


def test_a_timed_run_builds_only_on_loads_newer_than_the_last_build(fresh_db: str) -> None:
    day1 = datetime(2026, 12, 1, 0, 20, tzinfo=UTC)
    day2 = datetime(2026, 12, 2, 0, 25, tzinfo=UTC)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        due, why, loaded = build_due(conn, timed=True)
        assert (due, loaded) == (False, None) and "nothing has been extracted" in why
        assert build_due(conn, timed=False)[0] is False  # not even by hand: nothing to build on

        _load(conn, "raw_hubspot", day1)
        _load(conn, "raw_mailchimp", day1.replace(minute=10))
        _load(conn, "raw_mailchimp", day2, status=1)  # a load that did not complete
        assert build_due(conn, timed=True) == (
            True,
            f"raw data loaded through {day1}, marts built through None",
            day1,
        )
        record_build(conn, "run-1", day1)
        due, why, loaded = build_due(conn, timed=True)
        assert (due, loaded) == (False, day1) and "already include every raw load" in why
        assert build_due(conn, timed=False)[0] is True  # asset-triggered or manual: always

        _load(conn, "raw_mailchimp", day2)
        assert build_due(conn, timed=True)[0:3:2] == (True, day2)
