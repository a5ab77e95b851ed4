with

source as (

    select * from {{ source('mailchimp', 'members') }}

),

renamed as (

    select
        id as member_id,
        list_id,
        email_address as email,
        lower(nullif(trim(email_address), '')) as email_normalized,
        status as member_status,
        timestamp_opt::timestamptz as opted_in_at,
        last_changed::timestamptz as updated_at

    from source

)

select * from renamed
