-- The time each person entered each stage: the earliest any system records, made monotonic
-- backwards (docs/definitions.md: a skipped stage is passed at the next stage's time, times never
-- decrease; a CRM stage that later moves backwards keeps its first date). SAL is the earliest
-- of an accepted status and the first sales activity after the MQL signal. Also the handoff
-- (first sales activity at or after mql_at, the MQL time after the skip rule, against the SLA)
-- and the disqualification (first rejected status).
with

events as (

    select * from {{ ref('int_stage_events_unioned') }}

),

raw_stages as (

    select
        person_id,
        {%- for stage in var('funnel_stages') %}
        {#- a SAL status is one of two SAL signals (the other: a sales activity) #}
        min(entered_at) filter (where stage = '{{ stage }}')
            as {{ 'sal_status' if stage == 'sal' else stage }}_raw{{ ',' if not loop.last }}
        {%- endfor %}
    from events
    group by person_id

),

disqualified as (

    select distinct on (person_id)
        person_id,
        entered_at as disqualified_at,
        detail as disqualification_reason
    from events
    where stage = 'disqualified'
    order by person_id, entered_at

),

-- SAL by activity: the first sales activity on or after the MQL signal itself
first_activity as (

    {{ first_sales_activity('raw_stages', 'mql_raw', 'sal_activity_at') }}

),

customer as (

    select raw_stages.*, first_activity.sal_activity_at,
        raw_stages.customer_raw as customer_at
    from raw_stages
    left join first_activity
        on raw_stages.person_id = first_activity.person_id

),

opportunity as (

    select *, least(opportunity_raw, customer_at) as opportunity_at from customer

),

sql_stage as (

    select *, least(sql_raw, opportunity_at) as sql_at from opportunity

),

sal as (

    select *, least(sal_status_raw, sal_activity_at, sql_at) as sal_at from sql_stage

),

mql as (

    select *, least(mql_raw, sal_at) as mql_at from sal

),

-- the handoff is measured from mql_at, which the skip rule can set before (or without) an MQL
-- signal: the first sales activity at or after it (docs/definitions.md: handoff)
handoff as (

    {{ first_sales_activity('mql', 'mql_at', 'handoff_activity_at') }}

),

ordered as (

    select
        mql.person_id,
        least(mql.lead_raw, mql.mql_at) as lead_at,
        mql.mql_at,
        mql.sal_at,
        mql.sql_at,
        mql.opportunity_at,
        mql.customer_at,
        disqualified.disqualified_at,
        disqualified.disqualification_reason,
        handoff.handoff_activity_at as first_sales_activity_at,
        round((extract(epoch from handoff.handoff_activity_at - mql.mql_at) / 3600.0)::numeric,
              2)::double precision as handoff_hours,
        case
            when mql.mql_at is null then null
            when handoff.handoff_activity_at is not null
                then handoff.handoff_activity_at - mql.mql_at
                    <= interval '{{ var("handoff_sla_hours") }} hours'
            when {{ var('as_of', 'current_timestamp') }} - mql.mql_at
                > interval '{{ var("handoff_sla_hours") }} hours' then false
        end as handoff_sla_met
    from mql
    left join handoff
        on mql.person_id = handoff.person_id
    left join disqualified
        on mql.person_id = disqualified.person_id

)

select * from ordered
