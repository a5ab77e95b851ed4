"""The publish gate against a real PostgreSQL: a tiny good data set passes, and each way of
breaking it is caught, with the right severity, and named in the summary."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from revops.quality.gate import GateFailed, GateResult, require_pass, run_gate
from revops.warehouse import WarehouseError

T0 = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)  # a Monday
STAGES = ("lead", "mql", "sal", "sql", "opportunity", "customer")
# person -> (source channel, days after T0 at which they entered lead, mql, sal, ... in order)
PEOPLE = {
    "p1": ("paid_search", (0, 2, 3, 4, 7, 19)),
    "p2": ("email", (1, 3)),
    "p3": ("organic_search", (8,)),
    "p4": ("paid_social", (9, 10, 11, 14)),
}
MODELS = ("last_touch", "linear")

MARTS_DDL = """
create schema marts;
create table marts.fct_funnel (
    person_id text, email text, hubspot_contact_id text, mailchimp_member_id text,
    lead_at timestamptz, mql_at timestamptz, sal_at timestamptz, sql_at timestamptz,
    opportunity_at timestamptz, customer_at timestamptz,
    source_channel text, source text, source_campaign text
);
create table marts.rpt_funnel_weekly (
    week_start date, source_channel text, leads bigint, mqls bigint, sals bigint, sqls bigint,
    opportunities bigint, customers bigint
);
create table marts.fct_ad_spend_daily (
    date_day date, platform text, account_id text, campaign_id text, campaign_name text,
    channel text, spend numeric, currency text, impressions bigint, clicks bigint,
    platform_conversions double precision, time_zone text
);
create table marts.fct_attribution (
    conversion_id text, conversion_type text, person_id text, converted_at timestamptz,
    touchpoint_id text, touched_at timestamptz, model text, credit double precision,
    channel text, campaign_id text, campaign_name text
);
"""

# rpt_funnel_weekly computed from fct_funnel the way the dbt model does (dense weeks x channels)
WEEKLY_FROM_FUNNEL = """
insert into marts.rpt_funnel_weekly
with entries as (
    select date_trunc('week', s.at at time zone 'UTC')::date as week_start,
        f.source_channel, s.stage
    from marts.fct_funnel as f
    cross join lateral (values ('lead', f.lead_at), ('mql', f.mql_at), ('sal', f.sal_at),
        ('sql', f.sql_at), ('opportunity', f.opportunity_at), ('customer', f.customer_at))
        as s (stage, at)
    where s.at is not null
),
weeks as (
    select generate_series(min(week_start), max(week_start), interval '1 week')::date
        as week_start
    from entries
),
channels as (select distinct source_channel from marts.fct_funnel)
select weeks.week_start, channels.source_channel,
    count(*) filter (where entries.stage = 'lead'),
    count(*) filter (where entries.stage = 'mql'),
    count(*) filter (where entries.stage = 'sal'),
    count(*) filter (where entries.stage = 'sql'),
    count(*) filter (where entries.stage = 'opportunity'),
    count(*) filter (where entries.stage = 'customer')
from weeks
cross join channels
left join entries
    on entries.week_start = weeks.week_start and entries.source_channel = channels.source_channel
