-- Spend against what it bought, per period (week, month), channel and campaign: spend in the
-- reporting currency, the conversions an attribution model credits to the channel/campaign,
-- and cost per lead, MQL, SQL, opportunity and customer (CAC). The model is named in
-- `attribution_model` (docs/definitions.md: cost per X, CAC and ROAS).
-- Incremental: a run rewrites the periods holding a day fct_attributed_spend_daily rewrote
-- (attribution_changed_periods, from the same changes since this model's last run).
-- depends_on: {{ ref('fct_attribution') }}, {{ ref('fct_ad_spend_daily') }} (the changed days)
{{ config(**attribution_sums_config()) }}
{%- set types = var('conversion_types') %}
{%- set plural = var('funnel_stages') %}

with

{% if is_incremental() %}

changed as (

    {{ attribution_changed_periods(this.name) }}

),

{% endif %}

rolled_up as (

    -- fct_attributed_spend_daily per period: spend on the platform's day, conversions on their
    -- UTC day, as there (one owner of the spend-beside-credit join)
    {% call(period) union_periods() %}
    select
        {{ period_columns(period, 'date_day', utc=false) }},
        model as attribution_model,
        channel,
        campaign_id,
        max(campaign_name) as campaign_name,
        sum(spend_reporting) as spend_reporting,
        {% for type in types %}
        sum({{ plural[type] }}) as {{ plural[type] }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from {{ ref('fct_attributed_spend_daily') }} as daily
    {%- if is_incremental() %}
    {{ attribution_join_changed('changed', 'daily', 'date_day', period, utc=false) }}
    {%- endif %}
    group by 1, 2, 3, 4, 5
    {% endcall %}

),

final as (

    select
        *,
        {% for type in types %}
        spend_reporting / nullif({{ plural[type] }}, 0)::numeric as cost_per_{{ type }},
        {% endfor %}
        spend_reporting / nullif(customers, 0)::numeric as cac,
        {{ attribution_batch_at() }} as batch_at
    from rolled_up

)

select * from final
