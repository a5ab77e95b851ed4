"""The rule-based attribution models for one conversion's path, as DOMAIN.md defines them.

Every function takes one path (its touches in time order) and returns one credit per touch;
the credits of a path sum to 1. The rules:

| model | credit |
| --- | --- |
| ``first_touch`` | 1 to the first |
| ``last_touch`` | 1 to the last |
| ``last_non_direct`` | 1 to the last touch whose channel is not ``direct``; the last if all are |
| ``linear`` | 1/n each |
| ``time_decay`` | proportional to 2^(-d/h), d = days touch -> conversion, h default 7 |
| ``position_based`` | n=1: 1; n=2: 1/2 each; n>=3: 0.4 first, 0.4 last, 0.2/(n-2) between |
| ``w_shaped`` | 0.3 to each of first, lead-creation and opportunity-creation touch, 0.1 the rest |
| ``full_path`` | as ``w_shaped`` plus the close touch: 0.225 each milestone, 0.1 the rest |

A milestone touch is the last touch at or before the milestone's time. A milestone time before
every touch of the path (or unknown) has no such touch; its weight then goes to the first touch
(the touch nearest to it), so credit still adds up. Weights of milestones on the same touch
add; the 0.1 goes evenly to the touches that are no milestone, or, when every touch is one,
evenly to the milestone touches.

:func:`attribute_path` is the entry point that also handles the path with no touches: it is
credited to one ``(none)`` touch with credit 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from revops.attribution.pathset import NONE_CHANNEL

DIRECT_CHANNEL = "direct"
DEFAULT_HALF_LIFE_DAYS = 7.0
W_SHAPED_MILESTONE_WEIGHT = 0.3
FULL_PATH_MILESTONE_WEIGHT = 0.225
REST_WEIGHT = 0.1

HEURISTIC_MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "full_path",
)


@dataclass(frozen=True)
class Touch:
    """One touch of a path: its channel, when it happened, and optionally its id."""

    channel: str
    touched_at: datetime | None = None
    touchpoint_id: str | None = None


NONE_TOUCH = Touch(channel=NONE_CHANNEL)
"""The touch a path with no touches is credited to."""


@dataclass(frozen=True)
class Milestones:
    """The times a conversion's path is measured against.

    ``converted_at`` is needed by ``time_decay``; ``lead_at`` and ``opportunity_at`` by
    ``w_shaped`` and ``full_path``; ``closed_at`` by ``full_path``.
    """

    converted_at: datetime | None = None
    lead_at: datetime | None = None
    opportunity_at: datetime | None = None
    closed_at: datetime | None = None


def _check_n(n: int) -> None:
    if n < 1:
        raise ValueError("a path has at least one touch (use attribute_path for empty paths)")


def first_touch(n: int) -> np.ndarray:
    """Credit 1 to the first of ``n`` touches."""
    _check_n(n)
    credit = np.zeros(n)
    credit[0] = 1.0
    return credit


def last_touch(n: int) -> np.ndarray:
    """Credit 1 to the last of ``n`` touches."""
    _check_n(n)
    credit = np.zeros(n)
    credit[-1] = 1.0
    return credit


def last_non_direct(channels: Sequence[str], direct: str = DIRECT_CHANNEL) -> np.ndarray:
    """Credit 1 to the last touch whose channel is not ``direct``; the last touch if all are."""
    n = len(channels)
    _check_n(n)
    credit = np.zeros(n)
    for i in range(n - 1, -1, -1):
        if channels[i] != direct:
            credit[i] = 1.0
            return credit
    credit[-1] = 1.0
    return credit


def linear(n: int) -> np.ndarray:
    """Credit 1/n to each of ``n`` touches."""
    _check_n(n)
    return np.full(n, 1.0 / n)


def time_decay(
    days_before: Sequence[float], half_life_days: float = DEFAULT_HALF_LIFE_DAYS
) -> np.ndarray:
    """Credit proportional to 2^(-d/h), d = days from each touch to the conversion."""
    d = np.asarray(days_before, dtype=np.float64)
    _check_n(len(d))
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    # Shifting every d by the smallest one scales all weights alike and avoids underflow.
    w = np.exp2(-(d - d.min()) / half_life_days)
    return w / w.sum()


def position_based(n: int) -> np.ndarray:
    """U-shaped: n=1: 1; n=2: 1/2 each; n>=3: 0.4 first, 0.4 last, 0.2/(n-2) between."""
    _check_n(n)
    if n == 1:
        return np.ones(1)
    if n == 2:
        return np.full(2, 0.5)
    credit = np.full(n, 0.2 / (n - 2))
    credit[0] = credit[-1] = 0.4
    return credit


def milestone_credit(n: int, milestones: Sequence[int], weight: float) -> np.ndarray:
    """Credit ``weight`` to each milestone touch index (adding up), 0.1 split over the rest.

    With no touch left outside the milestones, the 0.1 is split evenly over the distinct
    milestone touches.
    """
    _check_n(n)
    credit = np.zeros(n)
    for i in milestones:
        credit[i] += weight
    marked = np.zeros(n, dtype=bool)
    marked[list(milestones)] = True
    rest = 1.0 - weight * len(milestones)
    others = ~marked
    if others.any():
        credit[others] += rest / others.sum()
    else:
        credit[marked] += rest / marked.sum()
    return credit


def milestone_index(times: Sequence[datetime | None], at: datetime | None) -> int:
    """Index of the last touch at or before ``at``; the first touch when there is none."""
    best = 0
    if at is None:
        return best
    for i, t in enumerate(times):
        if t is not None and t <= at:
            best = i
    return best


def w_shaped(
    times: Sequence[datetime | None], lead_at: datetime | None, opportunity_at: datetime | None
) -> np.ndarray:
    """W-shaped: 0.3 each to the first, lead-creation and opportunity-creation touch, 0.1 rest."""
    n = len(times)
    _check_n(n)
    ms = [0, milestone_index(times, lead_at), milestone_index(times, opportunity_at)]
    return milestone_credit(n, ms, W_SHAPED_MILESTONE_WEIGHT)


def full_path(
    times: Sequence[datetime | None],
    lead_at: datetime | None,
    opportunity_at: datetime | None,
    closed_at: datetime | None,
) -> np.ndarray:
    """Z-shaped: as ``w_shaped`` plus the close touch, 0.225 each milestone, 0.1 the rest."""
    n = len(times)
    _check_n(n)
    ms = [
        0,
        milestone_index(times, lead_at),
        milestone_index(times, opportunity_at),
        milestone_index(times, closed_at),
    ]
    return milestone_credit(n, ms, FULL_PATH_MILESTONE_WEIGHT)


def _days_before(touches: Sequence[Touch], converted_at: datetime | None) -> list[float]:
    if converted_at is None:
        raise ValueError("time_decay needs the conversion time (Milestones.converted_at)")
    days = []
    for t in touches:
        if t.touched_at is None:
            raise ValueError(f"time_decay needs touch times; touch {t} has none")
        days.append((converted_at - t.touched_at).total_seconds() / 86400.0)
    return days


def path_credit(
    model: str,
    touches: Sequence[Touch],
    milestones: Milestones | None = None,
    *,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> np.ndarray:
    """Credit per touch of a non-empty path (time order) under one rule-based model."""
    n = len(touches)
    _check_n(n)
    ms = milestones or Milestones()
    times = [t.touched_at for t in touches]
    if model == "first_touch":
        return first_touch(n)
    if model == "last_touch":
        return last_touch(n)
    if model == "last_non_direct":
        return last_non_direct([t.channel for t in touches])
    if model == "linear":
        return linear(n)
    if model == "time_decay":
        return time_decay(_days_before(touches, ms.converted_at), half_life_days)
    if model == "position_based":
        return position_based(n)
    if model == "w_shaped":
        return w_shaped(times, ms.lead_at, ms.opportunity_at)
    if model == "full_path":
        return full_path(times, ms.lead_at, ms.opportunity_at, ms.closed_at)
    raise ValueError(f"unknown rule-based model {model!r}; known: {', '.join(HEURISTIC_MODELS)}")


def attribute_path(
    model: str,
    touches: Sequence[Touch],
    milestones: Milestones | None = None,
    *,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> list[tuple[Touch, float]]:
    """Each touch of one conversion's path with its credit; an empty path is one ``(none)`` touch.

    The credits sum to 1.
    """
    if not touches:
        if model not in HEURISTIC_MODELS:
            raise ValueError(f"unknown rule-based model {model!r}")
        return [(NONE_TOUCH, 1.0)]
    credit = path_credit(model, touches, milestones, half_life_days=half_life_days)
    return list(zip(touches, credit.tolist(), strict=True))
