"""Incremental attribution (DECISIONLOG.md: incremental attribution): next-day runs (the
simulator's clock moved a day at a time, every system extracted, the transform run) leave the
attribution tables equal to a full refresh of the same data, and the same comparison fails when
the change detection is off; the data-driven models are refitted on their cadence, over their
window."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np
import psycopg
import pytest
from test_incremental_marts import extract_all
from warehouse_checks import new_database, own_dbt_target

from revops.attribution import fitted
from revops.attribution.pathset import PathSet
from revops.attribution.warehouse import refit_due, update_data_driven
from revops.pipeline import BEFORE_ATTRIBUTION, BUILD_FLAGS, attribute_data_driven
from revops.simulator import Company, SimulatorServer
from revops.transform import run_dbt

SEED = 11
SCALE = 0.03
AS_OF = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)
DAYS = 2  # next-day runs after the first build
REFIT_DAYS = 2  # so the last day refits: data-driven credits then equal a full refresh's
WIDE_WINDOW_DAYS = 3650  # wider than the company's history: the refit covers every conversion
OFF = ["--vars", "{attribution_change_detection: false}"]
# The builds select the compared tables' lineage (34 of the 53 models before the data-driven
# step, then fct_attribution) with the data tests on those models alone: nothing outside it can
# change those tables. The whole project's build runs in the demo and the Airflow chain tests.
CAUTIOUS = ["--indirect-selection", "cautious"]
BEFORE = [
    *BEFORE_ATTRIBUTION,
    *("--select", "+fct_attribution", "+int_nonconversion_paths_joined", "+fct_ad_spend_daily"),
    *CAUTIOUS,
]
# fct_attribution and the marts summing its credits per day and period
SUMS = ("fct_attributed_spend_daily", "rpt_spend_efficiency", "rpt_channel_attribution")
MARTS = ["build", "--select", "fct_attribution", *SUMS, *BUILD_FLAGS, *CAUTIOUS]

# Every incremental attribution table, as the rows a full refresh must reproduce: all columns
# but the run stamps (`batch_at`, `fit_id`), floats rounded to 1e-9.
TABLES = {
    "intermediate.int_attribution_inputs_tracked": (
        "select input_key, input_kind, entity_id, person_id, occurred_at, fingerprint"
        " from intermediate.int_attribution_inputs_tracked where not is_deleted"
    ),
    "intermediate.int_conversion_paths_joined": (
        "select conversion_id, conversion_type, person_id, converted_at, conversion_value,"
        " lead_milestone_at, opportunity_milestone_at, close_milestone_at, touchpoint_id,"
        " touched_at, touch_type, channel, campaign_id, campaign_name, touch_position,"
        " path_length from intermediate.int_conversion_paths_joined"
    ),
    "intermediate.int_nonconversion_paths_joined": (
        "select journey_id, conversion_type, person_id, touchpoint_id, touched_at, channel,"
        " touch_position from intermediate.int_nonconversion_paths_joined"
    ),
    "attribution.data_driven_credits": (
        "select conversion_id, conversion_type, touchpoint_id, model,"
        " round(credit::numeric, 9) as credit from attribution.data_driven_credits"
    ),
    "marts.fct_attribution": (
        "select conversion_id, conversion_type, person_id, converted_at, touchpoint_id,"
        " touched_at, model, round(credit::numeric, 9) as credit,"
        " round(revenue_credit, 6) as revenue_credit, channel, campaign_id, campaign_name"
        " from marts.fct_attribution"
    ),
    # the sums: every column but the run stamp, numbers rounded to 1e-6 (float sums of the same
    # credits in another order differ in the last bits)
    **{f"marts.{mart}": None for mart in SUMS},
}


def _rounded(conn: psycopg.Connection, table: str) -> str:
    """A select of ``table``'s columns but ``batch_at``, numbers rounded to 1e-6."""
    schema, name = table.split(".")
    columns = [
        f"round({column}::numeric, 6) as {column}"
        if kind in ("numeric", "double precision", "real")
        else column
        for column, kind in conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = %s and table_name = %s and column_name <> 'batch_at'"
            " order by ordinal_position",
            (schema, name),
        )
    ]
    return f"select {', '.join(columns)} from {table}"


