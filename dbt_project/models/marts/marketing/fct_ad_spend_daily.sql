-- Spend per platform, account, campaign and day, on the platform's own day (its account time
-- zone, kept beside it), in the account's currency and the reporting currency. Incremental:
-- each run rebuilds the days inside the longest restatement window (platforms restate recent
-- days), replacing the old figures; a full refresh gives the same table.
{{ config(
    materialized='incremental',
    unique_key=['date_day', 'platform', 'account_id', 'campaign_id'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
with

daily as (

    select * from {{ ref('stg_google_ads__campaign_daily') }}

),

customers as (

    select * from {{ ref('stg_google_ads__customers') }}

),

campaigns as (

    select * from {{ ref('stg_google_ads__campaigns') }}

),

google_ads as (

    select
        daily.date_day,
        'google_ads' as platform,
        daily.customer_id as account_id,
        daily.campaign_id,
        campaigns.campaign_name,
        {{ google_ads_channel() }} as channel,
        daily.cost as spend,
        customers.currency,
        {{ to_reporting_currency('daily.cost', 'customers.currency', 'daily.date_day',
                                 'rates.rate_to_usd') }} as spend_reporting,
        '{{ var("reporting_currency") }}' as reporting_currency,
        daily.impressions,
        daily.clicks,
        daily.platform_conversions,
        customers.time_zone
    from daily
    left join customers
        on daily.customer_id = customers.customer_id
    left join campaigns
        on daily.campaign_id = campaigns.campaign_id
    left join {{ ref('fx_rates_daily') }} as rates
        on daily.date_day = rates.rate_date
        and customers.currency = rates.currency
    {{ join_google_ads_channel('campaigns.advertising_channel_type') }}

),

meta_ads as (

    select
        insights.date_day,
        'meta_ads' as platform,
        insights.account_id,
        insights.campaign_id,
        max(insights.campaign_name) as campaign_name,
        'paid_social' as channel,
        sum(insights.spend) as spend,
        insights.currency,
        {{ to_reporting_currency('sum(insights.spend)', 'insights.currency', 'insights.date_day',
                                 'max(rates.rate_to_usd)') }} as spend_reporting,
        '{{ var("reporting_currency") }}' as reporting_currency,
        sum(insights.impressions)::bigint as impressions,
        sum(insights.clicks)::bigint as clicks,
        cast(null as double precision) as platform_conversions,
        max(insights.time_zone) as time_zone
    from {{ ref('stg_meta_ads__ad_insights') }} as insights
    left join {{ ref('fx_rates_daily') }} as rates
        on insights.date_day = rates.rate_date
        and insights.currency = rates.currency
    group by insights.date_day, insights.account_id, insights.campaign_id, insights.currency

),

linkedin_ads as (

    select
        analytics.date_day,
        'linkedin_ads' as platform,
        analytics.account_id,
        analytics.campaign_id,
        campaigns.campaign_name,
        'paid_social' as channel,
        analytics.spend,
        analytics.currency,
        {{ to_reporting_currency('analytics.spend', 'analytics.currency', 'analytics.date_day',
                                 'rates.rate_to_usd') }} as spend_reporting,
        '{{ var("reporting_currency") }}' as reporting_currency,
        analytics.impressions,
        analytics.clicks,
        analytics.platform_conversions,
        analytics.time_zone
    from {{ ref('stg_linkedin_ads__campaign_analytics') }} as analytics
    left join {{ ref('stg_linkedin_ads__campaigns') }} as campaigns
        on analytics.campaign_id = campaigns.campaign_id
    left join {{ ref('fx_rates_daily') }} as rates
        on analytics.date_day = rates.rate_date
        and analytics.currency = rates.currency

),

unioned as (

    {{ union_all(['google_ads', 'meta_ads', 'linkedin_ads']) }}

)

-- batch_at: the run that wrote the row (the marts over spend recompute the days it wrote)
select *, {{ attribution_batch_at() }} as batch_at from unioned
{% if is_incremental() %}
where date_day >= (
    select coalesce(max(date_day), '1900-01-01'::date) - {{ var('spend_restatement_days') }}
    from {{ this }}
)
{% endif %}
