{#- Per person of `relation`, the first sales activity at or after its column `since`, as
    (person_id, `as_name`). -#}
{% macro first_sales_activity(relation, since, as_name) %}
    select
        {{ relation }}.person_id,
        min(activities.occurred_at) as {{ as_name }}
    from {{ relation }}
    inner join {{ ref('int_sales_activities_joined') }} as activities
        on {{ relation }}.person_id = activities.person_id
        and activities.occurred_at >= {{ relation }}.{{ since }}
    group by {{ relation }}.person_id
{% endmacro %}
