{#- Custom schemas are used as they are (staging, intermediate, marts, seeds), not prefixed
    with the target schema, so BI tools read `marts.<model>` on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
