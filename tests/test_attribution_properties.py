"""Property-based tests (Hypothesis) of the attribution maths, DOMAIN.md "Attribution models".

For random path sets (any channels, lengths 0..8 with repeats, a path with no touches being
the ``(none)`` touch, conversions and values from 0 up to the largest floats whose column sums
are still finite, non-converting journeys) every model of the ten:

- gives each conversion credits that sum to 1, none negative, none NaN;
- attributes, over all channels, exactly the conversions and the conversion value;
- gives the same credits when every weight is multiplied by the same power of two (an exact
  change of units: the data-driven models depend on ratios of weights only);

and ``revops attribute paths`` (the CLI) prints totals that add up the same way. The slow test
at the end loads a batch of generated path sets into a scratch warehouse, builds
``marts.fct_attribution`` with dbt once, and compares every conversion's credit under every
model with the Python models, and every channel's total with ``revops attribute paths``.

Tolerance: a credit is a handful of float operations on numbers in [0, 1] and a total is a sum
of at most a few hundred such products, so the rounding error is below
(touches + paths) x 2^-53 ~ 1e-13 relative. :data:`REL` = 1e-9 leaves room for the linear solve
of the Markov chain and still catches any real mistake (a lost touch is off by >= 1/64).
Weights may be subnormal (down to 5e-324), where rounding is absolute (<= 2.5e-324 per
operation), hence :data:`ABS` = 1e-315 on totals.

Reproducible: every test runs derandomized (the examples follow from the test's source) and
without an example database. ``REVOPS_HYPOTHESIS_EXPLORE=1`` searches with fresh random
examples instead and keeps failures in ``.hypothesis/`` (git-ignored).
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from revops.attribution.cli import main as attribute_cli
from revops.attribution.paths import (
    PATH_MODELS,
    TIMED_MODELS,
    attribute_paths,
    touch_credits,
    write_paths,
)
from revops.attribution.pathset import PathSet
from revops.config import project_root
from revops.settings import current
from revops.vocabulary import MODEL_CONVERSION_TYPES, MODEL_WEIGHTS, MODELS

REL = 1e-9
ABS = 1e-315
FLOAT_MAX = float(np.finfo(np.float64).max)
assert len(MODELS) == 10 and set(PATH_MODELS) | set(TIMED_MODELS) == set(MODELS)

if current().hypothesis_explore:
    BASE = settings(
        deadline=None,
        derandomize=False,
        database=DirectoryBasedExampleDatabase(str(project_root() / ".hypothesis" / "examples")),
        print_blob=True,
    )
else:
    BASE = settings(deadline=None, derandomize=True, database=None, print_blob=True)

CHANNELS = ("paid_search", "paid_social", "email", "direct", "organic_search", "referral", "events")


def close(got: float, want: float) -> bool:
    return abs(got - want) <= REL * abs(want) + ABS


# -- strategies -------------------------------------------------------------------------------
def weights(cap: float) -> st.SearchStrategy[float]:
    """A conversion count, value or non-conversion count between 0 and ``cap``."""
    return st.one_of(
        st.just(0.0),
        st.integers(1, 1000).map(float).filter(lambda w: w <= cap),
        st.floats(0.0, cap, allow_nan=False, allow_infinity=False),
        st.just(cap),
    )


@st.composite
def path_sets(draw: st.DrawFn, max_paths: int = 12, max_len: int = 8) -> PathSet:
    """Paths with weights. The cap keeps every column's sum finite (so the totals exist), but
    a path's conversions plus non-conversions, or all journeys together, may exceed the
    largest float: the models must still work."""
    n = draw(st.integers(1, max_paths))
    cap = draw(st.sampled_from([1000.0, 1e300, FLOAT_MAX / (n + 1)]))
    seqs = draw(
        st.lists(st.lists(st.sampled_from(CHANNELS), max_size=max_len), min_size=n, max_size=n)
    )
    column = st.lists(weights(cap), min_size=n, max_size=n)
    conv, value, null = draw(column), draw(column), draw(column)
    return PathSet.from_sequences(seqs, conv, value, null)


def per_path_sums(paths: PathSet, credit: np.ndarray) -> np.ndarray:
    return np.add.reduceat(credit, paths.starts)


def scaled(paths: PathSet, factor: float) -> PathSet:
    return PathSet(
        paths.channels,
        paths.codes,
        paths.offsets,
        paths.conversions * factor,
        paths.values * factor,
        paths.nulls * factor,
    )


# -- every path model, per conversion and in total --------------------------------------------
@settings(BASE, max_examples=200)
@given(paths=path_sets())
def test_credits_of_each_conversion_sum_to_one_and_none_is_negative(paths: PathSet) -> None:
    for model in PATH_MODELS:
        credit = touch_credits(paths, model)
        assert credit.shape == paths.codes.shape
        assert np.isfinite(credit).all(), f"{model}: credits {credit}"
        assert (credit >= 0).all(), f"{model}: negative credit {credit.min()}"
        sums = per_path_sums(paths, credit)
        assert np.abs(sums - 1.0).max() <= REL, f"{model}: per-path sums {sums}"


@settings(BASE, max_examples=200)
@given(paths=path_sets())
def test_totals_equal_the_conversions_and_the_value(paths: PathSet) -> None:
    table = attribute_paths(paths, "all")
    want_conv, want_value = paths.conversions.sum(), paths.values.sum()
    for model in PATH_MODELS:
        conv = table[f"{model}_conversions"].to_numpy()
        value = table[f"{model}_value"].to_numpy()
        assert np.isfinite(conv).all() and np.isfinite(value).all(), (model, table.to_string())
        assert (conv >= 0).all() and (value >= 0).all(), (model, table.to_string())
        assert close(conv.sum(), want_conv), (model, conv.sum(), want_conv)
        assert close(value.sum(), want_value), (model, value.sum(), want_value)


@settings(BASE, max_examples=200)
@given(paths=path_sets(), power=st.integers(-1000, 1000))
def test_data_driven_credits_do_not_depend_on_the_unit_of_the_weights(
    paths: PathSet, power: int
) -> None:
    """Counting journeys in thousands (or by 2^k) changes no share: v(S) and the transition
    probabilities are ratios of weights. Multiplying by 2^power is exact while every weight
    stays a normal float below 2^1022; ``power`` is clamped so that it does."""
    weights = np.concatenate([paths.conversions, paths.nulls, paths.values])
    positive = weights[weights > 0]
    if len(positive):
        hi = 1022 - int(np.frexp(positive.max())[1])
        lo = -960 - int(np.frexp(positive.min())[1])
        power = min(max(power, lo), hi) if lo <= hi else 0
    factor = float(np.ldexp(1.0, power))
    for model in ("markov", "shapley"):
        base = touch_credits(paths, model)
        other = touch_credits(scaled(paths, factor), model)
        assert np.allclose(base, other, rtol=REL, atol=REL), (model, power, base, other)


# -- the timed rule-based models ----------------------------------------------------------------
# fct_attribution.sql is the only production implementation of the models that need touch times
# or milestones; timed_credits is DOMAIN.md's rule written plainly, one conversion at a time, as
# the reference the SQL is held to below on random paths (tests/test_attribution_heuristics.py
# holds the SQL to hand-computed credits).
T0 = datetime(2026, 6, 30, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Touch:
    channel: str
    touched_at: datetime
    touchpoint_id: str


@dataclass(frozen=True)
class Milestones:
    converted_at: datetime
    lead_at: datetime | None = None
    opportunity_at: datetime | None = None
    closed_at: datetime | None = None


def timed_credits(model: str, touches: list[Touch], ms: Milestones) -> list[float]:
    """Credit per touch under ``time_decay``, ``w_shaped`` or ``full_path``; a path with no
    touches is the one ``(none)`` touch, credit 1."""
    if not touches:
        return [1.0]
    n = len(touches)
    if model == "time_decay":
        days = np.array([(ms.converted_at - t.touched_at).total_seconds() / 86400 for t in touches])
        # shifting every d by the smallest scales all weights alike and avoids underflow
        w = np.exp2(-(days - days.min()) / MODEL_WEIGHTS[model]["half_life_days"])
        return (w / w.sum()).tolist()

    def milestone_touch(at: datetime | None) -> int:
        """The last touch at or before ``at``; the first touch when there is none."""
        before = [i for i, t in enumerate(touches) if at is not None and t.touched_at <= at]
        return before[-1] if before else 0

    milestones = [0, milestone_touch(ms.lead_at), milestone_touch(ms.opportunity_at)]
    if model == "full_path":
        milestones.append(milestone_touch(ms.closed_at))
    weight = MODEL_WEIGHTS[model]["milestone"]
    credit = np.zeros(n)
    for i in milestones:
        credit[i] += weight  # milestones on the same touch add
    marked = np.zeros(n, dtype=bool)
    marked[milestones] = True
    rest = ~marked if (~marked).any() else marked  # no other touch: the milestone touches
    credit[rest] += (1.0 - weight * len(milestones)) / rest.sum()
    return credit.tolist()


@st.composite
def timed_conversions(draw: st.DrawFn) -> tuple[list[Touch], Milestones, float]:
    """One conversion at T0: touches in the 90-day lookback in time order, milestones anywhere
    (before every touch, on one, after all, or unknown) and a value."""
    n = draw(st.integers(0, 8))
    days = sorted(draw(st.lists(st.floats(0, 90), min_size=n, max_size=n)), reverse=True)
    chans = draw(st.lists(st.sampled_from(CHANNELS), min_size=n, max_size=n))
    touches = [
        Touch(c, T0 - timedelta(days=d), f"t{i}")
        for i, (c, d) in enumerate(zip(chans, days, strict=True))
    ]
    milestone = st.one_of(st.none(), st.floats(-5, 100).map(lambda d: T0 - timedelta(days=d)))
    ms = Milestones(T0, draw(milestone), draw(milestone), draw(milestone))
    value = draw(weights(1e300))
    return touches, ms, value


@settings(BASE, max_examples=200)
@given(conversions=st.lists(timed_conversions(), min_size=1, max_size=10))
def test_timed_models_credit_each_conversion_once(conversions: list) -> None:
    for model in TIMED_MODELS:
        total_credit = total_value = want_value = 0.0
        for touches, ms, value in conversions:
            credit = np.array(timed_credits(model, touches, ms))
            assert len(credit) == max(len(touches), 1)
            assert np.isfinite(credit).all() and (credit >= 0).all(), (model, credit)
            assert abs(credit.sum() - 1.0) <= REL, (model, credit)
            total_credit += credit.sum()
            total_value += (credit * value).sum()
            want_value += value
        assert close(total_credit, len(conversions)), model
        assert close(total_value, want_value), model


# -- the CLI ------------------------------------------------------------------------------------
@settings(BASE, max_examples=60)
@given(paths=path_sets())
def test_revops_attribute_paths_totals(paths: PathSet) -> None:
    """``revops attribute paths FILE --model all``: exit 0, and every model's columns add up to
    the file's conversions and value, none negative."""
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "paths.csv", Path(tmp) / "out.csv"
        write_paths(paths, source)
        assert attribute_cli(["paths", str(source), "--model", "all", "--out", str(out)]) == 0
        with out.open() as handle:
            rows = list(csv.DictReader(handle))
    for model in PATH_MODELS:
        conv = np.array([float(r[f"{model}_conversions"]) for r in rows])
        value = np.array([float(r[f"{model}_value"]) for r in rows])
        assert np.isfinite(conv).all() and (conv >= 0).all(), (model, conv)
        assert np.isfinite(value).all() and (value >= 0).all(), (model, value)
        assert close(conv.sum(), paths.conversions.sum()), (model, conv.sum())
        assert close(value.sum(), paths.values.sum()), (model, value.sum())


