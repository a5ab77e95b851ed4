-- Integrity: fct_touchpoints holds exactly the touches of int_touchpoints_unioned, one row each
-- (no touch lost or doubled, none left over from an earlier incremental run), and each with the
-- same person, time, type and channel.
with

mart as (

    select touchpoint_id, person_id, touched_at, touch_type, channel
    from {{ ref('fct_touchpoints') }}

),

unioned as (

    select touchpoint_id, person_id, touched_at, touch_type, channel
    from {{ ref('int_touchpoints_unioned') }}

),

counts as (

    select
        (select count(*) from mart) as mart_rows,
        (select count(*) from unioned) as unioned_rows,
        (select count(*) from (
            select * from mart
            except
            select * from unioned
        ) as only_in_mart) as only_in_mart,
        (select count(*) from (
            select * from unioned
            except
            select * from mart
        ) as only_in_unioned) as only_in_unioned

)

select *
from counts
where mart_rows != unioned_rows
    or only_in_mart > 0
    or only_in_unioned > 0
