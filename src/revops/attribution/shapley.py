"""Fractional Shapley attribution per path, computed exactly over channel subsets.

docs/definitions.md, "Shapley": for a set of channels S, the worth v(S) is the
conversion rate of the journeys whose set of distinct channels is exactly S (conversions over
conversions plus non-conversions; 0 where no journey has that set). A conversion whose path has
the channel set T is split over T in proportion to the channels' Shapley values in the game
restricted to T,

    phi_i = sum over S in T without i of |S|! (|T| - |S| - 1)! / |T|! x (v(S + i) - v(S)),

with negative values counted as 0 and an even split when none is positive. A channel's share is
split evenly over its touches in the path.

Sets are bitmasks: bit k is channel k. Each distinct set T costs 2^|T| worth look-ups, so a path
with more than :data:`MAX_CHANNELS` distinct channels keeps its most common ones and folds the
rarest into one channel ``other`` (logged as a warning with the number of paths folded).

Worths and popularity are ratios of weights, so they are computed on the weights divided by a
power of two (:func:`revops.attribution.markov.weight_exponent`): journey counts up to the largest
float no longer overflow conversions + non-conversions (which made v(S) = 0 for every set).
Weights must be finite and non-negative; totals beyond the largest float are refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import factorial

import numpy as np

from revops.attribution.markov import check_totals, check_weights, weight_exponent
from revops.attribution.pathset import PathSet, pair_shares

log = logging.getLogger(__name__)

MAX_CHANNELS = 12
OTHER_CHANNEL = "other"


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley values of every distinct channel set that occurs in the paths.

    Attributes:
        paths: the paths the values were computed on (after folding rare channels).
        path_set: for each path, the index of its distinct channel set in ``sets``.
        sets: the distinct channel sets, as bitmasks (Python ints).
        phi: ``len(sets) x K`` Shapley values; 0 for channels outside the set.
        worth: v(S) for each set in ``sets``.
        folded_paths: how many paths had their rarest channels folded into ``other``.
    """

    paths: PathSet
    path_set: np.ndarray
    sets: tuple[int, ...]
    phi: np.ndarray
    worth: np.ndarray
    folded_paths: int


def channel_popularity(paths: PathSet) -> np.ndarray:
    """Per channel, the journeys (conversions plus non-conversions, in units of
    2^:func:`~revops.attribution.markov.weight_exponent`) whose path contains it: what
    :func:`fold_rare_channels` ranks channels by."""
    pair_path, pair_channel, _, _ = paths.channel_touches()
    e = weight_exponent(paths.conversions, paths.nulls)
    journeys = np.ldexp(paths.conversions, -e) + np.ldexp(paths.nulls, -e)
    return np.bincount(pair_channel, weights=journeys[pair_path], minlength=paths.n_channels)


def fold_rare_channels(
    paths: PathSet,
    max_channels: int = MAX_CHANNELS,
    popularity: dict[str, float] | None = None,
) -> tuple[PathSet, int]:
    """Fold each path's rarest channels into ``other`` so it has at most ``max_channels``.

    Rarity is the number of journeys (conversions plus non-conversions) whose path contains the
    channel (:func:`channel_popularity`; or ``popularity`` by channel name, as a stored fit
    ranked them, unknown channels counting 0), ties broken by name. Returns the recoded paths
    and how many paths were folded.
    """
    pair_path, _, _, _ = paths.channel_touches()
    distinct = np.bincount(pair_path, minlength=paths.n_paths)
    crowded = np.flatnonzero(distinct > max_channels)
    if len(crowded) == 0:
        return paths, 0
    channels = list(paths.channels)
    if OTHER_CHANNEL not in channels:
        channels.append(OTHER_CHANNEL)
    other = channels.index(OTHER_CHANNEL)
    if popularity is None:
        popularity = dict(zip(paths.channels, channel_popularity(paths).tolist(), strict=True))
    popularity = [popularity.get(c, 0.0) for c in channels]
    rank = {
        c: i
        for i, c in enumerate(
            sorted(range(len(channels)), key=lambda c: (-popularity[c], channels[c]))
        )
    }
    codes = paths.codes.copy()
    for p in crowded:
        lo, hi = paths.offsets[p], paths.offsets[p + 1]
        present = sorted({int(c) for c in codes[lo:hi]}, key=rank.__getitem__)
        kept = [c for c in present if c != other][: max_channels - 1]
        fold = np.isin(codes[lo:hi], kept, invert=True)
        codes[lo:hi][fold] = other
    return paths.with_channels(channels, codes), len(crowded)


