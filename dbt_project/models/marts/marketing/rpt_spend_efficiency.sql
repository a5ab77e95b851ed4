-- Spend against what it bought, per period (week, month), channel and campaign: spend in the
-- reporting currency, the conversions an attribution model credits to the channel/campaign,
-- and cost per lead, MQL, SQL, opportunity and customer (CAC). The model is named in
-- `attribution_model` (docs/definitions.md: cost per X, CAC and ROAS).
{%- set types = var('conversion_types') %}
{%- set plural = var('funnel_stages') %}

with

spend as (

    {% call(period) union_periods() %}
    select
        {{ period_columns(period, 'date_day', utc=false) }},
        channel,
        coalesce(campaign_id, '(none)') as campaign_id,
        max(campaign_name) as campaign_name,
        sum(spend_reporting) as spend
    from {{ ref('fct_ad_spend_daily') }}
    group by 1, 2, 3, 4
    {% endcall %}

),

attributed as (

    {% call(period) union_periods() %}
    select
        {{ period_columns(period, 'converted_at') }},
        model as attribution_model,
        channel,
        coalesce(campaign_id, '(none)') as campaign_id,
        max(campaign_name) as campaign_name,
        {% for type in types %}
        sum(credit) filter (where conversion_type = '{{ type }}') as {{ plural[type] }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from {{ ref('fct_attribution') }}
    group by 1, 2, 3, 4, 5
    {% endcall %}

),

models as (

    select distinct model as attribution_model from {{ ref('fct_attribution') }}

),

spend_per_model as (

    select spend.*, models.attribution_model
    from spend
    cross join models

),

joined as (

    select
        coalesce(s.period_type, a.period_type) as period_type,
        coalesce(s.period_start, a.period_start) as period_start,
        coalesce(s.attribution_model, a.attribution_model) as attribution_model,
        coalesce(s.channel, a.channel) as channel,
        coalesce(s.campaign_id, a.campaign_id) as campaign_id,
        coalesce(s.campaign_name, a.campaign_name) as campaign_name,
        coalesce(s.spend, 0) as spend_reporting,
        {% for type in types %}
        coalesce(a.{{ plural[type] }}, 0)::double precision as {{ plural[type] }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from spend_per_model as s
    full outer join attributed as a
        on s.period_type = a.period_type
        and s.period_start = a.period_start
        and s.attribution_model = a.attribution_model
        and s.channel = a.channel
        and s.campaign_id = a.campaign_id

),

final as (

    select
        *,
        {% for type in types %}
        spend_reporting / nullif({{ plural[type] }}, 0)::numeric as cost_per_{{ type }},
        {% endfor %}
        spend_reporting / nullif(customers, 0)::numeric as cac
    from joined

)

select * from final
