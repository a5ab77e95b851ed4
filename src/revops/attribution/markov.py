"""First-order Markov attribution by removal effect, solved exactly as an absorbing chain.

DOMAIN.md, "Markov (removal effect)": from all paths of a conversion type, converting and not,
build a first-order chain with states ``start``, one per channel, ``conversion`` and ``null``.
Consecutive repeats of a channel collapse into one state. A path ``a > b`` with ``k``
conversions and ``m`` non-conversions adds ``k + m`` to the transitions start->a and a->b, ``k``
to b->conversion and ``m`` to b->null; the transition probabilities are the counts divided by
their row's total.

The probability of conversion is the absorption probability from ``start``: with ``Q`` the
channel-to-channel probabilities, ``r`` the channel-to-conversion probabilities and ``s`` the
start-to-channel probabilities, ``P(conversion) = s' (I - Q)^-1 r``. Removing channel ``c``
sends every transition into ``c`` to ``null``, which is the same system without ``c``'s row
and column; it is solved once per channel. The removal effect is
``1 - P(conversion | c removed) / P(conversion)``.

Channel totals are the removal effects normalised to sum to 1, times the total conversions
(and value). Inside one conversion the credit is split over the channels of its path in
proportion to their removal effects, and a channel's share evenly over its touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revops.attribution.pathset import PathSet


@dataclass(frozen=True)
class MarkovResult:
    """The fitted chain and its removal effects.

    Attributes:
        channels: channel names, in the order of the arrays below.
        removal_effects: removal effect of each channel.
        p_conversion: probability of conversion from ``start``.
        p_conversion_without: probability of conversion with each channel removed.
        transitions: transition counts, ``(K + 3) x (K + 3)`` over the states
            ``start``, the K channels, ``conversion``, ``null`` in that order.
    """

    channels: tuple[str, ...]
    removal_effects: np.ndarray
    p_conversion: float
    p_conversion_without: np.ndarray
    transitions: np.ndarray

    @property
    def shares(self) -> np.ndarray:
        """Removal effects normalised to sum to 1 (all zero when every effect is zero)."""
        total = self.removal_effects.sum()
        if total <= 0:
            return np.zeros_like(self.removal_effects)
        return self.removal_effects / total

    def transition_probabilities(self) -> np.ndarray:
        """The transition counts divided by their row totals (rows with no exits stay 0)."""
        rows = self.transitions.sum(axis=1, keepdims=True)
        return np.divide(
            self.transitions, rows, out=np.zeros_like(self.transitions), where=rows > 0
        )


def transition_counts(paths: PathSet) -> np.ndarray:
    """Weighted transition counts over ``start``, channels, ``conversion``, ``null``.

    Consecutive repeats of a channel are collapsed first, so no channel moves to itself.
    """
    k = paths.n_channels
    size = k + 3
    start, conversion, null = 0, k + 1, k + 2
    codes, offsets = paths.collapsed()
    weight = paths.conversions + paths.nulls
    lengths = np.diff(offsets)
    state = codes.astype(np.int64) + 1
    path_of = np.repeat(np.arange(paths.n_paths), lengths)

    # Inside each path: every touch to the next one.
    inner = np.ones(len(state), dtype=bool)
    inner[offsets[1:] - 1] = False  # a path's last touch has no next touch
    frm = state[inner]
    to = state[np.flatnonzero(inner) + 1]
    w_inner = weight[path_of[inner]]

    first = state[offsets[:-1]]
    last = state[offsets[1:] - 1]
    flat_index = np.concatenate(
        [
            frm * size + to,
            start * size + first,
            last * size + conversion,
            last * size + null,
        ]
    )
    flat_weight = np.concatenate([w_inner, weight, paths.conversions, paths.nulls])
    counts = np.bincount(flat_index, weights=flat_weight, minlength=size * size)
    return counts.astype(np.float64).reshape(size, size)


def _absorption(
    s: np.ndarray, q: np.ndarray, r: np.ndarray, keep: np.ndarray | None = None
) -> float:
    """``s' (I - Q)^-1 r`` restricted to the states in ``keep``."""
    if keep is not None:
        s, q, r = s[keep], q[np.ix_(keep, keep)], r[keep]
    if len(s) == 0:
        return 0.0
    h = np.linalg.solve(np.eye(len(s)) - q, r)  # conversion probability from each channel
    return float(s @ h)


def removal_effects(paths: PathSet) -> MarkovResult:
    """Fit the chain on ``paths`` and compute every channel's removal effect exactly."""
    k = paths.n_channels
    counts = transition_counts(paths)
    rows = counts.sum(axis=1, keepdims=True)
    probs = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    s = probs[0, 1 : k + 1]
    q = probs[1 : k + 1, 1 : k + 1]
    r = probs[1 : k + 1, k + 1]
    p = _absorption(s, q, r)
    without = np.zeros(k)
    effects = np.zeros(k)
    if p > 0:
        for c in range(k):
            keep = np.ones(k, dtype=bool)
            keep[c] = False
            without[c] = _absorption(s, q, r, keep)
        effects = np.clip(1.0 - without / p, 0.0, None)
    return MarkovResult(
        channels=paths.channels,
        removal_effects=effects,
        p_conversion=p,
        p_conversion_without=without,
        transitions=counts,
    )


def channel_totals(
    paths: PathSet, result: MarkovResult | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Attributed conversions and value per channel: normalised removal effect x totals."""
    result = result or removal_effects(paths)
    shares = result.shares
    return shares * paths.conversions.sum(), shares * paths.values.sum()


def touch_credits(paths: PathSet, result: MarkovResult | None = None) -> np.ndarray:
    """Credit of every touch of every path; each path's credits sum to 1.

    A path's credit is split over its channels in proportion to their removal effects (evenly
    when they are all zero), and a channel's share evenly over its touches in the path.
    """
    result = result or removal_effects(paths)
    _, pair_channel, _, _ = paths.channel_touches()
    return paths.touch_credits(result.removal_effects[pair_channel])
