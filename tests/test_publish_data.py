"""A small, consistent warehouse for the gate, report and publish tests: raw tables as dlt lands
them and every mart the report reads, derived from one generated company so that every
reconciliation holds. Tests build it with :func:`build_world`, break one thing, and look.

The company: 189 people over nine weeks (14 Sep to 15 Nov 2026, one lead every eight hours),
six channels, three sales owners, 24 Google Ads campaigns in two accounts (USD and EUR),
Mailchimp activity every day, opportunities in USD and EUR, four attribution models. The
gate runs as of Monday 16 Nov 2026 06:00 UTC; the report's week is 2026-W46 (9-15 Nov).

The marts here are built with plain SQL the way the dbt models define them
(docs/definitions.md), not by dbt: these tests are about the gate and the report, and must not
wait for a dbt build. The tests in this module check the world itself.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

AS_OF = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
FIRST_DAY = date(2026, 9, 14)  # a Monday
LAST_DAY = date(2026, 11, 15)  # a Sunday, the last complete day before AS_OF
DAYS = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
CHANNELS = ("paid_search", "display", "email", "organic_search", "referral", "direct")
OWNERS = (("u1", "Ana Ruiz"), ("u2", "Ben Okafor"), ("u3", "Chen Li"))
REASONS = ("no budget", "not a fit", "student or job seeker", "duplicate")
MODELS = ("first_touch", "last_touch", "w_shaped", "markov")
VALUED = ("opportunity", "customer")
STAGES = ("lead", "mql", "sal", "sql", "opportunity", "customer")
MARKOV_WEIGHT = {
    "paid_search": 3.0,
    "display": 1.0,
    "email": 2.0,
    "organic_search": 1.5,
    "referral": 2.5,
    "direct": 0.5,
    "(none)": 1.0,
}
# account -> (currency, time zone, campaigns: (id, name, channel))
ACCOUNTS = {
    "100": (
        "USD",
        "America/New_York",
        [(f"1{n:02d}", f"Search {n}", "paid_search") for n in range(1, 13)]
        + [(f"1{n:02d}", f"Display {n}", "display") for n in range(13, 17)],
    ),
    "200": (
        "EUR",
        "Europe/Berlin",
        [(f"2{n:02d}", f"EU Search {n}", "paid_search") for n in range(1, 5)]
        + [(f"2{n:02d}", f"EU Display {n}", "display") for n in range(5, 9)],
    ),
}
EMAILS_PER_DAY = 30


def eur_rate(day: date) -> float:
    """The synthetic EUR -> USD rate of ``day``."""
    return 1.05 + (day.toordinal() % 10) / 100


def rate(currency: str, day: date) -> float:
    return 1.0 if currency == "USD" else eur_rate(day)


@dataclass
class Person:
    person_id: str
    channel: str
    owner: tuple[str, str]
    at: dict[str, datetime]
    disqualified_at: datetime | None
    reason: str | None
    handoff_hours: float | None
    sla_met: bool | None
    touches: list[tuple[str, datetime, str]]


def _people() -> list[Person]:
    rnd = random.Random(46)
    people = []
    start = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
    for i in range(189):
        lead = start + timedelta(hours=8 * i + 1, minutes=i % 50)
        at = {"lead": lead}
        steps = (
            ("mql", 0.6, 24, 72),
            ("sal", 0.7, 2, 30),
            ("sql", 0.85, 20, 90),
            ("opportunity", 0.6, 40, 140),
            ("customer", 0.5, 100, 480),
        )
        previous = lead
        for stage, chance, low, high in steps:
            if rnd.random() >= chance:
                break
            moment = previous + timedelta(hours=rnd.uniform(low, high))
            if moment >= AS_OF:
                break
            at[stage] = previous = moment
        disqualified_at = reason = None
        handoff = sla = None
        if "mql" in at:
            if "sal" in at:
                handoff = round((at["sal"] - at["mql"]).total_seconds() / 3600, 2)
                # every fifth MQL Sales worked but did not qualify is rejected after all (no
                # draw from rnd, so the rest of the world stays as it was)
                moment = at["sal"] + timedelta(hours=6)
                if "sql" not in at and i % 5 == 0 and moment < AS_OF:
                    disqualified_at, reason = moment, REASONS[i % len(REASONS)]
            elif rnd.random() < 0.75:
                moment = at["mql"] + timedelta(hours=rnd.uniform(3, 40))
                if moment < AS_OF:
                    disqualified_at, reason = moment, REASONS[i % len(REASONS)]
                    handoff = round((moment - at["mql"]).total_seconds() / 3600, 2)
            if handoff is not None:
                sla = handoff <= 24
            elif at["mql"] + timedelta(hours=24) <= AS_OF:
                sla = False
        channel = CHANNELS[i % len(CHANNELS)]
        touches = [
            (
                f"t-{i:03d}-{k}",
                lead - timedelta(days=3 * (k + 1)),
                channel if k == 0 else CHANNELS[(i + k * 2) % len(CHANNELS)],
            )
            for k in range(i % 4)
        ][::-1]
        people.append(
            Person(
                f"p{i:03d}",
                channel,
                OWNERS[i % 3],
                at,
                disqualified_at,
                reason,
                handoff,
                sla,
                touches,
            )
        )
    return people


PEOPLE = _people()


@dataclass
class Opportunity:
    opportunity_id: str
    person: Person
    amount: float
    currency: str
    created_at: datetime
    closed_at: datetime | None
    is_won: bool

    @property
    def amount_reporting(self) -> float:
        day = (self.closed_at or AS_OF - timedelta(days=1)).date()
        return round(self.amount * rate(self.currency, min(day, LAST_DAY)), 2)


def _opportunities() -> list[Opportunity]:
    found = []
    for n, person in enumerate(p for p in PEOPLE if "opportunity" in p.at):
        currency = "EUR" if n % 5 == 0 else "USD"
        amount = 4000.0 + 1500 * (n % 7)
        created = person.at["opportunity"]
        if "customer" in person.at:
            closed, won = person.at["customer"], True
        elif n % 2 == 0 and created + timedelta(days=20) < AS_OF:
            closed, won = created + timedelta(days=20), False
        else:
            closed, won = None, False
        found.append(
            Opportunity(f"opp-{person.person_id}", person, amount, currency, created, closed, won)
        )
    return found


OPPORTUNITIES = _opportunities()


def _credits(model: str, touches: list[tuple[str, datetime, str]]) -> list[float]:
    n = len(touches)
    if model == "last_touch":
        return [0.0] * (n - 1) + [1.0]
    if model == "first_touch":
        return [1.0] + [0.0] * (n - 1)
    if model == "w_shaped":
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        return [0.3] + [0.3 / (n - 2)] * (n - 2) + [0.4]
    weights = [MARKOV_WEIGHT[c] for _, _, c in touches]
    return [w / sum(weights) for w in weights]


def _attribution_rows() -> list[tuple]:
    value = {o.person.person_id: o.amount_reporting for o in OPPORTUNITIES}
    rows = []
    for person in PEOPLE:
        touches = person.touches or [(f"none-{person.person_id}", person.at["lead"], "(none)")]
        for stage in ("lead", "mql", "sql", "opportunity", "customer"):
            if stage not in person.at:
                continue
            converted_at = person.at[stage]
            worth = value.get(person.person_id, 0.0) if stage in VALUED else 0.0
            for model in MODELS:
                if model == "w_shaped" and stage not in VALUED:
                    continue
                for (touch_id, touched_at, channel), credit in zip(
                    touches, _credits(model, touches), strict=True
                ):
                    if credit <= 0:
                        continue
                    rows.append(
                        (
                            f"{person.person_id}:{stage}",
                            stage,
                            person.person_id,
                            converted_at,
                            touch_id,
                            touched_at,
                            model,
                            credit,
                            credit * worth,
                            channel,
                            "(none)",
                            None,
                        )
                    )
    return rows


RAW_DDL = """
create schema seeds;
create table seeds.fx_rates_daily (rate_date date, currency text, rate_to_usd numeric);
create schema raw_google_ads;
create table raw_google_ads._dlt_loads (load_id varchar not null, schema_name varchar,
    status bigint not null, inserted_at timestamptz not null, schema_version_hash varchar);
