-- A UTM source/medium pair maps to one channel only.
select utm_source, utm_medium, count(*) as mappings
from {{ ref('channel_mapping') }}
group by utm_source, utm_medium
having count(*) > 1
