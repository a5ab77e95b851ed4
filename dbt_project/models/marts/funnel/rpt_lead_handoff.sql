-- The handoff from Marketing to Sales per week (of the MQL, UTC) and lead owner: MQLs, how many
-- got a first sales activity, how many within the SLA, how many are decided (handed off, or
-- waiting past the SLA), how many still wait, median hours.
with

funnel as (

    select * from {{ ref('fct_funnel') }} where mql_at is not null

),

users as (

    select * from {{ ref('stg_salesforce__users') }}

),

final as (

    select
        date_trunc('week', funnel.mql_at at time zone 'UTC')::date as week_start,
        coalesce(funnel.owner_id, '(unassigned)') as owner_id,
        coalesce(max(users.user_name), '(unassigned)') as owner_name,
        count(*) as mqls,
        count(funnel.first_sales_activity_at) as handed_off,
        count(*) filter (where funnel.handoff_sla_met) as handed_off_within_sla,
        count(funnel.handoff_sla_met) as sla_decided,
        count(*) filter (where funnel.first_sales_activity_at is null) as still_waiting,
        percentile_cont(0.5) within group (order by funnel.handoff_hours)
            filter (where funnel.handoff_hours is not null) as median_handoff_hours,
        count(*) filter (where funnel.handoff_sla_met)::double precision
            / nullif(count(funnel.handoff_sla_met), 0) as sla_met_rate
    from funnel
    left join users
        on funnel.owner_id = users.user_id
    group by 1, 2

)

select * from final
