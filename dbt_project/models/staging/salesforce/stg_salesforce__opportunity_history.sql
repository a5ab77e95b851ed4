with

source as (

    select * from {{ source('salesforce', 'opportunity_history') }}

),

renamed as (

    select
        id as history_id,
        opportunity_id,
        stage_name,
        amount::numeric as amount,
        close_date::date as close_date,
        created_date::timestamptz as changed_at

    from source
    where not coalesce(is_deleted, false)

)

select * from renamed
