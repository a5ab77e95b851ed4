with

source as (

    select * from {{ source('google_ads', 'campaigns') }}

),

renamed as (

    select
        campaign__id::text as campaign_id,
        customer__id::text as customer_id,
        campaign__name as campaign_name,
        campaign__status as campaign_status,
        campaign__advertising_channel_type as advertising_channel_type

    from source

)

select * from renamed
