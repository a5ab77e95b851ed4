-- Side by side: per period, conversion type and channel, the conversions each model credits to
-- the channel, one column per model, and the spread between the most and least generous model,
-- so Sales and Marketing see where the models disagree.
{%- set models = ['first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay',
                  'position_based', 'w_shaped', 'full_path', 'markov', 'shapley'] %}
{%- set periods = ['week', 'month'] %}

with

attributed as (

    {% for period in periods %}
    select
        '{{ period }}' as period_type,
        date_trunc('{{ period }}', converted_at at time zone 'UTC')::date as period_start,
        conversion_type,
        channel,
        model,
        sum(credit) as conversions
    from {{ ref('fct_attribution') }}
    group by 1, 2, 3, 4, 5
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

pivoted as (

    select
        period_type,
        period_start,
        conversion_type,
        channel,
        {% for model in models %}
        sum(conversions) filter (where model = '{{ model }}') as {{ model }},
        {% endfor %}
        max(conversions) - min(conversions) as model_spread
    from attributed
    group by 1, 2, 3, 4

)

select * from pivoted
