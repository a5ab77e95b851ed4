with

source as (

    select * from {{ source('google_ads', 'campaign_daily') }}

),

renamed as (

    select
        customer__id::text as customer_id,
        campaign__id::text as campaign_id,
        segments__date::date as date_day,
        metrics__impressions::bigint as impressions,
        metrics__clicks::bigint as clicks,
        metrics__cost_micros::bigint as cost_micros,
        metrics__cost_micros::numeric / 1000000 as cost,
        coalesce(metrics__conversions::double precision, 0) as platform_conversions

    from source

)

select * from renamed
