{#- The conversion types an attribution model applies to, as a condition on `conversion_type`:
    the var `attribution_model_conversion_types` limits the models that need a milestone only some
    types have (w_shaped: the opportunity's creation; full_path: its close as well); every other
    model applies to every type (docs/definitions.md: attribution models). -#}
{% macro attribution_model_applies(model) %}
    {%- set types = var('attribution_model_conversion_types').get(model) -%}
    {%- if types -%}
        conversion_type in ('{{ types | join("', '") }}')
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}
