-- One row per campaign across every platform that runs campaigns: ad platforms and email.
with

google_ads as (

    select
        'google_ads:' || campaigns.campaign_id as campaign_key,
        'google_ads' as platform,
        campaigns.customer_id as account_id,
        campaigns.campaign_id,
        campaigns.campaign_name,
        {{ google_ads_channel() }} as channel,
        campaigns.advertising_channel_type as objective,
        customers.currency,
        campaigns.campaign_status as status
    from {{ ref('stg_google_ads__campaigns') }} as campaigns
    left join {{ ref('stg_google_ads__customers') }} as customers
        on campaigns.customer_id = customers.customer_id
    {{ join_google_ads_channel('campaigns.advertising_channel_type') }}

),

{#- Meta and LinkedIn: campaigns as their platform lists them, the currency from their daily
    figures -#}
{%- set social = {
    'meta_ads': {'short': 'meta', 'daily': 'stg_meta_ads__ad_insights'},
    'linkedin_ads': {'short': 'linkedin', 'daily': 'stg_linkedin_ads__campaign_analytics'},
} %}
{%- for platform, p in social.items() %}
{{ p.short }}_currencies as (

    select campaign_id, max(currency) as currency
    from {{ ref(p.daily) }}
    group by campaign_id

),

{{ platform }} as (

    select
        '{{ platform }}:' || campaigns.campaign_id as campaign_key,
        '{{ platform }}' as platform,
        campaigns.account_id,
        campaigns.campaign_id,
        campaigns.campaign_name,
        'paid_social' as channel,
        campaigns.objective,
        {{ p.short }}_currencies.currency,
        campaigns.campaign_status as status
    from {{ ref('stg_' ~ platform ~ '__campaigns') }} as campaigns
    left join {{ p.short }}_currencies
        on campaigns.campaign_id = {{ p.short }}_currencies.campaign_id

),
{% endfor %}

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

    {{ union_all(['google_ads'] + (social | list) + ['mailchimp']) }}

)

select * from unioned
