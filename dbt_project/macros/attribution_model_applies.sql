{#- The conversion types an attribution model applies to (DOMAIN.md: attribution models), as a
    condition on `conversion_type`: w_shaped needs the opportunity-creation milestone, full_path
    the close as well; every other model applies to every type. -#}
{% macro attribution_model_applies(model) %}
    {%- if model == 'w_shaped' -%}
        conversion_type in ('opportunity', 'customer')
    {%- elif model == 'full_path' -%}
        conversion_type = 'customer'
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}
