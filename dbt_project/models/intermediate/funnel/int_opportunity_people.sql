-- The people on each opportunity (its contact roles: the buying group), one row per pair.
select distinct on (roles.opportunity_id, records.person_id)
    roles.opportunity_id,
    records.person_id,
    roles.is_primary
from {{ ref('stg_salesforce__opportunity_contact_roles') }} as roles
inner join {{ ref('int_records_mapped_to_people') }} as records
    on records.system = 'salesforce_contact' and records.record_id = roles.contact_id
order by roles.opportunity_id, records.person_id, roles.is_primary desc
