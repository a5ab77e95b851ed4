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
