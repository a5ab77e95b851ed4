-- Integrity: fct_opportunities has one row per live (not deleted) Salesforce opportunity, and no
-- other: the joins to its primary person and the funnel neither drop nor double one.
with

live as (

    select opportunity_id
    from {{ ref('stg_salesforce__opportunities') }}
    where not is_deleted

),

mart as (

    select opportunity_id from {{ ref('fct_opportunities') }}

)

select
    (select count(*) from live) as live_opportunities,
    (select count(*) from mart) as mart_rows,
    (select count(*) from (select * from live except select * from mart) as x) as missing,
    (select count(*) from (select * from mart except select * from live) as x) as unexpected
where (select count(*) from live) != (select count(*) from mart)
    or exists (select * from live except select * from mart)
    or exists (select * from mart except select * from live)
