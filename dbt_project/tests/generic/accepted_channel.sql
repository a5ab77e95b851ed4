{% test accepted_channel(model, column_name, also=[]) %}
-- A channel is one the mapping seeds define, or one of `also`: a channel a model assigns itself
-- (`sales` for sales activities, `(none)` for a path without touches).
-- The list is written out rather than read from the seeds: a test that refs the seeds is picked
-- by every `--select +<model>` (dbt's eager indirect selection) and fails where the marts it
-- tests are not built. tests/test_dbt_quality.py keeps it equal to the channels of
-- channel_mapping, hubspot_analytics_sources and ad_channel_types: add a channel there and here.
{%- set seeded = [
    'direct', 'display', 'email', 'events', 'organic_search', 'organic_social', 'other',
    'paid_search', 'paid_social', 'paid_video', 'referral',
] %}
select {{ column_name }} as channel, count(*) as rows
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in (
        {%- for channel in seeded + also %}
        '{{ channel }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
group by {{ column_name }}
{% endtest %}
