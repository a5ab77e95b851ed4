-- Integrity: dim_people has exactly one row per resolved person, the same people as fct_funnel:
-- its joins to the funnel, the latest touch and the matched account neither drop nor double one.
with

resolved as (

    select person_id from {{ ref('int_people_resolved') }}

),

dim as (

    select person_id from {{ ref('dim_people') }}

),

funnel as (

    select person_id from {{ ref('fct_funnel') }}

)

select
    (select count(*) from resolved) as resolved_people,
    (select count(*) from dim) as dim_rows,
    (select count(*) from funnel) as funnel_rows
where (select count(*) from resolved) != (select count(*) from dim)
    or (select count(*) from funnel) != (select count(*) from dim)
    or exists (select * from resolved except select * from dim)
    or exists (select * from funnel except select * from dim)
