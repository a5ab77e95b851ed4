-- Funnel per period (week, month; UTC) and source channel: people entering each stage, the
-- cohort conversion rate between consecutive stages (of those who entered A in the period, the
-- share who entered B: ever, and within `conversion_window_days`), and the median days from A
-- to B for that cohort (docs/definitions.md: cohort conversion rates).
{%- set plural = var('funnel_stages') %}
{%- set stages = plural.keys() | list %}
{%- set window = var('conversion_window_days') %}

with

funnel as (

    select * from {{ ref('fct_funnel') }}

),

entries as (

    {% call(period) union_periods() %}{% for stage in stages %}
    select
        {{ period_columns(period, stage ~ '_at') }},
        source_channel,
        '{{ stage }}' as stage,
        count(*) as entered
    from funnel
    where {{ stage }}_at is not null
    group by 1, 2, 3, 4
    {% if not loop.last %}union all{% endif %}
    {% endfor %}{% endcall %}

),

cohorts as (

    {% call(period) union_periods() %}
    {% for stage in stages[:-1] %}{% set next = stages[loop.index] %}
    select
        {{ period_columns(period, stage ~ '_at') }},
        source_channel,
        '{{ stage }}_to_{{ next }}' as step,
        count(*) as cohort,
        count({{ next }}_at) as converted,
        count(*) filter (
            where {{ next }}_at <= {{ stage }}_at + interval '{{ window }} days'
        ) as converted_in_window,
        percentile_cont(0.5) within group (
            order by extract(epoch from {{ next }}_at - {{ stage }}_at) / 86400.0
        ) filter (where {{ next }}_at is not null) as median_days
    from funnel
    where {{ stage }}_at is not null
    group by 1, 2, 3
    {% if not loop.last %}union all{% endif %}
    {% endfor %}{% endcall %}

),

spine as (

    {% call(period) union_periods() %}
    select
        '{{ period }}' as period_type,
        generate_series(min(period_start), max(period_start), interval '1 {{ period }}')::date
            as period_start
    from entries
    where period_type = '{{ period }}'
    {% endcall %}

),

channels as (

    select distinct source_channel from funnel

),

grid as (

    select spine.period_type, spine.period_start, channels.source_channel
    from spine
    cross join channels

),

entries_wide as (

    select
        period_type,
        period_start,
        source_channel,
        {% for stage in stages %}
        sum(entered) filter (where stage = '{{ stage }}') as {{ plural[stage] }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from entries
    group by 1, 2, 3

),

cohorts_wide as (

    select
        period_type,
        period_start,
        source_channel,
        {% for stage in stages[:-1] %}{% set step = stage ~ '_to_' ~ stages[loop.index] %}
        sum(converted) filter (where step = '{{ step }}')::double precision
            / nullif(sum(cohort) filter (where step = '{{ step }}'), 0) as {{ step }}_rate,
        sum(converted_in_window) filter (where step = '{{ step }}')::double precision
            / nullif(sum(cohort) filter (where step = '{{ step }}'), 0)
            as {{ step }}_rate_in_window,
        max(median_days) filter (where step = '{{ step }}') as {{ step }}_median_days
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    from cohorts
    group by 1, 2, 3

),

final as (

    select
        grid.period_type,
        grid.period_start,
        grid.source_channel,
        {% for stage in stages %}
        coalesce(entries_wide.{{ plural[stage] }}, 0)::bigint as {{ plural[stage] }},
        {% endfor %}
        {% for stage in stages[:-1] %}{% set step = stage ~ '_to_' ~ stages[loop.index] %}
        cohorts_wide.{{ step }}_rate,
        cohorts_wide.{{ step }}_rate_in_window,
        cohorts_wide.{{ step }}_median_days{% if not loop.last %},{% endif %}
        {% endfor %}
    from grid
    left join entries_wide
        on grid.period_type = entries_wide.period_type
        and grid.period_start = entries_wide.period_start
        and grid.source_channel = entries_wide.source_channel
    left join cohorts_wide
        on grid.period_type = cohorts_wide.period_type
        and grid.period_start = cohorts_wide.period_start
        and grid.source_channel = cohorts_wide.source_channel

)

select * from final
