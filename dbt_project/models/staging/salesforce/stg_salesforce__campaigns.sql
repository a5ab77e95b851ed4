with

source as (

    select * from {{ source('salesforce', 'campaign') }}

),

renamed as (

    select
        id as campaign_id,
        name as campaign_name,
        type as campaign_type,
        status as campaign_status,
        {{ column_or_null(source('salesforce', 'campaign'), 'utm_campaign__c', 'text') }}
            as utm_campaign

    from source
    where not coalesce(is_deleted, false)

)

select * from renamed
