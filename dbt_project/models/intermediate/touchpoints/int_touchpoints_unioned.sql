-- Every touch that can be tied to a person: the CRM form fill (with its original source),
-- ad clicks tied through the click id the CRM captured at form fill (Google's gclid, Meta's
-- fbclid, LinkedIn's li_fat_id), Mailchimp email clicks tied through the email address, sales
-- activities and event responses. Clicks nobody can be tied to stay out (they remain in spend).
with

people as (

    select * from {{ ref('int_people_resolved') }}

),

contacts as (

    select
        records.record_id as contact_id,
        records.person_id,
        stg.created_at,
        stg.gclid,
        stg.fbclid,
        stg.li_fat_id,
        stg.utm_source,
        stg.utm_medium,
        stg.utm_content
    from {{ ref('int_records_mapped_to_people') }} as records
    inner join {{ ref('stg_hubspot__contacts') }} as stg
        on records.system = 'hubspot' and records.record_id = stg.contact_id

),

form_fills as (

    select
        'hubspot_form:' || contacts.contact_id as touchpoint_id,
        contacts.person_id,
        contacts.created_at as touched_at,
        'form_fill' as touch_type,
        'hubspot' as platform,
        coalesce(utm.channel, sources.channel, 'other') as channel,
        coalesce(stg.utm_source, lower(coalesce(stg.analytics_source, 'unknown'))) as source,
        coalesce(stg.utm_medium, sources.medium, 'unknown') as medium,
        cast(null as text) as campaign_id,
        {{ hubspot_source_campaign('stg') }} as campaign_name
    from contacts
    inner join {{ ref('stg_hubspot__contacts') }} as stg
        on contacts.contact_id = stg.contact_id
    left join {{ ref('hubspot_analytics_sources') }} as sources
        on stg.analytics_source = sources.analytics_source
    {{ join_utm_channel('stg', 'utm') }}

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
        {{ google_ads_channel() }} as channel,
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
    {{ join_google_ads_channel('campaigns.advertising_channel_type') }}

),

meta_ads as (

    -- the ad a Meta click came through (utm_content) -> its campaign and the account's zone
    select distinct on (ad_id)
        ad_id,
        campaign_id,
        time_zone
    from {{ ref('stg_meta_ads__ad_insights') }}
    order by ad_id, date_day desc

),

social_clicks_captured as (

    -- Meta and LinkedIn report no clicks one by one: the click is known from the click id and
    -- UTM tags the landing page handed the CRM. One touch per click id (a duplicate contact
    -- of the same person can carry the same one).
    select distinct on (platform, click_id)
        *
    from (
        {%- for platform, click_id in {'meta_ads': 'fbclid', 'linkedin_ads': 'li_fat_id'}.items() %}
        select
            '{{ platform }}' as platform,
            {{ click_id }} as click_id,
            person_id,
            created_at,
            utm_source,
            utm_medium,
            utm_content
        from contacts
        where {{ click_id }} is not null
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as captured
    order by platform, click_id, created_at, person_id

),

social_clicks as (

    select
        captured.platform || '_click:' || captured.click_id as touchpoint_id,
        captured.person_id,
        -- as a Google click: the start of the click's day in the ad account's time zone (Meta:
        -- the account's; LinkedIn reports in UTC), the form fill it led to coming after it
        -- (meta_ads only joins Meta clicks: a LinkedIn click's zone is UTC)
        (
            (captured.created_at at time zone coalesce(meta_ads.time_zone, 'UTC'))::date::timestamp
            at time zone coalesce(meta_ads.time_zone, 'UTC')
        ) as touched_at,
        'ad_click' as touch_type,
        captured.platform,
        coalesce(mapping.channel, 'paid_social') as channel,
        coalesce(captured.utm_source,
                 case captured.platform when 'meta_ads' then 'facebook' else 'linkedin' end)
            as source,
        coalesce(captured.utm_medium, 'paid_social') as medium,
        coalesce(meta_ads.campaign_id, linkedin.campaign_id) as campaign_id,
        coalesce(meta_campaigns.campaign_name, linkedin.campaign_name) as campaign_name
    from social_clicks_captured as captured
    left join meta_ads
        on captured.platform = 'meta_ads'
        and captured.utm_content = meta_ads.ad_id
    left join {{ ref('stg_meta_ads__campaigns') }} as meta_campaigns
        on meta_ads.campaign_id = meta_campaigns.campaign_id
    left join {{ ref('stg_linkedin_ads__campaigns') }} as linkedin
        on captured.platform = 'linkedin_ads'
        and captured.utm_content = linkedin.campaign_id
    {{ join_utm_channel('captured') }}

),

email_clicks_parsed as (

    -- staging reads the UTM tags when it loads a row (`utm_parsed`); rows staged before it
    -- did (a warehouse upgraded without a full refresh) are read here
    select
        activity.activity_id,
        activity.email_normalized,
        activity.occurred_at,
        activity.campaign_id,
        {%- for tag in ['utm_source', 'utm_medium'] %}
        case
            when activity.utm_parsed then activity.{{ tag }}
            else {{ url_parameter('activity.clicked_url', tag) }}
        end as {{ tag }}{{ ',' if not loop.last }}
        {%- endfor %}
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
    {{ join_utm_channel('clicks') }}

),

sales_activities as (

    select
        'salesforce_' || activities.kind || ':' || activities.activity_id as touchpoint_id,
        activities.person_id,
        activities.occurred_at as touched_at,
        'sales_activity' as touch_type,
        'salesforce' as platform,
        'sales' as channel,
        'salesforce' as source,
        lower(coalesce(activities.activity_type, activities.kind)) as medium,
        cast(null as text) as campaign_id,
        cast(null as text) as campaign_name
    from {{ ref('int_sales_activities_joined') }} as activities

),

campaign_responses as (

    -- webinar and event attendance (Salesforce campaign members who responded to an event)
    select
        'salesforce_campaign_member:' || members.campaign_member_id as touchpoint_id,
        records.person_id,
        coalesce(members.first_responded_date::timestamptz, members.created_at) as touched_at,
        'campaign_response' as touch_type,
        'salesforce' as platform,
        'events' as channel,
        'salesforce' as source,
        lower(campaigns.campaign_type) as medium,
        members.campaign_id,
        campaigns.campaign_name
    from {{ ref('stg_salesforce__campaign_members') }} as members
    inner join {{ ref('stg_salesforce__campaigns') }} as campaigns
        on members.campaign_id = campaigns.campaign_id
    inner join {{ ref('int_records_mapped_to_people') }} as records
        on records.system in ('salesforce_lead', 'salesforce_contact')
        and records.record_id = members.lead_or_contact_id
    where members.has_responded
        and campaigns.campaign_type in ('Webinar', 'Event', 'Conference', 'Trade Show')

),

unioned as (

    select * from form_fills
    union all
    select * from ad_clicks
    union all
    select * from social_clicks
    union all
    select * from email_clicks
    union all
    select * from sales_activities
    union all
    select * from campaign_responses

)

select * from unioned
