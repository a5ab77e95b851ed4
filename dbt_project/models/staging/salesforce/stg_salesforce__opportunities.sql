with

source as (

    select * from {{ source('salesforce', 'opportunity') }}

),

renamed as (

    select
        id as opportunity_id,
        account_id,
        name as opportunity_name,
        type as opportunity_type,
        stage_name,
        amount::numeric as amount,
        upper(currency_iso_code) as currency,
        coalesce(is_closed, false) as is_closed,
        coalesce(is_won, false) as is_won,
        close_date::date as close_date,
        {{ column_or_null(source('salesforce', 'opportunity'), 'loss_reason__c', 'text') }}
            as loss_reason,
        {{ column_or_null(source('salesforce', 'opportunity'), 'campaign_id', 'text') }}
            as campaign_id,
        lead_source,
        owner_id,
        created_date::timestamptz as created_at,
        {{ column_or_null(source('salesforce', 'opportunity'), 'last_stage_change_date',
                          'timestamptz') }} as last_stage_changed_at,
        coalesce(is_deleted, false) as is_deleted

    from source

)

select * from renamed
