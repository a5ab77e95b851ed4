"""Multi-touch attribution: the models that need more than SQL, and paths from outside.

- :mod:`~revops.attribution.heuristics`: the rule-based models for one conversion's path.
- :mod:`~revops.attribution.markov`: Markov removal effects, solved exactly.
- :mod:`~revops.attribution.shapley`: fractional Shapley values per path, exact subset sums.
- :mod:`~revops.attribution.paths`: the aggregated paths CSV and per-channel attribution.
- :mod:`~revops.attribution.warehouse`: the data-driven credits written to the warehouse.
- :mod:`~revops.attribution.cli`: ``revops attribute paths ...``.

Definitions: DOMAIN.md, "Touchpoints and conversions" and "Attribution models".
"""
