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
        people.salesforce_lead_id,
        people.salesforce_contact_id,
        people.owner_id,
        stages.lead_at,
        stages.mql_at,
        stages.sal_at,
        stages.sql_at,
        stages.opportunity_at,
        stages.customer_at,
        stages.disqualified_at,
        stages.disqualification_reason,
        stages.first_sales_activity_at,
        stages.handoff_hours,
        stages.handoff_sla_met,
        coalesce(utm.channel, sources.channel,
                 case when people.salesforce_lead_source is not null then 'events' end,
                 'other') as source_channel,
        people.analytics_source as source,
        coalesce(people.utm_campaign, {{ hubspot_source_campaign('people') }}) as source_campaign
    from people
    inner join stages
        on people.person_id = stages.person_id
    left join sources
        on people.analytics_source = sources.analytics_source
    {{ join_utm_channel('people', 'utm') }}

)

select * from final
