-- Sales' feedback to Marketing per period (of the MQL), channel and campaign: MQLs, accepted
-- (reached SAL and not rejected since), rejected (disqualified, whether worked first or not), and how the period's MQLs went on: MQL -> SQL and
-- SQL -> won (cohort rates).

with

funnel as (

    select * from {{ ref('fct_funnel') }} where mql_at is not null

),

final as (

    {% call(period) union_periods() %}
    select
        {{ period_columns(period, 'mql_at') }},
        source_channel as channel,
        coalesce(source_campaign, '(none)') as campaign_name,
        count(*) as mqls,
        count(sal_at) filter (where disqualified_at is null) as accepted,
        count(disqualified_at) as rejected,
        count(sql_at)::double precision / count(*) as mql_to_sql_rate,
        count(customer_at)::double precision / nullif(count(sql_at), 0) as sql_to_won_rate
    from funnel
    group by 1, 2, 3, 4
    {% endcall %}

)

select * from final
