-- The most common paths (channel sequences, consecutive repeats collapsed) per conversion type:
-- conversions, non-conversions, average days and touches from first touch to conversion.
with

converting as (

    select
        conversion_id,
        conversion_type,
        min(converted_at) as converted_at,
        min(touched_at) as first_touched_at,
        count(*) as touches,
        {{ path_text() }} as channels
    {{ from_collapsed_touches(ref('int_conversion_paths_joined'), 'paths', 'conversion_id') }}
    group by conversion_id, conversion_type

),

touch_counts as (

    select conversion_id, count(*) as touches
    from {{ ref('int_conversion_paths_joined') }}
    group by conversion_id

),

non_converting as (

    select
        conversion_type,
        journey_id,
        {{ path_text() }} as channels
    {{ from_collapsed_touches(ref('int_nonconversion_paths_joined'), 'journeys', 'journey_id') }}
    group by conversion_type, journey_id

),

conversions as (

    select
        converting.conversion_type,
        converting.channels as path,
        count(*) as conversions,
        avg(extract(epoch from converting.converted_at - converting.first_touched_at) / 86400.0)
            as avg_days_to_convert,
        avg(touch_counts.touches) as avg_touches
    from converting
    inner join touch_counts
        on converting.conversion_id = touch_counts.conversion_id
    group by 1, 2

),

nulls as (

    select conversion_type, channels as path, count(*) as non_conversions
    from non_converting
    group by 1, 2

),

final as (

    select
        coalesce(conversions.conversion_type, nulls.conversion_type) as conversion_type,
        coalesce(conversions.path, nulls.path) as path,
        coalesce(conversions.conversions, 0) as conversions,
        coalesce(nulls.non_conversions, 0) as non_conversions,
        conversions.avg_days_to_convert::double precision as avg_days_to_convert,
        conversions.avg_touches::double precision as avg_touches
    from conversions
    full outer join nulls
        on conversions.conversion_type = nulls.conversion_type
        and conversions.path = nulls.path

)

select * from final
