-- Credit per conversion, touch and model. This first cut carries `last_touch`: all credit to
-- the last touch of the path (DOMAIN.md: attribution models). Only credited touches appear.
with

paths as (

    select * from {{ ref('int_conversion_paths_joined') }}

),

last_touch as (

    select
        conversion_id,
        conversion_type,
        person_id,
        converted_at,
        touchpoint_id,
        touched_at,
        'last_touch' as model,
        1.0::double precision as credit,
        channel,
        campaign_id,
        campaign_name
    from paths
    where touch_position = path_length

)

select * from last_touch
