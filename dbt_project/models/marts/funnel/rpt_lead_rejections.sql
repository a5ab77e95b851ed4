-- Rejected MQLs per period (of the rejection), channel and the reason the CRM records.

with

rejected as (

    select * from {{ ref('fct_funnel') }} where disqualified_at is not null

),

final as (

    {% call(period) union_periods() %}
    select
        {{ period_columns(period, 'disqualified_at') }},
        source_channel as channel,
        coalesce(disqualification_reason, '(none given)') as disqualification_reason,
        count(*) as rejected
    from rejected
    group by 1, 2, 3, 4
    {% endcall %}

)

select * from final
