"""The raw layer of the gate: what dlt loaded is fresh, complete, keyed, and its money and
currencies are sane. Streams come from the connectors' declarations at run time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from test_publish_data import AS_OF, OPPORTUNITIES, build_world, sql

from revops.quality import raw
from revops.quality.gate import GateResult, run_gate
from revops.quality.suites import Catalog, GateConfig, GateContext
from revops.reports.periods import parse_period


@pytest.fixture
def world(fresh_db: str) -> str:
    build_world(fresh_db)
    return fresh_db


def failure(result: GateResult, check: str):
    found = [f for f in result.failures if f.check == check]
    assert found, f"{check} not among failures:\n{result.summary()}"
    return found[0]


def test_broken_raw_data_is_caught_and_named_per_source_and_table(
    world: str, tmp_path: Path
) -> None:
    first, second = OPPORTUNITIES[0].opportunity_id, OPPORTUNITIES[1].opportunity_id
    sql(
        world,
        f"""
        -- mailchimp has not loaded for three days
        update raw_mailchimp._dlt_loads set inserted_at = inserted_at - interval '3 days';
        -- Google Ads delivered 10 of its 24 campaign rows for Sunday (and the mart was built
        -- from them, so only the volume check can tell)
        delete from raw_google_ads.campaign_daily
            where segments__date = '2026-11-15' and campaign__id > '110';
        delete from marts.fct_ad_spend_daily
            where date_day = '2026-11-15' and campaign_id > '110';
        -- a contact landed twice, a deal lost its id, another has a currency nobody has rates for
        insert into raw_hubspot.contacts select * from raw_hubspot.contacts where id = '1005';
        alter table raw_hubspot.deals alter column id drop not null;
        update raw_hubspot.deals set id = null where id = '{first}';
        update raw_hubspot.deals set deal_currency_code = 'XYZ' where id = '{second}';
        -- a negative cost
        update raw_google_ads.campaign_daily set metrics__cost_micros = '-5000000'
            where segments__date = '2026-10-01' and campaign__id = '101';
    """,
    )
    config = GateConfig(
        raw_required_sources=("hubspot", "google_ads", "mailchimp", "salesforce"), source="test"
    )
    result = run_gate(
        world, tmp_path / "docs", config, periods=[parse_period("2026-W46")], as_of=AS_OF
    )
    assert result.passed is False
    expected = {
        "raw_mailchimp.freshness": "1 offending row: (source='raw_mailchimp', "
        "newest_load=2026-11-13 02:00:00+00:00, age_hours=76.0)",
        "raw_google_ads.campaign_daily.volume": "1 offending row: (newest_day=2026-11-15, "
        "rows_that_day=10, usual_rows_that_weekday=24, history_days=4)",
        "raw_hubspot.contacts.primary_key_unique": "1 offending row: (id='1005', copies=2)",
        "raw_hubspot.deals.primary_key_present": "1 offending row: (id=null)",
        "raw_hubspot.deals.deal_currency_code_known_currency": "1 offending row: "
        "(currency='XYZ', rows_with_it=1)",
        "raw_google_ads.campaign_daily.metrics__cost_micros_not_negative": "1 offending row: "
        "(customer__id='100', campaign__id='101', segments__date=2026-10-01, "
        "metrics__cost_micros='-5000000')",
        "raw_salesforce.freshness": "no raw_salesforce schema (or no _dlt_loads) in the "
        "warehouse: never loaded",
    }
    for check, observed in expected.items():
        found = failure(result, check)
        assert found.observed == observed, check
        assert found.severity == "blocking"
    assert failure(result, "raw_mailchimp.freshness").table == "raw_mailchimp._dlt_loads"
    assert failure(result, "raw_google_ads.campaign_daily.volume").expected == (
        "at least 60% of the median of the same weekday over the previous 4 weeks"
    )
    # the raw layer comes first; the marts' reconciliation of spend with staging is dbt's
    # (assert_ad_spend_matches_staging), which the gate reads rather than re-runs
    assert result.failures[0].table.startswith("raw_")
    assert all(f.table.startswith("raw_") for f in result.failures)
    # what was not broken still passes: the other streams' volume, keys and currencies
    failed = {f.check for f in result.failures}
    for fine in (
        "raw_mailchimp.email_activity.volume",
        "raw_hubspot.freshness",
        "raw_google_ads.customers.customer__currency_code_known_currency",
        "raw_mailchimp.email_activity.primary_key_unique",
    ):
        assert fine not in failed
    summary = result.summary()
    assert (
        "BLOCKING raw_google_ads.campaign_daily: offending_rows_expectation on rows of the "
        "newest complete day of segments__date [raw_google_ads.campaign_daily.volume]" in summary
    )


# -- the volume rule, on its own ----------------------------------------------------------------

VOLUME_CONFIG = GateConfig(source="test")
CATALOG = Catalog(
    {
        "raw_mailchimp": {
            "_dlt_loads": ("load_id", "status", "inserted_at"),
            "email_activity": ("campaign_id", "email_id", "action", "timestamp"),
        }
    }
)


def _volume_sql(as_of: datetime) -> str:
    plan = raw.plan(VOLUME_CONFIG, GateContext(as_of=as_of, catalog=CATALOG))
    [suite] = [s.suite for s in plan.suites if s.batch_table == "email_activity"]
    [check] = [
        e for e in suite.expectations if e.meta["check"] == "raw_mailchimp.email_activity.volume"
    ]
    return check.unexpected_rows_query.replace("{batch}", "raw_mailchimp.email_activity")


def _days(url: str, counts: dict[date, int]) -> None:
    rows = [
        ("c", f"e{day.isoformat()}-{n}", "open", f"{day.isoformat()}T10:{n % 60:02d}:00Z")
        for day, count in counts.items()
        for n in range(count)
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate raw_mailchimp.email_activity")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw_mailchimp.email_activity values (%s, %s, %s, %s)", rows
            )


def _flagged(url: str, as_of: datetime) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(_volume_sql(as_of)).fetchall()


@pytest.fixture
def activity(fresh_db: str) -> str:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "create schema raw_mailchimp; create table raw_mailchimp.email_activity "
            '(campaign_id text, email_id text, action text, "timestamp" text)'
        )
    return fresh_db


def test_volume_compares_the_same_weekday_and_ignores_today(activity: str) -> None:
    first = date(2026, 10, 12)  # a Monday; five weeks to Sunday 15 Nov
    weekdays = {
        first + timedelta(days=i): (10 if (first + timedelta(days=i)).weekday() == 6 else 40)
        for i in range(35)
    }
    monday = datetime(2026, 11, 16, 6, tzinfo=UTC)
    _days(activity, {**weekdays, date(2026, 11, 16): 1})  # a quiet Sunday is usual; today ignored
    assert _flagged(activity, monday) == []
    _days(activity, {**weekdays, date(2026, 11, 16): 18})  # Monday with 18 of the usual 40
    assert _flagged(activity, monday + timedelta(days=1)) == [(date(2026, 11, 16), 18, 40.0, 4)]


def test_volume_is_not_judged_without_history_or_on_a_small_stream(activity: str) -> None:
    as_of = datetime(2026, 11, 16, 6, tzinfo=UTC)
    _days(activity, {date(2026, 11, 8): 40, date(2026, 11, 15): 2})  # one earlier Sunday only
    assert _flagged(activity, as_of) == []
    _days(
        activity,
        {date(2026, 11, 15) - timedelta(weeks=w): 12 for w in range(1, 5)}
        | {date(2026, 11, 15): 1},
    )  # a usual Sunday has 12 rows: below volume_min_rows
    assert _flagged(activity, as_of) == []


# -- what the raw layer checks, from the connectors and the catalog -----------------------------


def test_streams_come_from_the_connectors_with_dlt_column_names() -> None:
    ads = raw.streams("google_ads")
    assert ads["campaign_daily"] == raw.StreamInfo(
        "campaign_daily", ("customer__id", "campaign__id", "segments__date"), "segments__date"
    )
    assert ads["customers"].cursor is None
    assert raw.streams("salesforce")["opportunity"] == raw.StreamInfo(
        "opportunity", ("id",), "system_modstamp"
    )
    assert raw.streams("mailchimp")["email_activity"].key[:4] == (
        "campaign_id",
        "email_id",
        "action",
        "timestamp",
    )
    assert raw.streams("no_such_system") == {}


def test_the_plan_skips_what_was_never_loaded_and_says_so() -> None:
    catalog = Catalog(
        {
            "raw_hubspot": {"_dlt_loads": ("load_id",), "contacts": ("id", "lastmodifieddate")},
            "raw_google_ads": {
                "_dlt_loads": ("load_id",),
                "campaign_daily": ("customer__id", "campaign__id"),
                "customers": ("customer__id",),
            },
        }
    )
    plan = raw.plan(GateConfig(source="test"), GateContext(as_of=AS_OF, catalog=catalog))
    assert plan.missing_sources == ["mailchimp"]
    assert "raw_hubspot.deals (never loaded)" in plan.not_run
    assert "raw_google_ads.campaign_daily.volume (no cursor column segments__date)" in (
        plan.not_run
    )
    assert (
        "raw_google_ads.campaign_daily.metrics__cost_micros_not_negative (no such column)"
        in plan.not_run
    )
    assert (
        "raw_google_ads.customers.customer__currency_code_known_currency (no such column)"
        in plan.not_run
    )
    assert "raw_meta_ads.* (source not loaded; not required)" in plan.not_run
    checks = {e.meta["check"] for s in plan.suites for e in s.suite.expectations}
    assert {
        "raw_hubspot.freshness",
        "raw_hubspot.contacts.volume",
        "raw_hubspot.contacts.primary_key_unique",
        "raw_google_ads.campaign_daily.primary_key_present",
    } <= checks