group by weeks.week_start, channels.source_channel
"""


def build_good_marts(url: str) -> None:
    """Create schema ``marts`` with the four marts holding a small, consistent data set:
    4 people (lead 4, mql 3, sal 2, sql 2, opportunity 1, customer 1), 3 weeks, 2 attribution
    models over 2 touches per person, 3 days of spend."""
    funnel, attribution = [], []
    for person, (channel, days) in PEOPLE.items():
        at = {stage: T0 + dt.timedelta(days=d) for stage, d in zip(STAGES, days, strict=False)}
        funnel.append(
            (
                person,
                f"{person}@example.com",
                f"hs-{person}",
                None,
                *(at.get(stage) for stage in STAGES),
                channel,
                "PAID_SEARCH",
                None,
            )
        )
        touches = [  # (touchpoint, touched_at, channel); t2 is the last touch
            (f"{person}-t1", at["lead"] - dt.timedelta(days=2), channel),
            (f"{person}-t2", at["lead"] - dt.timedelta(days=1), "email"),
        ]
        for stage, converted_at in at.items():
            if stage == "sal":
                continue
            for model in MODELS:
                for i, (touch, touched_at, touch_channel) in enumerate(touches):
                    credit = 0.5 if model == "linear" else float(i == len(touches) - 1)
                    if credit:
                        attribution.append(
                            (
                                f"{person}:{stage}",
                                stage,
                                person,
                                converted_at,
                                touch,
                                touched_at,
                                model,
                                credit,
                                touch_channel,
                                "c1",
                                "Campaign one",
                            )
                        )
    spend = [
        (
            dt.date(2024, 1, 1),
            "google_ads",
            "a1",
            "c1",
            "Brand",
            "paid_search",
            "10.50",
            "USD",
            1000,
            50,
            2.0,
            "America/New_York",
        ),
        (
            dt.date(2024, 1, 2),
            "google_ads",
            "a1",
            "c1",
            "Brand",
            "paid_search",
            "12.00",
            "USD",
            900,
            40,
            1.0,
            "America/New_York",
        ),
        (
            dt.date(2024, 1, 1),
            "google_ads",
            "a2",
            "c2",
            "Generic",
            "paid_search",
            "7.25",
            "EUR",
            500,
            5,
            0.0,
            "Europe/Berlin",
        ),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(MARTS_DDL)
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into marts.fct_funnel values ({', '.join(['%s'] * 13)})", funnel
            )
            cur.executemany(
                f"insert into marts.fct_attribution values ({', '.join(['%s'] * 11)})",
                attribution,
            )
            cur.executemany(
                f"insert into marts.fct_ad_spend_daily values ({', '.join(['%s'] * 12)})", spend
            )
        conn.execute(WEEKLY_FROM_FUNNEL)


def sql(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture
def marts(fresh_db: str) -> Iterator[str]:
    """URL of a database holding the good marts; a test breaks one thing, then runs the gate."""
    build_good_marts(fresh_db)
    yield fresh_db


def gate(url: str, tmp_path: Path) -> GateResult:
    return run_gate(url, tmp_path / "docs")


def only_failure(result: GateResult, check: str):
    found = [f for f in result.failures if f.check == check]
    assert found, f"{check} not among failures:\n{result.summary()}"
    return found[0]


def test_good_data_passes_and_builds_data_docs(marts: str, tmp_path: Path) -> None:
    result = gate(marts, tmp_path)
    assert result.failures == [], result.summary()
    assert result.passed is True
    assert result.docs_index == (tmp_path / "docs" / "index.html").resolve()
    assert result.docs_index.is_file()
    assert "fct_attribution" in result.docs_index.read_text()
    assert result.checks_run > 50
    assert result.summary().startswith("Quality gate PASSED")
    assert require_pass(result) is result
    assert json.loads(json.dumps(result.to_dict()))["passed"] is True


@pytest.mark.parametrize(
    ("breakage", "check", "expectation", "observed"),
    [
        pytest.param(
            "insert into marts.fct_funnel select * from marts.fct_funnel where person_id = 'p3'",
            "fct_funnel.person_id_unique",
            "expect_column_values_to_be_unique",
            "2 of 5 rows (40.0%); e.g. 'p3' x2",
            id="duplicate person_id",
        ),
        pytest.param(
            "update marts.fct_ad_spend_daily set spend = -5 where campaign_id = 'c2'",
            "fct_ad_spend_daily.spend_not_negative",
            "expect_column_values_to_be_between",
            "1 of 3 rows (33.3%); e.g. -5",
            id="negative spend",
        ),
        pytest.param(
            "update marts.fct_ad_spend_daily set currency = null where campaign_id = 'c2'",
            "fct_ad_spend_daily.currency_not_null",
            "expect_column_values_to_not_be_null",
            "1 of 3 rows (33.3%) null",
            id="missing currency",
        ),
        pytest.param(
            "update marts.fct_funnel set mql_at = lead_at - interval '1 hour' "
            "where person_id = 'p2'",
            "fct_funnel.mql_at_not_before_lead_at",
            "expect_column_pair_values_a_to_be_greater_than_b",
            "1 of 4 rows (25.0%); "
            "e.g. (mql_at=2024-01-02 08:00:00+00:00, lead_at=2024-01-02 09:00:00+00:00)",
            id="funnel goes backwards",
        ),
        pytest.param(
            "update marts.fct_attribution set credit = 0.4 "
            "where conversion_id = 'p1:lead' and model = 'linear' and touchpoint_id = 'p1-t1'",
            "fct_attribution.credit_sums_to_1",
            "unexpected_rows_expectation",
            "1 offending row: (conversion_id='p1:lead', model='linear', credit_sum=0.9, touches=2)",
            id="credits sum to 0.9",
        ),
        pytest.param(
            "delete from marts.fct_attribution where conversion_id = 'p2:mql'",
            "fct_attribution.conversions_match_fct_funnel",
            "unexpected_rows_expectation",
            "2 offending rows: (model='last_touch', conversion_type='mql', people_in_funnel=3, "
            "attributed_conversions=2); (model='linear', conversion_type='mql', "
            "people_in_funnel=3, attributed_conversions=2)",
            id="attributed MQLs differ from the funnel's",
        ),
        pytest.param(
            "delete from marts.rpt_funnel_weekly where week_start = '2024-01-08'",
            "rpt_funnel_weekly.no_missing_week",
            "unexpected_rows_expectation",
            "1 offending row: (missing_week=2024-01-08)",
            id="missing week",
        ),
        pytest.param(
            "update marts.fct_funnel set sal_at = null where person_id = 'p4'",
            "fct_funnel.no_stage_skipped",
            "unexpected_rows_expectation",
            "1 offending row: (person_id='p4', lead_at=2024-01-10 09:00:00+00:00, "
            "mql_at=2024-01-11 09:00:00+00:00, sal_at=null, sql_at=2024-01-15 09:00:00+00:00, "
            "opportunity_at=null, customer_at=null)",
            id="stage skipped",
        ),
        pytest.param(
            "update marts.rpt_funnel_weekly set customers = customers + 1 "
            "where week_start = '2024-01-15' and source_channel = 'email'",
            "rpt_funnel_weekly.totals_match_fct_funnel",
            "unexpected_rows_expectation",
            "1 offending row: (measure='customers', in_fct_funnel=1, in_report=2)",
            id="weekly totals differ from the funnel",
        ),
    ],
)
def test_each_breakage_is_blocking_and_named(
    marts: str, tmp_path: Path, breakage: str, check: str, expectation: str, observed: str
) -> None:
    sql(marts, breakage)
    result = gate(marts, tmp_path)
    assert result.passed is False
    failure = only_failure(result, check)
    assert failure.severity == "blocking"
    assert failure.expectation_type == expectation
    assert failure.table == "marts." + check.split(".")[0]
    assert failure.observed == observed
    summary = result.summary()
    assert summary.startswith("Quality gate FAILED")
    assert f"BLOCKING {failure.table}: {expectation}" in summary
    assert f"[{check}]" in summary
    assert f"observed: {observed}" in summary
    assert f"expected: {failure.expected}" in summary
    with pytest.raises(GateFailed) as raised:
        require_pass(result)
    assert raised.value.result is result
    assert str(raised.value) == summary


def test_a_missing_mart_is_blocking_and_the_rest_still_runs(marts: str, tmp_path: Path) -> None:
    sql(marts, "drop table marts.fct_funnel")
    result = gate(marts, tmp_path)
    assert result.passed is False
    assert [(f.table, f.expectation_type) for f in result.failures] == [
        ("marts.fct_funnel", "table_exists")
    ]
    assert sorted(result.skipped) == [
        "fct_attribution.conversions_match_fct_funnel",
        "rpt_funnel_weekly.totals_match_fct_funnel",
    ]
    summary = result.summary()
    assert "BLOCKING marts.fct_funnel: table_exists" in summary
    assert "observed: no table or view marts.fct_funnel in the warehouse" in summary
    assert result.docs_index.is_file()


def test_an_empty_warehouse_fails_on_every_mart_without_crashing(
    fresh_db: str, tmp_path: Path
) -> None:
    result = gate(fresh_db, tmp_path)
    assert result.passed is False
    assert [(f.table, f.check) for f in result.failures] == [
        ("marts.fct_funnel", "fct_funnel.exists"),
        ("marts.rpt_funnel_weekly", "rpt_funnel_weekly.exists"),
        ("marts.fct_ad_spend_daily", "fct_ad_spend_daily.exists"),
        ("marts.fct_attribution", "fct_attribution.exists"),
    ]
    assert result.docs_index.is_file()


def test_a_warning_only_problem_passes_with_the_warning_listed(marts: str, tmp_path: Path) -> None:
    sql(
        marts,
        "update marts.fct_ad_spend_daily set platform_conversions = null where campaign_id = 'c2'",
    )
    result = gate(marts, tmp_path)
    assert result.passed is True
    assert result.blocking == []
    assert [f.check for f in result.warnings] == [
        "fct_ad_spend_daily.platform_conversions_not_null"
    ]
    summary = result.summary()
    assert "PASSED" in summary and "1 warning" in summary
    assert "WARNING marts.fct_ad_spend_daily: expect_column_values_to_not_be_null" in summary
    assert require_pass(result) is result


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_the_password_never_appears_in_summary_exception_or_docs(
    marts: str, tmp_path: Path
) -> None:
    # The embedded test server trusts local connections, so any password is accepted; an
    # external test server's own password is the one that must not leak.
    password = urlsplit(marts).password or "Hunter2-s3cret"
    url = marts if urlsplit(marts).password else _with_password(marts, password)
    sql(
        marts,
        "drop table marts.fct_attribution; "
        "update marts.fct_ad_spend_daily set spend = -1 where campaign_id = 'c1'",
    )
    result = gate(url, tmp_path)
    assert result.passed is False
    with pytest.raises(GateFailed) as raised:
        require_pass(result)
    texts = [result.summary(), str(raised.value), json.dumps(result.to_dict())]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "docs").rglob("*") if p.is_file()]
    assert all(password not in text for text in texts)
    assert "marts.fct_attribution" in str(raised.value)


def test_an_unreachable_warehouse_raises_with_the_password_redacted(tmp_path: Path) -> None:
    url = "postgresql://bob:Hunter2-s3cret@127.0.0.1:1/revops"
    with pytest.raises(WarehouseError) as raised:
        run_gate(url, tmp_path / "docs")
    assert "Hunter2-s3cret" not in str(raised.value)
    assert "postgresql://bob:***@127.0.0.1:1/revops" in str(raised.value)


SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _system_postgres_reachable() -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


@pytest.mark.skipif(not _system_postgres_reachable(),
                    reason="no PostgreSQL server on 127.0.0.1:5432 (the gate runs on the "
                           "embedded PostgreSQL 16 in the other tests)")
def test_the_gate_passes_good_data_and_catches_bad_data_on_postgresql_15(tmp_path: Path) -> None:
    """PostgreSQL before 16 demands an alias on every subquery in FROM: every check must run."""
    import uuid

    import psycopg

    name = f"revops_gate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SYSTEM_PG, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = SYSTEM_PG.rsplit("/", 1)[0] + f"/{name}"
    try:
        build_good_marts(url)
        result = gate(url, tmp_path)
        assert result.passed, result.summary()
        assert "could not be evaluated" not in result.summary()
        sql(url, "update marts.fct_attribution set credit = 0.5 where ctid = "
                 "(select min(ctid) from marts.fct_attribution)")
        broken = gate(url, tmp_path / "broken")
        assert not broken.passed
        assert "fct_attribution.credit_sums_to_1" in broken.summary()
    finally:
        with psycopg.connect(SYSTEM_PG, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
