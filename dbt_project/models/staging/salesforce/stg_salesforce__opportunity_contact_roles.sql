with

source as (

    select * from {{ source('salesforce', 'opportunity_contact_role') }}

),

renamed as (

    select
        id as contact_role_id,
        opportunity_id,
        contact_id,
        role,
        coalesce(is_primary, false) as is_primary,
        created_date::timestamptz as created_at

    from source
    where not coalesce(is_deleted, false)

)

select * from renamed
