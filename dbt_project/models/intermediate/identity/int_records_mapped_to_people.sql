-- Every live record of a person in every system, with the person it belongs to: HubSpot
-- contacts (not archived), Salesforce leads and contacts (not deleted), Mailchimp members.
-- A converted lead without an email takes its contact's.
with

hubspot as (

    select
        'hubspot' as system,
        contact_id as record_id,
        email_normalized,
        created_at,
        {%- for column in person_source_columns() %}
        {{ column }},
        {%- endfor %}
        owner_id,
        cast(null as text) as lead_source
    from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

sf_contacts as (

    select * from {{ ref('stg_salesforce__contacts') }} where not is_deleted

),

salesforce_leads as (

    select
        'salesforce_lead' as system,
        leads.lead_id as record_id,
        coalesce(leads.email_normalized, sf_contacts.email_normalized) as email_normalized,
        leads.created_at,
        {%- for column in person_source_columns() %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        leads.owner_id,
        leads.lead_source
    from {{ ref('stg_salesforce__leads') }} as leads
    left join sf_contacts
        on leads.converted_contact_id = sf_contacts.contact_id
    where not leads.is_deleted

),

salesforce_contacts as (

    select
        'salesforce_contact' as system,
        contact_id as record_id,
        email_normalized,
        created_at,
        {%- for column in person_source_columns() %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        owner_id,
        lead_source
    from sf_contacts

),

mailchimp as (

    select distinct on (email_normalized)
        'mailchimp' as system,
        member_id as record_id,
        email_normalized,
        opted_in_at as created_at,
        {%- for column in person_source_columns() %}
        cast(null as text) as {{ column }},
        {%- endfor %}
        cast(null as text) as owner_id,
        cast(null as text) as lead_source
    from {{ ref('stg_mailchimp__members') }}
    where email_normalized is not null
    order by email_normalized, member_id

),

unioned as (

    select * from hubspot
    union all
    select * from salesforce_leads
    union all
    select * from salesforce_contacts

),

keyed as (

    select
        *,
        md5(coalesce(email_normalized, system || ':' || record_id)) as person_id
    from unioned

),

with_members as (

    -- a Mailchimp member is a person only together with a CRM record (a newsletter-only
    -- subscriber is an audience member, not yet a lead)
    select keyed.* from keyed
    union all
    select mailchimp.*, md5(mailchimp.email_normalized) as person_id
    from mailchimp
    where exists (
        select 1 from keyed where keyed.email_normalized = mailchimp.email_normalized
    )

)

select * from with_members
