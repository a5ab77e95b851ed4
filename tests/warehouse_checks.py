"""Helpers the tests share for looking at warehouse tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


@contextmanager
def new_database(
    server_url: str, prefix: str = "revops_test", template: str | None = None
) -> Iterator[str]:
    """URL of a new database ``<prefix>_<random>`` on the server, dropped afterwards: empty, or a
    copy of the database ``template`` (a file copy, well under a second)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = with_database(server_url, "postgres")
    copy = f' template "{template}"' if template else ""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"{copy}')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def table_digest(url: str, table: str) -> tuple[int, str]:
    """Row count and an md5 over every row's text, in a stable order."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select count(*), md5(string_agg(t::text, '|' order by t::text)) from {table} as t"
        ).fetchone()
