"""Multi-touch attribution: the models that need more than SQL, and paths from outside.

The rule-based models of the warehouse's conversions are ``fct_attribution.sql`` (dbt); the
model names and weights are ``revops.vocabulary`` (from the dbt project's vars).

- :mod:`~revops.attribution.markov`: Markov removal effects, solved exactly.
- :mod:`~revops.attribution.shapley`: fractional Shapley values per path, exact subset sums.
- :mod:`~revops.attribution.paths`: the aggregated paths CSV and per-channel attribution.
- :mod:`~revops.attribution.warehouse`: the data-driven credits written to the warehouse.
- :mod:`~revops.attribution.cli`: ``revops attribute paths ...``.

Definitions: docs/definitions.md, "Conversions and paths" and "Attribution models".
"""
