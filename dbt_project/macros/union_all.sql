{#- `select * from` each of `relations` (CTE names), joined by `union all`. -#}
{% macro union_all(relations) -%}
    {%- for relation in relations %}
    select * from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
