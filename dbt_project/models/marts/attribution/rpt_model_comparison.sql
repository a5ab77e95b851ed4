-- Side by side: per period, conversion type and channel, the conversions each model credits to
-- the channel, one column per model, and the spread between the most and least generous model,
-- so Sales and Marketing see where the models disagree.
{%- set models = var('attribution_models') %}

with

attributed as (

    -- the credit per period, conversion type, channel and model: rpt_channel_attribution's,
    -- summed over campaigns (one scan of fct_attribution serves both)
    select
        period_type,
        period_start,
        conversion_type,
        channel,
        model,
        sum(attributed_conversions) as conversions
    from {{ ref('rpt_channel_attribution') }}
    group by 1, 2, 3, 4, 5

),

pivoted as (

    -- a model that applies to the conversion type and credits the channel nothing shows 0; a
    -- model that does not apply (w_shaped before opportunity, full_path before customer) is null
    select
        period_type,
        period_start,
        conversion_type,
        channel,
        {% for model in models %}
        case when {{ attribution_model_applies(model) }}
            then coalesce(sum(conversions) filter (where model = '{{ model }}'), 0)
        end as {{ model }}{{ ',' if not loop.last }}
        {% endfor %}
    from attributed
    group by 1, 2, 3, 4

),

final as (

    -- greatest/least skip nulls: the spread is over the models that apply, zeros included
    select
        *,
        greatest({{ models | join(', ') }}) - least({{ models | join(', ') }}) as model_spread
    from pivoted

)

select * from final
