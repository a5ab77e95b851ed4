with

source as (

    select * from {{ source('salesforce', 'contact') }}

),

renamed as (

    select
        id as contact_id,
        account_id,
        nullif(trim(email), '') as email,
        lower(nullif(trim(email), '')) as email_normalized,
        owner_id,
        lead_source,
        created_date::timestamptz as created_at,
        coalesce(is_deleted, false) as is_deleted

    from source

)

select * from renamed
