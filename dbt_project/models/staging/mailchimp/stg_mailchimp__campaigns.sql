with

source as (

    select * from {{ source('mailchimp', 'campaigns') }}

),

renamed as (

    select
        id as campaign_id,
        type as campaign_type,
        status as campaign_status,
        settings__title as campaign_title,
        settings__subject_line as subject_line,
        recipients__list_id as list_id,
        create_time::timestamptz as created_at,
        send_time::timestamptz as sent_at,
        emails_sent::bigint as emails_sent

    from source

)

select * from renamed
