{#- A source column, or a typed null when the column does not exist (yet). dlt creates a
    column only once a record has a value for it, so an optional vendor field (a custom field,
    a reason only rejected leads have) may be missing from a young warehouse. -#}
{% macro column_or_null(relation, column, data_type) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for col in adapter.get_columns_in_relation(relation) -%}
            {%- do names.append(col.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if column | lower in names -%}
        {{ column }}::{{ data_type }}
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}
