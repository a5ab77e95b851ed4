-- Journeys that did not convert, per conversion type: a person with touches who never reached
-- the stage; their path is their touches in the lookback before their last touch. The Markov
-- chain needs them to end in `null` (DOMAIN.md: Markov), and Shapley's worth v(S) counts them.
{%- set types = var('conversion_types') %}

with

touches as (

    select * from {{ ref('int_touchpoints_unioned') }}

),

stages as (

    select * from {{ ref('int_funnel_stages_ordered') }}

),

last_touch as (

    select person_id, max(touched_at) as last_touched_at
    from touches
    group by person_id

),

journeys as (

    {% for type in types %}
    select
        touches.person_id || ':{{ type }}:none' as journey_id,
        '{{ type }}' as conversion_type,
        touches.person_id,
        touches.touchpoint_id,
        touches.touched_at,
        touches.channel
    from touches
    inner join last_touch
        on touches.person_id = last_touch.person_id
    left join stages
        on touches.person_id = stages.person_id
    where stages.{{ type }}_at is null
        and touches.touched_at >= last_touch.last_touched_at
            - interval '{{ var("attribution_lookback_days") }} days'
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

numbered as (

    select
        *,
        row_number() over (
            partition by journey_id order by touched_at, touchpoint_id
        ) as touch_position
    from journeys

)

select * from numbered
