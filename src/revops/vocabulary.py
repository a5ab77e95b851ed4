"""The project's vocabularies, read from the one place they are written: the dbt project's vars.

``dbt_project/dbt_project.yml`` (``vars:``) owns each list: the source systems, the attribution
models and their weights, the report periods and the channels. dbt reads them with ``var()``;
Python reads them here and nowhere else, so dbt and Python cannot disagree. A ``--vars``
override given to dbt is not seen here: change the file.

- :data:`SYSTEMS`: the six source systems, in the order the pipeline extracts them.
- :data:`MODELS`: the ten attribution models as the marts spell them, in report order;
  :data:`HEURISTIC_MODELS` (computed in SQL) and :data:`DATA_DRIVEN_MODELS` (in Python).
- :data:`MODEL_WEIGHTS`: the weights of the models that have any.
- :data:`MODEL_CONVERSION_TYPES`: models limited to some conversion types.
- :data:`PERIODS`: the period grains of the report marts (``period_type``).
- :data:`CHANNELS`: every channel a touch, source or spend row may carry.
- :data:`STAGES` (and :data:`STAGE_COUNTS`, each stage's count column): the funnel in order;
  :data:`CONVERSION_TYPES` and :data:`VALUED_CONVERSION_TYPES`: what a conversion may be.

Imports only the standard library and PyYAML: DAG files import it while being parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from revops.config import dbt_project_dir

__all__ = [
    "CHANNELS",
    "CONVERSION_TYPES",
    "DATA_DRIVEN_MODELS",
    "HEURISTIC_MODELS",
    "MODELS",
    "MODEL_CONVERSION_TYPES",
    "MODEL_WEIGHTS",
    "PERIODS",
    "STAGES",
    "STAGE_COUNTS",
    "SYSTEMS",
    "VALUED_CONVERSION_TYPES",
    "dbt_vars",
]


@cache
def dbt_vars(project_file: Path | None = None) -> Mapping[str, Any]:
    """The ``vars:`` of ``dbt_project.yml`` (read once)."""
    path = project_file or dbt_project_dir() / "dbt_project.yml"
    with open(path, encoding="utf-8") as handle:
        return MappingProxyType(yaml.safe_load(handle).get("vars") or {})


def _names(key: str) -> tuple[str, ...]:
    values = dbt_vars().get(key)
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"dbt_project.yml vars: {key} must be a list of names, got {values!r}")
    return tuple(values)


SYSTEMS: tuple[str, ...] = _names("systems")
"""The source systems (``raw_<system>``, ``extract_<system>``), in extract order."""

MODELS: tuple[str, ...] = _names("attribution_models")
"""Every attribution model, as ``fct_attribution.model`` spells it, in report order."""

DATA_DRIVEN_MODELS: tuple[str, ...] = _names("data_driven_models")
"""The models fitted in Python (:mod:`revops.attribution`), not in SQL."""

HEURISTIC_MODELS: tuple[str, ...] = tuple(m for m in MODELS if m not in DATA_DRIVEN_MODELS)
"""The rule-based models ``fct_attribution.sql`` computes."""

MODEL_CONVERSION_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        model: tuple(types)
        for model, types in (dbt_vars().get("attribution_model_conversion_types") or {}).items()
    }
)
"""Models that apply only to some conversion types; every other model applies to all."""


def _weights() -> Mapping[str, Mapping[str, float]]:
    v = dbt_vars()
    position = v["position_based_weights"]
    return MappingProxyType(
        {
            "time_decay": MappingProxyType(
                {"half_life_days": float(v["time_decay_half_life_days"])}
            ),
            "position_based": MappingProxyType(
                {"first": float(position["first"]), "last": float(position["last"])}
            ),
            "w_shaped": MappingProxyType({"milestone": float(v["w_shaped_milestone_weight"])}),
            "full_path": MappingProxyType({"milestone": float(v["full_path_milestone_weight"])}),
        }
    )


MODEL_WEIGHTS: Mapping[str, Mapping[str, float]] = _weights()
"""Per model, its weights: ``time_decay``'s half-life in days, ``position_based``'s first and
last touch shares, the milestone share of ``w_shaped`` and ``full_path``."""

PERIODS: tuple[str, ...] = _names("report_periods")
"""The period grains of the report marts (``period_type``, a ``date_trunc`` unit)."""

CHANNELS: tuple[str, ...] = _names("channels")
"""Every channel (the empty path's ``(none)`` is no channel)."""

STAGE_COUNTS: Mapping[str, str] = MappingProxyType(dict(dbt_vars()["funnel_stages"]))
"""Each funnel stage, in order, and the name of its count column (``mql`` -> ``mqls``)."""

STAGES: tuple[str, ...] = tuple(STAGE_COUNTS)
"""The funnel's stages in order: lead, mql, sal, sql, opportunity, customer."""

CONVERSION_TYPES: tuple[str, ...] = _names("conversion_types")
"""What a conversion may be (``conversion_type``), in funnel order."""

VALUED_CONVERSION_TYPES: tuple[str, ...] = _names("valued_conversion_types")
"""The conversion types that carry a value (the opportunity's amount)."""

for _model in (*DATA_DRIVEN_MODELS, *MODEL_CONVERSION_TYPES, *MODEL_WEIGHTS):
    if _model not in MODELS:
        raise ValueError(f"dbt_project.yml vars: {_model!r} is not in attribution_models")
for _type in (*VALUED_CONVERSION_TYPES, *CONVERSION_TYPES):
    if _type not in STAGES:
        raise ValueError(f"dbt_project.yml vars: conversion type {_type!r} is no funnel stage")
