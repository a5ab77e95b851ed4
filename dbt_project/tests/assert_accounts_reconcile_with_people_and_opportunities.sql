-- Integrity: dim_accounts has one row per live Salesforce account, and its counts add up to the
-- marts they count: people = dim_people rows with that account, opportunities, won and won
-- revenue = fct_opportunities of that account.
with

live as (

    select account_id from {{ ref('stg_salesforce__accounts') }} where not is_deleted

),

people as (

    select account_id, count(*) as people
    from {{ ref('dim_people') }}
    where account_id is not null
    group by account_id

),

opportunities as (

    select
        account_id,
        count(*) as opportunities,
        count(*) filter (where is_won) as won_opportunities,
        coalesce(sum(amount_reporting) filter (where is_won), 0) as won_revenue
    from {{ ref('fct_opportunities') }}
    where account_id is not null
    group by account_id

),

row_counts as (

    select
        'rows' as check_name,
        cast(null as text) as account_id,
        (select count(*) from {{ ref('dim_accounts') }})::numeric as in_dim,
        (select count(*) from live)::numeric as expected
    where (select count(*) from {{ ref('dim_accounts') }}) != (select count(*) from live)
        or exists (
            select account_id from live
            except
            select account_id from {{ ref('dim_accounts') }}
        )

),

per_account as (

    select
        mismatch.check_name,
        accounts.account_id,
        mismatch.in_dim,
        mismatch.expected
    from {{ ref('dim_accounts') }} as accounts
    left join people
        on accounts.account_id = people.account_id
    left join opportunities
        on accounts.account_id = opportunities.account_id
    cross join lateral (values
        ('people', accounts.people::numeric, coalesce(people.people, 0)::numeric),
        ('opportunities', accounts.opportunities::numeric,
            coalesce(opportunities.opportunities, 0)::numeric),
        ('won_opportunities', accounts.won_opportunities::numeric,
            coalesce(opportunities.won_opportunities, 0)::numeric),
        ('won_revenue', accounts.won_revenue, coalesce(opportunities.won_revenue, 0))
    ) as mismatch (check_name, in_dim, expected)
    where mismatch.in_dim is distinct from mismatch.expected

)

select * from row_counts
union all
select * from per_account
