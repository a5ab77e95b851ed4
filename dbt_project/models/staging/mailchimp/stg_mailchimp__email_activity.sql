with

source as (

    select * from {{ source('mailchimp', 'email_activity') }}

),

renamed as (

    select
        md5(campaign_id || '|' || email_id || '|' || action || '|' || "timestamp" || '|'
            || coalesce({{ column_or_null(source('mailchimp', 'email_activity'), 'occurrence',
                                          'text') }}, '0')) as activity_id,
        campaign_id,
        list_id,
        email_id as member_id,
        email_address as email,
        lower(nullif(trim(email_address), '')) as email_normalized,
        action,
        type as bounce_type,
        "timestamp"::timestamptz as occurred_at,
        url as clicked_url

    from source

)

select * from renamed