create table raw_google_ads.customers (customer__id varchar not null,
    customer__descriptive_name varchar, customer__currency_code varchar,
    customer__time_zone varchar, _dlt_load_id varchar not null, _dlt_id varchar not null);
create table raw_google_ads.campaigns (campaign__id varchar not null, campaign__name varchar,
    campaign__advertising_channel_type varchar, _dlt_load_id varchar not null,
    _dlt_id varchar not null);
create table raw_google_ads.campaign_daily (customer__id varchar not null,
    campaign__id varchar not null, metrics__impressions varchar, metrics__clicks varchar,
    metrics__cost_micros varchar, metrics__conversions double precision,
    segments__date date not null, _dlt_load_id varchar not null, _dlt_id varchar not null);
create schema raw_hubspot;
create table raw_hubspot._dlt_loads (like raw_google_ads._dlt_loads);
create table raw_hubspot.contacts (id varchar not null, email varchar, createdate varchar,
    lastmodifieddate varchar, lifecyclestage varchar, _dlt_load_id varchar not null,
    _dlt_id varchar not null);
create table raw_hubspot.deals (id varchar not null, amount varchar,
    deal_currency_code varchar, hs_lastmodifieddate varchar, _dlt_load_id varchar not null,
    _dlt_id varchar not null);
