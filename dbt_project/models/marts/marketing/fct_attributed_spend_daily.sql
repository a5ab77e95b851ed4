-- Per day, attribution model, channel and campaign: the ad spend there (reporting currency; the
-- same under every model) beside the conversions and value the model credits there, so cost
-- per X, CAC and ROAS group by channel, campaign and model (docs/definitions.md: where the
-- grouping is a channel or campaign, X and revenue come from a named model). Spend stays on the
-- platform's day, conversions on their UTC day. The semantic model `attributed_spend` reads it.
-- Incremental (DECISIONLOG.md: incremental attribution): a run rewrites the days whose credits
-- or spend were written, or that credits left, since its last run (attribution_changed_days).
{{ config(**attribution_sums_config('date_day', index='date_day')) }}
{%- set types = var('conversion_types') %}
{%- set counts = var('funnel_stages') %}

with

{% if is_incremental() %}

changed as (

    {{ attribution_changed_days(this.name) }}

),

{% endif %}

spend as (

    select
        date_day,
        channel,
        coalesce(campaign_id, '(none)') as campaign_id,
        max(campaign_name) as campaign_name,
        sum(spend_reporting) as spend_reporting
    from {{ ref('fct_ad_spend_daily') }}
    {%- if is_incremental() %}
    where date_day in (select changed.day from changed)
    {%- endif %}
    group by 1, 2, 3

),

models as (

    {% for model in var('attribution_models') %}
    select '{{ model }}' as model
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

spend_per_model as (

    select spend.*, models.model
    from spend
    cross join models

),

attributed as (

    select
        (converted_at at time zone 'UTC')::date as date_day,
        model,
        channel,
        coalesce(campaign_id, '(none)') as campaign_id,
        max(campaign_name) as campaign_name,
        {% for type in types %}
        sum(credit) filter (where conversion_type = '{{ type }}') as {{ counts[type] }},
        {% endfor %}
        sum(revenue_credit) filter (where conversion_type = 'opportunity') as pipeline,
        sum(revenue_credit) filter (where conversion_type = 'customer') as revenue
    from {{ ref('fct_attribution') }} as credits
    {%- if is_incremental() %}
    {{ attribution_join_changed('changed', 'credits', 'converted_at') }}
    {%- endif %}
    group by 1, 2, 3, 4

),

final as (

    select
        coalesce(s.date_day, a.date_day) as date_day,
        coalesce(s.model, a.model) as model,
        coalesce(s.channel, a.channel) as channel,
        coalesce(s.campaign_id, a.campaign_id) as campaign_id,
        coalesce(s.campaign_name, a.campaign_name) as campaign_name,
        coalesce(s.spend_reporting, 0) as spend_reporting,
        {% for type in types %}
        coalesce(a.{{ counts[type] }}, 0)::double precision as {{ counts[type] }},
        {% endfor %}
        coalesce(a.pipeline, 0)::numeric as pipeline,
        coalesce(a.revenue, 0)::numeric as revenue,
        {{ attribution_batch_at() }} as batch_at
    from spend_per_model as s
    full outer join attributed as a
        on s.date_day = a.date_day
        and s.model = a.model
        and s.channel = a.channel
        and s.campaign_id = a.campaign_id

)

select * from final
