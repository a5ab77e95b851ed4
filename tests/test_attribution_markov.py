"""Markov removal effects: hand-computed cases, and two independent exact calculations.

The independent calculations build the chain from the raw journeys with plain Python (no
shared code with ``revops.attribution.markov``): one solves the absorption equations in exact
rational arithmetic (``fractions``), the other walks the probability mass from ``start`` step
by step until none is left (value iteration).
"""

from __future__ import annotations

import random
from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest

from revops.attribution import markov, shapley
from revops.attribution.paths import attribute_paths, read_paths, to_paths
from revops.attribution.pathset import PathSet

Journeys = list[tuple[list[str], int, int]]  # (channels, conversions, non-conversions)


# -- an independent chain --------------------------------------------------------------------
def chain_probabilities(journeys: Journeys) -> dict[str, dict[str, Fraction]]:
    """Transition probabilities, repeats collapsed, built with dicts and Fractions."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for channels, conv, null in journeys:
        states: list[str] = []
        for c in channels or ["(none)"]:
            if not states or states[-1] != c:
                states.append(c)
        seq = ["start", *states]
        for a, b in zip(seq, seq[1:], strict=False):
            counts[a][b] += conv + null
        counts[seq[-1]]["conversion"] += conv
        counts[seq[-1]]["null"] += null
    probs = {}
    for a, row in counts.items():
        total = sum(row.values())
        if total:
            probs[a] = {b: Fraction(n, total) for b, n in row.items() if n}
    return probs


def p_conversion_exact(probs: dict[str, dict[str, Fraction]], removed: str | None) -> Fraction:
    """Solve h(s) = P(s -> conversion) + sum_t P(s -> t) h(t) by Gauss-Jordan over Fractions."""
    states = sorted(s for s in probs if s not in ("start", removed))
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    # rows: h_i - sum_j q_ij h_j = r_i
    m = [[Fraction(0)] * (n + 1) for _ in range(n)]
    for s in states:
        i = index[s]
        m[i][i] += 1
        for t, p in probs[s].items():
            if t == "conversion":
                m[i][n] += p
            elif t in index:
                m[i][index[t]] -= p
    for col in range(n):
        pivot = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[pivot] = m[pivot], m[col]
        pv = m[col][col]
        m[col] = [x / pv for x in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [a - f * b for a, b in zip(m[r], m[col], strict=True)]
    h = {s: m[index[s]][n] for s in states}
    return sum((p * h[t] for t, p in probs["start"].items() if t in h), Fraction(0))


def p_conversion_iterated(
    probs: dict[str, dict[str, Fraction]], removed: str | None, tol: float = 1e-15
) -> float:
    """Push the probability mass from ``start`` through the chain until it has all absorbed."""
    fp = {a: {b: float(p) for b, p in row.items()} for a, row in probs.items()}
    mass = {"start": 1.0}
    converted = 0.0
    for _ in range(100_000):
        nxt: dict[str, float] = defaultdict(float)
        for s, x in mass.items():
            for t, p in fp.get(s, {}).items():
                if t == "conversion":
                    converted += x * p
                elif t != "null" and t != removed:
                    nxt[t] += x * p
        mass = nxt
        if sum(mass.values()) < tol:
            return converted
    raise AssertionError("did not converge")


def removal_effects_independent(journeys: Journeys, exact: bool) -> dict[str, float]:
    probs = chain_probabilities(journeys)
    channels = sorted(s for s in probs if s != "start")
    solve = p_conversion_exact if exact else p_conversion_iterated
    p = solve(probs, None)
    return {c: float(1 - solve(probs, c) / p) for c in channels}


def to_pathset(journeys: Journeys) -> PathSet:
    return PathSet.from_sequences(
        [j[0] for j in journeys], [j[1] for j in journeys], None, [j[2] for j in journeys]
    )


def random_journeys(seed: int, channels: list[str], n: int) -> Journeys:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.choice([0, 1, 1, 2, 2, 3, 4, 6])
        path = [rng.choice(channels) for _ in range(length)]
        conv = int(rng.random() < 0.15 + 0.1 * ("events" in path) + 0.05 * len(set(path)))
        out.append((path, conv * rng.randint(1, 3), (1 - conv) * rng.randint(1, 4)))
    return out


# -- hand-computed ---------------------------------------------------------------------------
def test_two_channel_chain_by_hand() -> None:
    # start->a 2; a->b 1, a->null 1; b->conversion 1. P = 1/2; without a or b: 0.
    r = markov.removal_effects(to_pathset([(["a", "b"], 1, 0), (["a"], 0, 1)]))
    assert r.p_conversion == pytest.approx(0.5, abs=1e-15)
    assert r.removal_effects.tolist() == pytest.approx([1.0, 1.0], abs=1e-15)


def test_four_path_example_by_hand() -> None:
    # a > a > b (3 conv, 1 null), b > c (1, 4), c (0, 5), a > b > c > a (2, 2)
    # start: a 8/18, b 5/18, c 5/18; a: b 8/12, conv 2/12, null 2/12;
    # b: c 9/13, conv 3/13, null 1/13; c: a 4/14, conv 1/14, null 9/14.
    journeys: Journeys = [
        (["a", "a", "b"], 3, 1),
        (["b", "c"], 1, 4),
        (["c"], 0, 5),
        (["a", "b", "c", "a"], 2, 2),
    ]
    probs = chain_probabilities(journeys)
    assert probs["a"] == {"b": Fraction(2, 3), "conversion": Fraction(1, 6), "null": Fraction(1, 6)}
    # without c: h_b = 3/13; h_a = 1/6 + 2/3 * 3/13 = 25/78; P = 8/18 h_a + 5/18 h_b
    p_without_c = Fraction(8, 18) * Fraction(25, 78) + Fraction(5, 18) * Fraction(3, 13)
    assert p_conversion_exact(probs, "c") == p_without_c
    effects = removal_effects_independent(journeys, exact=True)
    r = markov.removal_effects(to_pathset(journeys))
    assert r.removal_effects.tolist() == pytest.approx(
        [effects["a"], effects["b"], effects["c"]], abs=1e-14
    )
    # the channel totals are the normalised removal effects x 6 conversions (value 43)
    table = attribute_paths(
        [
            ("a > a > b", 3, 30.0, 1),
            ("b > c", 1, 5.0, 4),
            ("c", 0, 0.0, 5),
            ("a > b > c > a", 2, 8.0, 2),
        ],
        ["markov"],
    ).set_index("channel_name")
    total = sum(effects.values())
    for c in "abc":
        assert table.loc[c, "markov_conversions"] == pytest.approx(6 * effects[c] / total)
        assert table.loc[c, "markov_value"] == pytest.approx(43 * effects[c] / total)
        assert table.loc[c, "markov_removal_effect"] == pytest.approx(effects[c], abs=1e-14)


def test_channel_that_never_converts_gets_nothing() -> None:
    journeys: Journeys = [(["a"], 2, 1), (["c"], 0, 3), (["c", "c"], 0, 1)]
    r = markov.removal_effects(to_pathset(journeys))
    assert dict(zip(r.channels, r.removal_effects.tolist(), strict=True)) == {"a": 1.0, "c": 0.0}
    conv, _ = markov.channel_totals(to_pathset(journeys), r)
    assert conv.tolist() == [2.0, 0.0]


def test_repeats_collapse_in_the_chain_but_share_the_credit() -> None:
    repeated = to_pathset([(["a", "a", "b"], 1, 0), (["b"], 0, 1), (["a"], 1, 1)])
    single = to_pathset([(["a", "b"], 1, 0), (["b"], 0, 1), (["a"], 1, 1)])
    r1, r2 = markov.removal_effects(repeated), markov.removal_effects(single)
    np.testing.assert_allclose(r1.removal_effects, r2.removal_effects, atol=1e-15)
    assert r1.transitions[1, 1] == 0  # no a -> a transition
    credits = markov.touch_credits(repeated, r1)
    re_a, re_b = r1.removal_effects
    share_a = re_a / (re_a + re_b)
    assert credits[:3].tolist() == pytest.approx([share_a / 2, share_a / 2, 1 - share_a])


def test_no_touches_is_the_none_channel() -> None:
    table = attribute_paths([("", 1, 10.0, 1), ("email", 2, 30.0, 0)], ["markov"])
    assert table["channel_name"].tolist() == ["(none)", "email"]
    # P = 1/2 * 1/2 + 1/2 * 1 = 3/4; without (none): 1/2; without email: 1/4
    assert table["markov_removal_effect"].tolist() == pytest.approx([1 / 3, 2 / 3], abs=1e-15)
    assert table["markov_conversions"].tolist() == pytest.approx([1.0, 2.0])
    assert table["markov_value"].tolist() == pytest.approx([40 / 3, 80 / 3])


def test_no_conversions_at_all() -> None:
    paths = to_pathset([(["a", "b"], 0, 3)])
    r = markov.removal_effects(paths)
    assert r.p_conversion == 0.0
    assert r.removal_effects.tolist() == [0.0, 0.0]
    # all channels weigh 0: the path's credit is split evenly
    assert markov.touch_credits(paths, r).tolist() == [0.5, 0.5]


def test_zero_weight_channels_split_evenly() -> None:
    paths = to_pathset([(["a"], 1, 0), (["x", "y", "y"], 0, 2)])
    r = markov.removal_effects(paths)
    assert r.removal_effects.tolist() == [1.0, 0.0, 0.0]
    assert markov.touch_credits(paths, r).tolist() == pytest.approx([1.0, 0.5, 0.25, 0.25])


# -- independent exact calculations on generated data --------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_three_channels_match_an_exact_rational_solve(seed: int) -> None:
    journeys = random_journeys(seed, ["email", "events", "paid_search"], 400)
    expected = removal_effects_independent(journeys, exact=True)
    r = markov.removal_effects(to_pathset(journeys))
    got = dict(zip(r.channels, r.removal_effects.tolist(), strict=True))
    assert got.keys() == expected.keys()
    for c in expected:
        assert got[c] == pytest.approx(expected[c], abs=1e-12), c


@pytest.mark.parametrize("seed", [4, 5])
def test_seven_channels_match_value_iteration(seed: int) -> None:
    channels = ["direct", "email", "events", "paid_search", "paid_social", "referral", "sales"]
    journeys = random_journeys(seed, channels, 3000)
    expected = removal_effects_independent(journeys, exact=False)
    r = markov.removal_effects(to_pathset(journeys))
    got = dict(zip(r.channels, r.removal_effects.tolist(), strict=True))
    assert got.keys() == expected.keys()
    for c in expected:
        assert got[c] == pytest.approx(expected[c], abs=1e-9), c


def test_aggregated_paths_equal_journey_by_journey() -> None:
    journeys = random_journeys(8, ["a", "b", "c", "d"], 2000)
    one_by_one = to_pathset(journeys)
    merged: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for path, conv, null in journeys:
        merged[tuple(path)][0] += conv
        merged[tuple(path)][1] += null
    aggregated = to_paths([(" > ".join(p), c, 0.0, n) for p, (c, n) in merged.items()])
    np.testing.assert_allclose(
        markov.removal_effects(one_by_one).removal_effects,
        markov.removal_effects(aggregated).removal_effects,
        atol=1e-13,
    )


def test_touch_credits_sum_to_one_per_path() -> None:
    paths = to_pathset(random_journeys(9, ["a", "b", "c", "d", "e"], 3000))
    credits = markov.touch_credits(paths)
    per_path = np.add.reduceat(credits, paths.starts)
    assert np.abs(per_path - 1).max() < 1e-12
    assert (credits >= 0).all()


# -- weights at the ends of the float range (and Shapley, which has the same arithmetic) ------
# Journey counts or weights near the largest float (1.8e308) used to overflow inside the chain
# (a row total of conversions + non-conversions became inf, every probability NaN) and Markov
# returned all-zero credit with exit 0; Shapley's v(S) = conv / (conv + null) became 0.
# The column totals are finite; the journeys through ``start`` (2.5e308) are not.
HUGE = [(["a", "b"], 1e308, 1e308), (["b"], 0.0, 5e307)]
UNIT = [(["a", "b"], 2.0, 2.0), (["b"], 0.0, 1.0)]


def test_huge_weights_give_the_effects_of_the_same_ratios() -> None:
    unit = markov.removal_effects(to_pathset(UNIT))
    huge = markov.removal_effects(to_pathset(HUGE))
    # start: a 4/5, b 1/5; a -> b; b: conversion 2/5, null 3/5. P = 2/5; without a: 2/25
    # (effect 4/5), without b: 0 (effect 1)
    assert unit.removal_effects.tolist() == pytest.approx([0.8, 1.0], abs=1e-15)
    assert huge.removal_effects.tolist() == unit.removal_effects.tolist()
    assert huge.p_conversion == unit.p_conversion
    conv, _ = markov.channel_totals(to_pathset(HUGE), huge)
    assert conv.tolist() == pytest.approx([1e308 * (4 / 9), 1e308 * (5 / 9)], rel=1e-12)


def test_huge_weights_in_shapley_keep_the_worth() -> None:
    paths = to_paths([("a > b", 1e308, 0.0, 1e308), ("a", 5e307, 0.0, 0.0), ("b", 0.0, 0, 5e307)])
    fit = shapley.fit(paths)
    # v({a, b}) = 1/2, v({a}) = 1, v({b}) = 0, whatever the unit
    assert sorted(fit.worth.tolist()) == [0.0, 0.5, 1.0]
    ab = fit.path_set[0]
    # phi_a = 1/2 (1 - 0) + 1/2 (1/2 - 0) = 3/4, phi_b = 1/2 (0) + 1/2 (1/2 - 1) < 0 -> 0
    assert fit.phi[ab].tolist() == pytest.approx([0.75, -0.25])


def test_cli_on_huge_weights_gives_the_shares_of_small_ones(tmp_path, capsys) -> None:
    from revops.attribution.cli import main

    source = tmp_path / "huge.csv"
    source.write_text(
        "path,total_conversions,total_conversion_value,total_null\n"
        "a > b,1e308,1e308,1e308\n"
        "b,0,0,5e307\n"
    )
    assert main(["paths", str(source), "--model", "markov,shapley"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("channel_name,markov_conversions,markov_value,markov_removal_effect")
    a, b = (line.split(",") for line in out[1:])
    assert [float(x) for x in a[1:4]] == pytest.approx([1e308 * (4 / 9), 1e308 * (4 / 9), 0.8])
    assert [float(x) for x in b[1:4]] == pytest.approx([1e308 * (5 / 9), 1e308 * (5 / 9), 1.0])


def test_totals_beyond_the_largest_float_are_refused_naming_the_line(tmp_path, capsys) -> None:
    from revops.attribution.cli import main

    source, out = tmp_path / "over.csv", tmp_path / "out.csv"
    source.write_text(
        "path,total_conversions,total_conversion_value,total_null\n"
        "a > b,1e308,1,0\n"
        "c,0,1,5\n"
        "b,1e308,1,0\n"
    )
    assert main(["paths", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 4, column 'total_conversions'" in err
    assert "sum" in err and "largest" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("column", "bad", "message"),
    [
        ("conversions", np.nan, "conversions nan"),
        ("nulls", np.inf, "nulls inf"),
        ("nulls", -1.0, "nulls -1"),
        ("values", -np.inf, "values -inf"),
    ],
)
@pytest.mark.parametrize("fit", [markov.removal_effects, shapley.fit])
def test_non_finite_or_negative_weights_are_refused_naming_the_path(
    fit, column: str, bad: float, message: str
) -> None:
    weights = {"conversions": [1.0, 1.0], "values": [1.0, 1.0], "nulls": [0.0, 1.0]}
    weights[column][1] = bad
    paths = PathSet.from_sequences([["a"], ["b", "a"]], **weights)
    with pytest.raises(ValueError, match=rf"path 2 \(b > a\): {message}"):
        fit(paths)


def test_negative_conversion_value_in_a_file_is_refused(tmp_path) -> None:
    source = tmp_path / "neg.csv"
    source.write_text(
        "path,total_conversions,total_conversion_value,total_null\na,1,5,0\nb,1,-5,0\n"
    )
    with pytest.raises(ValueError, match=r"line 3, column 'total_conversion_value': negative"):
        read_paths(source)


def test_value_without_conversions_is_still_attributed() -> None:
    # no path converts, so every removal effect is 0: DOMAIN's even split decides, and the
    # value (however odd without conversions) is not lost
    table = attribute_paths([("a > b", 0, 10.0, 3)], ["markov", "shapley"])
    assert table["markov_value"].tolist() == [5.0, 5.0]
    assert table["shapley_value"].tolist() == [5.0, 5.0]