# -- the warehouse's SQL models against the Python models and the CLI --------------------------
# One Hypothesis example is a batch of 20-40 path sets, each its own conversion type (the first
# is "customer" and the second "opportunity", where w_shaped and full_path apply), loaded at
# once into the two tables the attribution SQL reads; the data-driven credits are written by
# the pipeline's own step and ``marts.fct_attribution`` is built by one dbt run. Shrinking would
# rebuild with dbt hundreds of times, so it is off: a failure names the set, conversion, touch
# and model instead.
LOOKBACK_DAYS = 90
PATHS_DDL = """
create schema intermediate;
create table intermediate.int_conversion_paths_joined (
    conversion_id text, conversion_type text, person_id text, converted_at timestamptz,
    conversion_value numeric, lead_milestone_at timestamptz,
    opportunity_milestone_at timestamptz, close_milestone_at timestamptz,
    touchpoint_id text, touched_at timestamptz, touch_type text, channel text,
    campaign_id text, campaign_name text, touch_position bigint, path_length bigint
);
create table intermediate.int_nonconversion_paths_joined (
    journey_id text, conversion_type text, person_id text, touchpoint_id text,
    touched_at timestamptz, channel text, touch_position bigint
);
"""
INSERT_PATHS = (
    "insert into intermediate.int_conversion_paths_joined (conversion_id, conversion_type,"
    " person_id, converted_at, conversion_value, lead_milestone_at, opportunity_milestone_at,"
    " close_milestone_at, touchpoint_id, touched_at, touch_type, channel, touch_position,"
    " path_length) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
"""One row of the paths table fct_attribution reads (the columns the models use)."""


@st.composite
def warehouse_sets(draw: st.DrawFn, ctype: str) -> dict:
    """One conversion type's conversions (timed touches, milestones, value) and its
    non-converting journeys."""
    conversions = draw(st.lists(timed_conversions(), min_size=1, max_size=8))
    lost = draw(st.lists(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6), max_size=5))
    return {"type": ctype, "conversions": conversions, "lost": lost}


