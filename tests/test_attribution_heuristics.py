"""The rule-based models on hand-computed paths: DOMAIN.md's edge cases.

Each case is one conversion (type ``customer``, where every model applies) with its touches,
milestones and the credits DOMAIN.md gives each touch. The models that need only the order of
the touches are held to them in :func:`revops.attribution.paths.touch_credits` (``revops
attribute paths``); every rule-based model is held to them in ``fct_attribution.sql``, the
warehouse's implementation (slow: one dbt run over every case).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from revops.attribution.paths import PATH_MODELS, touch_credits
from revops.attribution.pathset import PathSet
from revops.vocabulary import DATA_DRIVEN_MODELS, HEURISTIC_MODELS

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
ORDER_MODELS = tuple(m for m in PATH_MODELS if m not in DATA_DRIVEN_MODELS)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@dataclass(frozen=True)
class Case:
    """One conversion: touch channels and days, milestone days (None: unknown) and the credits
    each model gives the touches."""

    name: str
    channels: tuple[str, ...]
    credits: dict[str, list[float]]
    days: tuple[float, ...] = ()
    converted: float | None = None
    lead: float | None = None
    opportunity: float | None = None
    close: float | None = None
    touch_days: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "touch_days", self.days or tuple(range(len(self.channels))))

    @property
    def converted_at(self) -> dt.datetime:
        return day(
            self.converted if self.converted is not None else max(self.touch_days, default=0)
        )


def _every_touch(n: int) -> dict[str, list[float]]:
    return {model: [1.0] * n for model in HEURISTIC_MODELS}


CASES = [
    Case("one touch gets everything", ("email",), _every_touch(1), lead=0, opportunity=0, close=0),
    Case(
        "two touches",
        ("paid_search", "email"),
        {
            "first_touch": [1.0, 0.0],
            "last_touch": [0.0, 1.0],
            "last_non_direct": [0.0, 1.0],
            "linear": [0.5, 0.5],
            "position_based": [0.5, 0.5],
            # 2^(-7/7) = 1/2 against 2^0 = 1
            "time_decay": [1 / 3, 2 / 3],
            # first + lead creation on touch 0 (0.6), opportunity on touch 1 (0.3); nothing else,
            # so the 0.1 goes evenly to the two milestone touches
            "w_shaped": [0.65, 0.35],
            # first, lead: touch 0 (0.45); opportunity, close: touch 1 (0.45); 0.05 each
            "full_path": [0.5, 0.5],
        },
        days=(0, 7),
        lead=0,
        opportunity=7,
        close=7,
    ),
    Case("position_based, three", ("a", "b", "c"), {"position_based": [0.4, 0.2, 0.4]}),
    Case("position_based, four", ("a", "b", "c", "d"), {"position_based": [0.4, 0.1, 0.1, 0.4]}),
    Case(
        "time_decay: d = 21, 7, 0 weighs 1/8, 1/2, 1",
        ("a", "b", "c"),
        {"time_decay": [1 / 13, 4 / 13, 8 / 13]},
        days=(0, 14, 21),
    ),
    Case(
        "time_decay: touches long ago do not underflow to 0/0",
        ("a", "b"),
        {"time_decay": [2 ** (-1 / 7) / (1 + 2 ** (-1 / 7)), 1 / (1 + 2 ** (-1 / 7))]},
        days=(0, 1),
        converted=20000,
    ),
    Case(
        "w_shaped: separate milestones (lead: touch 2, opportunity: touch 4)",
        ("a", "b", "c", "d", "e"),
        {"w_shaped": [0.3, 0.05, 0.3, 0.05, 0.3]},
        lead=2.5,
        opportunity=10,
    ),
    Case(
        "w_shaped: every milestone on the first touch",
        ("a", "b", "c", "d", "e"),
        {"w_shaped": [0.9, 0.025, 0.025, 0.025, 0.025]},
        lead=0,
        opportunity=0.5,
    ),
    Case(
        "w_shaped: lead and opportunity on the same touch",
        ("a", "b", "c"),
        {"w_shaped": [0.3, 0.6, 0.1]},
        lead=1,
        opportunity=1.5,
    ),
    Case(
        "a milestone at a touch's time takes that touch: every touch a milestone",
        ("a", "b", "c"),
        {"w_shaped": [1 / 3, 1 / 3, 1 / 3]},
        lead=1,
        opportunity=2,
    ),
    Case(
        "milestones between touches take the touch before",
        ("a", "b", "c"),
        {"w_shaped": [0.3, 0.6, 0.1]},
        lead=1.9,
        opportunity=1.99,
        converted=2,
    ),
    Case(
        "a milestone before every touch goes to the first touch",
        ("a", "b", "c"),
        {"w_shaped": [0.6, 0.3, 0.1]},
        days=(10, 11, 12),
        lead=0,
        opportunity=11,
    ),
    Case(
        "unknown milestones go to the first touch",
        ("a", "b", "c"),
        {"w_shaped": [0.9, 0.05, 0.05]},
    ),
    Case(
        "full_path: four milestones",
        ("a", "b", "c", "d", "e", "f"),
        {"full_path": [0.225, 0.05, 0.225, 0.225, 0.05, 0.225]},
        lead=2,
        opportunity=3,
        close=5,
    ),
    Case(
        "full_path: lead, opportunity and close on the last touch",
        ("a", "b", "c", "d"),
        {"full_path": [0.225, 0.05, 0.05, 0.675]},
        lead=9,
        opportunity=9,
        close=9,
    ),
    Case(
        "full_path: every touch a milestone",
        ("a", "b"),
        {"full_path": [0.5, 0.5]},
        lead=0,
        opportunity=1,
        close=1,
    ),
    Case(
        "full_path: three milestones on the first of two touches",
        ("a", "b"),
        {"full_path": [0.725, 0.275]},
        lead=0,
        opportunity=0,
        close=1,
    ),
    Case(
        "last_non_direct: direct touches after",
        ("email", "direct", "direct"),
        {"last_non_direct": [1.0, 0.0, 0.0]},
    ),
    Case(
        "last_non_direct: direct around",
        ("direct", "email", "direct"),
        {"last_non_direct": [0.0, 1.0, 0.0]},
    ),
    Case(
        "last_non_direct: all direct gives the last touch",
        ("direct", "direct", "direct"),
        {"last_non_direct": [0.0, 0.0, 1.0]},
    ),
    Case(
        "last_non_direct: only the literal channel direct counts",
        ("a", "Direct"),
        {"last_non_direct": [0.0, 1.0]},
    ),
    Case(
        "repeats of a channel are separate touches",
        ("email", "email", "paid_search"),
        {"linear": [1 / 3, 1 / 3, 1 / 3], "first_touch": [1.0, 0.0, 0.0]},
    ),
    Case("no touches: one (none) touch", (), _every_touch(1)),
]


def test_every_rule_based_model_has_hand_computed_cases() -> None:
    covered = {model for case in CASES for model in case.credits}
    assert covered == set(HEURISTIC_MODELS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_order_models_in_revops_attribute_paths(case: Case) -> None:
    paths = PathSet.from_sequences([case.channels], [1.0])
    for model in ORDER_MODELS:
        if model in case.credits:
            got = touch_credits(paths, model).tolist()
            assert got == pytest.approx(case.credits[model], abs=1e-15), model


def _rows(i: int, case: Case) -> list[tuple]:
    """The case's rows of int_conversion_paths_joined: conversion ``c<i>``, value 100."""
    milestones = [None if d is None else day(d) for d in (case.lead, case.opportunity, case.close)]
    common = (f"c{i}", "customer", f"p{i}", case.converted_at, 100, *milestones)
    if not case.channels:
        return [(*common, "(none)", None, "(none)", "(none)", 1, 1)]
    n = len(case.channels)
    return [
        (*common, f"c{i}t{k}", day(d), "visit", channel, k, n)
        for k, (channel, d) in enumerate(zip(case.channels, case.touch_days, strict=True), 1)
    ]


