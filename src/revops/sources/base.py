"""What every connector shares: stream declarations, record flattening, time helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Stream:
    """One stream of a source, declared as data: what it is called, keyed and tracked by."""

    name: str
    primary_key: str | tuple[str, ...]
    cursor: str | None  # None: a small table re-read in full every run (merged on the key)
    path: str
    lookback_days: int = 0  # re-read this many days behind the cursor (restated metrics)


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """``costMicros`` -> ``cost_micros`` (the vendors' camelCase JSON keys to column names)."""
    return _CAMEL.sub(r"_\1", name).lower()


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``parent__child`` columns; lists are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        column = f"{prefix}{snake(key)}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{column}__"))
        else:
            flat[column] = value
    return flat


def parse_ts(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset) as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (HubSpot's format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def days(start: date, end: date) -> list[date]:
    """Every day in ``[start, end)``."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def default_until() -> datetime:
    """The end of an extraction window when no scheduler gives one: now, to the second, UTC."""
    return datetime.now(UTC).replace(microsecond=0)
