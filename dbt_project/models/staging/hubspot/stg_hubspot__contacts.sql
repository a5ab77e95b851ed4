with

source as (

    select * from {{ source('hubspot', 'contacts') }}

),

renamed as (

    select
        id::text as contact_id,
        nullif(trim(email), '') as email,
        lower(nullif(trim(email), '')) as email_normalized,
        firstname as first_name,
        lastname as last_name,
        company as company_name,
        createdate::timestamptz as created_at,
        lastmodifieddate::timestamptz as updated_at,
        lifecyclestage as lifecycle_stage,
        hs_lifecyclestage_lead_date::timestamptz as became_lead_at,
        hs_lifecyclestage_marketingqualifiedlead_date::timestamptz as became_mql_at,
        hs_lifecyclestage_salesqualifiedlead_date::timestamptz as became_sql_at,
        hs_lifecyclestage_opportunity_date::timestamptz as became_opportunity_at,
        hs_lifecyclestage_customer_date::timestamptz as became_customer_at,
        hs_analytics_source as analytics_source,
        hs_analytics_source_data_1 as analytics_source_data_1,
        hs_analytics_source_data_2 as analytics_source_data_2,
        nullif(hs_google_click_id, '') as gclid,
        {{ column_or_null(source('hubspot', 'contacts'), 'hs_facebook_click_id', 'text') }}
            as fbclid,
        {{ column_or_null(source('hubspot', 'contacts'), 'li_fat_id', 'text') }} as li_fat_id,
        lower({{ column_or_null(source('hubspot', 'contacts'), 'utm_source', 'text') }})
            as utm_source,
        lower({{ column_or_null(source('hubspot', 'contacts'), 'utm_medium', 'text') }})
            as utm_medium,
        {{ column_or_null(source('hubspot', 'contacts'), 'utm_campaign', 'text') }}
            as utm_campaign,
        -- paid social landing pages carry the ad (Meta) or campaign (LinkedIn) id here
        {{ column_or_null(source('hubspot', 'contacts'), 'utm_content', 'text') }}
            as utm_content,
        {{ column_or_null(source('hubspot', 'contacts'), 'salesforceleadid', 'text') }}
            as salesforce_lead_id,
        hubspot_owner_id as owner_id,
        hs_lead_status as lead_status,
        coalesce(archived, false) as is_archived,
        _dlt_load_id as load_id

    from source

)

select * from renamed
