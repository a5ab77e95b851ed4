with

source as (

    select * from {{ source('salesforce', 'lead_history') }}

),

renamed as (

    select
        id as history_id,
        lead_id,
        new_value as lead_status,
        old_value as previous_status,
        created_date::timestamptz as changed_at,
        created_by_id as changed_by_user_id

    from source
    where field = 'Status'
        and not coalesce(is_deleted, false)

)

select * from renamed
