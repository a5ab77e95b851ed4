"""First-order Markov attribution by removal effect, solved exactly as an absorbing chain.

docs/definitions.md, "Markov": from all paths of a conversion type, converting and not,
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
proportion to their removal effects, and a channel's share evenly over its touches. When no
removal effect is positive (nothing converts), the definitions' even split decides the totals too.

The chain depends on ratios of weights only, so the weights are first divided by a power of
two that brings the largest to [1/2, 1) (:func:`weight_exponent`; exact in binary floating
point).
Journey counts up to the largest float (1.8e308) then add up without overflow; before, a row
total of inf made every probability NaN and every credit 0. Weights must be finite and
non-negative (:func:`check_weights`); totals that exceed the largest float cannot be
represented and are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from revops.attribution.pathset import PathSet

_WEIGHTS = ("conversions", "values", "nulls")


def _describe(paths: PathSet, p: int) -> str:
    return f"path {p + 1} ({' > '.join(paths.path(p))})"


def check_weights(paths: PathSet, model: str) -> None:
    """Refuse weights that are NaN, infinite or negative, naming the path (1-based) and column.

    Conversions, values and non-conversions are counts and amounts: finite and >= 0.
    """
    for name in _WEIGHTS:
        w = np.asarray(getattr(paths, name), dtype=np.float64)
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            p = int(np.argmax(bad))
            raise ValueError(
                f"{model}: {_describe(paths, p)}: {name} {w[p]:g}; conversions, values and "
                "non-conversions must be finite numbers >= 0"
            )


def check_totals(paths: PathSet, model: str) -> None:
    """Refuse weights whose total exceeds the largest float: the totals cannot be written."""
    for name in _WEIGHTS:
        w = np.asarray(getattr(paths, name), dtype=np.float64)
        with np.errstate(over="ignore"):
            over = ~np.isfinite(np.cumsum(w))
        if over.any():
            p = int(np.argmax(over))
            raise ValueError(
                f"{model}: {name} sum to more than the largest float (1.8e308) at "
                f"{_describe(paths, p)}; express them in a larger unit"
            )


def weight_exponent(*weights: np.ndarray) -> int:
    """The power of two ``e`` such that ``np.ldexp(w, -e)`` brings the largest weight to
    [1/2, 1) (0 when every weight is 0).

    Scaling by a power of two is exact (unless a weight falls below 2^-1022 times the
    largest, where it only loses bits it could not have contributed), so every ratio of
    weights, and with it every probability and worth, is unchanged; sums of a few billion
    scaled weights cannot overflow.
    """
    top = max((float(np.max(w)) for w in weights if len(w)), default=0.0)
    return int(np.frexp(top)[1]) if top > 0 else 0


@dataclass(frozen=True)
class MarkovResult:
    """The fitted chain and its removal effects.

    Attributes:
        channels: channel names, in the order of the arrays below.
        removal_effects: removal effect of each channel.
        p_conversion: probability of conversion from ``start``.
        p_conversion_without: probability of conversion with each channel removed.
        transitions: transition counts in units of 2^``exponent`` journeys, ``(K + 3) x (K + 3)``
            over the states ``start``, the K channels, ``conversion``, ``null`` in that order.
        exponent: the weights were divided by 2^exponent (:func:`weight_exponent`).
    """

    channels: tuple[str, ...]
    removal_effects: np.ndarray
    p_conversion: float
    p_conversion_without: np.ndarray
    transitions: np.ndarray
    exponent: int = 0

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


def transition_counts(paths: PathSet, exponent: int = 0) -> np.ndarray:
    """Weighted transition counts over ``start``, channels, ``conversion``, ``null``.

    Consecutive repeats of a channel are collapsed first, so no channel moves to itself.
    Weights are divided by 2^``exponent`` first (see :func:`weight_exponent`).
    """
    k = paths.n_channels
    size = k + 3
    start, conversion, null = 0, k + 1, k + 2
    codes, offsets = paths.collapsed()
    conversions = np.ldexp(np.asarray(paths.conversions, dtype=np.float64), -exponent)
    nulls = np.ldexp(np.asarray(paths.nulls, dtype=np.float64), -exponent)
    weight = conversions + nulls
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
    flat_weight = np.concatenate([w_inner, weight, conversions, nulls])
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
    """Fit the chain on ``paths`` and compute every channel's removal effect exactly.

    Raises ``ValueError`` naming the path when a weight is NaN, infinite or negative.
    """
    check_weights(paths, "markov")
    k = paths.n_channels
    exponent = weight_exponent(paths.conversions, paths.nulls)
    counts = transition_counts(paths, exponent)
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
        exponent=exponent,
    )


def channel_totals(
    paths: PathSet, result: MarkovResult | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Attributed conversions and value per channel: normalised removal effect x totals.

    With no positive removal effect (no path converts) each path is split evenly over its
    channels, so a value recorded without conversions is still attributed. Totals
    beyond the largest float raise ``ValueError``.
    """
    result = result or removal_effects(paths)
    check_totals(paths, "markov")
    shares = result.shares
    if shares.sum() > 0:
        return shares * paths.conversions.sum(), shares * paths.values.sum()
    credit = touch_credits(paths, result)
    k = paths.n_channels
    lengths = paths.lengths
    conv = np.bincount(
        paths.codes, weights=credit * np.repeat(paths.conversions, lengths), minlength=k
    )
    value = np.bincount(paths.codes, weights=credit * np.repeat(paths.values, lengths), minlength=k)
    return conv, value


def touch_credits(paths: PathSet, result: MarkovResult | None = None) -> np.ndarray:
    """Credit of every touch of every path; each path's credits sum to 1.

    A path's credit is split over its channels in proportion to their removal effects (evenly
    when they are all zero), and a channel's share evenly over its touches in the path.
    """
    result = result or removal_effects(paths)
    _, pair_channel, _, _ = paths.channel_touches()
    return paths.touch_credits(result.removal_effects[pair_channel])
