with

source as (

    select * from {{ source('salesforce', 'lead') }}

),

renamed as (

    select
        id as lead_id,
        nullif(trim(email), '') as email,
        lower(nullif(trim(email), '')) as email_normalized,
        company as company_name,
        lead_source,
        status as lead_status,
        {{ column_or_null(source('salesforce', 'lead'), 'unqualified_reason__c', 'text') }}
            as unqualified_reason,
        owner_id,
        coalesce(is_converted, false) as is_converted,
        {{ column_or_null(source('salesforce', 'lead'), 'converted_contact_id', 'text') }}
            as converted_contact_id,
        {{ column_or_null(source('salesforce', 'lead'), 'converted_account_id', 'text') }}
            as converted_account_id,
        {{ column_or_null(source('salesforce', 'lead'), 'converted_date', 'date') }}
            as converted_date,
        {{ column_or_null(source('salesforce', 'lead'), 'master_record_id', 'text') }}
            as master_record_id,
        created_date::timestamptz as created_at,
        system_modstamp::timestamptz as updated_at,
        coalesce(is_deleted, false) as is_deleted

    from source

)

select * from renamed
