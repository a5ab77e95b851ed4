"""A fit of the data-driven models kept for later: credit new paths with an earlier fit.

The Markov and Shapley models are fitted on a trailing window of journeys on a cadence
(DECISIONLOG.md: incremental attribution); between two fits a new or changed conversion is
credited with the last fit. A fit is three tables of numbers, each keyed by channel names so it
applies to paths whose channels it has not seen:

- Markov: each channel's removal effect (a channel the fit never saw has effect 0);
- Shapley: the worth v(S) of every channel set S the fit saw (any other set is worth 0, as in
  the fit itself), and each channel's popularity, which decides the channels folded into
  ``other`` on a path with more than :data:`~revops.attribution.shapley.MAX_CHANNELS`.

Applied to the paths it was fitted on, a fit gives the credits the fit gave them (Markov
exactly; Shapley up to float rounding, as its values are summed in another order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from revops.attribution import markov, shapley
from revops.attribution.pathset import PathSet

SET_SEPARATOR = "|"


@dataclass(frozen=True)
class StoredFit:
    """What a fit of both models leaves to credit other paths with."""

    removal_effects: dict[str, float]
    set_worth: dict[frozenset[str], float]
    popularity: dict[str, float]
    max_channels: int = shapley.MAX_CHANNELS
    _phi_cache: dict[frozenset[str], dict[str, float]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def to_json(self) -> dict[str, str]:
        """The three tables as JSON texts (sets as their sorted names joined by ``|``)."""
        worth = {SET_SEPARATOR.join(sorted(s)): w for s, w in self.set_worth.items()}
        return {
            "removal_effects": json.dumps(self.removal_effects, sort_keys=True),
            "set_worth": json.dumps(dict(sorted(worth.items()))),
            "popularity": json.dumps(self.popularity, sort_keys=True),
        }

    @classmethod
    def from_json(cls, removal_effects: object, set_worth: object, popularity: object) -> StoredFit:
        """Back from :meth:`to_json`'s texts (or the dicts a jsonb column gives)."""

        def load(value: object) -> dict:
            return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[arg-type]

        return cls(
            removal_effects={k: float(v) for k, v in load(removal_effects).items()},
            set_worth={
                frozenset(k.split(SET_SEPARATOR)): float(v) for k, v in load(set_worth).items()
            },
            popularity={k: float(v) for k, v in load(popularity).items()},
        )

    def phi(self, members: frozenset[str]) -> dict[str, float]:
        """Shapley values of the channels ``members`` in the fit's game restricted to them."""
        cached = self._phi_cache.get(members)
        if cached is None:
            names = sorted(members)
            worth: dict[int, float] = {}
            for mask in range(1, 1 << len(names)):
                subset = frozenset(n for j, n in enumerate(names) if mask >> j & 1)
                value = self.set_worth.get(subset)
                if value:
                    worth[mask] = value
            values = shapley.shapley_values((1 << len(names)) - 1, worth)
            cached = {names[j]: v for j, v in values.items()}
            self._phi_cache[members] = cached
        return cached


def fit(paths: PathSet) -> tuple[StoredFit, dict[str, np.ndarray]]:
    """Fit both models on ``paths``; the fit to keep, and each model's credit of every touch."""
    chain = markov.removal_effects(paths)
    game = shapley.fit(paths)
    channels = game.paths.channels
    set_worth = {
        frozenset(channels[j] for j in range(len(channels)) if mask >> j & 1): float(w)
        for mask, w in zip(game.sets, game.worth.tolist(), strict=True)
        if w
    }
    popularity = dict(zip(paths.channels, shapley.channel_popularity(paths).tolist(), strict=True))
    stored = StoredFit(
        removal_effects=dict(zip(chain.channels, chain.removal_effects.tolist(), strict=True)),
        set_worth=set_worth,
        popularity=popularity,
    )
    credits = {
        "markov": markov.touch_credits(paths, chain),
        "shapley": shapley.touch_credits(paths, game),
    }
    return stored, credits


def apply(paths: PathSet, stored: StoredFit) -> dict[str, np.ndarray]:
    """Each model's credit of every touch of ``paths`` under the fit ``stored`` (each path's
    credits sum to 1)."""
    _, pair_channel, _, _ = paths.channel_touches()
    effects = np.array([stored.removal_effects.get(c, 0.0) for c in paths.channels])
    markov_credit = paths.touch_credits(effects[pair_channel] if len(effects) else effects)

    folded, _ = shapley.fold_rare_channels(paths, stored.max_channels, stored.popularity)
    pair_path, pair_channel, _, _ = folded.channel_touches()
    names = folded.channels
    weight = np.zeros(len(pair_path))
    start = 0
    while start < len(pair_path):  # pairs come sorted by path
        end = start
        while end < len(pair_path) and pair_path[end] == pair_path[start]:
            end += 1
        members = [names[c] for c in pair_channel[start:end]]
        phi = stored.phi(frozenset(members))
        weight[start:end] = [phi[m] for m in members]
        start = end
    return {"markov": markov_credit, "shapley": folded.touch_credits(weight)}
