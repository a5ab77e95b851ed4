"""docs/definitions.md keeps step with the code that owns each definition.

The page is for people; the facts it names have their owners in the code: the metrics in the
semantic layer's ``_*__semantic.yml``, the stages, conversion types, channels, models and
settings in ``dbt_project.yml`` (read through :mod:`revops.vocabulary`), the touch types in
``fct_touchpoints``' accepted values. Adding one of them without defining it here fails, and so
does a setting whose value here differs from ``dbt_project.yml``. Reads files only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from revops import vocabulary
from revops.config import dbt_project_dir, project_root

DOC = project_root() / "docs" / "definitions.md"
MARTS = dbt_project_dir() / "models" / "marts"

Table = tuple[list[str], list[list[str]]]


@cache
def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _names(text: str) -> set[str]:
    """Every identifier written inside a code span (`...`) of ``text``."""
    names: set[str] = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        names |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", span))
        names |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    return names


def _tables(text: str) -> list[Table]:
    """The markdown tables of ``text``: header cells and rows of cells, stripped."""
    tables: list[Table] = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in block]
            tables.append((cells[0], cells[2:]))
        block = []
    return tables


def _table(first_header: str) -> list[Table]:
    return [t for t in _tables(_doc()) if t[0] and t[0][0] == first_header]


def _cell_names(cell: str) -> list[str]:
    """The names written as code spans in one table cell, in order."""
    return re.findall(r"`([^`\n]+)`", cell)


def _first_names(rows: list[list[str]]) -> list[str]:
    """The first code span of each row's first cell (a row's subject)."""
    return [_cell_names(row[0])[0] for row in rows if _cell_names(row[0])]


@cache
def _semantic_metrics() -> dict[str, Path]:
    metrics: dict[str, Path] = {}
    files = sorted(MARTS.glob("**/_*__semantic.yml"))
    assert len(files) >= 3, f"no semantic layer files under {MARTS}"
    for path in files:
        for metric in yaml.safe_load(path.read_text(encoding="utf-8")).get("metrics") or []:
            metrics[metric["name"]] = path
    return metrics


def _touch_types() -> list[str]:
    models = yaml.safe_load((MARTS / "funnel" / "_funnel__models.yml").read_text("utf-8"))
    touchpoints = next(m for m in models["models"] if m["name"] == "fct_touchpoints")
    column = next(c for c in touchpoints["columns"] if c["name"] == "touch_type")
    for test in column["data_tests"]:
        if isinstance(test, Mapping) and "accepted_values" in test:
            return list(test["accepted_values"]["arguments"]["values"])
    raise AssertionError("fct_touchpoints.touch_type has no accepted_values test")


def _missing(names: list[str] | set[str]) -> list[str]:
    defined = _names(_doc())
    return sorted(n for n in names if n not in defined)


def test_every_metric_of_the_semantic_layer_is_defined() -> None:
    metrics = _semantic_metrics()
    assert {"mqls", "cac", "attributed_revenue"} <= set(metrics)
    missing = _missing(set(metrics))
    assert not missing, {name: str(metrics[name]) for name in missing}


def test_every_metric_a_table_lists_is_a_metric_of_the_semantic_layer() -> None:
    tables = _table("metric")
    assert len(tables) >= 6
    listed = [name for _, rows in tables for name in _first_names(rows)]
    unknown = sorted(set(listed) - set(_semantic_metrics()))
    assert not unknown, f"docs/definitions.md lists metrics the semantic layer lacks: {unknown}"


def test_every_attribution_model_is_defined_with_the_types_it_applies_to() -> None:
    assert not _missing(set(vocabulary.MODELS))
    ((headers, rows),) = [t for t in _table("model") if "applies to" in t[0]]
    assert _first_names(rows) == list(vocabulary.MODELS)
    applies = headers.index("applies to")
    for row in rows:
        model = _cell_names(row[0])[0]
        types = vocabulary.MODEL_CONVERSION_TYPES.get(model)
        if types is None:
            assert row[applies] == "all", (model, row[applies])
        else:
            assert _cell_names(row[applies]) == list(types), (model, row[applies])


def test_every_funnel_stage_is_defined_with_its_count_metric() -> None:
    assert not _missing(set(vocabulary.STAGES) | set(vocabulary.STAGE_COUNTS.values()))
    ((headers, rows),) = [t for t in _table("stage") if "count metric" in t[0]]
    assert _first_names(rows) == list(vocabulary.STAGES)
    count = headers.index("count metric")
    assert {_cell_names(r[0])[0]: _cell_names(r[count])[0] for r in rows} == dict(
        vocabulary.STAGE_COUNTS
    )


def test_every_conversion_type_touch_type_and_channel_is_defined() -> None:
    ((_, rows),) = _table("conversion type")
    assert _first_names(rows) == list(vocabulary.CONVERSION_TYPES)
    ((_, rows),) = _table("touch type")
    assert sorted(_first_names(rows)) == sorted(_touch_types())
    assert not _missing(set(vocabulary.CHANNELS))


def _setting(path: str) -> Any:
    value: Any = vocabulary.dbt_vars()
    for key in path.split("."):
        assert isinstance(value, Mapping) and key in value, f"no dbt var {path!r}"
        value = value[key]
    return value


def _is_value(value: Any) -> bool:
    """A number or a text; a switch (true/false) turns behaviour on or off and defines nothing."""
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _definition_settings() -> set[str]:
    """The dbt vars that are one value (or a mapping of numbers, by leaf): the settings."""
    out = set()
    for name, value in vocabulary.dbt_vars().items():
        if _is_value(value):
            out.add(name)
        elif isinstance(value, Mapping) and all(
            _is_value(v) and not isinstance(v, str) for v in value.values()
        ):
            out |= {f"{name}.{key}" for key in value}
    return out


def test_every_setting_is_listed_with_its_value_in_dbt_project_yml() -> None:
    ((headers, rows),) = _table("setting")
    default = headers.index("default")
    listed = {}
    for row in rows:
        (name,) = _cell_names(row[0])
        listed[name] = row[default]
    assert set(listed) == _definition_settings()
    for name, written in listed.items():
        value = _setting(name)
        if isinstance(value, str):
            assert written == value, (name, written, value)
        else:
            assert float(written) == float(value), (name, written, value)
