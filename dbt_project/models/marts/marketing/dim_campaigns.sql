-- One row per campaign across every platform that runs campaigns: ad platforms and email.
with

google_ads as (

    select
        'google_ads:' || campaigns.campaign_id as campaign_key,
        'google_ads' as platform,
        campaigns.customer_id as account_id,
        campaigns.campaign_id,
        campaigns.campaign_name,
        coalesce(types.channel, 'paid_search') as channel,
        campaigns.advertising_channel_type as objective,
        customers.currency,
        campaigns.campaign_status as status
    from {{ ref('stg_google_ads__campaigns') }} as campaigns
    left join {{ ref('stg_google_ads__customers') }} as customers
        on campaigns.customer_id = customers.customer_id
    left join {{ ref('ad_channel_types') }} as types
        on types.platform = 'google_ads'
        and campaigns.advertising_channel_type = types.advertising_channel_type

),

mailchimp as (

    select
        'mailchimp:' || campaign_id as campaign_key,
        'mailchimp' as platform,
        list_id as account_id,
        campaign_id,
        campaign_title as campaign_name,
        'email' as channel,
        campaign_type as objective,
        cast(null as text) as currency,
        campaign_status as status
    from {{ ref('stg_mailchimp__campaigns') }}

),

unioned as (

    select * from google_ads
    union all
    select * from mailchimp

)

select * from unioned
