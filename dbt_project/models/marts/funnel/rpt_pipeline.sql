-- Pipeline per period (week, month) and source channel: opportunities and pipeline created,
-- won and lost deals closed, won revenue, win rate (won / (won + lost) closed in the period),
-- average deal size and sales cycle (docs/definitions.md: pipeline and revenue).

with

opportunities as (

    select * from {{ ref('fct_opportunities') }}

),

created as (

    {% call(period) union_periods() %}
    select {{ period_columns(period, 'created_at') }},
        source_channel,
        count(*) as opportunities_created,
        sum(amount_reporting) as pipeline_created
    from opportunities
    group by 1, 2, 3
    {% endcall %}

),

closed as (

    {% call(period) union_periods() %}
    select {{ period_columns(period, 'closed_at') }},
        source_channel,
        count(*) filter (where is_won) as won_count,
        count(*) filter (where not is_won) as lost_count,
        coalesce(sum(amount_reporting) filter (where is_won), 0) as won_revenue,
        avg(sales_cycle_days) filter (where is_won) as avg_sales_cycle_days_won,
        avg(sales_cycle_days) filter (where not is_won) as avg_sales_cycle_days_lost
    from opportunities
    where is_closed
    group by 1, 2, 3
    {% endcall %}

),

final as (

    select
        coalesce(created.period_type, closed.period_type) as period_type,
        coalesce(created.period_start, closed.period_start) as period_start,
        coalesce(created.source_channel, closed.source_channel) as channel,
        coalesce(created.opportunities_created, 0) as opportunities_created,
        coalesce(created.pipeline_created, 0) as pipeline_created,
        coalesce(closed.won_count, 0) as won_count,
        coalesce(closed.lost_count, 0) as lost_count,
        coalesce(closed.won_revenue, 0) as won_revenue,
        closed.won_count::double precision / nullif(closed.won_count + closed.lost_count, 0)
            as win_rate,
        closed.won_revenue / nullif(closed.won_count, 0) as avg_deal_size,
        closed.avg_sales_cycle_days_won,
        closed.avg_sales_cycle_days_lost
    from created
    full outer join closed
        on created.period_type = closed.period_type
        and created.period_start = closed.period_start
        and created.source_channel = closed.source_channel

)

select * from final
