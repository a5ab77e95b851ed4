-- One row per person across HubSpot, Salesforce and Mailchimp (docs/definitions.md). A person
-- is a normalised email; records without one stay their own person. The earliest HubSpot
-- contact gives the original source; Salesforce leads and contacts, Mailchimp members join on
-- the same email. DECISIONLOG.md: identity.
with

records as (

    select * from {{ ref('int_records_mapped_to_people') }}

),

primary_contact as (

    select distinct on (person_id)
        person_id,
        record_id as hubspot_contact_id,
        {%- for column in person_source_columns() %}
        {{ column }},
        {%- endfor %}
        owner_id
    from records
    where system = 'hubspot'
    order by person_id, created_at, record_id

),

people as (

    select
        records.person_id,
        min(records.email_normalized) as email,
        min(records.created_at) as first_seen_at,
        count(*) filter (where records.system = 'hubspot') as hubspot_contact_count,
        min(records.record_id) filter (where records.system = 'salesforce_lead')
            as salesforce_lead_id,
        min(records.record_id) filter (where records.system = 'salesforce_contact')
            as salesforce_contact_id,
        min(records.record_id) filter (where records.system = 'mailchimp') as mailchimp_member_id,
        min(records.lead_source) filter (where records.system = 'salesforce_lead')
            as salesforce_lead_source,
        min(records.owner_id) filter (where records.system = 'salesforce_lead')
            as salesforce_owner_id
    from records
    group by records.person_id

),

final as (

    select
        people.person_id,
        people.email,
        primary_contact.hubspot_contact_id,
        people.hubspot_contact_count,
        people.salesforce_lead_id,
        people.salesforce_contact_id,
        people.mailchimp_member_id,
        primary_contact.analytics_source,
        primary_contact.analytics_source_data_1,
        primary_contact.analytics_source_data_2,
        primary_contact.utm_source,
        primary_contact.utm_medium,
        primary_contact.utm_campaign,
        people.salesforce_lead_source,
        coalesce(people.salesforce_owner_id, primary_contact.owner_id) as owner_id,
        people.first_seen_at
    from people
    left join primary_contact
        on people.person_id = primary_contact.person_id

)

select * from final
