"""Write ``dbt_project/seeds/fx_rates_daily.csv``: daily rates to the reporting currency (USD).

The rates are synthetic (a seeded random walk around real-world levels) so that the demo and the
tests have a rate for every day; with real data, replace the seed with your rates source (same
columns: rate_date, currency, rate_to_usd; amount_usd = amount * rate_to_usd).

From :data:`ANCHOR` on the walk runs forwards to :data:`END`; before it a second walk, with its
own random stream, runs backwards to :data:`START`. So reaching further back (a simulated company
with a longer history) adds days without changing any rate from ``ANCHOR`` on.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

# 2014: the simulator's longest history the benchmark builds (ten years before today) with room
START, ANCHOR, END = date(2014, 1, 1), date(2024, 1, 1), date(2028, 12, 31)
LEVELS = {"EUR": 1.08, "GBP": 1.27, "CAD": 0.74, "AUD": 0.66, "USD": 1.0}


def walk(first: date, last: date, step: timedelta, seed: int) -> Iterator[tuple[date, dict]]:
    """Each day from ``first`` to ``last`` (``step`` +1 or -1 day) with every currency's rate:
    a daily step of 0.3% volatility pulled 2% of the way back to its level."""
    rng = random.Random(seed)
    rates = dict(LEVELS)
    day = first
    while (day <= last) if step.days > 0 else (day >= last):
        for currency in sorted(rates):
            if currency != "USD":
                drift = (LEVELS[currency] - rates[currency]) * 0.02
                rates[currency] = max(0.01, rates[currency] * (1 + rng.gauss(0, 0.003)) + drift)
        yield day, dict(rates)
        day += step


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "fx_rates_daily.csv"
    one_day = timedelta(days=1)
    before = reversed(list(walk(ANCHOR - one_day, START, -one_day, 20231231)))
    after = walk(ANCHOR, END, one_day, 20240101)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rate_date", "currency", "rate_to_usd"])
        for days in (before, after):
            for day, rates in days:
                for currency in sorted(rates):
                    writer.writerow([day.isoformat(), currency, f"{rates[currency]:.6f}"])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
