-- Integrity: every resolved person appears in fct_funnel exactly once, and no one else does.
select
    (select count(*) from {{ ref('int_people_resolved') }}) as people,
    (select count(*) from {{ ref('fct_funnel') }}) as funnel_rows
where (select count(*) from {{ ref('int_people_resolved') }})
    != (select count(*) from {{ ref('fct_funnel') }})
