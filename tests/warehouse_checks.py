"""Helpers the tests share for looking at warehouse tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import psycopg


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


_HELD: set[tuple[str, str]] = set()
"""(server, database) pairs this process's :func:`new_database` calls hold right now."""


@contextmanager
def new_database(
    server_url: str, prefix: str = "revops_test", template: str | None = None
) -> Iterator[str]:
    """URL of a new database on the server, dropped afterwards: empty, or a copy of the
    database ``template`` (a file copy, well under a second).

    Named ``<prefix>_<xdist worker>_<n>``, ``n`` the lowest number this process does not hold
    and the server does not have: the tests of a file, one after another, get the same name.
    dbt keys its saved parse on the connection (database name included) and parses the whole
    project again (15 s and more) for a new one, so random names cost a full parse per test.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    admin = with_database(server_url, "postgres")
    copy = f' template "{template}"' if template else ""
    server = urlsplit(server_url).netloc
    with psycopg.connect(admin, autocommit=True) as conn:
        for n in range(1000):
            name = f"{prefix}_{worker}_{n}"
            if (server, name) in _HELD:
                continue
            try:
                conn.execute(f'create database "{name}"{copy}')
                break
            except psycopg.errors.DuplicateDatabase:
                continue  # another run's (a session beside this one on a shared server)
        else:
            raise RuntimeError(f"no free database name {prefix}_{worker}_<n> on {server}")
    _HELD.add((server, name))
    try:
        yield with_database(server_url, name)
    finally:
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')
        finally:
            _HELD.discard((server, name))


@contextmanager
def own_dbt_target(label: str) -> Iterator[None]:
    """dbt calls in the block write their own target directory (``<DBT_TARGET_PATH>/<label>``).

    dbt parses the whole project again when ``--vars`` (or the database) differ from its
    saved parse: a test that builds once with other vars and then goes on as before keeps
    both saved parses this way, instead of two full parses.
    """
    base = os.environ.get("DBT_TARGET_PATH")
    if base is None:
        yield
        return
    with mock.patch.dict(os.environ, {"DBT_TARGET_PATH": os.path.join(base, label)}):
        yield


def table_digest(url: str, table: str) -> tuple[int, str]:
    """Row count and an md5 over every row's text, in a stable order; a ``batch_at`` column
    (the dbt run that wrote the row, which a full refresh rewrites) is left out."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*), md5(string_agg(r, '|' order by r))"
            f" from (select (to_jsonb(t) - 'batch_at')::text as r from {table} as t) as rows"
        ).fetchone()