def _path_masks(paths: PathSet) -> np.ndarray:
    """Bitmask of each path's distinct channels (int64 when they fit, else Python ints)."""
    starts = paths.starts
    if paths.n_channels <= 62:
        bits = np.left_shift(np.int64(1), paths.codes.astype(np.int64))
        return np.bitwise_or.reduceat(bits, starts)
    bits = np.array([1 << int(c) for c in paths.codes], dtype=object)
    return np.bitwise_or.reduceat(bits, starts)


def _members(mask: int) -> list[int]:
    out = []
    k = 0
    while mask:
        if mask & 1:
            out.append(k)
        mask >>= 1
        k += 1
    return out


def shapley_values(mask: int, worth: dict[int, float]) -> dict[int, float]:
    """Exact Shapley values of the channels of ``mask`` in the game ``worth`` restricted to it.

    ``worth`` maps a channel-set bitmask to v(S); sets not in it are worth 0.
    """
    members = _members(mask)
    m = len(members)
    size = 1 << m
    # Global bitmask and worth of every subset of the members (local bitmask j).
    glob = [0] * size
    for j, channel in enumerate(members):
        step = 1 << j
        bit = 1 << channel
        for s in range(step):
            glob[step + s] = glob[s] | bit
    v = np.array([worth.get(g, 0.0) for g in glob])
    local = np.arange(size)
    popcount = np.zeros(size, dtype=np.int64)
    for j in range(m):
        popcount += (local >> j) & 1
    coef = _coefficients(m)
    out = {}
    for j, channel in enumerate(members):
        without = local[(local >> j) & 1 == 0]
        gain = v[without | (1 << j)] - v[without]
        out[channel] = float(np.dot(coef[popcount[without]], gain))
    return out


def _coefficients(m: int) -> np.ndarray:
    """|S|! (m - |S| - 1)! / m! for |S| = 0 .. m - 1."""
    return np.array([factorial(k) * factorial(m - k - 1) / factorial(m) for k in range(m)])


