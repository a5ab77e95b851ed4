-- Every touch of a person, from every system. Incremental (DECISIONLOG.md: incremental
-- touchpoints): a run writes only the touches that are new or changed (a later identity merge
-- moves a touch to another person; a CRM edit changes its channel) and deletes the touches whose
-- source is gone, so the table is never dropped and rebuilt under the BI tools reading it, and
-- a full refresh gives the same table.
{{ config(
    materialized='incremental',
    unique_key='touchpoint_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} as existing
         where not exists (
             select 1 from {{ ref('int_touchpoints_unioned') }} as current_touches
             where current_touches.touchpoint_id = existing.touchpoint_id
         )",
        "analyze {{ this }}",
    ],
) }}
with

touches as (

    select
        touchpoint_id,
        person_id,
        touched_at,
        touch_type,
        platform,
        channel,
        source,
        medium,
        campaign_id,
        campaign_name
    from {{ ref('int_touchpoints_unioned') }}

),

{% if is_incremental() %}

changed as (

    -- new touches, and touches whose any column differs from the row already in the table
    select touches.*
    from touches
    left join {{ this }} as existing
        on touches.touchpoint_id = existing.touchpoint_id
    where existing.touchpoint_id is null
        or (
            touches.person_id, touches.touched_at, touches.touch_type, touches.platform,
            touches.channel, touches.source, touches.medium, touches.campaign_id,
            touches.campaign_name
        ) is distinct from (
            existing.person_id, existing.touched_at, existing.touch_type, existing.platform,
            existing.channel, existing.source, existing.medium, existing.campaign_id,
            existing.campaign_name
        )

)

select * from changed

{% else %}

final as (

    select * from touches

)

select * from final

{% endif %}
