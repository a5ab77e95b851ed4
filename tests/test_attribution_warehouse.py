"""Data-driven credits written to a real PostgreSQL from a tiny hand-made path table.

Paths of type ``lead`` (touch order by ``touch_position``):

    c1: paid_search (t1) > email (t2) > email (t4)
    c2: email (t3)
    c3: no touches
    plus one journey that did not convert: paid_search (t9)

Markov: start -> paid_search 2/4, email 1/4, (none) 1/4; paid_search -> email 1/2, null 1/2;
email -> conversion; (none) -> conversion. P = 1/4 + 1/4 + 1/4 = 3/4. Without paid_search:
1/2 (effect 1/3); without email: 1/4 (effect 2/3); without (none): 1/2 (effect 1/3).
c1 splits 1/3 : 2/3 between paid_search and email, email's 2/3 over its two touches.

Shapley: v({paid_search, email}) = 1, v({email}) = 1, v({(none)}) = 1, v({paid_search}) = 0.
In c1, phi(paid_search) = 1/2 (0 - 0) + 1/2 (1 - 1) = 0 and phi(email) = 1: email gets all.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from revops.attribution.warehouse import compute_data_driven

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)

SETUP = """
create schema intermediate;
create table intermediate.int_conversion_paths_joined (
    conversion_id text, conversion_type text, person_id text, converted_at timestamptz,
    touchpoint_id text, touched_at timestamptz, touch_type text, channel text,
    campaign_id text, campaign_name text, touch_position int, path_length int
);
create table intermediate.lost_journeys (
    journey_id text, conversion_type text, touchpoint_id text, channel text, touch_position int
);
"""

# conversion_id, type, touchpoint_id, channel, position (None: a conversion without touches)
PATH_ROWS = [
    ("c1", "lead", "t1", "paid_search", 1),
    ("c1", "lead", "t2", "email", 2),
    ("c1", "lead", "t4", "email", 3),
    ("c2", "lead", "t3", "email", 1),
    ("c3", "lead", None, None, None),
    ("m1", "mql", "t1", "paid_search", 1),
]
LOST = [("j1", "lead", "t9", "paid_search", 1)]
LOST_SQL = (
    "select journey_id, touchpoint_id, channel, touch_position from intermediate.lost_journeys"
    " where conversion_type = %(conversion_type)s"
)


@pytest.fixture
def conn(fresh_db: str):
    with psycopg.connect(fresh_db) as c:
        c.execute(SETUP)
        with c.cursor() as cur:
            cur.executemany(
                "insert into intermediate.int_conversion_paths_joined (conversion_id,"
                " conversion_type, person_id, converted_at, touchpoint_id, touched_at, channel,"
                " touch_position) values (%s, %s, 'p', %s, %s, %s, %s, %s)",
                [
                    (cid, ctype, T0, tid, T0 - dt.timedelta(days=5 - (pos or 0)), ch, pos)
                    for cid, ctype, tid, ch, pos in PATH_ROWS
                ],
            )
            cur.executemany("insert into intermediate.lost_journeys values (%s,%s,%s,%s,%s)", LOST)
        c.commit()
        yield c


def credits(conn: psycopg.Connection, ctype: str = "lead") -> dict[tuple, float]:
    rows = conn.execute(
        "select model, conversion_id, touchpoint_id, credit from attribution.data_driven_credits"
        " where conversion_type = %s",
        (ctype,),
    ).fetchall()
    return {(m, c, t): v for m, c, t, v in rows}


def committed_rows(url: str) -> int:
    with psycopg.connect(url) as other:
        (n,) = other.execute("select count(*) from attribution.data_driven_credits").fetchone()
    return n


def test_writes_hand_computed_credits(conn: psycopg.Connection, fresh_db: str) -> None:
    run = compute_data_driven(conn, "lead", non_converting_sql=LOST_SQL)
    assert committed_rows(fresh_db) == 10  # committed, visible to everyone
    assert (run.conversions, run.non_converting_journeys, run.rows_written) == (3, 1, 10)
    assert run.removal_effects == pytest.approx(
        {"(none)": 1 / 3, "email": 2 / 3, "paid_search": 1 / 3}, abs=1e-12
    )
    got = credits(conn)
    assert got == pytest.approx(
        {
            ("markov", "c1", "t1"): 1 / 3,
            ("markov", "c1", "t2"): 1 / 3,
            ("markov", "c1", "t4"): 1 / 3,
            ("markov", "c2", "t3"): 1.0,
            ("markov", "c3", None): 1.0,
            ("shapley", "c1", "t1"): 0.0,
            ("shapley", "c1", "t2"): 0.5,
            ("shapley", "c1", "t4"): 0.5,
            ("shapley", "c2", "t3"): 1.0,
            ("shapley", "c3", None): 1.0,
        },
        abs=1e-12,
    )


def test_without_non_converting_journeys(conn: psycopg.Connection) -> None:
    compute_data_driven(conn, "lead")
    got = credits(conn)
    # every path converts: P = 1, removing paid_search loses 1/3, email 2/3, (none) 1/3
    assert got[("markov", "c1", "t1")] == pytest.approx(1 / 3)
    # v({paid_search}) = 0 still (no path has exactly that set): email takes c1
    assert got[("shapley", "c1", "t1")] == 0.0


def test_rerun_replaces_only_its_conversion_type(conn: psycopg.Connection) -> None:
    compute_data_driven(conn, "mql")
    compute_data_driven(conn, "lead", non_converting_sql=LOST_SQL)
    compute_data_driven(conn, "lead", non_converting_sql=LOST_SQL)
    assert len(credits(conn, "lead")) == 10
    assert credits(conn, "mql") == {("markov", "m1", "t1"): 1.0, ("shapley", "m1", "t1"): 1.0}
    (count,) = conn.execute("select count(*) from attribution.data_driven_credits").fetchone()
    assert count == 12
    sums = conn.execute(
        "select conversion_id, model, sum(credit) from attribution.data_driven_credits"
        " group by 1, 2"
    ).fetchall()
    assert all(abs(s - 1) < 1e-9 for _, _, s in sums)


def test_failure_while_writing_keeps_the_old_credits(
    conn: psycopg.Connection, fresh_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compute_data_driven(conn, "lead", non_converting_sql=LOST_SQL)
    before = credits(conn)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(psycopg.Copy, "write_row", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        compute_data_driven(conn, "lead")
    assert credits(conn) == before
    assert committed_rows(fresh_db) == 10
