"""Helpers the tests share for looking at warehouse tables."""

from __future__ import annotations

import psycopg


def table_digest(url: str, table: str) -> tuple[int, str]:
    """Row count and an md5 over every row's text, in a stable order."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select count(*), md5(string_agg(t::text, '|' order by t::text)) from {table} as t"
        ).fetchone()
