-- Integrity between fct_opportunities and rpt_pipeline: for each period grain, opportunities and
-- pipeline created, won and lost counts and won revenue add up to the opportunities' own totals
-- (the full outer join of created and closed periods must neither drop nor double a period).
with

opportunities as (

    select
        count(*) as opportunities_created,
        coalesce(sum(amount_reporting), 0) as pipeline_created,
        count(*) filter (where is_closed and is_won) as won_count,
        count(*) filter (where is_closed and not is_won) as lost_count,
        coalesce(sum(amount_reporting) filter (where is_closed and is_won), 0) as won_revenue
    from {{ ref('fct_opportunities') }}

),

reported as (

    select
        period_type,
        coalesce(sum(opportunities_created), 0) as opportunities_created,
        coalesce(sum(pipeline_created), 0) as pipeline_created,
        coalesce(sum(won_count), 0) as won_count,
        coalesce(sum(lost_count), 0) as lost_count,
        coalesce(sum(won_revenue), 0) as won_revenue
    from {{ ref('rpt_pipeline') }}
    group by period_type

),

grains as (

    {% for period in var('report_periods') %}
    select '{{ period }}' as period_type
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    grains.period_type,
    reported.opportunities_created, opportunities.opportunities_created as expected_created,
    reported.pipeline_created, opportunities.pipeline_created as expected_pipeline,
    reported.won_count, opportunities.won_count as expected_won,
    reported.lost_count, opportunities.lost_count as expected_lost,
    reported.won_revenue, opportunities.won_revenue as expected_won_revenue
from grains
cross join opportunities
left join reported
    on grains.period_type = reported.period_type
where coalesce(reported.opportunities_created, 0) != opportunities.opportunities_created
    or coalesce(reported.pipeline_created, 0) != opportunities.pipeline_created
    or coalesce(reported.won_count, 0) != opportunities.won_count
    or coalesce(reported.lost_count, 0) != opportunities.lost_count
    or coalesce(reported.won_revenue, 0) != opportunities.won_revenue
