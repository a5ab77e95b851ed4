-- Every signal that a person entered a funnel stage, from every system, mapped to one set of
-- stages through the editable seed `crm_status_mapping` (docs/definitions.md: the funnel):
-- HubSpot lifecycle dates and lead status changes, Salesforce lead creation and status
-- changes, the first sales
-- activity on an MQL (sal), opportunity contact roles (opportunity) and won opportunities
-- (customer). Disqualifications come through the same mapping.
with

records as (

    select * from {{ ref('int_records_mapped_to_people') }}

),

mapping as (

    select * from {{ ref('crm_status_mapping') }} where funnel_stage is not null

),

hubspot_lifecycle as (

    {% set lifecycle = {
        'lead': 'became_lead_at',
        'marketingqualifiedlead': 'became_mql_at',
        'salesqualifiedlead': 'became_sql_at',
        'opportunity': 'became_opportunity_at',
        'customer': 'became_customer_at',
    } %}
    {% for value, column in lifecycle.items() %}
    select
        records.person_id,
        '{{ value }}' as status_value,
        contacts.{{ column }} as entered_at
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join records
        on records.system = 'hubspot' and records.record_id = contacts.contact_id
    where contacts.{{ column }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

hubspot_events as (

    select
        hubspot_lifecycle.person_id,
        mapping.funnel_stage as stage,
        hubspot_lifecycle.entered_at,
        'hubspot' as source_system,
        cast(null as text) as detail
    from hubspot_lifecycle
    inner join mapping
        on mapping.crm = 'hubspot' and mapping.field = 'lifecyclestage'
        and mapping.status_value = hubspot_lifecycle.status_value
    union all
    select records.person_id, 'lead', records.created_at, 'hubspot', null
    from records
    where records.system = 'hubspot'
    union all
    -- every change of the contact's lead status (hs_lead_status), as HubSpot's history has it;
    -- HubSpot has no separate rejection reason: the status (e.g. BAD_TIMING) is the reason
    select
        records.person_id,
        mapping.funnel_stage,
        history.changed_at,
        'hubspot',
        case when mapping.funnel_stage = 'disqualified' then history.property_value end
    from {{ ref('stg_hubspot__contact_property_history') }} as history
    inner join records
        on records.system = 'hubspot' and records.record_id = history.contact_id
    inner join mapping
        on mapping.crm = 'hubspot' and mapping.field = 'hs_lead_status'
        and mapping.status_value = history.property_value
    where history.property = 'hs_lead_status'

),

leads as (

    select * from {{ ref('stg_salesforce__leads') }} where not is_deleted

),

salesforce_events as (

    select records.person_id, 'lead' as stage, leads.created_at as entered_at,
        'salesforce' as source_system, cast(null as text) as detail
    from leads
    inner join records
        on records.system = 'salesforce_lead' and records.record_id = leads.lead_id
    union all
    select
        records.person_id,
        mapping.funnel_stage,
        changes.changed_at,
        'salesforce',
        case when mapping.funnel_stage = 'disqualified'
            then coalesce(leads.unqualified_reason, changes.lead_status) end
    from {{ ref('stg_salesforce__lead_status_changes') }} as changes
    inner join leads
        on changes.lead_id = leads.lead_id
    inner join records
        on records.system = 'salesforce_lead' and records.record_id = leads.lead_id
    inner join mapping
        on mapping.crm = 'salesforce' and mapping.field = 'Lead.Status'
        and mapping.status_value = changes.lead_status

),

opportunities as (

    select * from {{ ref('int_opportunities_enriched') }}

),

opportunity_events as (

    select roles.person_id, 'opportunity' as stage, opportunities.created_at as entered_at,
        'salesforce' as source_system, opportunities.opportunity_id as detail
    from {{ ref('int_opportunity_people') }} as roles
    inner join opportunities
        on roles.opportunity_id = opportunities.opportunity_id
    union all
    select roles.person_id, 'customer', opportunities.closed_at, 'salesforce',
        opportunities.opportunity_id
    from {{ ref('int_opportunity_people') }} as roles
    inner join opportunities
        on roles.opportunity_id = opportunities.opportunity_id
    where opportunities.is_won

),

unioned as (

    select * from hubspot_events
    union all
    select * from salesforce_events
    union all
    select * from opportunity_events

)

select * from unioned
where entered_at is not null
