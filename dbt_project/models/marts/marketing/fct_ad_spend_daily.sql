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
        coalesce(types.channel, 'paid_search') as channel,
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
    left join {{ ref('ad_channel_types') }} as types
        on types.platform = 'google_ads'
        and campaigns.advertising_channel_type = types.advertising_channel_type

)

select * from google_ads
{% if is_incremental() %}
where date_day >= (
    select coalesce(max(date_day), '1900-01-01'::date) - {{ var('spend_restatement_days') }}
    from {{ this }}
)
{% endif %}
