-- One row per person: their ids in every system, email, account, owner, and the first and
-- last source and channel (docs/definitions.md: people).
with

people as (

    select * from {{ ref('int_people_resolved') }}

),

funnel as (

    select person_id, source_channel, source, source_campaign from {{ ref('fct_funnel') }}

),

touches as (

    select distinct on (person_id)
        person_id, channel as last_touch_channel, source as last_touch_source,
        touched_at as last_touched_at
    from {{ ref('int_touchpoints_unioned') }}
    where touch_type <> 'sales_activity'
    order by person_id, touched_at desc, touchpoint_id desc

),

accounts as (

    select * from {{ ref('int_people_accounts_matched') }}

),

final as (

    select
        people.person_id,
        people.email,
        people.hubspot_contact_id,
        people.salesforce_lead_id,
        people.salesforce_contact_id,
        people.mailchimp_member_id,
        accounts.account_id,
        accounts.account_match,
        people.owner_id,
        funnel.source as first_source,
        funnel.source_channel as first_channel,
        touches.last_touch_source as last_source,
        touches.last_touch_channel as last_channel,
        people.first_seen_at
    from people
    left join funnel
        on people.person_id = funnel.person_id
    left join touches
        on people.person_id = touches.person_id
    left join accounts
        on people.person_id = accounts.person_id

)

select * from final