@st.composite
def warehouse_batches(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(20, 40))
    types = ["customer", "opportunity", *(f"set{i:02d}" for i in range(2, n))]
    return [draw(warehouse_sets(t)) for t in types]


def _load(url: str, batch: list[dict]) -> None:
    import psycopg

    rows, lost_rows = [], []
    for s, pset in enumerate(batch):
        for c, (touches, ms, value) in enumerate(pset["conversions"]):
            cid = f"s{s:02d}c{c}"
            converted = ms.converted_at + timedelta(hours=s)  # a different moment per set
            shift = converted - ms.converted_at
            moved = [
                None if m is None else m + shift
                for m in (ms.lead_at, ms.opportunity_at, ms.closed_at)
            ]
            common = (cid, pset["type"], f"p{cid}", converted, value, *moved)
            if not touches:
                rows.append((*common, "(none)", None, "(none)", "(none)", 1, 1))
            for k, t in enumerate(touches, start=1):
                rows.append(
                    (
                        *common,
                        f"{cid}{t.touchpoint_id}",
                        t.touched_at + shift,
                        "visit",
                        t.channel,
                        k,
                        len(touches),
                    )
                )
        for j, channels in enumerate(pset["lost"]):
            jid = f"s{s:02d}j{j}"
            for k, channel in enumerate(channels, start=1):
                lost_rows.append((jid, pset["type"], jid, f"{jid}t{k}", T0, channel, k))
    with psycopg.connect(url) as conn:
        conn.execute(PATHS_DDL)
        with conn.cursor() as cur:
            cur.executemany(INSERT_PATHS, rows)
            cur.executemany(
                "insert into intermediate.int_nonconversion_paths_joined (journey_id,"
                " conversion_type, person_id, touchpoint_id, touched_at, channel, touch_position)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                lost_rows,
            )
        conn.commit()


