{#- Who is on a conversion, one row per (conversion_id, person_id): the person for a person-level
    conversion, every person on the opportunity (its contact roles) for an opportunity or
    customer conversion (docs/definitions.md: conversions and paths). `conversions` is a CTE
    with int_conversions_unpivoted's columns. -#}
{% macro conversion_people(conversions) -%}
    select conversion_id, person_id from {{ conversions }} where opportunity_id is null
    union
    select {{ conversions }}.conversion_id, roles.person_id
    from {{ conversions }}
    inner join {{ ref('int_opportunity_people') }} as roles
        on {{ conversions }}.opportunity_id = roles.opportunity_id
{%- endmacro %}
