"""Small deterministic building blocks shared by the generators (``company``, ``social``, ``crm``).

Everything random is keyed: a ``random.Random`` seeded with a string naming what it decides, or
:func:`unit`, a uniform number in [0, 1) hashed from its key. Nothing depends on call order, so
adding a new kind of record never changes existing ones.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "business_time",
    "cumulative",
    "day_bounds",
    "lag",
    "ms_of",
    "poisson",
    "restate_down",
    "restate_up",
    "season",
    "sfid",
    "unit",
]

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
_B62_DIGITS = tuple(_B62)
_B62_MAX = 62**10
_UPPER = frozenset(string.ascii_uppercase)


def cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    """Running sums of ``weights`` (for ``bisect``-based weighted choice)."""
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return tuple(out)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (normal approximation above 30)."""
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
    return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))


def season(day: date) -> float:
    """Mild yearly seasonality plus the end-of-year holiday dip."""
    factor = 1.0 + 0.08 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365.25)
    if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 2):
        factor *= 0.55
    return factor


def unit(key: str) -> float:
    """A uniform number in [0, 1) that depends only on ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def lag(key: str, lo_ms: int, hi_ms: int) -> int:
    """A whole-second delay in [lo_ms, hi_ms] that depends only on ``key``."""
    span = max(0, hi_ms - lo_ms)
    return (lo_ms + int(unit(key) * span)) // SECOND * SECOND


def ms_of(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(round(dt.timestamp() * 1000))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a calendar day in ``tz``, as epoch milliseconds."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return ms_of(start), ms_of(end)


def business_time(ms: int, tz: ZoneInfo, key: str) -> int:
    """``ms`` if it falls in working hours (Mon-Fri 8:00-18:30 in ``tz``), else the next
    working morning between 8:30 and 10:30 (a rep picks it up when they start)."""
    local = datetime.fromtimestamp(ms / 1000, tz=tz)
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5 and 8 * 60 <= minutes < 18 * 60 + 30:
        return ms
    day = local.date()
    if minutes >= 8 * 60 or local.weekday() >= 5:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime.combine(day, time(8, 30), tzinfo=tz)
    return ms_of(start) + lag(key, 0, 2 * HOUR)


def restate_up(
    final: int, day_end_ms: int, as_of_ms: int, key: str, pct: float, days: float
) -> int:
    """``final`` as reported before the platform finished filtering invalid activity: a little
    more (up to ``pct``), shrinking to exactly ``final`` ``days`` after the day ended."""
    age = as_of_ms - day_end_ms
    window = days * DAY
    if final <= 0 or age >= window:
        return final
    remaining = 1.0 - max(0, age) / window
    return final + int(round(final * pct * unit(key) * remaining))


def restate_down(
    final: int, day_end_ms: int, as_of_ms: int, key: str, pct: float, days: float
) -> int:
    """``final`` as reported while late data still arrives: a little less (up to ``pct``),
    growing to exactly ``final`` ``days`` after the day ended."""
    age = as_of_ms - day_end_ms
    window = days * DAY
    if final <= 0 or age >= window:
        return final
    remaining = 1.0 - max(0, age) / window
    return max(0, final - int(round(final * pct * unit(key) * remaining)))


def sfid(prefix: str, number: int) -> str:
    """An 18-character Salesforce id: key prefix, pod ``5g``, a base-62 number, and the
    case-safe checksum suffix (ids sort by ``number``)."""
    if not 0 <= number < _B62_MAX:
        raise ValueError(f"Salesforce id number out of range: {number}")
    digits = _B62_DIGITS
    chars = [""] * 10
    n = number
    for i in range(9, -1, -1):
        n, r = divmod(n, 62)
        chars[i] = digits[r]
    body = prefix + "5g" + "".join(chars)
    upper = _UPPER
    suffix = (
        _SUFFIX[sum(1 << i for i in range(5) if body[i] in upper)]
        + _SUFFIX[sum(1 << i for i in range(5) if body[5 + i] in upper)]
        + _SUFFIX[sum(1 << i for i in range(5) if body[10 + i] in upper)]
    )
    return body + suffix


def utc_date(ms: int) -> date:
    """The UTC calendar date of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()
