"""Fractional Shapley per path: hand-computed cases, a permutation-based check, folding."""

from __future__ import annotations

import itertools
import logging
import random
from fractions import Fraction

import numpy as np
import pytest

from revops.attribution import shapley
from revops.attribution.paths import attribute_paths, to_paths
from revops.attribution.pathset import PathSet

FOUR_PATHS = [
    ("a > a > b", 3, 30.0, 1),
    ("b > c", 1, 5.0, 4),
    ("c", 0, 0.0, 5),
    ("a > b > c > a", 2, 8.0, 2),
]


def shapley_by_permutations(members: list[int], worth: dict[frozenset, Fraction]) -> dict:
    """Average marginal contribution over every order of joining (the textbook definition)."""
    totals = {i: Fraction(0) for i in members}
    orders = list(itertools.permutations(members))
    for order in orders:
        joined: frozenset = frozenset()
        for i in order:
            totals[i] += worth.get(joined | {i}, Fraction(0)) - worth.get(joined, Fraction(0))
            joined = joined | {i}
    return {i: t / len(orders) for i, t in totals.items()}


def test_four_path_example_by_hand() -> None:
    # v({a,b}) = 3/4, v({b,c}) = 1/5, v({c}) = 0, v({a,b,c}) = 1/2, all else 0.
    # a > a > b: phi_a = phi_b = 3/8 -> 1/2 each of 3 conversions.
    # b > c: phi_b = phi_c = 1/10 -> 1/2 each of 1 conversion.
    # a > b > c > a: phi_a = 0.225, phi_b = 0.325, phi_c = -0.05 -> 0; 2 conversions split
    #   9/22 and 13/22.
    table = attribute_paths(FOUR_PATHS, ["shapley"]).set_index("channel_name")
    assert table["shapley_conversions"].to_dict() == pytest.approx(
        {"a": 1.5 + 2 * 9 / 22, "b": 1.5 + 0.5 + 2 * 13 / 22, "c": 0.5}, abs=1e-12
    )
    assert table["shapley_value"].to_dict() == pytest.approx(
        {"a": 15 + 8 * 9 / 22, "b": 15 + 2.5 + 8 * 13 / 22, "c": 2.5}, abs=1e-12
    )
    result = shapley.fit(to_paths(FOUR_PATHS))
    abc = result.sets.index(0b111)
    assert result.phi[abc].tolist() == pytest.approx([0.225, 0.325, -0.05], abs=1e-15)


def test_one_channel_gets_the_whole_conversion() -> None:
    table = attribute_paths([("email > email", 2, 10.0, 3), ("sales", 1, 1.0, 0)], ["shapley"])
    assert table.set_index("channel_name")["shapley_conversions"].to_dict() == {
        "email": 2.0,
        "sales": 1.0,
    }


def test_channel_that_never_converts_gets_nothing() -> None:
    # v({a}) = 1, v({a,c}) = 1, v({c}) = 0: c adds nothing anywhere
    paths = [("a", 1, 1.0, 0), ("c", 0, 0.0, 4), ("a > c", 2, 2.0, 0)]
    table = attribute_paths(paths, ["shapley"]).set_index("channel_name")
    assert table["shapley_conversions"].to_dict() == {"a": 3.0, "c": 0.0}


def test_none_positive_splits_evenly_and_credits_sum_to_one() -> None:
    # no journey over a, b, c converts, so every worth among them is 0
    paths = to_paths([("a > b", 0, 0.0, 3), ("a > a > b > c", 0, 0.0, 1), ("d", 1, 1.0, 1)])
    credits = shapley.touch_credits(paths)
    # path 1 converts nowhere: a and b get 1/2 each
    assert credits[:2].tolist() == [0.5, 0.5]
    # path 2: three channels at 1/3; a's share over its two touches
    assert credits[2:6].tolist() == pytest.approx([1 / 6, 1 / 6, 1 / 3, 1 / 3])
    assert credits[6] == 1.0


