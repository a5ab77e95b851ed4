{{ config(severity='warn') }}
-- fct_funnel: every disqualified MQL has the reason the CRM records (a warning: the report still
-- counts the rejection, the reason reads "unknown").
select person_id, disqualified_at
from {{ ref('fct_funnel') }}
where disqualified_at is not null and disqualification_reason is null
