with

source as (

    select * from {{ source('meta_ads', 'ad_insights') }}

),

renamed as (

    select
        account_id::text as account_id,
        campaign_id::text as campaign_id,
        campaign_name,
        ad_id::text as ad_id,
        date_start::date as date_day,
        spend::numeric as spend,
        upper(account_currency) as currency,
        impressions::bigint as impressions,
        clicks::bigint as clicks,
        account_timezone as time_zone

    from source

)

select * from renamed
