-- Rejected MQLs per period (of the rejection), channel and the reason the CRM records.
{%- set periods = ['week', 'month'] %}

with

rejected as (

    select * from {{ ref('fct_funnel') }} where disqualified_at is not null

),

final as (

    {% for period in periods %}
    select
        '{{ period }}' as period_type,
        date_trunc('{{ period }}', disqualified_at at time zone 'UTC')::date as period_start,
        source_channel as channel,
        coalesce(disqualification_reason, '(none given)') as disqualification_reason,
        count(*) as rejected
    from rejected
    group by 1, 2, 3, 4
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
