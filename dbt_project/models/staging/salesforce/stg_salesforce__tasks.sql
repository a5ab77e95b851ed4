with

source as (

    select * from {{ source('salesforce', 'task') }}

),

renamed as (

    select
        id as activity_id,
        who_id,
        owner_id,
        subject,
        {{ column_or_null(source('salesforce', 'task'), 'type', 'text') }} as activity_type,
        task_subtype as activity_subtype,
        coalesce(
            {{ column_or_null(source('salesforce', 'task'), 'completed_date_time', 'timestamptz') }},
            created_date::timestamptz
        ) as occurred_at,
        coalesce(is_deleted, false) as is_deleted

    from source

)

select * from renamed
