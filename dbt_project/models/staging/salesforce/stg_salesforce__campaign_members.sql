with

source as (

    select * from {{ source('salesforce', 'campaign_member') }}

),

renamed as (

    select
        id as campaign_member_id,
        campaign_id,
        lead_or_contact_id,
        status as member_status,
        coalesce(has_responded, false) as has_responded,
        first_responded_date::date as first_responded_date,
        created_date::timestamptz as created_at

    from source
    where not coalesce(is_deleted, false)

)

select * from renamed
