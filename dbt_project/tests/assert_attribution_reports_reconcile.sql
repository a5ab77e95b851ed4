-- Integrity between fct_attribution, fct_ad_spend_daily and the reports built on them, for each
-- period grain:
--   rpt_channel_attribution: conversions and revenue per conversion type and model = the credits
--     of fct_attribution;
--   rpt_model_comparison: each model's column per conversion type = that model's credits;
--   rpt_spend_efficiency: conversions per type and model = the credits, and spend per model = all
--     spend in fct_ad_spend_daily (every model sees all the spend once).
-- Credits are floats: sums agree within 1e-6 of the total.
{%- set models = var('attribution_models') %}
{%- set types = var('conversion_types') %}
{%- set plural = var('funnel_stages') %}
with

credits as (

    select
        conversion_type,
        model,
        sum(credit) as conversions,
        sum(revenue_credit) as revenue
    from {{ ref('fct_attribution') }}
    group by conversion_type, model

),

spend as (

    select coalesce(sum(spend_reporting), 0) as spend from {{ ref('fct_ad_spend_daily') }}

),

grains as (

    {% for period in var('report_periods') %}
    select '{{ period }}' as period_type
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

expected as (

    select grains.period_type, credits.conversion_type, credits.model, 'conversions' as measure,
        credits.conversions::numeric as expected
    from grains
    cross join credits
    union all
    select grains.period_type, credits.conversion_type, credits.model, 'revenue',
        credits.revenue
    from grains
    cross join credits
    union all
    select grains.period_type, '(all)', models.model, 'spend', spend.spend
    from grains
    cross join (select distinct model from credits) as models
    cross join spend

),

channel_attribution as (

    select
        'rpt_channel_attribution' as report, period_type, conversion_type, model,
        'conversions' as measure, sum(attributed_conversions)::numeric as reported
    from {{ ref('rpt_channel_attribution') }}
    group by period_type, conversion_type, model
    union all
    select
        'rpt_channel_attribution', period_type, conversion_type, model,
        'revenue', sum(attributed_revenue)
    from {{ ref('rpt_channel_attribution') }}
    group by period_type, conversion_type, model

),

model_comparison as (

    {% for model in models %}
    select
        'rpt_model_comparison' as report, period_type, conversion_type,
        '{{ model }}' as model, 'conversions' as measure, sum({{ model }})::numeric as reported
    from {{ ref('rpt_model_comparison') }}
    group by period_type, conversion_type
    having sum({{ model }}) is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

spend_efficiency as (

    {% for type in types %}
    select
        'rpt_spend_efficiency' as report, period_type, '{{ type }}' as conversion_type,
        attribution_model as model, 'conversions' as measure,
        sum({{ plural[type] }})::numeric as reported
    from {{ ref('rpt_spend_efficiency') }}
    group by period_type, attribution_model
    having sum({{ plural[type] }}) > 0
    union all
    {% endfor %}
    select
        'rpt_spend_efficiency', period_type, '(all)', attribution_model, 'spend',
        sum(spend_reporting)
    from {{ ref('rpt_spend_efficiency') }}
    group by period_type, attribution_model

),

reported as (

    select * from channel_attribution
    union all
    select * from model_comparison
    union all
    select * from spend_efficiency

),

compared as (

    select
        reports.report,
        expected.period_type,
        expected.conversion_type,
        expected.model,
        expected.measure,
        reported.reported,
        expected.expected
    from expected
    cross join (
        values ('rpt_channel_attribution'), ('rpt_model_comparison'), ('rpt_spend_efficiency')
    ) as reports (report)
    left join reported
        on reports.report = reported.report
        and expected.period_type = reported.period_type
        and expected.conversion_type = reported.conversion_type
        and expected.model = reported.model
        and expected.measure = reported.measure
    where not (reports.report = 'rpt_model_comparison' and expected.measure != 'conversions')
        and not (reports.report = 'rpt_spend_efficiency' and expected.measure = 'revenue')
        and not (reports.report != 'rpt_spend_efficiency' and expected.measure = 'spend')

)

select *
from compared
where abs(coalesce(reported, 0) - coalesce(expected, 0))
    > 1e-6 * greatest(abs(coalesce(expected, 0)), 1)
