"""A fingerprint of the data the report reads, so a gate run can be bound to exactly what it
checked and a send can tell whether that is still the data it is about to render.

The report reads the tables and views of one schema, ``marts`` (``revops.reports.data``; a test
holds :data:`SCHEMAS` equal to it). Per relation the fingerprint holds its row count, an
order-independent content hash (the sum of a 64-bit hash of every row, PostgreSQL's
``hash_record_extended``: of the values, not their text, so 2.6 times cheaper than hashing each
row's text, and a number's display scale, ``1.0`` against ``1.00``, is no change) and a hash of its
column names and types; :attr:`Fingerprint.digest` is one SHA-256 over all of it. Everything is
read in one statement, so one fingerprint is one snapshot whatever the isolation level.

A rebuild that produces the same rows (a transform with nothing new) keeps the fingerprint; any
changed, added or removed row, column, table or view changes it. The content hash is a checksum
against accidents (an ``update``, a transform, a concurrent run), not against someone crafting
rows to collide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

SCHEMAS: tuple[str, ...] = ("marts",)
"""The schemas the report reads (``revops.reports.data.SCHEMA``)."""


@dataclass(frozen=True)
class Fingerprint:
    """``tables``: ``{"marts.x": {"rows": int, "hash": str, "columns": str}}``; ``digest``: one
    hex SHA-256 over all of it."""

    tables: dict[str, dict[str, Any]]
    digest: str

    @classmethod
    def of(cls, tables: Mapping[str, Mapping[str, Any]]) -> Fingerprint:
        """The fingerprint of ``tables`` (as stored in ``gate_runs.fingerprint``)."""
        plain = {name: dict(entry) for name, entry in sorted(tables.items())}
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
        return cls(plain, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _relations(conn: psycopg.Connection[Any], schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (schema, name)
        for schema, name in conn.execute(
            "select n.nspname, c.relname from pg_catalog.pg_class as c "
            "join pg_catalog.pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') "
            "and not c.relispartition order by 1, 2",
            (list(schemas),),
        ).fetchall()
    ]


def data_fingerprint(
    conn: psycopg.Connection[Any], schemas: tuple[str, ...] = SCHEMAS
) -> Fingerprint:
    """Fingerprint every table and view in ``schemas`` (default: what the report reads).

    Runs in ``conn``'s current transaction if one is open (a send computes it in the snapshot
    it renders from), else in its own.
    """
    relations = _relations(conn, schemas)
    if not relations:
        return Fingerprint.of({})
    parts = [
        sql.SQL(
            "select {name}, count(*), "
            "coalesce(sum(hash_record_extended(t, 0)::numeric), 0)::text, "
            "(select md5(coalesce(string_agg(a.attname || ' ' || "
            "format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum), '')) "
            "from pg_catalog.pg_attribute as a where a.attrelid = {regclass}::regclass "
            "and a.attnum > 0 and not a.attisdropped) "
            "from {table} as t"
        ).format(
            name=sql.Literal(f"{schema}.{name}"),
            regclass=sql.Literal(sql.Identifier(schema, name).as_string(conn)),
            table=sql.Identifier(schema, name),
        )
        for schema, name in relations
    ]
    rows = conn.execute(sql.SQL(" union all ").join(parts)).fetchall()
    return Fingerprint.of(
        {
            name: {"rows": int(count), "hash": content, "columns": cols}
            for name, count, content, cols in rows
        }
    )


@dataclass(frozen=True)
class Change:
    """One relation that differs between two fingerprints."""

    table: str
    kind: str
    """``changed``, ``new`` or ``gone``."""
    detail: str
    """``rows 1200 -> 1200, content differs``; ``is new (3 rows)``; ``is gone (was 10 rows)``."""

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.detail}"
            if self.kind == "changed"
            else f"{self.table} {self.detail}"
        )


def changes(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """What differs between two fingerprints' tables, one :class:`Change` per relation."""
    found = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None and after is not None:
            found.append(Change(name, "new", f"is new ({_rows(after['rows'])})"))
        elif after is None and before is not None:
            found.append(Change(name, "gone", f"is gone (was {_rows(before['rows'])})"))
        elif before is not None and after is not None and dict(before) != dict(after):
            what = []
            if before.get("columns") != after.get("columns"):
                what.append("columns changed")
            if before.get("rows") != after.get("rows") or before.get("hash") != after.get("hash"):
                content = ", content differs" if before.get("hash") != after.get("hash") else ""
                what.append(f"rows {before.get('rows')} -> {after.get('rows')}{content}")
            found.append(Change(name, "changed", ", ".join(what)))
    return found


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"
