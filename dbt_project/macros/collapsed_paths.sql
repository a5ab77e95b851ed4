{#- Paths in the aggregated form other attribution tools read (docs/definitions.md; revops.attribution.paths
    uses the same separator): channels in touch order joined by ' > ', consecutive repeats of a
    channel collapsed into one. `from_collapsed_touches` is the FROM and WHERE of a query over
    `relation`'s touches (one row per touch, numbered by touch_position within `path_id`) that
    keeps the first touch of each run of one channel; `path_text()` aggregates them. -#}
{% macro from_collapsed_touches(relation, alias, path_id) %}
    from (
        select
            {{ alias }}.*,
            lag(channel) over (
                partition by {{ path_id }} order by touch_position
            ) as previous_channel
        from {{ relation }} as {{ alias }}
    ) as ordered
    where previous_channel is distinct from channel
        or touch_position = 1
{% endmacro %}

{% macro path_text() -%}
    string_agg(channel, ' > ' order by touch_position)
{%- endmacro %}
