-- Integrity (fan-out) between staging and fct_ad_spend_daily: per platform, the mart has one row
-- per platform, account, campaign and day of the staged stats, and the same spend, impressions
-- and clicks. A join that doubles a day (campaign, customer, rate, channel type) inflates spend;
-- one that drops it loses spend; an incremental run that misses a restated day differs too.
with

staged as (

    select
        'google_ads' as platform,
        count(*) as day_rows,
        sum(cost) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from {{ ref('stg_google_ads__campaign_daily') }}
    union all
    select
        'meta_ads',
        count(distinct (date_day, account_id, campaign_id)),
        sum(spend),
        sum(impressions),
        sum(clicks)
    from {{ ref('stg_meta_ads__ad_insights') }}
    union all
    select
        'linkedin_ads',
        count(*),
        sum(spend),
        sum(impressions),
        sum(clicks)
    from {{ ref('stg_linkedin_ads__campaign_analytics') }}

),

mart as (

    select
        platform,
        count(*) as day_rows,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from {{ ref('fct_ad_spend_daily') }}
    group by platform

)

select
    coalesce(staged.platform, mart.platform) as platform,
    staged.day_rows as staged_rows,
    mart.day_rows as mart_rows,
    staged.spend as staged_spend,
    mart.spend as mart_spend,
    staged.impressions as staged_impressions,
    mart.impressions as mart_impressions,
    staged.clicks as staged_clicks,
    mart.clicks as mart_clicks
from staged
full outer join mart
    on staged.platform = mart.platform
where coalesce(staged.day_rows, 0) != coalesce(mart.day_rows, 0)
    or coalesce(staged.spend, 0) != coalesce(mart.spend, 0)
    or coalesce(staged.impressions, 0) != coalesce(mart.impressions, 0)
    or coalesce(staged.clicks, 0) != coalesce(mart.clicks, 0)
