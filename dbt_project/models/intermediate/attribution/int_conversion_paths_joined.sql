-- Each conversion's path: the touches in [converted_at - lookback, converted_at] of its person,
-- or for opportunity and customer of every person on the opportunity (account-based), ordered
-- by time then touchpoint id; a conversion with no touch gets one `(none)` touch so its credit
-- still adds up (docs/definitions.md: conversions and paths).
-- Incremental (DECISIONLOG.md: incremental attribution): a run recomputes the paths of the
-- conversions its changed inputs (int_attribution_inputs_tracked) reach, and keeps the rest:
-- a new or changed conversion; one whose stored path holds a touch that changed or is gone; one
-- whose window [converted_at - lookback, converted_at] now holds a changed touch of one of its
-- people. A gone conversion's rows are deleted. `batch_at` is the run that wrote the row.
{%- set conversion_columns = attribution_conversion_columns() %}
{%- set lookback = "interval '" ~ var("attribution_lookback_days") ~ " days'" %}
{%- set tracked = ref('int_attribution_inputs_tracked') %}
{%- set consumer = 'int_conversion_paths_joined' %}
{{ config(
    materialized='incremental',
    unique_key='conversion_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['conversion_id']},
        {'columns': ['touchpoint_id']},
        {'columns': ['batch_at']},
    ],
    post_hook=[
        "{% if attribution_change_detection()
             and load_relation(ref('int_attribution_inputs_tracked')) is not none %}
         delete from {{ this }} as paths
         using {{ ref('int_attribution_inputs_tracked') }} as tracked
         where tracked.input_kind = 'conversion' and tracked.is_deleted
             and paths.conversion_id = tracked.entity_id
         {% else %}select 1{% endif %}",
        "{{ attribution_advance_watermark('int_conversion_paths_joined') }}",
    ],
) }}
with

-- inlined where it is used (not materialized): the planner then joins on the table's statistics
all_conversions as not materialized (

    select * from {{ ref('int_conversions_unpivoted') }}

),

all_conversion_people as (

    {{ conversion_people('all_conversions') }}

),

{% if is_incremental() %}

changes as (

    {{ attribution_changed_inputs(tracked, consumer) }}

),

-- the conversions of the people with a changed touch, joined on the person before any window
-- test: joining the changed touches to every conversion on the window first (the planner's
-- choice when it was one query) took 155 s of a 10x next-day run against 1.7 s at 1x
touched_conversion_people as materialized (

    select all_conversion_people.conversion_id, changes.occurred_at
    from changes
    inner join all_conversion_people
        on changes.person_id = all_conversion_people.person_id
    where changes.input_kind = 'touch'
        and not changes.is_deleted

),

affected as (

    -- new, changed and gone conversions
    select entity_id as conversion_id
    from changes
    where input_kind = 'conversion'
    union
    -- conversions whose stored path holds a touch that changed or is gone
    select stored.conversion_id
    from {{ this }} as stored
    inner join changes
        on changes.input_kind = 'touch'
        and stored.touchpoint_id = changes.entity_id
    union
    -- conversions whose window now holds a changed touch of one of their people
    select all_conversions.conversion_id
    from touched_conversion_people as touched
    inner join all_conversions
        on touched.conversion_id = all_conversions.conversion_id
    where touched.occurred_at <= all_conversions.converted_at
        and touched.occurred_at >= all_conversions.converted_at - {{ lookback }}

),

conversions as (

    select * from all_conversions
    where conversion_id in (select affected.conversion_id from affected)

),

{% else %}

conversions as (

    select * from all_conversions

),

{% endif %}

touches as (

    select * from {{ ref('int_touchpoints_unioned') }}

),

conversion_people as (

    select all_conversion_people.*
    from all_conversion_people
    inner join conversions
        on all_conversion_people.conversion_id = conversions.conversion_id

),

in_window as (

    select
        {%- for column in conversion_columns %}
        conversions.{{ column }},
        {%- endfor %}
        touches.touchpoint_id,
        touches.touched_at,
        touches.touch_type,
        touches.channel,
        touches.campaign_id,
        touches.campaign_name
    from conversions
    inner join conversion_people
        on conversions.conversion_id = conversion_people.conversion_id
    inner join touches
        on conversion_people.person_id = touches.person_id
        and touches.touched_at <= conversions.converted_at
        and touches.touched_at
            >= conversions.converted_at - {{ lookback }}

),

empty_paths as (

    select
        {%- for column in conversion_columns %}
        conversions.{{ column }},
        {%- endfor %}
        '(none)' as touchpoint_id,
        cast(null as timestamptz) as touched_at,
        '(none)' as touch_type,
        '(none)' as channel,
        cast(null as text) as campaign_id,
        cast(null as text) as campaign_name
    from conversions
    where not exists (
        select 1 from in_window where in_window.conversion_id = conversions.conversion_id
    )

),

paths as (

    select * from in_window
    union all
    select * from empty_paths

),

numbered as (

    select
        *,
        row_number() over (
            partition by conversion_id order by touched_at nulls first, touchpoint_id
        ) as touch_position,
        count(*) over (partition by conversion_id) as path_length,
        {{ attribution_batch_at() }} as batch_at
    from paths

)

select * from numbered
