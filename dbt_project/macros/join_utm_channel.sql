{#- A touch's channel from its UTM source and medium (docs/definitions.md: touchpoints): joins the seed channel_mapping as `alias` on `relation`'s utm_source
    and utm_medium; a pair the seed does not list leaves `alias`.channel null for the caller's
    default. -#}
{% macro join_utm_channel(relation, alias='mapping') -%}
    left join {{ ref('channel_mapping') }} as {{ alias }}
        on {{ relation }}.utm_source = {{ alias }}.utm_source
        and {{ relation }}.utm_medium = {{ alias }}.utm_medium
{%- endmacro %}