def _path_set(pset: dict) -> PathSet:
    """The set's journeys as the warehouse step sees them: each conversion one path with one
    conversion, each non-converting journey one path with one null."""
    seqs = [[t.channel for t in touches] for touches, _, _ in pset["conversions"]]
    n = len(seqs)
    seqs += pset["lost"]
    m = len(pset["lost"])
    values = [v for _, _, v in pset["conversions"]] + [0.0] * m
    return PathSet.from_sequences(seqs, [1.0] * n + [0.0] * m, values, [0.0] * n + [1.0] * m)


def _expected(batch: list[dict]) -> dict[tuple[str, str, str], float]:
    """Credit per (conversion, touch, model) from the Python models."""
    out: dict[tuple[str, str, str], float] = {}
    for s, pset in enumerate(batch):
        paths = _path_set(pset)
        by_model = {m: touch_credits(paths, m) for m in PATH_MODELS}
        timed = [
            m
            for m in TIMED_MODELS
            if pset["type"] in MODEL_CONVERSION_TYPES.get(m, (pset["type"],))
        ]
        for c, (touches, ms, _) in enumerate(pset["conversions"]):
            cid = f"s{s:02d}c{c}"
            ids = [f"{cid}{t.touchpoint_id}" for t in touches] or ["(none)"]
            lo, hi = paths.offsets[c], paths.offsets[c + 1]
            for model, credit in by_model.items():
                for tid, value in zip(ids, credit[lo:hi].tolist(), strict=True):
                    out[(cid, tid, model)] = value
            for model in timed:
                for tid, value in zip(ids, timed_credits(model, touches, ms), strict=True):
                    out[(cid, tid, model)] = value
    return out


