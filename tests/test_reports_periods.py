"""Report periods: parsing labels, the last complete week, the previous period (pure logic)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from revops.reports.periods import (
    Period,
    due_periods,
    last_complete_month,
    last_complete_week,
    parse_period,
    period_of,
    previous,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-W46", Period("weekly", "2026-W46", date(2026, 11, 9), date(2026, 11, 16))),
        (" 2026-w1 ", Period("weekly", "2026-W01", date(2025, 12, 29), date(2026, 1, 5))),
        ("2026-W53", Period("weekly", "2026-W53", date(2026, 12, 28), date(2027, 1, 4))),
        ("2026-11", Period("monthly", "2026-11", date(2026, 11, 1), date(2026, 12, 1))),
        ("2026-12", Period("monthly", "2026-12", date(2026, 12, 1), date(2027, 1, 1))),
        ("2024-2", Period("monthly", "2024-02", date(2024, 2, 1), date(2024, 3, 1))),
    ],
)
def test_parse_period_reads_weeks_and_months(text: str, expected: Period) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-W53",
        "2026-W00",
        "2026-W54",
        "2026-13",
        "2026-00",
        "2026/11",
        "W46",
        "2026-11-09",
        "",
        "last week",
    ],
)
def test_parse_period_refuses_bad_text_naming_it_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_period(text)
    message = str(err.value)
    assert repr(text) in message
    assert "2026-W46" in message and "2026-11" in message


def test_period_bounds_are_utc_instants_with_an_exclusive_end() -> None:
    week = parse_period("2026-W46")
    assert week.start_at == datetime(2026, 11, 9, tzinfo=UTC)
    assert week.end_at == datetime(2026, 11, 16, tzinfo=UTC)
    assert week.last_day == date(2026, 11, 15)
    assert str(week) == "2026-W46"


@pytest.mark.parametrize(
    ("today", "label"),
    [
        (date(2026, 11, 16), "2026-W46"),  # Monday: the week just ended
        (date(2026, 11, 15), "2026-W45"),  # Sunday: its own week is not over yet
        (date(2026, 11, 19), "2026-W46"),
        (date(2026, 1, 1), "2025-W52"),  # Thursday of 2026-W01
        (date(2027, 1, 4), "2026-W53"),
    ],
)
def test_last_complete_week_is_the_week_before_today(today: date, label: str) -> None:
    assert last_complete_week(today).label == label


def test_last_complete_month() -> None:
    assert last_complete_month(date(2026, 1, 1)) == parse_period("2025-12")
    assert last_complete_month(date(2026, 11, 30)) == parse_period("2026-10")


@pytest.mark.parametrize(
    ("label", "before"),
    [
        ("2026-W46", "2026-W45"),
        ("2026-W01", "2025-W52"),
        ("2027-W01", "2026-W53"),
        ("2026-01", "2025-12"),
        ("2026-03", "2026-02"),
    ],
)
def test_previous_period_is_the_same_edition_just_before(label: str, before: str) -> None:
    period = previous(parse_period(label))
    assert period == parse_period(before)
    assert period.end == parse_period(label).start


def test_period_of_a_datetime_uses_its_utc_day() -> None:
    # Monday 00:30 in Berlin is still Sunday in UTC: the week before.
    berlin = timezone(timedelta(hours=1))
    assert period_of("weekly", datetime(2026, 11, 16, 0, 30, tzinfo=berlin)).label == "2026-W46"
    assert period_of("monthly", date(2026, 11, 30)).label == "2026-11"
    with pytest.raises(ValueError, match="quarterly"):
        period_of("quarterly", date(2026, 11, 30))  # type: ignore[arg-type]


def test_period_type_is_how_the_marts_name_the_grain() -> None:
    assert parse_period("2026-W46").period_type == "week"
    assert parse_period("2026-11").period_type == "month"


@pytest.mark.parametrize(
    ("moment", "labels"),
    [
        (datetime(2026, 11, 16, 6, tzinfo=UTC), ["2026-W46"]),
        (datetime(2026, 12, 1, 0, 30, tzinfo=UTC), ["2026-W48", "2026-11"]),
        (datetime(2026, 12, 7, 23, tzinfo=UTC), ["2026-W49", "2026-11"]),
        (datetime(2026, 12, 8, tzinfo=UTC), ["2026-W49"]),
        (date(2027, 1, 4), ["2026-W53", "2026-12"]),
    ],
)
def test_due_periods_are_the_last_week_and_in_a_months_first_week_the_last_month(
    moment: datetime | date, labels: list[str]
) -> None:
    assert [p.label for p in due_periods(moment)] == labels
    assert [p.label for p in due_periods(moment, ("weekly",))] == labels[:1]
