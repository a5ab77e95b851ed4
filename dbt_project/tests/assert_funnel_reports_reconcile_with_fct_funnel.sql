-- Integrity between fct_funnel and the report marts built on it: for each period grain, the
-- stage entries of rpt_funnel_weekly and rpt_funnel_conversion, the MQLs, accepted and rejected
-- of rpt_lead_quality, the rejections of rpt_lead_rejections and the MQLs of rpt_lead_handoff
-- add up to the people fct_funnel counts. The period and channel grids (every week, every
-- channel) must add zeros, never copies, and no entry may fall out of them.
{%- set plural = var('funnel_stages') %}
{%- set stages = plural.keys() | list %}
{%- set periods = var('report_periods') %}
with

funnel as (

    {% for stage in stages %}
    select '{{ plural[stage] }}' as measure, count({{ stage }}_at) as expected
    from {{ ref('fct_funnel') }}
    union all
    {% endfor %}
    -- accepted: reached SAL and not rejected since (a rejection is Sales' verdict)
    select 'accepted', count(sal_at) from {{ ref('fct_funnel') }}
    where mql_at is not null and disqualified_at is null
    union all
    select 'rejected_mqls', count(disqualified_at) from {{ ref('fct_funnel') }}
    where mql_at is not null
    union all
    select 'rejected', count(disqualified_at) from {{ ref('fct_funnel') }}

),

reported as (

    {% for stage in stages %}
    select 'rpt_funnel_weekly' as report, 'week' as period_type,
        '{{ plural[stage] }}' as measure, coalesce(sum({{ plural[stage] }}), 0) as reported
    from {{ ref('rpt_funnel_weekly') }}
    union all
    {% for period in periods %}
    select 'rpt_funnel_conversion', '{{ period }}', '{{ plural[stage] }}',
        coalesce(sum({{ plural[stage] }}) filter (where period_type = '{{ period }}'), 0)
    from {{ ref('rpt_funnel_conversion') }}
    union all
    {% endfor %}
    {% endfor %}
    {% for period in periods %}
    {% for report, column, measure in [
        ('rpt_lead_quality', 'mqls', 'mqls'),
        ('rpt_lead_quality', 'accepted', 'accepted'),
        ('rpt_lead_quality', 'rejected', 'rejected_mqls'),
        ('rpt_lead_rejections', 'rejected', 'rejected'),
    ] %}
    select '{{ report }}', '{{ period }}', '{{ measure }}',
        coalesce(sum({{ column }}) filter (where period_type = '{{ period }}'), 0)
    from {{ ref(report) }}
    union all
    {% endfor %}
    {% endfor %}
    select 'rpt_lead_handoff', 'week', 'mqls', coalesce(sum(mqls), 0)
    from {{ ref('rpt_lead_handoff') }}

)

select reported.report, reported.period_type, reported.measure, reported.reported,
    funnel.expected
from reported
inner join funnel
    on reported.measure = funnel.measure
where reported.reported != funnel.expected
