"""Report periods: ISO weeks (``2026-W46``) and calendar months (``2026-11``), in UTC.

Pure functions, no clock and no database: the caller says which day it is (in Airflow, the
run's ``data_interval_start``), so a rerun or a backfill reports on the same period.
A period is half-open: ``start`` is its first day, ``end`` the first day after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

Edition = Literal["weekly", "monthly"]
EDITIONS: tuple[Edition, ...] = ("weekly", "monthly")
PERIOD_TYPES: dict[str, str] = {"weekly": "week", "monthly": "month"}
"""Edition -> the ``period_type`` value the marts use for that grain."""
MONTHLY_DUE_DAYS = 7
"""The monthly edition is due during the first this-many days of the next month."""

_WEEK = re.compile(r"^(\d{4})-[Ww](\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_ACCEPTED = "an ISO week like 2026-W46 or a month like 2026-11"


@dataclass(frozen=True)
class Period:
    """One edition's reporting period: ``start`` inclusive, ``end`` exclusive (UTC days)."""

    edition: Edition
    label: str
    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        """The first instant of the period (midnight UTC)."""
        return datetime.combine(self.start, time(0), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (midnight UTC)."""
        return datetime.combine(self.end, time(0), tzinfo=UTC)

    @property
    def last_day(self) -> date:
        """The last day inside the period."""
        return self.end - timedelta(days=1)

    @property
    def period_type(self) -> str:
        """How the marts name this grain in their ``period_type`` column: ``week`` or ``month``."""
        return PERIOD_TYPES[self.edition]

    def __str__(self) -> str:
        return self.label


def week(year: int, number: int) -> Period:
    """ISO week ``number`` of ISO ``year`` (Monday to Sunday)."""
    start = date.fromisocalendar(year, number, 1)
    return Period("weekly", f"{year}-W{number:02d}", start, start + timedelta(days=7))


def month(year: int, number: int) -> Period:
    """Calendar month ``number`` (1-12) of ``year``."""
    start = date(year, number, 1)
    end = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return Period("monthly", f"{year}-{number:02d}", start, end)


def parse_period(text: str) -> Period:
    """The period a label names: ``2026-W46`` (ISO week) or ``2026-11`` (month).

    Raises ValueError naming the text and the accepted forms when it is neither.
    """
    cleaned = text.strip()
    try:
        if found := _WEEK.match(cleaned):
            return week(int(found[1]), int(found[2]))
        if found := _MONTH.match(cleaned):
            return month(int(found[1]), int(found[2]))
    except ValueError as err:  # week 54, month 13, year 0 ...
        raise ValueError(f"not a report period: {text!r} ({err}); expected {_ACCEPTED}") from None
    raise ValueError(f"not a report period: {text!r}; expected {_ACCEPTED}")


def period_of(edition: Edition, day: date) -> Period:
    """The ``edition`` period (``weekly`` or ``monthly``) that contains ``day``."""
    if isinstance(day, datetime):
        day = day.astimezone(UTC).date() if day.tzinfo else day.date()
    if edition == "weekly":
        iso = day.isocalendar()
        return week(iso.year, iso.week)
    if edition == "monthly":
        return month(day.year, day.month)
    raise ValueError(f"unknown report edition {edition!r}; expected one of {', '.join(EDITIONS)}")


def last_complete_week(today: date) -> Period:
    """The last ISO week that ended before ``today`` (the week before the one holding today)."""
    return previous(period_of("weekly", today))


def last_complete_month(today: date) -> Period:
    """The last calendar month that ended before ``today``."""
    return previous(period_of("monthly", today))


def previous(period: Period) -> Period:
    """The period of the same edition just before ``period``."""
    return period_of(period.edition, period.start - timedelta(days=1))


def due_periods(moment: date | datetime, editions: tuple[Edition, ...] = EDITIONS) -> list[Period]:
    """The periods a publish run at ``moment`` reports on, weekly first.

    Weekly: the last complete ISO week, always. Monthly: the last complete month, only during
    the first :data:`MONTHLY_DUE_DAYS` days of the next month (so a daily publish run does not
    keep offering last month's edition all month; sending stays once per run key).
    """
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    due: list[Period] = []
    if "weekly" in editions:
        due.append(last_complete_week(moment))
    if "monthly" in editions and moment.day <= MONTHLY_DUE_DAYS:
        due.append(last_complete_month(moment))
    return due
