"""Many channel paths at once, encoded as integer arrays for the data-driven models.

A :class:`PathSet` holds a list of channel paths (one per journey, or one per distinct path with
counts) in compressed form: every touch of every path as an integer channel code in one flat
array, plus the offset where each path starts. The per-path weights are the conversions, the
conversion value and the non-conversions (``null``) of that path. The models in
:mod:`revops.attribution.markov`, :mod:`revops.attribution.shapley` and
:mod:`revops.attribution.paths` work on this form with numpy, so a million journeys cost a few
array operations rather than a million Python loops.

A path with no touches is stored as the single touch ``(none)`` (docs/definitions.md: a path with no
touches is credited to a single `(none)` touch), so every path has at least one touch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

NONE_CHANNEL = "(none)"
"""The channel of the single touch that stands for a path with no touches."""


@dataclass(frozen=True)
class PathSet:
    """Channel paths with their weights, as flat integer arrays.

    Attributes:
        channels: channel names; a code ``k`` in ``codes`` means ``channels[k]``.
        codes: the channel code of every touch, path after path, in time order.
        offsets: ``len(paths) + 1`` positions; path ``p`` is ``codes[offsets[p]:offsets[p+1]]``.
        conversions: conversions of each path (a count or a weight, never negative).
        values: conversion value of each path.
        nulls: journeys of each path that did not convert (never negative).
    """

    channels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    values: np.ndarray
    nulls: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.codes):
            raise ValueError("offsets must start at 0 and end at len(codes)")
        if np.any(np.diff(self.offsets) < 1):
            raise ValueError("every path needs at least one touch (use the (none) channel)")
        for name in ("conversions", "values", "nulls"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have one entry per path")

    # -- shape -----------------------------------------------------------------------------
    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return len(self.offsets) - 1

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.channels)

    @property
    def lengths(self) -> np.ndarray:
        """Touches per path."""
        return np.diff(self.offsets)

    @property
    def starts(self) -> np.ndarray:
        """Index in ``codes`` of each path's first touch."""
        return self.offsets[:-1]

    @property
    def path_of_touch(self) -> np.ndarray:
        """For every touch, the index of its path."""
        return np.repeat(np.arange(self.n_paths), self.lengths)

    def path(self, p: int) -> list[str]:
        """The channels of path ``p``, in order."""
        return [self.channels[c] for c in self.codes[self.offsets[p] : self.offsets[p + 1]]]

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_sequences(
        cls,
        paths: Iterable[Sequence[str]],
        conversions: Iterable[float],
        values: Iterable[float] | None = None,
        nulls: Iterable[float] | None = None,
    ) -> PathSet:
        """Build from channel sequences; an empty sequence becomes the ``(none)`` touch."""
        seqs = [list(p) if len(p) else [NONE_CHANNEL] for p in paths]
        conv = np.asarray(list(conversions), dtype=np.float64)
        n = len(seqs)
        val = np.zeros(n) if values is None else np.asarray(list(values), dtype=np.float64)
        nul = np.zeros(n) if nulls is None else np.asarray(list(nulls), dtype=np.float64)
        flat = [c for seq in seqs for c in seq]
        codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=True)
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=n)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return cls(
            channels=tuple(str(u) for u in uniques),
            codes=codes.astype(np.int32),
            offsets=offsets,
            conversions=conv,
            values=val,
            nulls=nul,
        )

    def with_channels(self, channels: Sequence[str], codes: np.ndarray) -> PathSet:
        """The same paths and weights with touches recoded (same offsets)."""
        return PathSet(
            channels=tuple(channels),
            codes=codes.astype(np.int32),
            offsets=self.offsets,
            conversions=self.conversions,
            values=self.values,
            nulls=self.nulls,
        )

    # -- helpers the models share ----------------------------------------------------------
    def collapsed(self) -> tuple[np.ndarray, np.ndarray]:
        """Paths with consecutive repeats of a channel collapsed: ``(codes, offsets)``."""
        codes = self.codes
        keep = np.ones(len(codes), dtype=bool)
        keep[1:] = codes[1:] != codes[:-1]
        keep[self.starts] = True
        new_codes = codes[keep]
        kept_per_path = np.add.reduceat(keep.astype(np.int64), self.starts)
        offsets = np.concatenate([[0], np.cumsum(kept_per_path)]).astype(np.int64)
        return new_codes, offsets

    def channel_touches(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (path, channel) pairs.

        Returns ``(pair_path, pair_channel, pair_touches, touch_pair)``: for every distinct
        pair its path, its channel and how many touches of that channel the path has, and for
        every touch the index of its pair.
        """
        k = np.int64(max(self.n_channels, 1))
        keys = self.path_of_touch.astype(np.int64) * k + self.codes.astype(np.int64)
        uniq, touch_pair, counts = np.unique(keys, return_inverse=True, return_counts=True)
        return uniq // k, (uniq % k).astype(np.int64), counts, touch_pair.reshape(-1)

    def touch_credits(self, pair_weight: np.ndarray) -> np.ndarray:
        """Credit of every touch when each path's credit 1 is split over its channels.

        ``pair_weight`` gives, for each distinct (path, channel) pair from
        :meth:`channel_touches`, the channel's weight in that path. A path's credit is split
        over its channels in proportion to their weights (evenly if all are zero), and a
        channel's share evenly over that channel's touches in the path.
        """
        pair_path, _, pair_touches, touch_pair = self.channel_touches()
        share = pair_shares(pair_path, pair_weight, self.n_paths)
        return (share / pair_touches)[touch_pair]


def pair_shares(pair_path: np.ndarray, pair_weight: np.ndarray, n_paths: int) -> np.ndarray:
    """Each (path, channel) pair's part of its path's credit 1.

    Negative weights count as 0; a path's credit goes to its channels in proportion to their
    weights, or evenly when none is positive.
    """
    weight = np.clip(np.asarray(pair_weight, dtype=np.float64), 0.0, None)
    total = np.bincount(pair_path, weights=weight, minlength=n_paths)
    distinct = np.bincount(pair_path, minlength=n_paths).astype(np.float64)
    positive = total[pair_path] > 0
    return np.where(
        positive,
        weight / np.where(positive, total[pair_path], 1.0),
        1.0 / distinct[pair_path],
    )
