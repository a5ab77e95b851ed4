-- Journeys that did not convert, per conversion type: a person with touches who never reached
-- the stage; their path is their touches in the lookback before their last touch. The Markov
-- chain needs them to end in `null` (docs/definitions.md), and Shapley's worth v(S) counts them.
-- Incremental (DECISIONLOG.md: incremental attribution): a run recomputes the journeys of the
-- people its changed inputs (int_attribution_inputs_tracked) reach (a changed or gone touch, on
-- its new person and on the person whose stored journey held it; a change of reached stages),
-- and keeps the rest; a person left without a journey loses their rows. `batch_at` is the run
-- that wrote the row.
{%- set types = var('conversion_types') %}
{%- set tracked = ref('int_attribution_inputs_tracked') %}
{{ config(
    materialized='incremental',
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['person_id']},
        {'columns': ['touchpoint_id']},
        {'columns': ['conversion_type']},
    ],
    post_hook=[
        "{% if is_incremental() and attribution_change_detection() %}
         delete from {{ this }}
         where coalesce(batch_at, '-infinity') < {{ attribution_batch_at() }}
             and person_id in (
                 {{ attribution_affected_people(ref('int_attribution_inputs_tracked'), this) }}
             )
         {% else %}select 1{% endif %}",
        "{{ attribution_advance_watermark('int_nonconversion_paths_joined') }}",
    ],
) }}

with

touches as (

    select * from {{ ref('int_touchpoints_unioned') }}
    {%- if is_incremental() %}
    where person_id in ({{ attribution_affected_people(tracked, this) }})
    {%- endif %}

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
        ) as touch_position,
        {{ attribution_batch_at() }} as batch_at
    from journeys

)

select * from numbered
