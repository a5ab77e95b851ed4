-- One row per day: MetricFlow's time spine (the semantic layer's calendar for cumulative
-- metrics and for filling days without data). Days cover the demo's and any real company's
-- history with room to spare.
with

days as (

    select generate_series('2000-01-01'::date, '2040-12-31'::date, interval '1 day')::date
        as date_day

),

final as (

    select date_day from days

)

select * from final