create schema raw_mailchimp;
create table raw_mailchimp._dlt_loads (like raw_google_ads._dlt_loads);
create table raw_mailchimp.email_activity (campaign_id varchar not null, email_id varchar not null,
    action varchar not null, "timestamp" varchar not null, _dlt_load_id varchar not null,
    _dlt_id varchar not null);
"""

MARTS_DDL = """
create schema marts;
create table marts.fct_funnel (
    person_id text, email text, hubspot_contact_id text, mailchimp_member_id text,
    lead_at timestamptz, mql_at timestamptz, sal_at timestamptz, sql_at timestamptz,
    opportunity_at timestamptz, customer_at timestamptz,
    source_channel text, source text, source_campaign text,
    disqualified_at timestamptz, disqualification_reason text, handoff_hours double precision,
    handoff_sla_met boolean, owner_id text, owner_name text
);
create table marts.fct_opportunities (
    opportunity_id text, account_id text, created_at timestamptz, closed_at timestamptz,
    is_closed boolean, is_won boolean, amount numeric, currency text, amount_reporting numeric,
    stage text, sales_cycle_days double precision, source_channel text
);
create table marts.fct_ad_spend_daily (
    date_day date, platform text, account_id text, campaign_id text, campaign_name text,
    channel text, spend numeric, currency text, spend_reporting numeric,
    reporting_currency text, impressions bigint, clicks bigint,
    platform_conversions double precision, time_zone text
);
create table marts.fct_attribution (
    conversion_id text, conversion_type text, person_id text, converted_at timestamptz,
    touchpoint_id text, touched_at timestamptz, model text, credit double precision,
    revenue_credit double precision, channel text, campaign_id text, campaign_name text
);
"""


def _load_id(day: date) -> str:
    """dlt's load id: the load's epoch seconds, as text (loads run at 02:00 UTC)."""
    moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
    return f"{moment.timestamp():.4f}"


def _dlt_id(*parts: object) -> str:
    return hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()[:14]


def _raw(cur: psycopg.Cursor) -> None:
    cur.executemany(
        "insert into seeds.fx_rates_daily values (%s, %s, %s)",
        [(d, c, rate(c, d)) for d in DAYS for c in ("USD", "EUR")],
    )
    load_days = DAYS[-10:]
    for schema, name in (
        ("raw_google_ads", "google_ads"),
        ("raw_hubspot", "hubspot"),
        ("raw_mailchimp", "mailchimp"),
    ):
        cur.executemany(
            f"insert into {schema}._dlt_loads values (%s, %s, 0, %s, 'hash')",
            [
                (
                    _load_id(d + timedelta(days=1)),
                    name,
                    datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
                    + timedelta(hours=2),
                )
                for d in load_days
            ],
        )
    last_load = _load_id(LAST_DAY + timedelta(days=1))
    cur.executemany(
        "insert into raw_google_ads.customers values (%s, %s, %s, %s, %s, %s)",
        [
            (acct, f"Account {acct}", cur_, tz, last_load, _dlt_id("c", acct))
            for acct, (cur_, tz, _) in ACCOUNTS.items()
        ],
    )
    cur.executemany(
        "insert into raw_google_ads.campaigns values (%s, %s, %s, %s, %s)",
        [
            (
                cid,
                name,
                "SEARCH" if channel == "paid_search" else "DISPLAY",
                last_load,
                _dlt_id("k", cid),
            )
            for _, (_, _, campaigns) in ACCOUNTS.items()
            for cid, name, channel in campaigns
        ],
    )
    daily = []
    for d in DAYS:
        for acct, (_, _, campaigns) in ACCOUNTS.items():
            for k, (cid, _, _) in enumerate(campaigns):
                micros = (40 + 3 * k + d.toordinal() % 11) * 1_000_000 + 250_000 * (k % 4)
                daily.append(
                    (
                        acct,
                        cid,
                        str(1000 + 10 * k),
                        str(40 + k),
                        str(micros),
                        float(k % 3),
                        d,
                        _load_id(d + timedelta(days=1)),
                        _dlt_id("d", acct, cid, d),
                    )
                )
    cur.executemany(
        "insert into raw_google_ads.campaign_daily values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        daily,
    )
    cur.executemany(
        "insert into raw_hubspot.contacts values (%s, %s, %s, %s, %s, %s, %s)",
        [
            (
                f"{1000 + n}",
                f"{p.person_id}@example.com",
                p.at["lead"].isoformat(),
                (p.at[max(p.at, key=lambda s: p.at[s])] + timedelta(minutes=5)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                ),
                "lead",
                _load_id(LAST_DAY),
                _dlt_id("p", p.person_id),
            )
            for n, p in enumerate(PEOPLE)
        ],
    )
    cur.executemany(
        "insert into raw_hubspot.deals values (%s, %s, %s, %s, %s, %s)",
        [
            (
                o.opportunity_id,
                f"{o.amount:.2f}",
                o.currency,
                (o.closed_at or o.created_at).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                _load_id(LAST_DAY),
                _dlt_id("o", o.opportunity_id),
            )
            for o in OPPORTUNITIES
        ],
    )
    activity = []
    for d in DAYS:
        for k in range(EMAILS_PER_DAY):
            stamp = datetime.combine(d, datetime.min.time(), tzinfo=UTC) + timedelta(
                minutes=40 * k + 3
            )
            activity.append(
                (
                    f"cmp-{d.isocalendar().week}",
                    f"e{k:03d}",
                    "open" if k % 3 else "click",
                    stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                    _load_id(d + timedelta(days=1)),
                    _dlt_id("a", d, k),
                )
            )
    cur.executemany(
        "insert into raw_mailchimp.email_activity values (%s, %s, %s, %s, %s, %s)", activity
    )


def _stage_values(alias: str) -> str:
    return ", ".join(f"('{s}', {alias}.{s}_at)" for s in STAGES)


def _plural(stage: str) -> str:
    return {"opportunity": "opportunities"}.get(stage, f"{stage}s")


def _rpt_funnel_conversion_sql() -> str:
    steps = list(zip(STAGES, STAGES[1:], strict=False))
    cohorts = "\nunion all\n".join(
        f"""select p.period_type, date_trunc(p.period_type, f.{a}_at at time zone 'UTC')::date,
            f.source_channel, '{a}_to_{b}', count(*), count(f.{b}_at),
            count(*) filter (where f.{b}_at <= f.{a}_at + interval '90 days'),
            percentile_cont(0.5) within group (order by extract(epoch from f.{b}_at - f.{a}_at)
                / 86400.0) filter (where f.{b}_at is not null)
        from marts.fct_funnel as f cross join periods as p where f.{a}_at is not null
        group by 1, 2, 3"""
        for a, b in steps
    )
    counts = ", ".join(
        f"coalesce(count(*) filter (where e.stage = '{s}'), 0) as {_plural(s)}" for s in STAGES
    )
    rates = ",\n".join(
        f"max(c.converted::double precision / nullif(c.cohort, 0)) filter "
        f"(where c.step = '{a}_to_{b}') as {a}_to_{b}_rate,\n"
        f"max(c.in_window::double precision / nullif(c.cohort, 0)) filter "
        f"(where c.step = '{a}_to_{b}') as {a}_to_{b}_rate_in_window,\n"
        f"max(c.median_days) filter (where c.step = '{a}_to_{b}') as {a}_to_{b}_median_days"
        for a, b in steps
    )
    columns = ", ".join(
        f"{a}_to_{b}_rate double precision, {a}_to_{b}_rate_in_window double precision, "
        f"{a}_to_{b}_median_days double precision"
        for a, b in steps
    )
    return f"""
    create table marts.rpt_funnel_conversion (period_type text, period_start date,
        source_channel text, {", ".join(f"{_plural(s)} bigint" for s in STAGES)}, {columns});
    insert into marts.rpt_funnel_conversion
    with periods as (select unnest(array['week', 'month']) as period_type),
    entries as (
        select p.period_type, date_trunc(p.period_type, s.at at time zone 'UTC')::date
            as period_start, f.source_channel, s.stage
        from marts.fct_funnel as f cross join periods as p
        cross join lateral (values {_stage_values("f")}) as s (stage, at)
        where s.at is not null
    ),
    spine as (
        select period_type, generate_series(min(period_start), max(period_start),
            ('1 ' || period_type)::interval)::date as period_start
        from entries group by period_type
    ),
    grid as (
        select spine.period_type, spine.period_start, channels.source_channel
        from spine cross join (select distinct source_channel from marts.fct_funnel) as channels
    ),
    cohorts (period_type, period_start, source_channel, step, cohort, converted, in_window,
             median_days) as ({cohorts}),
    counted as (
        select g.period_type, g.period_start, g.source_channel, {counts}
        from grid as g left join entries as e on e.period_type = g.period_type
            and e.period_start = g.period_start and e.source_channel = g.source_channel
        group by 1, 2, 3
    )
    select counted.*, {rates}
    from counted left join cohorts as c on c.period_type = counted.period_type
        and c.period_start = counted.period_start and c.source_channel = counted.source_channel
    group by {
        ", ".join(
            f"counted.{c}"
            for c in (
                "period_type",
                "period_start",
                "source_channel",
                *(_plural(s) for s in STAGES),
            )
        )
    };
    """


REPORT_MARTS_SQL = f"""
create table marts.rpt_funnel_weekly as
with entries as (
    select date_trunc('week', s.at at time zone 'UTC')::date as week_start, f.source_channel,
        s.stage
    from marts.fct_funnel as f cross join lateral (values {_stage_values("f")}) as s (stage, at)
    where s.at is not null
),
weeks as (
    select generate_series(min(week_start), max(week_start), interval '1 week')::date
        as week_start from entries
),
channels as (select distinct source_channel from marts.fct_funnel)
select weeks.week_start, channels.source_channel,
    {
    ", ".join(
        f"count(entries.stage) filter (where entries.stage = '{s}') as {_plural(s)}" for s in STAGES
    )
}
from weeks cross join channels
left join entries on entries.week_start = weeks.week_start
    and entries.source_channel = channels.source_channel