def digests(url: str) -> dict[str, tuple[int, str]]:
    """Per table, its row count and an md5 over its rows' text in a stable order."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                f"select count(*), md5(string_agg(t::text, '|' order by t::text))"
                f" from ({query or _rounded(conn, table)}) as t"
            ).fetchone()
            for table, query in TABLES.items()
        }


def written_by_last_run(url: str, table: str) -> tuple[int, int]:
    """How many of ``table``'s rows the newest run wrote (its ``batch_at``), and all its rows."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select count(*) filter (where batch_at = (select max(batch_at) from {table})),"
            f" count(*) from {table}"
        ).fetchone()


def transform(url: str, as_of: datetime, dbt_args: tuple[str, ...] = ()) -> None:
    """The pipeline's transform (dbt, the data-driven step, the attribution marts) on the
    compared tables' lineage, with the data's clock set to the simulator's day so the refit
    cadence is exact."""
    with mock.patch.dict(os.environ, {"REVOPS_WAREHOUSE_URL": url}):
        run_dbt([*BEFORE, *dbt_args], url, quiet=True)
        attribute_data_driven(as_of=as_of)
        run_dbt([*MARTS, *dbt_args], url, quiet=True)


def full_refresh(url: str, as_of: datetime) -> None:
    """Every attribution table rebuilt from nothing on the same raw data."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "truncate attribution.data_driven_credits, attribution.data_driven_fits;"
            " delete from attribution.watermarks"
        )
    with mock.patch.dict(os.environ, {"REVOPS_WAREHOUSE_URL": url}):
        run_dbt([*BEFORE, "--full-refresh"], url, quiet=True)
        attribute_data_driven(as_of=as_of)
        run_dbt([*MARTS, "--full-refresh"], url, quiet=True)


def fits(url: str) -> list[tuple[str, datetime, datetime, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select conversion_type, window_start, window_end, conversions"
            " from attribution.data_driven_fits order by fit_id"
        ).fetchall()


def archive_oldest_converted_contact(url: str) -> datetime:
    """Archive (delete, in HubSpot's terms) the contact of the person known only to HubSpot
    with the oldest credited conversion; returns that conversion's time. Its credits leave a day
    nothing else changes, which the marts summing credits per day must recompute."""
    with psycopg.connect(url, autocommit=True) as conn:
        contact, converted_at = conn.execute(
            "select people.hubspot_contact_id, min(credits.converted_at)"
            " from marts.fct_attribution as credits"
            " join intermediate.int_people_resolved as people"
            " on people.person_id = credits.person_id"
            " where people.salesforce_lead_id is null and people.salesforce_contact_id is null"
            " and people.hubspot_contact_id is not null"
            " group by 1 order by 2 limit 1"
        ).fetchone()
        conn.execute("update raw_hubspot.contacts set archived = true where id = %s", [contact])
    return converted_at


@dataclass
class Days:
    """The warehouse after the first build and DAYS next-day runs, and what each day left."""

    server_url: str
    incremental: str  # the database the days ran on
    undetected: str  # the same, its last day run with the change detection off
    name: str
    fits_per_day: list[list[tuple]] = field(default_factory=list)
    last_day: datetime = AS_OF
    day_one: str = ""  # a copy of the warehouse after the first next-day run (no refit)
    day_one_moment: datetime = AS_OF
    gone_day: datetime = AS_OF  # when the conversion the first next day deleted happened


@pytest.fixture(scope="module")
def days(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Days]:
    tmp = tmp_path_factory.mktemp("incremental_attribution")
    env = {
        "REVOPS_ATTRIBUTION_REFIT_DAYS": str(REFIT_DAYS),
        "REVOPS_ATTRIBUTION_FIT_WINDOW_DAYS": str(WIDE_WINDOW_DAYS),
    }
    company = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)
    with (
        ExitStack() as stack,
        mock.patch.dict(os.environ, env),
        new_database(server_url, "revops_incr_attr") as url,
        SimulatorServer(company, cert_dir=Path(tmp) / "tls") as server,
    ):
        extract_all(server, url, tmp / "state")
        run_dbt(["seed"], url, quiet=True)
        transform(url, AS_OF)
        result = Days(server_url, url, "", url.rsplit("/", 1)[1])
        result.fits_per_day.append(fits(url))
        for day in range(1, DAYS + 1):
            moment = AS_OF + timedelta(days=day)
            server.set_as_of(moment)
            extract_all(server, url, tmp / "state")
            if day == 1:  # a HubSpot-only person's oldest conversions vanish (contact deleted)
                result.gone_day = archive_oldest_converted_contact(url)
            if day == DAYS:  # the same data, its last day built with the change detection off
                with new_database(server_url, "revops_incr_off", template=result.name) as off:
                    with own_dbt_target("detection-off"):  # its own saved parse
                        transform(off, moment, tuple(OFF))
                    result.undetected = off
                    transform(url, moment)
                    result.fits_per_day.append(fits(url))
                    result.last_day = moment
                    yield result
                    return
            transform(url, moment)
            result.fits_per_day.append(fits(url))
            if day == 1:  # a day without a refit: only some conversions' credits rewritten
                result.day_one = stack.enter_context(
                    new_database(server_url, "revops_incr_day1", template=result.name)
                )
                result.day_one_moment = moment


@pytest.mark.slow
def test_next_day_runs_equal_a_full_refresh_and_fail_without_change_detection(days) -> None:
    incremental = digests(days.incremental)
    undetected = digests(days.undetected)
    paths = "intermediate.int_conversion_paths_joined"
    written, total = written_by_last_run(days.incremental, paths)
    # the last day recomputed some paths and kept most of them
    assert 0 < written < total / 2, (written, total)

    with new_database(days.server_url, "revops_incr_full", template=days.name) as full:
        full_refresh(full, days.last_day)
        refreshed = digests(full)
    assert incremental == refreshed
    # with the change detection off the last day's changes never reach the attribution tables
    differ = {t for t in TABLES if undetected[t] != refreshed[t]}
    assert {
        "intermediate.int_conversion_paths_joined",
        "intermediate.int_nonconversion_paths_joined",
        "marts.fct_attribution",
        *(f"marts.{mart}" for mart in SUMS),
    } <= differ, differ


@pytest.mark.slow
def test_a_next_day_without_a_refit_equals_a_full_refresh(days) -> None:
    """The first next day rewrites the credits of some conversions only, so the marts summing
    credits and spend per day and period recompute only the days and periods they touch."""
    written, total = written_by_last_run(days.day_one, "marts.fct_attributed_spend_daily")
    assert 0 < written < total / 2, (written, total)
    with psycopg.connect(days.day_one) as conn:  # the day a deleted conversion left was rewritten
        assert conn.execute(
            "select count(*) > 0 and bool_and(batch_at = (select max(batch_at)"
            " from marts.fct_attributed_spend_daily)) from marts.fct_attributed_spend_daily"
            " where date_day = (%s at time zone 'UTC')::date",
            [days.gone_day],
        ).fetchone() == (True,)
    incremental = digests(days.day_one)
    day_one = days.day_one.rsplit("/", 1)[1]
    with new_database(days.server_url, "revops_incr_full1", template=day_one) as full:
        # dbt's tables rebuilt from nothing; the data-driven credits kept as the day left them
        # (no refit that day: a refit now would fit another window)
        with mock.patch.dict(os.environ, {"REVOPS_WAREHOUSE_URL": full}):
            run_dbt([*BEFORE, "--full-refresh"], full, quiet=True)
            run_dbt([*MARTS, "--full-refresh"], full, quiet=True)
        assert digests(full) == incremental


@pytest.mark.slow
def test_email_clicks_staged_before_their_tags_were_read_keep_their_channel(days) -> None:
    """Staging reads a clicked link's UTM tags once; rows staged by an older revops (no tags,
    ``utm_parsed`` null) get them read by the touches, so an upgrade needs no full refresh.
    Five such rows here link with another source than the default, so only reading the link
    gives their touches the source ``partner``."""
    touches = (
        "select touchpoint_id, person_id, channel, source, medium"
        " from intermediate.int_touchpoints_unioned where touch_type = 'email_click'"
    )
    with new_database(days.server_url, "revops_incr_tags", template=days.name) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            before = dict((row[0], row) for row in conn.execute(touches).fetchall())
            older = [
                f"mailchimp_click:{activity_id}"
                for (activity_id,) in conn.execute(
                    "update staging.stg_mailchimp__email_activity"
                    " set clicked_url = replace(clicked_url, 'utm_source=mailchimp',"
                    " 'utm_source=partner'), utm_parsed = null, utm_source = null,"
                    " utm_medium = null where activity_id in (select activity_id"
                    " from staging.stg_mailchimp__email_activity where action = 'click'"
                    " and utm_source = 'mailchimp' order by activity_id limit 5)"
                    " returning activity_id"
                ).fetchall()
            ]
        run_dbt(["run", "--select", "int_touchpoints_unioned"], url, quiet=True)
        with psycopg.connect(url) as conn:
            after = dict((row[0], row) for row in conn.execute(touches).fetchall())
    assert len(older) == 5 and set(older) <= set(before)
    assert {after[t][3] for t in older} == {"partner"}
    assert {t: row for t, row in after.items() if t not in older} == {
        t: row for t, row in before.items() if t not in older
    }


@pytest.mark.slow
def test_data_driven_models_refit_on_their_cadence(days) -> None:
    first, between, refit = (
        days.fits_per_day[0],
        days.fits_per_day[REFIT_DAYS - 1],
        days.fits_per_day[REFIT_DAYS],
    )
    types = {row[0] for row in first}
    assert len(first) == len(types) == 5
    assert between == first  # no refit between
    new = refit[len(first) :]
    assert {row[0] for row in new} == types
    assert {row[2] for row in new} == {AS_OF + timedelta(days=REFIT_DAYS)}
    assert {row[1] for row in new} == {
        AS_OF + timedelta(days=REFIT_DAYS) - timedelta(days=WIDE_WINDOW_DAYS)
    }


@pytest.mark.slow
def test_a_refit_fits_and_recredits_the_conversions_of_its_window(days) -> None:
    as_of = days.last_day + timedelta(days=REFIT_DAYS)  # the next refit
    window = timedelta(days=30)
    with new_database(days.server_url, "revops_incr_window", template=days.name) as url:
        with psycopg.connect(url) as conn:
            run = update_data_driven(
                conn, "mql", as_of=as_of, window_days=30, refit_days=REFIT_DAYS
            )
            inside = {
                row[0]
                for row in conn.execute(
                    "select distinct conversion_id from intermediate.int_conversion_paths_joined"
                    " where conversion_type = 'mql' and converted_at > %s",
                    (as_of - window,),
                )
            }
            (journeys,) = conn.execute(
                "select count(*) from (select journey_id"
                " from intermediate.int_nonconversion_paths_joined where conversion_type = 'mql'"
                " group by journey_id having max(touched_at) > %s) j",
                (as_of - window,),
            ).fetchone()
            stored = conn.execute(
                "select window_start, window_end, conversions, non_converting_journeys"
                " from attribution.data_driven_fits where fit_id = %s",
                (run.fit_id,),
            ).fetchone()
            recredited = {
                row[0]
                for row in conn.execute(
                    "select distinct conversion_id from attribution.data_driven_credits"
                    " where fit_id = %s",
                    (run.fit_id,),
                )
            }
            (older,) = conn.execute(
                "select count(distinct conversion_id) from attribution.data_driven_credits"
                " where conversion_type = 'mql' and fit_id <> %s",
                (run.fit_id,),
            ).fetchone()
    assert run.refit
    assert 0 < len(inside) and journeys > 0
    assert stored == (as_of - window, as_of, len(inside), journeys)
    assert recredited == inside
    assert older > 0  # conversions before the window keep the credits of their earlier fit


def test_refit_due_counts_days_from_the_last_window() -> None:
    end = datetime(2026, 10, 5, tzinfo=UTC)
    assert refit_due(None, end, 7)
    assert not refit_due(end, end + timedelta(days=6, hours=23), 7)
    assert refit_due(end, end + timedelta(days=7), 7)


def test_a_stored_fit_credits_its_own_paths_as_the_fit_did() -> None:
    rng = np.random.default_rng(7)
    channels = list("abcdefghijklmn")  # more than shapley.MAX_CHANNELS: some paths fold
    sequences = [list(rng.choice(channels, size=rng.integers(1, 15))) for _ in range(800)]
    converted = (rng.random(800) < 0.4).astype(float)
    paths = PathSet.from_sequences(sequences, converted, nulls=1 - converted)
    stored, credits = fitted.fit(paths)
    again = fitted.StoredFit.from_json(**stored.to_json())
    applied = fitted.apply(paths, again)
    assert np.array_equal(applied["markov"], credits["markov"])
    assert np.abs(applied["shapley"] - credits["shapley"]).max() < 1e-12


def test_a_stored_fit_gives_an_unseen_channel_nothing() -> None:
    paths = PathSet.from_sequences([["a", "b"], ["b"], ["a"]], [1, 1, 0], nulls=[0, 0, 1])
    stored, _ = fitted.fit(paths)  # b always converts, a alone never: a's removal effect < b's
    new = PathSet.from_sequences([["a", "z", "b"]], [1])
    applied = fitted.apply(new, stored)
    for model in ("markov", "shapley"):
        assert applied[model][1] == 0.0  # z: never seen, no removal effect, no worth
        assert applied[model].sum() == pytest.approx(1.0)
    # shapley: v({b}) = 1, v({a, b}) = 1, v({a}) = 0: b takes everything
    assert applied["shapley"].tolist() == [0.0, 0.0, 1.0]


HAND_TABLES = """
create schema intermediate;
create table intermediate.int_conversion_paths_joined (
    conversion_id text, conversion_type text, converted_at timestamptz, touchpoint_id text,
    touched_at timestamptz, channel text, touch_position int, batch_at timestamptz
);
create table intermediate.int_nonconversion_paths_joined (
    journey_id text, conversion_type text, touchpoint_id text, touched_at timestamptz,
    channel text, touch_position int
);
create table intermediate.int_attribution_inputs_tracked (
    input_kind text, entity_id text, is_deleted boolean, batch_at timestamptz
);
"""


def _credits(conn: psycopg.Connection) -> dict[tuple[str, str, str], tuple[float, int]]:
    rows = conn.execute(
        "select conversion_id, touchpoint_id, model, credit, fit_id"
        " from attribution.data_driven_credits"
    ).fetchall()
    return {(c, t, m): (credit, fit) for c, t, m, credit, fit in rows}


def test_between_refits_new_conversions_take_the_last_fit_and_gone_ones_lose_credits(
    fresh_db: str,
) -> None:
    day0 = datetime(2026, 10, 5, tzinfo=UTC)
    batch1, batch2 = day0, day0 + timedelta(days=1)
    insert = (
        "insert into intermediate.int_conversion_paths_joined values"
        " (%s, 'mql', %s, %s, %s, %s, %s, %s)"
    )
    with psycopg.connect(fresh_db) as conn:
        conn.execute(HAND_TABLES)
        for row in [
            ("c1", day0, "t1", day0, "email", 1, batch1),
            ("c1", day0, "t2", day0, "paid_search", 2, batch1),
            ("c2", day0, "t3", day0, "paid_search", 1, batch1),
        ]:
            conn.execute(insert, row)
        conn.execute(
            "insert into intermediate.int_nonconversion_paths_joined values"
            " ('p9:mql:none', 'mql', 't9', %s, 'email', 1)",
            (day0,),
        )
        first = update_data_driven(conn, "mql", as_of=day0, window_days=365, refit_days=7)
        before = _credits(conn)
        # the next day dbt writes a new conversion c3 (c1's path) and deletes c2
        conn.execute(
            "delete from intermediate.int_conversion_paths_joined where conversion_id = 'c2'"
        )
        for row in [
            ("c3", batch2, "t4", batch2, "email", 1, batch2),
            ("c3", batch2, "t5", batch2, "paid_search", 2, batch2),
        ]:
            conn.execute(insert, row)
        conn.execute(
            "insert into intermediate.int_attribution_inputs_tracked values"
            " ('conversion', 'c2', true, %s)",
            (batch2,),
        )
        between = update_data_driven(conn, "mql", as_of=batch2, window_days=365, refit_days=7)
        after = _credits(conn)
        later = update_data_driven(
            conn, "mql", as_of=day0 + timedelta(days=7), window_days=365, refit_days=7
        )
        (fits,) = conn.execute("select count(*) from attribution.data_driven_fits").fetchone()
    assert first.refit and not between.refit and later.refit and fits == 2
    assert (between.credited_conversions, between.removed_conversions) == (1, 1)
    assert not any(c == "c2" for c, _, _ in after)
    for model in ("markov", "shapley"):
        # c3 has c1's path: the last fit credits it as it credited c1; c1's row is kept
        for old, new in (("t1", "t4"), ("t2", "t5")):
            assert after[("c3", new, model)] == (before[("c1", old, model)][0], first.fit_id)
            assert after[("c1", old, model)] == before[("c1", old, model)]
