"""Numbers as the report prints them: money in whole units of the reporting currency, counts
with thousands separators, rates in percent, changes against the previous period.

Pure functions, so the HTML, the plain text, the PDF and the tests format alike.
"""

from __future__ import annotations

from dataclasses import dataclass

NA = "n/a"


def fmt_count(value: float | None) -> str:
    """``1234`` -> ``1,234``; a fractional credit keeps one decimal (``2.5``); None -> n/a."""
    if value is None:
        return NA
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def fmt_money(value: float | None, currency: str) -> str:
    """``1234.5, 'USD'`` -> ``USD 1,235`` (whole units); None -> n/a."""
    if value is None:
        return NA
    rounded = round(value)
    return f"{currency} {0 if rounded == 0 else rounded:,}"


def fmt_rate(value: float | None) -> str:
    """``0.42857`` -> ``42.9%``; None -> n/a."""
    return NA if value is None else f"{value * 100:.1f}%"


def fmt_roas(value: float | None) -> str:
    """``2.345`` -> ``2.35x``; None (no spend) -> n/a."""
    return NA if value is None else f"{value:.2f}x"


def fmt_hours(value: float | None) -> str:
    """``5.25`` -> ``5.3 h``; None -> n/a."""
    return NA if value is None else f"{value:.1f} h"


@dataclass(frozen=True)
class Change:
    """A figure now and in the previous period, and whether up is good."""

    current: float | None
    previous: float | None
    higher_is_better: bool = True

    @property
    def delta(self) -> float | None:
        """current - previous; None if either is unknown."""
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """delta / previous; None when previous is zero or unknown."""
        delta = self.delta
        if delta is None or not self.previous:
            return None
        return delta / self.previous

    @property
    def trend(self) -> str:
        """``good``, ``bad`` or ``flat`` (for colour): up is good unless lower is better."""
        delta = self.delta
        if delta is None or abs(delta) < 1e-9:
            return "flat"
        return "good" if (delta > 0) == self.higher_is_better else "bad"

    @property
    def arrow(self) -> str:
        """``▲``, ``▼`` or an empty string."""
        delta = self.delta
        if delta is None or abs(delta) < 1e-9:
            return ""
        return "\u25b2" if delta > 0 else "\u25bc"


def fmt_change(change: Change, kind: str, currency: str = "") -> str:
    """The change as the report prints it.

    counts: ``+2 (+40.0%)``, ``+3 (new)``; money: ``+12.5%``, ``new``; rates: ``+2.9 pp``;
    ``no change`` when equal, ``n/a`` when either side is unknown.
    """
    delta = change.delta
    if delta is None:
        return NA
    if kind == "rate":
        points = round(delta * 100, 1)
        return "no change" if points == 0 else f"{points:+.1f} pp"
    if abs(delta) < 1e-9:
        return "no change"
    relative = change.relative
    rel_text = "new" if relative is None else f"{relative * 100:+.1f}%"
    if kind == "money":
        if relative is None:
            return f"+{fmt_money(delta, currency)} (new)" if delta > 0 else NA
        return rel_text
    sign = "+" if delta > 0 else "-"
    return f"{sign}{fmt_count(abs(delta))} ({rel_text})"


def fmt_value(value: float | None, kind: str, currency: str) -> str:
    """A headline value: money, count or rate."""
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "rate":
        return fmt_rate(value)
    return fmt_count(value)
