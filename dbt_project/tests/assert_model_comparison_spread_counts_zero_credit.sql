-- rpt_model_comparison: where a model applies to the conversion type (w_shaped: opportunity and
-- customer, full_path: customer, the others: all), its column is the conversions it credits to
-- the channel, 0 when it credits none; model_spread is the most minus the least generous of
-- those models, the zeros included.
{%- set models = ['first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay',
                  'position_based', 'w_shaped', 'full_path', 'markov', 'shapley'] %}
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
    where {% if model == 'w_shaped' %}conversion_type in ('opportunity', 'customer')
        {%- elif model == 'full_path' %}conversion_type = 'customer'
        {%- else %}true{% endif %}
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
