with

source as (

    select * from {{ source('salesforce', 'event') }}

),

renamed as (

    select
        id as activity_id,
        who_id,
        owner_id,
        subject,
        type as activity_type,
        {{ column_or_null(source('salesforce', 'event'), 'event_subtype', 'text') }}
            as activity_subtype,
        coalesce(start_date_time::timestamptz, created_date::timestamptz) as occurred_at,
        coalesce(is_deleted, false) as is_deleted

    from source

)

select * from renamed
