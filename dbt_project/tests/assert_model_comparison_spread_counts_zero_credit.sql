-- rpt_model_comparison: where a model applies to the conversion type (var
-- attribution_model_conversion_types), its column is the conversions it credits to
-- the channel, 0 when it credits none; model_spread is the most minus the least generous of
-- those models, the zeros included.
{%- set models = var('attribution_models') %}
with

comparison as (

    select * from {{ ref('rpt_model_comparison') }}

),

per_model as (

    {% for model in models %}
    select
        period_type, period_start, conversion_type, channel, model_spread,
        '{{ model }}' as model,
        {{ model }} as conversions
    from comparison
    where {{ attribution_model_applies(model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

checked as (

    select
        period_type, period_start, conversion_type, channel,
        max(model_spread) as model_spread,
        max(coalesce(conversions, 0)) - min(coalesce(conversions, 0)) as expected_spread,
        count(*) filter (where conversions is null) as null_columns
    from per_model
    group by period_type, period_start, conversion_type, channel

)

select *
from checked
where null_columns > 0
    or abs(model_spread - expected_spread) > 1e-9