group by 1, 2;

{_rpt_funnel_conversion_sql()}

create table marts.rpt_channel_attribution as
select p.period_type, date_trunc(p.period_type, a.converted_at at time zone 'UTC')::date
        as period_start,
    a.conversion_type, a.model, a.channel, a.campaign_id, max(a.campaign_name) as campaign_name,
    sum(a.credit) as attributed_conversions, sum(a.revenue_credit) as attributed_revenue,
    0::numeric as spend_reporting, null::numeric as cost_per_attributed_conversion,
    null::double precision as roas
from marts.fct_attribution as a cross join (values ('week'), ('month')) as p (period_type)
group by 1, 2, 3, 4, 5, 6;

create table marts.rpt_pipeline as
with periods as (select unnest(array['week', 'month']) as period_type),
opps as (
    select o.*, coalesce(o.source_channel, '(none)') as channel from marts.fct_opportunities as o
),
created as (
    select p.period_type, date_trunc(p.period_type, created_at at time zone 'UTC')::date
            as period_start, channel,
        count(*) as opportunities_created, sum(amount_reporting) as pipeline_created
    from opps cross join periods as p group by 1, 2, 3
),
closed as (
    select p.period_type, date_trunc(p.period_type, closed_at at time zone 'UTC')::date
            as period_start, channel,
        count(*) filter (where is_won) as won_count,
        count(*) filter (where not is_won) as lost_count,
        coalesce(sum(amount_reporting) filter (where is_won), 0) as won_revenue,
        avg(sales_cycle_days) filter (where is_won) as avg_sales_cycle_days_won,
        avg(sales_cycle_days) filter (where not is_won) as avg_sales_cycle_days_lost
    from opps cross join periods as p where is_closed group by 1, 2, 3
),
keys as (select period_type, period_start, channel from created
         union select period_type, period_start, channel from closed),