@pytest.mark.slow
@settings(BASE, max_examples=3, phases=[Phase.explicit, Phase.generate])
@given(batch=warehouse_batches())
def test_sql_models_equal_the_python_models_and_the_cli(server_url: str, batch: list) -> None:
    import psycopg
    from warehouse_checks import new_database

    from revops.attribution.warehouse import compute_data_driven
    from revops.pipeline import NON_CONVERTING_SQL
    from revops.transform import run_dbt

    with new_database(server_url, "revops_prop") as url:
        _load(url, batch)
        with psycopg.connect(url) as conn:
            for pset in batch:
                compute_data_driven(conn, pset["type"], non_converting_sql=NON_CONVERTING_SQL)
        run_dbt(["run", "--select", "fct_attribution"], url, quiet=True)
        with psycopg.connect(url) as conn:
            got_rows = conn.execute(
                "select conversion_id, touchpoint_id, model, credit, revenue_credit,"
                " conversion_type, channel from marts.fct_attribution"
            ).fetchall()
    # revenue_credit is numeric: read it exactly, then as a Python float (PostgreSQL refuses to
    # cast a subnormal numeric to float8, Python does not)
    got_rows = [(*row[:4], float(row[4]), *row[5:]) for row in got_rows]

    want = _expected(batch)
    got = {(c, t, m): credit for c, t, m, credit, *_ in got_rows}
    assert len(got) == len(got_rows), "one row per conversion, touch and model"
    missing = [k for k, v in want.items() if v > 0 and k not in got]
    extra = [k for k in got if k not in want]
    assert not missing, f"credited in Python, absent from fct_attribution: {missing[:5]}"
    assert not extra, f"in fct_attribution, not credited in Python: {extra[:5]}"
    wrong = [(k, got.get(k, 0.0), v) for k, v in want.items() if abs(got.get(k, 0.0) - v) > REL]
    assert not wrong, f"(conversion, touch, model), SQL, Python: {wrong[:5]}"

    # revenue credit = credit x the conversion's value, and the channel totals of every model
    # revops attribute paths knows equal the CLI's on the same paths
    value_of = {
        f"s{s:02d}c{c}": v
        for s, pset in enumerate(batch)
        for c, (_, _, v) in enumerate(pset["conversions"])
    }
    for c, t, m, credit, revenue, *_ in got_rows:
        assert close(revenue, credit * value_of[c]), (c, t, m, credit, revenue)
    sql_totals: dict[tuple[str, str, str], list[float]] = {}
    for _, _, m, credit, revenue, ctype, channel in got_rows:
        acc = sql_totals.setdefault((ctype, m, channel), [0.0, 0.0])
        acc[0] += credit
        acc[1] += revenue
    for pset in batch:
        with tempfile.TemporaryDirectory() as tmp:
            source, out = Path(tmp) / "paths.csv", Path(tmp) / "out.csv"
            write_paths(_path_set(pset), source)
            assert attribute_cli(["paths", str(source), "--out", str(out)]) == 0
            with out.open() as handle:
                cli_rows = list(csv.DictReader(handle))
        for model in PATH_MODELS:
            if model == "markov":
                # The CLI's Markov channel totals are DOMAIN.md's "removal effect / sum of
                # removal effects x total"; the marts add up the per-conversion split (the
                # per-conversion credits are compared above). The two differ: a > b (1 conv),
                # b (1 conv), a (1 null) gives a 2/3, b 4/3 in the CLI and a 1/3, b 5/3 summed.
                continue
            for row in cli_rows:
                conv, value = sql_totals.get((pset["type"], model, row["channel_name"]), [0, 0])
                assert close(conv, float(row[f"{model}_conversions"])), (pset["type"], model, row)
                assert close(value, float(row[f"{model}_value"])), (pset["type"], model, row)
