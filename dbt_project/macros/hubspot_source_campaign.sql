{#- The campaign HubSpot's original source names: `analytics_source_data_1` for the paid search,
    paid social and email sources, where HubSpot puts the campaign; none for other sources. -#}
{% macro hubspot_source_campaign(relation) -%}
    case
            when {{ relation }}.analytics_source
                in ('PAID_SEARCH', 'PAID_SOCIAL', 'EMAIL_MARKETING')
                then {{ relation }}.analytics_source_data_1
        end
{%- endmacro %}