def test_matches_the_permutation_definition() -> None:
    rng = random.Random(3)
    for _ in range(20):
        members = rng.sample(range(8), rng.randint(1, 5))
        worth_f = {}
        for r in range(1, len(members) + 1):
            for subset in itertools.combinations(members, r):
                if rng.random() < 0.7:
                    worth_f[frozenset(subset)] = Fraction(rng.randint(0, 20), 20)
        worth_mask = {sum(1 << i for i in s): float(v) for s, v in worth_f.items()}
        mask = sum(1 << i for i in members)
        got = shapley.shapley_values(mask, worth_mask)
        expected = shapley_by_permutations(members, worth_f)
        assert got.keys() == expected.keys()
        for i in members:
            assert got[i] == pytest.approx(float(expected[i]), abs=1e-12)
        # efficiency: the values add up to v(T)
        assert sum(got.values()) == pytest.approx(float(worth_f.get(frozenset(members), 0)))


def test_batched_values_equal_the_one_set_at_a_time_values() -> None:
    rng = np.random.default_rng(8)
    masks = np.unique(rng.integers(1, 1 << 12, size=300)).astype(np.int64)
    worth = rng.random(len(masks))
    worth_by_mask = dict(zip(masks.tolist(), worth.tolist(), strict=True))
    for cells in (1 << 22, 64):  # one chunk per size, and many small chunks
        phi = shapley.batch_shapley_values(masks, worth, 12, cells=cells)
        for i, mask in enumerate(masks.tolist()):
            expected = np.zeros(12)
            for channel, value in shapley.shapley_values(mask, worth_by_mask).items():
                expected[channel] = value
            np.testing.assert_allclose(phi[i], expected, atol=1e-12)


def test_credits_sum_to_one_per_path_on_generated_paths() -> None:
    rng = random.Random(5)
    channels = [f"ch{i}" for i in range(9)]
    rows = []
    for _ in range(2000):
        n = rng.randint(1, 9)
        path = [rng.choice(channels) for _ in range(n)]
        conv = rng.randint(0, 2)
        rows.append((" > ".join(path), conv, 10.0 * conv, rng.randint(0, 3)))
    paths = to_paths(rows)
    credits = shapley.touch_credits(paths)
    assert np.abs(np.add.reduceat(credits, paths.starts) - 1).max() < 1e-12
    table = attribute_paths(paths, ["shapley"])
    assert table["shapley_conversions"].sum() == pytest.approx(sum(r[1] for r in rows))
    assert table["shapley_value"].sum() == pytest.approx(sum(r[2] for r in rows))


def test_more_than_twelve_channels_fold_the_rarest_into_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    common = [f"c{i:02d}" for i in range(11)]
    rare = ["r1", "r2", "r3"]
    rows = [
        (" > ".join(common + rare), 1, 100.0, 0),
        (" > ".join(rare[:1] + common[:3]), 1, 0.0, 0),
    ]
    # every common channel also appears alone, so it is seen in more journeys than any rare one
    rows += [(c, 0, 0.0, 2) for c in common]
    with caplog.at_level(logging.WARNING, logger="revops.attribution.shapley"):
        result = shapley.fit(to_paths(rows))
    assert result.folded_paths == 1
    assert "1 path(s) had more than 12 distinct channels" in caplog.text
    folded = result.paths
    assert folded.path(0) == common + ["other"] * 3
    assert folded.path(1) == ["r1", *common[:3]]  # 4 channels: left alone
    credits = shapley.touch_credits(to_paths(rows), result)
    assert np.abs(np.add.reduceat(credits, folded.starts) - 1).max() < 1e-12
    table = attribute_paths(rows, ["shapley", "linear"]).set_index("channel_name")
    assert "other" in table.index
    assert table.loc["other", "linear_conversions"] == 0.0
    assert table["shapley_conversions"].sum() == pytest.approx(2.0)


def test_sets_of_more_than_62_channels_still_work() -> None:
    channels = [f"ch{i:03d}" for i in range(70)]
    rows = [(c, 1, 1.0, 1) for c in channels] + [("ch000 > ch069", 3, 3.0, 0)]
    paths = to_paths(rows)
    assert isinstance(paths, PathSet) and paths.n_channels == 70
    table = attribute_paths(paths, ["shapley"]).set_index("channel_name")
    # v({ch000}) = v({ch069}) = 1/2, v(both) = 1: symmetric, 1.5 each from the pair
    assert table.loc["ch000", "shapley_conversions"] == pytest.approx(2.5)
    assert table.loc["ch069", "shapley_conversions"] == pytest.approx(2.5)
