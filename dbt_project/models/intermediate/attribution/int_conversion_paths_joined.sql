-- Each conversion's path: the touches in [converted_at - lookback, converted_at] of its person,
-- or for opportunity and customer of every person on the opportunity (account-based), ordered
-- by time then touchpoint id; a conversion with no touch gets one `(none)` touch so its credit
-- still adds up (DOMAIN.md: touchpoints and conversions).
{%- set conversion_columns = [
    'conversion_id', 'conversion_type', 'person_id', 'converted_at', 'conversion_value',
    'lead_milestone_at', 'opportunity_milestone_at', 'close_milestone_at',
] %}
with

conversions as (

    select * from {{ ref('int_conversions_unpivoted') }}

),

touches as (

    select * from {{ ref('int_touchpoints_unioned') }}

),

conversion_people as (

    select conversion_id, person_id from conversions where opportunity_id is null
    union
    select conversions.conversion_id, roles.person_id
    from conversions
    inner join {{ ref('int_opportunity_people') }} as roles
        on conversions.opportunity_id = roles.opportunity_id

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
            >= conversions.converted_at - interval '{{ var("attribution_lookback_days") }} days'

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
        count(*) over (partition by conversion_id) as path_length
    from paths

)

select * from numbered