@pytest.mark.slow
def test_fct_attribution_gives_the_hand_computed_credits(server_url: str) -> None:
    import psycopg
    from test_attribution_properties import INSERT_PATHS, PATHS_DDL
    from warehouse_checks import new_database

    from revops.attribution.warehouse import compute_data_driven
    from revops.pipeline import NON_CONVERTING_SQL
    from revops.transform import run_dbt

    with new_database(server_url, "revops_rules") as url:
        with psycopg.connect(url) as conn:
            conn.execute(PATHS_DDL)
            rows = [row for i, case in enumerate(CASES) for row in _rows(i, case)]
            conn.cursor().executemany(INSERT_PATHS, rows)
            # the data-driven credits fct_attribution also reads (not compared here)
            compute_data_driven(conn, "customer", non_converting_sql=NON_CONVERTING_SQL)
        run_dbt(["run", "--select", "fct_attribution"], url, quiet=True)
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "select conversion_id, touchpoint_id, model, credit, revenue_credit"
                " from marts.fct_attribution"
            ).fetchall()
    got = {(c, t, m): (credit, float(revenue)) for c, t, m, credit, revenue in rows}
    for i, case in enumerate(CASES):
        ids = [f"c{i}t{k}" for k in range(1, len(case.channels) + 1)] or ["(none)"]
        for model, want in case.credits.items():
            credits = [got.get((f"c{i}", tid, model), (0.0, 0.0)) for tid in ids]
            assert [c for c, _ in credits] == pytest.approx(want, abs=1e-12), (case.name, model)
            assert [r for _, r in credits] == pytest.approx([100 * w for w in want], abs=1e-9)
