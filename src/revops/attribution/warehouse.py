"""The data-driven models on the warehouse's paths: read the path table, write touch credits.

dbt builds the conversion paths (one row per conversion and touch, ``touch_position`` giving
the order); this module fits the Markov and Shapley models on all paths of one conversion type
and writes every touch's credit to ``attribution.data_driven_credits``::

    conversion_id, conversion_type, touchpoint_id, model, credit

replacing that conversion type's rows in one transaction, so the marts built after it see
either the old credits or the new ones, never half. A conversion with no touches gets one row
with ``touchpoint_id`` null (the ``(none)`` touch) and credit 1.

Non-converting journeys (a person whose touches led to no conversion of the type) belong in
both models; until dbt builds them, pass a query for them as ``non_converting_sql``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from revops.attribution import markov, shapley
from revops.attribution.pathset import NONE_CHANNEL, PathSet
from revops.vocabulary import DATA_DRIVEN_MODELS

PATHS_RELATION = "intermediate.int_conversion_paths_joined"
CREDITS_SCHEMA = "attribution"
CREDITS_TABLE = "data_driven_credits"
UNMAPPED_CHANNEL = "(unmapped)"

_DDL = sql.SQL(
    """
    create schema if not exists {schema};
    create table if not exists {table} (
        conversion_id text not null,
        conversion_type text not null,
        touchpoint_id text,
        model text not null,
        credit double precision not null
    );
    create index if not exists {index} on {table} (conversion_type, model)
    """
)


@dataclass(frozen=True)
class DataDrivenRun:
    """What one :func:`compute_data_driven` call did."""

    conversion_type: str
    conversions: int
    non_converting_journeys: int
    rows_written: int
    channels: tuple[str, ...]
    removal_effects: dict[str, float]


def _relation(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def _read_touches(
    conn: psycopg.Connection, query: sql.Composable | str, params: dict[str, object] | None
) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query, params)  # type: ignore[arg-type]
        columns = [d.name for d in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def _path_set(
    journey: pd.Series, touch: pd.Series | None, channel: pd.Series, converted: bool
) -> tuple[PathSet, np.ndarray]:
    """Paths from rows already ordered by journey then position; also each journey's id."""
    has_touch = touch.notna().to_numpy() if touch is not None else np.ones(len(journey), bool)
    names = np.where(
        has_touch,
        channel.fillna(UNMAPPED_CHANNEL).astype(str).to_numpy(dtype=object),
        NONE_CHANNEL,
    )
    ids = journey.astype(str).to_numpy(dtype=object)
    boundary = np.ones(len(ids), dtype=bool)
    boundary[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(boundary)
    offsets = np.append(starts, len(ids)).astype(np.int64)
    codes, uniques = pd.factorize(pd.Series(names, dtype=object), sort=True)
    n = len(starts)
    ones, zeros = np.ones(n), np.zeros(n)
    paths = PathSet(
        channels=tuple(str(u) for u in uniques),
        codes=codes.astype(np.int32),
        offsets=offsets,
        conversions=ones if converted else zeros,
        values=zeros,
        nulls=zeros if converted else ones,
    )
    return paths, ids[starts]


def _concat(a: PathSet, b: PathSet) -> PathSet:
    channels = sorted(set(a.channels) | set(b.channels))
    pos = {c: i for i, c in enumerate(channels)}
    recode = [np.array([pos[c] for c in p.channels], dtype=np.int32) for p in (a, b)]
    return PathSet(
        channels=tuple(channels),
        codes=np.concatenate([recode[0][a.codes], recode[1][b.codes]]).astype(np.int32),
        offsets=np.concatenate([a.offsets, b.offsets[1:] + a.offsets[-1]]),
        conversions=np.concatenate([a.conversions, b.conversions]),
        values=np.concatenate([a.values, b.values]),
        nulls=np.concatenate([a.nulls, b.nulls]),
    )


def compute_data_driven(
    conn: psycopg.Connection,
    conversion_type: str,
    *,
    paths_relation: str = PATHS_RELATION,
    non_converting_sql: str | sql.Composable | None = None,
) -> DataDrivenRun:
    """Fit Markov and Shapley on one conversion type's paths and write every touch's credit.

    Reads ``paths_relation`` (columns ``conversion_id, conversion_type, touchpoint_id,
    channel, touch_position``, ...) for ``conversion_type``. ``non_converting_sql``, if given,
    returns the non-converting journeys' touches as ``journey_id, touchpoint_id, channel,
    touch_position`` and may use the parameter ``%(conversion_type)s``. Replaces the rows of
    ``conversion_type`` in ``attribution.data_driven_credits`` in one transaction.
    """
    with conn.transaction():
        # Reads and writes share the transaction: if the connection was idle, it commits at
        # the end of this block; inside a caller's transaction it is a savepoint.
        rows, run = _credit_rows(conn, conversion_type, paths_relation, non_converting_sql)
        _replace_rows(conn, conversion_type, rows)
    return run


def _credit_rows(
    conn: psycopg.Connection,
    conversion_type: str,
    paths_relation: str,
    non_converting_sql: str | sql.Composable | None,
) -> tuple[list[tuple[str, str, str | None, str, float]], DataDrivenRun]:
    params = {"conversion_type": conversion_type}
    converting = _read_touches(
        conn,
        sql.SQL(
            "select conversion_id::text as conversion_id, touchpoint_id::text as touchpoint_id,"
            " channel from {rel} where conversion_type = %(conversion_type)s"
            " order by conversion_id::text, touch_position, touched_at, touchpoint_id::text"
        ).format(rel=_relation(paths_relation)),
        params,
    )
    rows: list[tuple[str, str, str | None, str, float]] = []
    run = DataDrivenRun(conversion_type, 0, 0, 0, (), {})
    if not len(converting):
        return rows, run
    conv_paths, conv_ids = _path_set(
        converting["conversion_id"],
        converting["touchpoint_id"],
        converting["channel"],
        converted=True,
    )
    paths = conv_paths
    n_null = 0
    if non_converting_sql is not None:
        lost = _read_touches(conn, non_converting_sql, params)
        if len(lost):
            lost = lost.sort_values(["journey_id", "touch_position"], kind="stable")
            null_paths, _ = _path_set(
                lost["journey_id"], lost.get("touchpoint_id"), lost["channel"], converted=False
            )
            n_null = null_paths.n_paths
            paths = _concat(conv_paths, null_paths)
    n_touches = len(conv_paths.codes)  # converting paths come first in ``paths``
    conversion_of_touch = np.repeat(conv_ids, conv_paths.lengths)
    touch_ids = converting["touchpoint_id"].to_numpy(dtype=object)
    chain = markov.removal_effects(paths)
    credits = {
        "markov": markov.touch_credits(paths, chain),
        "shapley": shapley.touch_credits(paths),
    }
    for model in DATA_DRIVEN_MODELS:
        for cid, tid, credit in zip(
            conversion_of_touch, touch_ids, credits[model][:n_touches].tolist(), strict=True
        ):
            rows.append((cid, conversion_type, None if pd.isna(tid) else tid, model, credit))
    run = DataDrivenRun(
        conversion_type=conversion_type,
        conversions=conv_paths.n_paths,
        non_converting_journeys=n_null,
        rows_written=len(rows),
        channels=chain.channels,
        removal_effects=dict(zip(chain.channels, chain.removal_effects.tolist(), strict=True)),
    )
    return rows, run


def _replace_rows(
    conn: psycopg.Connection,
    conversion_type: str,
    rows: list[tuple[str, str, str | None, str, float]],
) -> None:
    table = sql.Identifier(CREDITS_SCHEMA, CREDITS_TABLE)
    conn.execute(
        _DDL.format(
            schema=sql.Identifier(CREDITS_SCHEMA),
            table=table,
            index=sql.Identifier(f"{CREDITS_TABLE}_type_model_idx"),
        )
    )
    conn.execute(
        sql.SQL("delete from {t} where conversion_type = %s").format(t=table),
        (conversion_type,),
    )
    copy_sql = sql.SQL(
        "copy {t} (conversion_id, conversion_type, touchpoint_id, model, credit) from stdin"
    ).format(t=table)
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)
