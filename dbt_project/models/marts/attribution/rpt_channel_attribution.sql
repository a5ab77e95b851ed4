-- Per period (week, month), conversion type, model, channel and campaign: conversions the model
-- attributes, the spend in the same grouping, and cost per attributed conversion
-- and ROAS = attributed revenue / spend (docs/definitions.md: cost per X, CAC and ROAS).
-- Incremental: a run rewrites the periods holding a changed day (attribution_changed_periods).
-- depends_on: {{ ref('fct_ad_spend_daily') }} (the changed days)
{{ config(**attribution_sums_config()) }}

with

{% if is_incremental() %}

changed as (

    {{ attribution_changed_periods(this.name) }}

),

{% endif %}

attributed as (

    {% call(period) union_periods() %}
    select
        {{ period_columns(period, 'converted_at') }},
        conversion_type,
        model,
        channel,
        coalesce(campaign_id, '(none)') as campaign_id,
        max(campaign_name) as campaign_name,
        sum(credit) as attributed_conversions,
        sum(revenue_credit) as attributed_revenue
    from {{ ref('fct_attribution') }} as credits
    {%- if is_incremental() %}
    {{ attribution_join_changed('changed', 'credits', 'converted_at', period) }}
    {%- endif %}
    group by 1, 2, 3, 4, 5, 6
    {% endcall %}

),

spend as (

    select period_type, period_start, attribution_model as model, channel, campaign_id,
        max(spend_reporting) as spend_reporting
    from {{ ref('rpt_spend_efficiency') }}
    {%- if is_incremental() %}
    where (period_type, period_start) in (select period_type, period_start from changed)
    {%- endif %}
    group by 1, 2, 3, 4, 5

),

final as (

    select
        attributed.period_type,
        attributed.period_start,
        attributed.conversion_type,
        attributed.model,
        attributed.channel,
        attributed.campaign_id,
        attributed.campaign_name,
        attributed.attributed_conversions,
        attributed.attributed_revenue,
        coalesce(spend.spend_reporting, 0) as spend_reporting,
        attributed.attributed_revenue / nullif(spend.spend_reporting, 0) as roas,
        coalesce(spend.spend_reporting, 0)
            / nullif(attributed.attributed_conversions, 0)::numeric
            as cost_per_attributed_conversion,
        {{ attribution_batch_at() }} as batch_at
    from attributed
    left join spend
        on attributed.period_type = spend.period_type
        and attributed.period_start = spend.period_start
        and attributed.model = spend.model
        and attributed.channel = spend.channel
        and attributed.campaign_id = spend.campaign_id

)

select * from final