def batch_shapley_values(
    masks: np.ndarray, worth: np.ndarray, n_channels: int, cells: int = 1 << 22
) -> np.ndarray:
    """Shapley values of every set in ``masks`` at once: a ``len(masks) x n_channels`` array.

    ``masks`` are sorted distinct int64 bitmasks and ``worth`` their v(S); any other set is
    worth 0. Sets of the same size are done together, ``cells`` subset worths at a time.
    """
    phi = np.zeros((len(masks), n_channels))
    if len(masks) == 0:
        return phi
    bits = ((masks[:, None] >> np.arange(n_channels, dtype=np.int64)) & 1).astype(bool)
    sizes = bits.sum(axis=1)
    for m in np.unique(sizes).tolist():
        rows = np.flatnonzero(sizes == m)
        members = np.nonzero(bits[rows])[1].reshape(len(rows), m).astype(np.int64)
        size = 1 << m
        local = np.arange(size)
        popcount = np.zeros(size, dtype=np.int64)
        for j in range(m):
            popcount += (local >> j) & 1
        coef = _coefficients(m)
        # weight[j]: the coefficient of every subset without member j, laid out as the
        # (high bits, bit j, low bits) view of the subset axis below takes them
        weight = [
            coef[popcount.reshape(size >> (j + 1), 2, 1 << j)[:, 0, :].ravel()] for j in range(m)
        ]
        chunk = max(1, cells // size)
        for lo in range(0, len(rows), chunk):
            mem = members[lo : lo + chunk]
            glob = np.zeros((len(mem), size), dtype=np.int64)
            for j in range(m):
                step = 1 << j
                glob[:, step : 2 * step] = glob[:, :step] | (np.int64(1) << mem[:, j : j + 1])
            idx = np.minimum(np.searchsorted(masks, glob), len(masks) - 1)
            v = np.where(masks[idx] == glob, worth[idx], 0.0)
            for j in range(m):
                split = v.reshape(len(mem), size >> (j + 1), 2, 1 << j)
                gain = (split[:, :, 1, :] - split[:, :, 0, :]).reshape(len(mem), -1)
                phi[rows[lo : lo + chunk], mem[:, j]] = gain @ weight[j]
    return phi


def fit(paths: PathSet, max_channels: int = MAX_CHANNELS) -> ShapleyResult:
    """Worth of every channel set in ``paths`` and the Shapley values of each occurring set.

    Raises ``ValueError`` naming the path when a weight is NaN, infinite or negative.
    """
    check_weights(paths, "shapley")
    folded, n_folded = fold_rare_channels(paths, max_channels)
    if n_folded:
        log.warning(
            "shapley: %d path(s) had more than %d distinct channels; their rarest channels "
            "were folded into %r",
            n_folded,
            max_channels,
            OTHER_CHANNEL,
        )
    masks = _path_masks(folded)
    uniq, path_set = np.unique(masks, return_inverse=True)
    path_set = path_set.reshape(-1)
    e = weight_exponent(folded.conversions, folded.nulls)
    conv = np.bincount(path_set, weights=np.ldexp(folded.conversions, -e), minlength=len(uniq))
    null = np.bincount(path_set, weights=np.ldexp(folded.nulls, -e), minlength=len(uniq))
    conv, null = conv.astype(float), null.astype(float)  # bincount of nothing is int
    journeys = conv + null
    worth_arr = np.divide(conv, journeys, out=np.zeros_like(conv), where=journeys > 0)
    sets = tuple(int(m) for m in uniq)
    if uniq.dtype == np.int64:
        phi = batch_shapley_values(uniq, worth_arr, folded.n_channels)
    else:  # more than 62 channels: Python-int bitmasks, one set at a time
        worth = dict(zip(sets, worth_arr.tolist(), strict=True))
        phi = np.zeros((len(sets), folded.n_channels))
        for i, mask in enumerate(sets):
            for channel, value in shapley_values(mask, worth).items():
                phi[i, channel] = value
    return ShapleyResult(
        paths=folded,
        path_set=path_set,
        sets=sets,
        phi=phi,
        worth=worth_arr,
        folded_paths=n_folded,
    )


def channel_totals(
    paths: PathSet, result: ShapleyResult | None = None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Channels and their attributed conversions and value (``other`` may be added).

    Totals beyond the largest float raise ``ValueError``.
    """
    result = result or fit(paths)
    check_totals(paths, "shapley")
    folded = result.paths
    pair_path, pair_channel, _, _ = folded.channel_touches()
    weight = result.phi[result.path_set[pair_path], pair_channel]
    share = pair_shares(pair_path, weight, folded.n_paths)
    k = folded.n_channels
    conv = np.bincount(pair_channel, weights=share * folded.conversions[pair_path], minlength=k)
    value = np.bincount(pair_channel, weights=share * folded.values[pair_path], minlength=k)
    return folded.channels, conv, value


def touch_credits(paths: PathSet, result: ShapleyResult | None = None) -> np.ndarray:
    """Credit of every touch of every path; each path's credits sum to 1.

    Touches of channels folded into ``other`` share ``other``'s credit evenly.
    """
    result = result or fit(paths)
    pair_path, pair_channel, _, _ = result.paths.channel_touches()
    return result.paths.touch_credits(result.phi[result.path_set[pair_path], pair_channel])
