-- Every touch that can be tied to a person: the CRM form fill (with its original source),
-- Google Ads clicks tied through the gclid the CRM captured, and Mailchimp email clicks tied
-- through the email address. Clicks nobody can be tied to stay out (they remain in spend).
with

people as (

    select * from {{ ref('int_people_resolved') }}

),

contacts as (

    select * from {{ ref('int_contacts_mapped_to_people') }}

),

form_fills as (

    select
        'hubspot_form:' || contacts.contact_id as touchpoint_id,
        contacts.person_id,
        contacts.created_at as touched_at,
        'form_fill' as touch_type,
        'hubspot' as platform,
        coalesce(sources.channel, 'other') as channel,
        lower(coalesce(stg.analytics_source, 'unknown')) as source,
        coalesce(sources.medium, 'unknown') as medium,
        cast(null as text) as campaign_id,
        case
            when stg.analytics_source in ('PAID_SEARCH', 'PAID_SOCIAL', 'EMAIL_MARKETING')
                then stg.analytics_source_data_1
        end as campaign_name
    from contacts
    inner join {{ ref('stg_hubspot__contacts') }} as stg
        on contacts.contact_id = stg.contact_id
    left join {{ ref('hubspot_analytics_sources') }} as sources
        on stg.analytics_source = sources.analytics_source

),

ad_clicks as (

    select
        'google_ads_click:' || clicks.gclid as touchpoint_id,
        contacts.person_id,
        -- click_view gives the day only: the touch is placed at the start of that day in the
        -- account's time zone (DECISIONLOG.md: ad click time)
        (clicks.date_day::timestamp at time zone coalesce(customers.time_zone, 'UTC'))
            as touched_at,
        'ad_click' as touch_type,
        'google_ads' as platform,
        coalesce(types.channel, 'paid_search') as channel,
        'google' as source,
        'cpc' as medium,
        clicks.campaign_id,
        campaigns.campaign_name
    from {{ ref('stg_google_ads__click_views') }} as clicks
    inner join contacts
        on clicks.gclid = contacts.gclid
    left join {{ ref('stg_google_ads__customers') }} as customers
        on clicks.customer_id = customers.customer_id
    left join {{ ref('stg_google_ads__campaigns') }} as campaigns
        on clicks.campaign_id = campaigns.campaign_id
    left join {{ ref('ad_channel_types') }} as types
        on types.platform = 'google_ads'
        and campaigns.advertising_channel_type = types.advertising_channel_type

),

email_clicks_parsed as (

    select
        activity.*,
        lower(substring(activity.clicked_url from '[?&]utm_source=([^&#]+)')) as utm_source,
        lower(substring(activity.clicked_url from '[?&]utm_medium=([^&#]+)')) as utm_medium
    from {{ ref('stg_mailchimp__email_activity') }} as activity
    where activity.action = 'click'

),

email_clicks as (

    select
        'mailchimp_click:' || clicks.activity_id as touchpoint_id,
        people.person_id,
        clicks.occurred_at as touched_at,
        'email_click' as touch_type,
        'mailchimp' as platform,
        coalesce(mapping.channel, 'email') as channel,
        coalesce(clicks.utm_source, 'mailchimp') as source,
        coalesce(clicks.utm_medium, 'email') as medium,
        clicks.campaign_id,
        campaigns.campaign_title as campaign_name
    from email_clicks_parsed as clicks
    inner join people
        on clicks.email_normalized = people.email
    left join {{ ref('stg_mailchimp__campaigns') }} as campaigns
        on clicks.campaign_id = campaigns.campaign_id
    left join {{ ref('channel_mapping') }} as mapping
        on clicks.utm_source = mapping.utm_source
        and clicks.utm_medium = mapping.utm_medium

),

unioned as (

    select * from form_fills
    union all
    select * from ad_clicks
    union all
    select * from email_clicks

)

select * from unioned
