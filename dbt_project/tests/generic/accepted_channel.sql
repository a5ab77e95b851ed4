{% test accepted_channel(model, column_name, also=[]) %}
-- A channel is one of var `channels` (dbt_project.yml, the one list of them), except `sales`
-- unless `also` names it (only a sales activity is a `sales` touch: never a person's source or
-- spend), or one of `also` (`(none)` for a path without touches, which is no channel).
select {{ column_name }} as channel, count(*) as rows
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in (
        {%- for channel in (var('channels') | reject('equalto', 'sales') | list) + also %}
        '{{ channel }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
group by {{ column_name }}
{% endtest %}
