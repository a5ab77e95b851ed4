-- Stage entries per ISO week (Monday, UTC) and source channel, with no week missing between
-- the first and the last week that has data.
with

funnel as (

    select * from {{ ref('fct_funnel') }}

),

entries as (

    {% for stage in ['lead', 'mql', 'sal', 'sql', 'opportunity', 'customer'] %}
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
        count(*) filter (where stage = 'lead') as leads,
        count(*) filter (where stage = 'mql') as mqls,
        count(*) filter (where stage = 'sal') as sals,
        count(*) filter (where stage = 'sql') as sqls,
        count(*) filter (where stage = 'opportunity') as opportunities,
        count(*) filter (where stage = 'customer') as customers
    from entries
    group by week_start, source_channel

),

final as (

    select
        weeks.week_start,
        channels.source_channel,
        coalesce(counted.leads, 0) as leads,
        coalesce(counted.mqls, 0) as mqls,
        coalesce(counted.sals, 0) as sals,
        coalesce(counted.sqls, 0) as sqls,
        coalesce(counted.opportunities, 0) as opportunities,
        coalesce(counted.customers, 0) as customers
    from weeks
    cross join channels
    left join counted
        on weeks.week_start = counted.week_start
        and channels.source_channel = counted.source_channel

)

select * from final
