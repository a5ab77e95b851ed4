with

source as (

    select * from {{ source('google_ads', 'click_views') }}

),

renamed as (

    select
        click_view__gclid as gclid,
        customer__id::text as customer_id,
        campaign__id::text as campaign_id,
        ad_group__id::text as ad_group_id,
        segments__date::date as date_day

    from source

)

select * from renamed
