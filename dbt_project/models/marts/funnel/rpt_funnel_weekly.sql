-- Stage entries per ISO week (Monday, UTC) and source channel, with no week missing between
-- the first and the last week that has data.
with

funnel as (

    select * from {{ ref('fct_funnel') }}

),

entries as (

    {% for stage in var('funnel_stages') %}
    select
        date_trunc('week', {{ stage }}_at at time zone 'UTC')::date as week_start,
        source_channel,
        '{{ stage }}' as stage
    from funnel
    where {{ stage }}_at is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

weeks as (

    select generate_series(min(week_start), max(week_start), interval '1 week')::date
        as week_start
    from entries

),

channels as (

    select distinct source_channel from funnel

),

counted as (

    select
        week_start,
        source_channel,
        {% for stage, column in var('funnel_stages').items() %}
        count(*) filter (where stage = '{{ stage }}') as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from entries
    group by week_start, source_channel

),

final as (

    select
        weeks.week_start,
        channels.source_channel,
        {% for column in var('funnel_stages').values() %}
        coalesce(counted.{{ column }}, 0) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from weeks
    cross join channels
    left join counted
        on weeks.week_start = counted.week_start
        and channels.source_channel = counted.source_channel

)

select * from final
