"""The rule-based models for one path: DOMAIN.md's edge cases with hand-computed credits."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from revops.attribution.heuristics import (
    HEURISTIC_MODELS,
    NONE_TOUCH,
    Milestones,
    Touch,
    attribute_path,
    path_credit,
)

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def touches(*channels: str, days: list[float] | None = None) -> list[Touch]:
    days = days if days is not None else list(range(len(channels)))
    return [
        Touch(channel=c, touched_at=day(d), touchpoint_id=f"t{i}")
        for i, (c, d) in enumerate(zip(channels, days, strict=True))
    ]


def credit(model: str, path: list[Touch], ms: Milestones | None = None, **kw) -> list[float]:
    return path_credit(model, path, ms, **kw).tolist()


def test_one_touch_gets_everything_under_every_model() -> None:
    path = touches("email", days=[0])
    ms = Milestones(converted_at=day(3), lead_at=day(1), opportunity_at=day(2), closed_at=day(3))
    for model in HEURISTIC_MODELS:
        assert credit(model, path, ms) == pytest.approx([1.0], abs=1e-15), model


def test_two_touches() -> None:
    path = touches("paid_search", "email", days=[0, 7])
    ms = Milestones(converted_at=day(7), lead_at=day(0), opportunity_at=day(7), closed_at=day(7))
    assert credit("first_touch", path) == [1.0, 0.0]
    assert credit("last_touch", path) == [0.0, 1.0]
    assert credit("last_non_direct", path) == [0.0, 1.0]
    assert credit("linear", path) == [0.5, 0.5]
    assert credit("position_based", path) == [0.5, 0.5]
    # 2^(-7/7) = 1/2 against 2^0 = 1
    assert credit("time_decay", path, ms) == pytest.approx([1 / 3, 2 / 3], abs=1e-15)
    # first + lead creation on touch 0 (0.6), opportunity on touch 1 (0.3); nothing else, so
    # the 0.1 goes evenly to the two milestone touches
    assert credit("w_shaped", path, ms) == pytest.approx([0.65, 0.35], abs=1e-15)
    # first, lead: touch 0 (0.45); opportunity, close: touch 1 (0.45); 0.05 each
    assert credit("full_path", path, ms) == pytest.approx([0.5, 0.5], abs=1e-15)


def test_position_based_longer_paths() -> None:
    assert credit("position_based", touches("a", "b", "c")) == pytest.approx([0.4, 0.2, 0.4])
    assert credit("position_based", touches("a", "b", "c", "d")) == pytest.approx(
        [0.4, 0.1, 0.1, 0.4]
    )


def test_time_decay_half_life() -> None:
    path = touches("a", "b", "c", days=[0, 14, 21])
    ms = Milestones(converted_at=day(21))
    # d = 21, 7, 0 -> weights 1/8, 1/2, 1 (sum 13/8)
    assert credit("time_decay", path, ms) == pytest.approx([1 / 13, 4 / 13, 8 / 13], abs=1e-15)
    # half-life 14: 2^-1.5, 2^-0.5, 1
    w = np.array([2**-1.5, 2**-0.5, 1.0])
    assert credit("time_decay", path, ms, half_life_days=14) == pytest.approx(
        (w / w.sum()).tolist(), abs=1e-15
    )
    # long ago touches do not underflow to 0/0
    far = touches("a", "b", days=[0, 1])
    assert credit("time_decay", far, Milestones(converted_at=day(20000))) == pytest.approx(
        [2 ** (-1 / 7) / (1 + 2 ** (-1 / 7)), 1 / (1 + 2 ** (-1 / 7))]
    )


def test_time_decay_needs_conversion_time() -> None:
    with pytest.raises(ValueError, match="conversion time"):
        path_credit("time_decay", touches("a"), Milestones())


def test_w_shaped_separate_milestones() -> None:
    path = touches("a", "b", "c", "d", "e", days=[0, 1, 2, 3, 4])
    ms = Milestones(lead_at=day(2.5), opportunity_at=day(10))  # lead: touch 2, opp: touch 4
    assert credit("w_shaped", path, ms) == pytest.approx([0.3, 0.05, 0.3, 0.05, 0.3], abs=1e-15)


def test_w_shaped_all_milestones_on_the_first_touch() -> None:
    path = touches("a", "b", "c", "d", "e", days=[0, 1, 2, 3, 4])
    ms = Milestones(lead_at=day(0), opportunity_at=day(0.5))
    assert credit("w_shaped", path, ms) == pytest.approx(
        [0.9, 0.025, 0.025, 0.025, 0.025], abs=1e-15
    )


def test_w_shaped_lead_and_opportunity_on_the_same_touch() -> None:
    path = touches("a", "b", "c", days=[0, 1, 2])
    ms = Milestones(lead_at=day(1), opportunity_at=day(1.5))  # both on touch 1
    assert credit("w_shaped", path, ms) == pytest.approx([0.3, 0.6, 0.1], abs=1e-15)


def test_milestone_at_a_touch_time_takes_that_touch() -> None:
    path = touches("a", "b", "c", days=[0, 1, 2])
    ms = Milestones(lead_at=day(1), opportunity_at=day(2))  # "at or before": touch 1, touch 2
    # every touch is a milestone: 0.3 each plus 0.1 / 3
    assert credit("w_shaped", path, ms) == pytest.approx([1 / 3, 1 / 3, 1 / 3], abs=1e-15)
    ms_between = Milestones(lead_at=day(1.9), opportunity_at=day(1.99))  # both on touch 1
    assert credit("w_shaped", path, ms_between) == pytest.approx([0.3, 0.6, 0.1], abs=1e-15)


def test_milestone_before_every_touch_goes_to_the_first_touch() -> None:
    path = touches("a", "b", "c", days=[10, 11, 12])
    ms = Milestones(lead_at=day(0), opportunity_at=day(11))
    assert credit("w_shaped", path, ms) == pytest.approx([0.6, 0.3, 0.1], abs=1e-15)
    assert credit("w_shaped", path, Milestones()) == pytest.approx([0.9, 0.05, 0.05])


def test_full_path_four_milestones() -> None:
    path = touches("a", "b", "c", "d", "e", "f", days=[0, 1, 2, 3, 4, 5])
    ms = Milestones(lead_at=day(2), opportunity_at=day(3), closed_at=day(5))
    assert credit("full_path", path, ms) == pytest.approx(
        [0.225, 0.05, 0.225, 0.225, 0.05, 0.225], abs=1e-15
    )
    # lead, opportunity and close on the last touch: 0.675 + 0.225 to the first, 0.1 / 2 rest
    ms_same = Milestones(lead_at=day(9), opportunity_at=day(9), closed_at=day(9))
    assert credit("full_path", touches("a", "b", "c", "d"), ms_same) == pytest.approx(
        [0.225, 0.05, 0.05, 0.675], abs=1e-15
    )


def test_full_path_every_touch_a_milestone() -> None:
    path = touches("a", "b", days=[0, 1])
    ms = Milestones(lead_at=day(0), opportunity_at=day(1), closed_at=day(1))
    # touch 0: first + lead = 0.45; touch 1: opp + close = 0.45; 0.1 split over both
    assert credit("full_path", path, ms) == pytest.approx([0.5, 0.5], abs=1e-15)
    ms1 = Milestones(lead_at=day(0), opportunity_at=day(0), closed_at=day(1))
    assert credit("full_path", path, ms1) == pytest.approx([0.725, 0.275], abs=1e-15)


def test_no_touches_is_one_none_touch_under_every_model() -> None:
    for model in HEURISTIC_MODELS:
        assert attribute_path(model, [], Milestones()) == [(NONE_TOUCH, 1.0)]
    assert NONE_TOUCH.channel == "(none)"


def test_last_non_direct() -> None:
    assert credit("last_non_direct", touches("email", "direct", "direct")) == [1.0, 0.0, 0.0]
    assert credit("last_non_direct", touches("direct", "email", "direct")) == [0.0, 1.0, 0.0]
    # all direct: the last touch
    assert credit("last_non_direct", touches("direct", "direct", "direct")) == [0.0, 0.0, 1.0]
    # only the literal channel "direct" counts as direct
    assert credit("last_non_direct", touches("a", "Direct")) == [0.0, 1.0]


def test_repeats_of_a_channel_are_separate_touches() -> None:
    path = touches("email", "email", "paid_search")
    assert credit("linear", path) == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert credit("first_touch", path) == [1.0, 0.0, 0.0]
    pairs = attribute_path("linear", path)
    by_channel: dict[str, float] = {}
    for touch, c in pairs:
        by_channel[touch.channel] = by_channel.get(touch.channel, 0.0) + c
    assert by_channel == pytest.approx({"email": 2 / 3, "paid_search": 1 / 3})


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="unknown rule-based model 'markov'"):
        path_credit("markov", touches("a"))


@pytest.mark.parametrize("model", HEURISTIC_MODELS)
def test_credits_sum_to_one_on_random_paths(model: str) -> None:
    rng = random.Random(11)
    channels = ["direct", "email", "paid_search", "events", "sales"]
    for _ in range(300):
        n = rng.randint(1, 25)
        days = sorted(rng.uniform(0, 90) for _ in range(n))
        path = touches(*[rng.choice(channels) for _ in range(n)], days=days)
        ms = Milestones(
            converted_at=day(90),
            lead_at=day(rng.uniform(-10, 90)),
            opportunity_at=day(rng.uniform(0, 90)),
            closed_at=day(90),
        )
        c = path_credit(model, path, ms)
        assert len(c) == n
        assert (c >= 0).all()
        assert abs(c.sum() - 1.0) < 1e-12
