with

people as (

    select * from {{ ref('int_people_resolved') }}

),

stages as (

    select * from {{ ref('int_funnel_stages_ordered') }}

),

sources as (

    select * from {{ ref('hubspot_analytics_sources') }}

),

final as (

    select
        people.person_id,
        people.email,
        people.hubspot_contact_id,
        people.mailchimp_member_id,
        stages.lead_at,
        stages.mql_at,
        stages.sal_at,
        stages.sql_at,
        stages.opportunity_at,
        stages.customer_at,
        coalesce(sources.channel, 'other') as source_channel,
        people.analytics_source as source,
        case
            when people.analytics_source in ('PAID_SEARCH', 'PAID_SOCIAL', 'EMAIL_MARKETING')
                then people.analytics_source_data_1
        end as source_campaign
    from people
    inner join stages
        on people.person_id = stages.person_id
    left join sources
        on people.analytics_source = sources.analytics_source

)

select * from final
