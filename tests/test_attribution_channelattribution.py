"""``revops attribute paths`` against the ChannelAttribution package on the same file.

ChannelAttribution (PyPI ``channelattribution``, GPL-3) is a test-only dependency: revops
never imports it. The tests skip when it is not installed.

- ``first_touch``, ``last_touch`` and ``linear`` must match its ``heuristic_models`` exactly,
  up to floating-point rounding (the two tools add the same numbers in different orders).
- ``markov`` must match its ``markov_model`` within simulation noise. ChannelAttribution does
  not solve the chain: it simulates random walks (``nsim_start`` of them, more until ten
  repetitions vary less than 5%) and cuts each walk at the longest observed path. With
  ``N = 10^6`` walks and a conversion probability ``p`` around 0.1, the standard error of a
  conversion probability is about ``sqrt((1 - p) / (N p)) = 0.3%`` relative, so of a removal
  effect (1 minus a ratio of two such estimates) about 0.003-0.005; on these files the largest
  observed difference is under 0.01. The tolerance is 0.03 on each removal effect and 1% of all
  conversions on each channel's attributed conversions (observed: under 0.3%): several standard
  errors, yet tight enough to catch a wrong chain (built without the non-converting paths, the
  removal effects on these files move by about 0.1).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revops.attribution.cli import main

ca = pytest.importorskip(
    "ChannelAttribution",
    reason="ChannelAttribution is not installed (pip install channelattribution, test only)",
)

RE_TOLERANCE = 0.03
CONVERSION_SHARE_TOLERANCE = 0.01
CHANNELS = ("direct", "email", "events", "paid_search", "paid_social", "referral")


def generated_file(tmp_path: Path, seed: int, journeys: int = 20_000) -> Path:
    """Aggregated paths of simulated journeys, with repeats and a few empty paths."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[float]] = {}
    for _ in range(journeys):
        length = min(int(rng.geometric(0.35)), 10)
        path: list[str] = []
        for _ in range(length):
            repeat = path and rng.random() < 0.25
            path.append(path[-1] if repeat else CHANNELS[rng.integers(len(CHANNELS))])
        p = 0.03 + 0.08 * ("events" in path) + 0.05 * ("email" in path) + 0.01 * length
        row = rows.setdefault(" > ".join(path), [0, 0.0, 0])
        if rng.random() < p:
            row[0] += 1
            row[1] += round(float(rng.uniform(50, 2000)), 2)
        else:
            row[2] += 1
    frame = pd.DataFrame(
        [(k, *v) for k, v in rows.items() if k],  # ChannelAttribution rejects empty paths
        columns=["path", "total_conversions", "total_conversion_value", "total_null"],
    )
    target = tmp_path / f"paths_{seed}.csv"
    frame.to_csv(target, index=False)
    return target


def run_revops(file: Path, models: str, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / "revops.csv"
    assert main(["paths", str(file), "--model", models, "--out", str(out)]) == 0
    return pd.read_csv(out).set_index("channel_name")


def quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


@pytest.mark.parametrize("seed", [1, 2])
def test_first_last_linear_match_heuristic_models(tmp_path: Path, seed: int) -> None:
    file = generated_file(tmp_path, seed)
    ours = run_revops(file, "first_touch,last_touch,linear", tmp_path)
    theirs = quiet(
        ca.heuristic_models,
        pd.read_csv(file),
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        sep=">",
        flg_pro=False,
    ).set_index("channel_name")
    theirs.index = theirs.index.str.strip()
    assert sorted(theirs.index) == list(ours.index)
    theirs = theirs.loc[ours.index]
    # whole conversions: identical
    for col in ("first_touch_conversions", "last_touch_conversions"):
        assert ours[col].tolist() == theirs[col].tolist(), col
    pairs = [
        ("first_touch_value", "first_touch_value"),
        ("last_touch_value", "last_touch_value"),
        ("linear_conversions", "linear_touch_conversions"),
        ("linear_value", "linear_touch_value"),
    ]
    for our_col, their_col in pairs:
        np.testing.assert_allclose(
            ours[our_col], theirs[their_col], rtol=1e-12, atol=1e-9, err_msg=our_col
        )


@pytest.mark.parametrize("seed", [3, 4])
def test_markov_matches_markov_model_within_simulation_noise(tmp_path: Path, seed: int) -> None:
    file = generated_file(tmp_path, seed)
    ours = run_revops(file, "markov", tmp_path)
    result = quiet(
        ca.markov_model,
        pd.read_csv(file),
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        var_null="total_null",
        sep=">",
        nsim_start=1e6,
        out_more=True,
        verbose=False,
        flg_pro=False,
    )
    effects = result["removal_effects"].set_index("channel_name")
    effects.index = effects.index.str.strip()
    totals = result["result"].set_index("channel_name")
    totals.index = totals.index.str.strip()
    assert sorted(effects.index) == list(ours.index)
    re_theirs = effects.loc[ours.index, "removal_effects_conversion"]
    assert np.abs(ours["markov_removal_effect"] - re_theirs).max() < RE_TOLERANCE
    total = ours["markov_conversions"].sum()
    diff = np.abs(ours["markov_conversions"] - totals.loc[ours.index, "total_conversions"])
    assert diff.max() < CONVERSION_SHARE_TOLERANCE * total
    # and the comparison has teeth: channels really differ by more than the tolerance
    spread = ours["markov_removal_effect"].max() - ours["markov_removal_effect"].min()
    assert spread > 2 * RE_TOLERANCE