spine as (
    select period_type, generate_series(min(period_start), max(period_start),
        ('1 ' || period_type)::interval)::date as period_start
    from keys group by 1
),
grid as (select spine.*, channels.channel from spine
         cross join (select distinct channel from opps) as channels)
select g.period_type, g.period_start, g.channel,
    coalesce(c.opportunities_created, 0) as opportunities_created,
    coalesce(c.pipeline_created, 0) as pipeline_created,
    coalesce(x.won_count, 0) as won_count, coalesce(x.lost_count, 0) as lost_count,
    coalesce(x.won_revenue, 0) as won_revenue,
    x.won_count::double precision / nullif(x.won_count + x.lost_count, 0) as win_rate,
    x.won_revenue / nullif(x.won_count, 0) as avg_deal_size,
    x.avg_sales_cycle_days_won, x.avg_sales_cycle_days_lost
from grid as g
left join created as c using (period_type, period_start, channel)
left join closed as x using (period_type, period_start, channel);

create table marts.rpt_lead_handoff as
select date_trunc('week', mql_at at time zone 'UTC')::date as week_start, owner_id,
    max(owner_name) as owner_name, count(*) as mqls,
    count(handoff_hours) as handed_off,
    count(*) filter (where handoff_sla_met) as handed_off_within_sla,
    count(handoff_sla_met) as sla_decided,
    count(*) - count(handoff_hours) as still_waiting,
    percentile_cont(0.5) within group (order by handoff_hours) as median_handoff_hours,
    count(*) filter (where handoff_sla_met)::double precision
        / nullif(count(handoff_sla_met), 0) as sla_met_rate
