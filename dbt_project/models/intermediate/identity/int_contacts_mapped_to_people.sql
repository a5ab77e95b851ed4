-- Every (non-archived) HubSpot contact with the person it belongs to.
select
    contacts.contact_id,
    md5(coalesce(contacts.email_normalized, 'hubspot:' || contacts.contact_id)) as person_id,
    contacts.created_at,
    contacts.gclid,
    contacts.became_lead_at,
    contacts.became_mql_at,
    contacts.became_sql_at,
    contacts.became_opportunity_at,
    contacts.became_customer_at
from {{ ref('stg_hubspot__contacts') }} as contacts
where not contacts.is_archived
