{#- The one person each opportunity is attributed to and sourced from (its primary contact role or
    association; otherwise the first person by id), as a select of (opportunity_id, person_id). -#}
{% macro primary_opportunity_person() %}
    select distinct on (opportunity_id) opportunity_id, person_id
    from {{ ref('int_opportunity_people') }}
    order by opportunity_id, is_primary desc, person_id
{% endmacro %}