from marts.fct_funnel where mql_at is not null group by 1, 2;

create table marts.rpt_lead_quality as
select p.period_type, date_trunc(p.period_type, mql_at at time zone 'UTC')::date
        as period_start, source_channel as channel, source_campaign as campaign_name,
    count(*) as mqls, count(sal_at) filter (where disqualified_at is null) as accepted,
    count(disqualified_at) as rejected,
    count(sql_at)::double precision / count(*) as mql_to_sql_rate,
    count(customer_at)::double precision / nullif(count(sql_at), 0) as sql_to_won_rate
from marts.fct_funnel cross join (values ('week'), ('month')) as p (period_type)
where mql_at is not null group by 1, 2, 3, 4;

create table marts.rpt_lead_rejections as
select p.period_type, date_trunc(p.period_type, mql_at at time zone 'UTC')::date
        as period_start, source_channel as channel, disqualification_reason,
    count(*) as rejected
from marts.fct_funnel cross join (values ('week'), ('month')) as p (period_type)
where disqualified_at is not null group by 1, 2, 3, 4;

create table marts.fct_attributed_spend_daily as
with spend as (
    select date_day, channel, coalesce(campaign_id, '(none)') as campaign_id,
        max(campaign_name) as campaign_name, sum(spend_reporting) as spend_reporting
    from marts.fct_ad_spend_daily group by 1, 2, 3
),
spend_per_model as (
    select spend.*, m.model from spend
    cross join (select distinct model from marts.fct_attribution) as m
),
attributed as (
    select (converted_at at time zone 'UTC')::date as date_day, model, channel,
        coalesce(campaign_id, '(none)') as campaign_id, max(campaign_name) as campaign_name,
        sum(credit) filter (where conversion_type = 'lead') as leads,
        sum(credit) filter (where conversion_type = 'mql') as mqls,
        sum(credit) filter (where conversion_type = 'sql') as sqls,
        sum(credit) filter (where conversion_type = 'opportunity') as opportunities,
        sum(credit) filter (where conversion_type = 'customer') as customers,
        sum(revenue_credit) filter (where conversion_type = 'opportunity') as pipeline,
        sum(revenue_credit) filter (where conversion_type = 'customer') as revenue
    from marts.fct_attribution group by 1, 2, 3, 4
)
select coalesce(s.date_day, a.date_day) as date_day, coalesce(s.model, a.model) as model,
    coalesce(s.channel, a.channel) as channel,
    coalesce(s.campaign_id, a.campaign_id) as campaign_id,
    coalesce(s.campaign_name, a.campaign_name) as campaign_name,
    coalesce(s.spend_reporting, 0) as spend_reporting,
    coalesce(a.leads, 0) as leads, coalesce(a.mqls, 0) as mqls, coalesce(a.sqls, 0) as sqls,
    coalesce(a.opportunities, 0) as opportunities, coalesce(a.customers, 0) as customers,
    coalesce(a.pipeline, 0)::numeric as pipeline, coalesce(a.revenue, 0)::numeric as revenue
