-- One CRM value maps to one stage.
select crm, field, status_value, count(*) as mappings
from {{ ref('crm_status_mapping') }}
group by crm, field, status_value
having count(*) > 1
