-- The time each person entered each stage: the earliest any of their CRM records says, then
-- made monotonic backwards (DOMAIN.md: a skipped stage is passed at the next stage's time, and
-- stage timestamps never decrease). CRM stages that later move backwards keep their first date.
with

raw_stages as (

    select
        person_id,
        min(created_at) as lead_raw,
        min(became_mql_at) as mql_raw,
        cast(null as timestamptz) as sal_raw,
        min(became_sql_at) as sql_raw,
        min(became_opportunity_at) as opportunity_raw,
        min(became_customer_at) as customer_raw
    from {{ ref('int_contacts_mapped_to_people') }}
    group by person_id

),

customer as (

    select *, customer_raw as customer_at from raw_stages

),

opportunity as (

    select *, least(opportunity_raw, customer_at) as opportunity_at from customer

),

sql_stage as (

    select *, least(sql_raw, opportunity_at) as sql_at from opportunity

),

sal as (

    select *, least(sal_raw, sql_at) as sal_at from sql_stage

),

mql as (

    select *, least(mql_raw, sal_at) as mql_at from sal

),

ordered as (

    select
        person_id,
        least(lead_raw, mql_at) as lead_at,
        mql_at,
        sal_at,
        sql_at,
        opportunity_at,
        customer_at
    from mql

)

select * from ordered
