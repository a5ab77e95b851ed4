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

:func:`compute_data_driven` fits on every path and replaces every credit of a type.
:func:`update_data_driven` is the daily, incremental step (DECISIONLOG.md: incremental
attribution): on a cadence it refits on a trailing window of journeys, records the fit in
``attribution.data_driven_fits`` and re-credits the conversions inside the window; between
refits it credits only the conversions whose path dbt rewrote since its last run, with the last
fit (:mod:`revops.attribution.fitted`). Each credit row names its fit (``fit_id``) and the run
that wrote it (``batch_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from revops.attribution import fitted, markov, shapley
from revops.attribution.pathset import NONE_CHANNEL, PathSet
from revops.vocabulary import DATA_DRIVEN_MODELS

PATHS_RELATION = "intermediate.int_conversion_paths_joined"
NONCONVERSION_RELATION = "intermediate.int_nonconversion_paths_joined"
TRACKED_RELATION = "intermediate.int_attribution_inputs_tracked"
CREDITS_SCHEMA = "attribution"
CREDITS_TABLE = "data_driven_credits"
FITS_TABLE = "data_driven_fits"
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
    create index if not exists {index} on {table} (conversion_type, model);
    alter table {table} add column if not exists fit_id bigint;
    alter table {table} add column if not exists batch_at timestamptz;
    create index if not exists data_driven_credits_conversion_idx on {table} (conversion_id);
    create index if not exists data_driven_credits_batch_idx on {table} (batch_at)
    """
)
# The fits (one row per refit of a conversion type) and the consumers' watermarks (also created
# by the dbt models that consume incrementally: macros/attribution_incremental.sql).
_STATE_DDL = """
    create table if not exists attribution.data_driven_fits (
        fit_id bigserial primary key,
        conversion_type text not null,
        fitted_at timestamptz not null default now(),
        window_start timestamptz not null,
        window_end timestamptz not null,
        conversions bigint not null,
        non_converting_journeys bigint not null,
        removal_effects jsonb not null,
        set_worth jsonb not null,
        popularity jsonb not null
    );
    create table if not exists attribution.watermarks (
        consumer text primary key,
        through timestamptz not null
    )
"""


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


def _ensure_tables(conn: psycopg.Connection) -> None:
    table = sql.Identifier(CREDITS_SCHEMA, CREDITS_TABLE)
    conn.execute(
        _DDL.format(
            schema=sql.Identifier(CREDITS_SCHEMA),
            table=table,
            index=sql.Identifier(f"{CREDITS_TABLE}_type_model_idx"),
        )
    )
    conn.execute(_STATE_DDL)


CreditRow = tuple[str, str, str | None, str, float]


def _write_rows(conn: psycopg.Connection, rows: list[CreditRow], fit_id: int | None) -> None:
    """Append ``rows``, stamped with ``fit_id`` and this transaction's start."""
    table = sql.Identifier(CREDITS_SCHEMA, CREDITS_TABLE)
    (batch_at,) = conn.execute("select now()").fetchone()  # type: ignore[misc]
    copy_sql = sql.SQL(
        "copy {t} (conversion_id, conversion_type, touchpoint_id, model, credit, fit_id,"
        " batch_at) from stdin"
    ).format(t=table)
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row((*row, fit_id, batch_at))


def _replace_rows(
    conn: psycopg.Connection,
    conversion_type: str,
    rows: list[CreditRow],
) -> None:
    _ensure_tables(conn)
    table = sql.Identifier(CREDITS_SCHEMA, CREDITS_TABLE)
    conn.execute(
        sql.SQL("delete from {t} where conversion_type = %s").format(t=table),
        (conversion_type,),
    )
    _write_rows(conn, rows, None)


# -- the incremental step ------------------------------------------------------------------------


@dataclass(frozen=True)
class DataDrivenUpdate:
    """What one :func:`update_data_driven` call did."""

    conversion_type: str
    refit: bool
    fit_id: int | None
    window_start: datetime | None
    window_end: datetime | None
    fitted_conversions: int
    non_converting_journeys: int
    credited_conversions: int
    removed_conversions: int
    rows_written: int


def refit_due(last_window_end: datetime | None, as_of: datetime, refit_days: int) -> bool:
    """Whether the data-driven models are refitted at ``as_of``: never fitted, or the last fit's
    window ended ``refit_days`` days or more before ``as_of``."""
    return last_window_end is None or as_of >= last_window_end + timedelta(days=refit_days)


def _converting(
    conn: psycopg.Connection,
    paths_relation: str,
    conversion_type: str,
    where: sql.Composable,
    params: dict[str, object],
) -> pd.DataFrame:
    return _read_touches(
        conn,
        sql.SQL(
            "select conversion_id::text as conversion_id, touchpoint_id::text as touchpoint_id,"
            " channel from {rel} where conversion_type = %(conversion_type)s and {where}"
            " order by conversion_id::text, touch_position, touched_at, touchpoint_id::text"
        ).format(rel=_relation(paths_relation), where=where),
        {"conversion_type": conversion_type, **params},
    )


def _rows(
    frame: pd.DataFrame, conversion_type: str, credits: dict[str, np.ndarray], n_touches: int
) -> list[CreditRow]:
    ids = frame["conversion_id"].to_numpy(dtype=object)
    touch_ids = frame["touchpoint_id"].to_numpy(dtype=object)
    rows: list[CreditRow] = []
    for model in DATA_DRIVEN_MODELS:
        for cid, tid, credit in zip(
            ids, touch_ids, credits[model][:n_touches].tolist(), strict=True
        ):
            rows.append((cid, conversion_type, None if pd.isna(tid) else tid, model, credit))
    return rows


def _applied_rows(
    frame: pd.DataFrame, conversion_type: str, stored: fitted.StoredFit
) -> list[CreditRow]:
    if not len(frame):
        return []
    paths, _ = _path_set(
        frame["conversion_id"], frame["touchpoint_id"], frame["channel"], converted=True
    )
    return _rows(frame, conversion_type, fitted.apply(paths, stored), len(frame))


def update_data_driven(  # noqa: PLR0913
    conn: psycopg.Connection,
    conversion_type: str,
    *,
    as_of: datetime,
    window_days: int,
    refit_days: int,
    paths_relation: str = PATHS_RELATION,
    nonconversion_relation: str = NONCONVERSION_RELATION,
    tracked_relation: str = TRACKED_RELATION,
) -> DataDrivenUpdate:
    """Bring one conversion type's data-driven credits up to date with the path table.

    ``as_of`` is the data's clock (the pipeline passes the latest conversion time). When a refit
    is due (:func:`refit_due`; or the type has no fit or no credits yet), both models are fitted
    on the conversions with ``converted_at`` after ``as_of - window_days`` and the
    non-converting journeys whose last touch is after it (the window ends with the data: a touch
    a source dates after ``as_of``, a meeting booked ahead, is in it), the fit is recorded in
    ``attribution.data_driven_fits`` and those conversions are re-credited with it; on the first
    fit of a type every older conversion is credited with it too. Conversions whose path rows
    dbt wrote since the last call (``batch_at`` past the watermark
    ``data_driven_credits:<type>``) and that the refit did not credit are credited with the
    last fit; gone conversions lose their credits. All in one transaction.
    """
    consumer = f"data_driven_credits:{conversion_type}"
    table = sql.Identifier(CREDITS_SCHEMA, CREDITS_TABLE)
    with conn.transaction():
        _ensure_tables(conn)
        row = conn.execute(
            "select through from attribution.watermarks where consumer = %s", (consumer,)
        ).fetchone()
        watermark = row[0] if row else None
        (through,) = conn.execute(  # type: ignore[misc]
            sql.SQL("select max(batch_at) from {rel}").format(rel=_relation(paths_relation))
        ).fetchone()
        last = conn.execute(
            "select fit_id, window_end, removal_effects, set_worth, popularity"
            " from attribution.data_driven_fits where conversion_type = %s"
            " order by fit_id desc limit 1",
            (conversion_type,),
        ).fetchone()
        has_credits = conn.execute(
            sql.SQL("select exists (select 1 from {t} where conversion_type = %s)").format(t=table),
            (conversion_type,),
        ).fetchone()[0]  # type: ignore[index]
        refit = last is None or not has_credits or refit_due(last[1], as_of, refit_days)
        changed_where = (
            sql.SQL("batch_at > %(watermark)s") if watermark is not None else sql.SQL("true")
        )
        params: dict[str, object] = {"watermark": watermark}
        rows: list[CreditRow] = []
        recredited: set[str] = set()
        fit_id = last[0] if last else None
        window_start = window_end = None
        n_fitted = n_null = 0
        if refit:
            window_end = as_of
            window_start = as_of - timedelta(days=window_days)
            window = {"start": window_start, "end": window_end}
            inside = _converting(
                conn,
                paths_relation,
                conversion_type,
                sql.SQL("converted_at > %(start)s"),
                window,
            )
            lost = _read_touches(
                conn,
                sql.SQL(
                    "select journey_id, touchpoint_id, channel, touch_position from {rel}"
                    " where conversion_type = %(conversion_type)s and journey_id in ("
                    " select journey_id from {rel} where conversion_type = %(conversion_type)s"
                    " group by journey_id"
                    " having max(touched_at) > %(start)s)"
                ).format(rel=_relation(nonconversion_relation)),
                {"conversion_type": conversion_type, **window},
            )
            if len(inside):
                conv_paths, conv_ids = _path_set(
                    inside["conversion_id"], inside["touchpoint_id"], inside["channel"], True
                )
                paths = conv_paths
                if len(lost):
                    lost = lost.sort_values(["journey_id", "touch_position"], kind="stable")
                    null_paths, _ = _path_set(
                        lost["journey_id"], lost["touchpoint_id"], lost["channel"], False
                    )
                    n_null = null_paths.n_paths
                    paths = _concat(conv_paths, null_paths)
                stored, credits = fitted.fit(paths)
                n_fitted = conv_paths.n_paths
                texts = stored.to_json()
                (fit_id,) = conn.execute(  # type: ignore[misc]
                    "insert into attribution.data_driven_fits (conversion_type, window_start,"
                    " window_end, conversions, non_converting_journeys, removal_effects,"
                    " set_worth, popularity) values (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " returning fit_id",
                    (
                        conversion_type,
                        window_start,
                        window_end,
                        n_fitted,
                        n_null,
                        texts["removal_effects"],
                        texts["set_worth"],
                        texts["popularity"],
                    ),
                ).fetchone()
                rows += _rows(inside, conversion_type, credits, len(inside))
                recredited.update(conv_ids.tolist())
                last_stored = stored
                if not has_credits or last is None:  # the first fit credits all history
                    changed_where = sql.SQL("converted_at <= %(start)s")
                    params = window
            elif last is not None:
                last_stored = fitted.StoredFit.from_json(*last[2:])
                refit = False
            else:  # nothing converts in the window and nothing was fitted before
                last_stored = None
        else:
            last_stored = fitted.StoredFit.from_json(*last[2:])  # type: ignore[index]
        changed = _converting(conn, paths_relation, conversion_type, changed_where, params)
        changed = changed[~changed["conversion_id"].isin(recredited)] if len(changed) else changed
        if last_stored is not None:
            rows += _applied_rows(changed, conversion_type, last_stored)
        recredited.update(changed["conversion_id"].tolist() if len(changed) else [])
        gone: list[str] = []  # conversions dbt deleted since the watermark (none before one)
        if watermark is not None:
            gone = [
                r[0]
                for r in conn.execute(
                    sql.SQL(
                        "select entity_id from {rel} where input_kind = 'conversion'"
                        " and is_deleted and batch_at > %s"
                    ).format(rel=_relation(tracked_relation)),
                    (watermark,),
                )
            ]
        conn.execute(
            sql.SQL(
                "delete from {t} where conversion_type = %s and conversion_id = any(%s)"
            ).format(t=table),
            (conversion_type, sorted(recredited | set(gone))),
        )
        _write_rows(conn, rows, fit_id)
        if through is not None:
            conn.execute(
                "insert into attribution.watermarks (consumer, through) values (%s, %s)"
                " on conflict (consumer) do update set through = excluded.through",
                (consumer, through),
            )
    return DataDrivenUpdate(
        conversion_type=conversion_type,
        refit=refit,
        fit_id=fit_id,
        window_start=window_start,
        window_end=window_end,
        fitted_conversions=n_fitted,
        non_converting_journeys=n_null,
        credited_conversions=len(recredited),
        removed_conversions=len(gone),
        rows_written=len(rows),
    )
