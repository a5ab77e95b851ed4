"""Money in the marts (DOMAIN.md: money): converted at the day's rate; a missing rate fails the
build naming the currency and the day, never a silent 1.0."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from revops.transform import DbtError, run_dbt

pytestmark = pytest.mark.slow
RATES = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "fx_rates_daily.csv"
SELECT = [
    "build",
    "--select",
    "+fct_ad_spend_daily",
    "--exclude",
    "test_type:unit",
    # only the tests whose every parent this subset builds (not those reaching attribution)
    "--indirect-selection",
    "buildable",
]


def seed_rate(day: str, currency: str) -> Decimal:
    with RATES.open() as handle:
        for row in csv.DictReader(handle):
            if row["rate_date"] == day and row["currency"] == currency:
                return Decimal(row["rate_to_usd"])
    raise AssertionError(f"no {currency} rate for {day} in the seed")


def load_raw_google_ads(url: str, currency: str, day: date, cost_micros: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema raw_google_ads")
        conn.execute(
            "create table raw_google_ads.customers (customer__id text, "
            "customer__descriptive_name text, customer__currency_code text, "
            "customer__time_zone text)"
        )
        conn.execute(
            "insert into raw_google_ads.customers values ('111', 'Acme', %s, 'Europe/Berlin')",
            (currency,),
        )
        conn.execute(
            "create table raw_google_ads.campaigns (campaign__id text, customer__id "
            "text, campaign__name text, campaign__status text, "
            "campaign__advertising_channel_type text)"
        )
        conn.execute(
            "insert into raw_google_ads.campaigns values ('9', '111', 'Brand', 'ENABLED', 'SEARCH')"
        )
        conn.execute(
            "create table raw_google_ads.campaign_daily (customer__id text, "
            "campaign__id text, segments__date date, metrics__impressions text, "
            "metrics__clicks text, metrics__cost_micros text, "
            "metrics__conversions double precision)"
        )
        conn.execute(
            "insert into raw_google_ads.campaign_daily values "
            "('111', '9', %s, '1000', '40', %s, 2)",
            (day, str(cost_micros)),
        )
        # the other ad platforms, empty: the mart unions them
        conn.execute("create schema raw_meta_ads")
        conn.execute(
            "create table raw_meta_ads.ad_insights (account_id text, campaign_id text, "
            "campaign_name text, ad_id text, date_start date, spend text, "
            "account_currency text, impressions text, clicks text, "
            "account_timezone text)"
        )
        conn.execute("create schema raw_linkedin_ads")
        conn.execute(
            "create table raw_linkedin_ads.campaign_analytics (account_id text, "
            "campaign_id text, date date, cost_in_local_currency text, "
            "account_currency text, impressions bigint, clicks bigint, "
            "external_website_conversions double precision, time_zone text)"
        )
        conn.execute(
            "create table raw_linkedin_ads.campaigns (id text, account text, "
            "name text, objective_type text, status text)"
        )


def test_spend_is_converted_at_the_rate_of_its_own_day(fresh_db: str) -> None:
    load_raw_google_ads(fresh_db, "EUR", date(2026, 3, 1), 12_500_000)
    run_dbt(SELECT, fresh_db, quiet=True)
    with psycopg.connect(fresh_db) as conn:
        spend, currency, reporting = conn.execute(
            "select spend, currency, spend_reporting from marts.fct_ad_spend_daily"
        ).fetchone()
    assert (spend, currency) == (Decimal("12.5"), "EUR")
    assert reporting == Decimal("12.5") * seed_rate("2026-03-01", "EUR")


@pytest.mark.parametrize(
    ("currency", "day"), [("JPY", date(2026, 3, 1)), ("EUR", date(2030, 6, 1))]
)
def test_a_missing_rate_fails_the_build_naming_currency_and_day(
    fresh_db: str, currency: str, day: date
) -> None:
    load_raw_google_ads(fresh_db, currency, day, 1_000_000)
    with pytest.raises(DbtError) as err:
        run_dbt(SELECT, fresh_db, quiet=True)
    assert f"missing fx rate: no {currency} rate for {day.isoformat()}" in str(err.value)
