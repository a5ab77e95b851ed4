"""Write ``dbt_project/seeds/fx_rates_daily.csv``: daily rates to the reporting currency (USD).

The rates are synthetic (a seeded random walk around real-world levels) so that the demo and the
tests have a rate for every day; with real data, replace the seed with your rates source (same
columns: rate_date, currency, rate_to_usd; amount_usd = amount * rate_to_usd).
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

START, END = date(2024, 1, 1), date(2028, 12, 31)
LEVELS = {"EUR": 1.08, "GBP": 1.27, "CAD": 0.74, "AUD": 0.66, "USD": 1.0}


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "fx_rates_daily.csv"
    rng = random.Random(20240101)
    rates = dict(LEVELS)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rate_date", "currency", "rate_to_usd"])
        day = START
        while day <= END:
            for currency in sorted(rates):
                if currency != "USD":
                    drift = (LEVELS[currency] - rates[currency]) * 0.02
                    rates[currency] = max(0.01, rates[currency] * (1 + rng.gauss(0, 0.003)) + drift)
                writer.writerow([day.isoformat(), currency, f"{rates[currency]:.6f}"])
            day += timedelta(days=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