from spend_per_model as s
full outer join attributed as a using (date_day, model, channel, campaign_id);
"""

SPEND_FROM_RAW_SQL = """
insert into marts.fct_ad_spend_daily
select d.segments__date, 'google_ads', d.customer__id, d.campaign__id, k.campaign__name,
    case k.campaign__advertising_channel_type when 'SEARCH' then 'paid_search'
        else 'display' end,
    d.metrics__cost_micros::numeric / 1000000, c.customer__currency_code,
    d.metrics__cost_micros::numeric / 1000000 * r.rate_to_usd, 'USD',
    d.metrics__impressions::bigint, d.metrics__clicks::bigint, d.metrics__conversions,
    c.customer__time_zone
from raw_google_ads.campaign_daily as d
join raw_google_ads.customers as c on c.customer__id = d.customer__id
join raw_google_ads.campaigns as k on k.campaign__id = d.campaign__id
join seeds.fx_rates_daily as r on r.rate_date = d.segments__date
    and r.currency = c.customer__currency_code
"""


def _declared_keys(conn: psycopg.Connection) -> None:
    """Give each raw table every key column its connector declares (the connectors evolve; a
    key column this world does not fill gets one constant value, keeping keys unique)."""
    from revops.quality.raw import streams

    for schema, table in conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema like 'raw\\_%' and table_name not like '\\_dlt%'"
    ).fetchall():
        declared = streams(schema.removeprefix("raw_")).get(table)
        columns = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s",
                (schema, table),
            ).fetchall()
        }
        for column in declared.key if declared else ():
            if column not in columns:
                conn.execute(
                    f'alter table {schema}.{table} add column "{column}" text '
                    "not null default '0'"
                )


def build_world(url: str) -> None:
    """Create the raw schemas, the rates seed and every mart in the database at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_DDL)
        _declared_keys(conn)
        conn.execute(MARTS_DDL)
        from quality_helpers import record_dbt_build

        record_dbt_build(conn)  # the gate reads dbt's recorded results: a passing build
        with conn.cursor() as cur:
            _raw(cur)
            cur.executemany(
                "insert into marts.fct_funnel values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        p.person_id,
                        f"{p.person_id}@example.com",
                        f"{1000 + n}",
                        None,
                        *(p.at.get(s) for s in STAGES),
                        p.channel,
                        "hubspot",
                        f"{p.channel} campaign",
                        p.disqualified_at,
                        p.reason,
                        p.handoff_hours,
                        p.sla_met,
                        *p.owner,
                    )
                    for n, p in enumerate(PEOPLE)
                ],
            )
            cur.executemany(
                "insert into marts.fct_opportunities values (%s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s)",
                [
                    (
                        o.opportunity_id,
                        f"acct-{o.person.person_id}",
                        o.created_at,
                        o.closed_at,
                        o.closed_at is not None,
                        o.is_won,
                        o.amount,
                        o.currency,
                        o.amount_reporting,
                        "closed_won" if o.is_won else "closed_lost" if o.closed_at else "open",
                        (o.closed_at - o.created_at).total_seconds() / 86400
                        if o.closed_at
                        else None,
                        o.person.channel,
                    )
                    for o in OPPORTUNITIES
                ],
            )
            cur.executemany(
                "insert into marts.fct_attribution values (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s)",
                _attribution_rows(),
            )
        conn.execute(SPEND_FROM_RAW_SQL)
        conn.execute(REPORT_MARTS_SQL)


