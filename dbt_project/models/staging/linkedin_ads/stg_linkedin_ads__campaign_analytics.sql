with

source as (

    select * from {{ source('linkedin_ads', 'campaign_analytics') }}

),

renamed as (

    select
        account_id::text as account_id,
        campaign_id::text as campaign_id,
        date::date as date_day,
        cost_in_local_currency::numeric as spend,
        upper(account_currency) as currency,
        impressions::bigint as impressions,
        clicks::bigint as clicks,
        coalesce(external_website_conversions::double precision, 0) as platform_conversions,
        coalesce(time_zone, 'UTC') as time_zone

    from source

)

select * from renamed