def sql(url: str, statement: str) -> None:
    """Run ``statement`` (to break the world)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def scalar(url: str, query: str, params: tuple = ()) -> object:
    """The first column of the first row of ``query``."""
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


@pytest.fixture
def world(fresh_db: str) -> str:
    """A database holding the world."""
    build_world(fresh_db)
    return fresh_db


# -- the world itself -------------------------------------------------------------------------


def test_the_world_has_what_the_report_needs_in_its_week(world: str) -> None:
    w46 = (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
    for stage in ("mql", "sql", "opportunity", "customer"):
        found = scalar(
            world,
            f"select count(*) from marts.fct_funnel where {stage}_at >= %s and {stage}_at < %s",
            w46,
        )
        assert found and int(found) > 0, stage
    assert scalar(
        world,
        "select count(*) from marts.fct_funnel where disqualified_at >= %s "
        "and disqualified_at < %s",
        w46,
    )
    assert (
        scalar(
            world,
            "select count(distinct channel) from marts.rpt_channel_attribution "
            "where period_type = 'week' and period_start = '2026-11-09' "
            "and conversion_type = 'customer'",
        )
        >= 2
    )


def test_the_worlds_marts_reconcile_with_each_other(world: str) -> None:
    raw = scalar(
        world,
        "select sum(metrics__cost_micros::numeric) / 1000000 from raw_google_ads.campaign_daily",
    )
    mart = scalar(world, "select sum(spend) from marts.fct_ad_spend_daily")
    assert raw == mart
    won = scalar(world, "select sum(amount_reporting) from marts.fct_opportunities where is_won")
    reported = scalar(
        world, "select sum(won_revenue) from marts.rpt_pipeline where period_type = 'month'"
    )
    assert won == reported
    worst = scalar(
        world,
        "select max(abs(s - 1)) from (select sum(credit) as s "
        "from marts.fct_attribution group by conversion_id, model) as sums",
    )
    assert worst is not None and float(worst) < 1e-9
