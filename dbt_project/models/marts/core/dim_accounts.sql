-- One row per account (company) across Salesforce and HubSpot: domain, industry, size, owner,
-- the people matched to it and its opportunities.
with

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }} where not is_deleted

),

people as (

    select account_id, count(*) as people
    from {{ ref('int_people_accounts_matched') }}
    where account_id is not null
    group by account_id

),

opportunities as (

    select
        account_id,
        count(*) as opportunities,
        count(*) filter (where is_won) as won_opportunities,
        sum(amount_reporting) filter (where is_won) as won_revenue
    from {{ ref('int_opportunities_enriched') }}
    group by account_id

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        nullif(accounts.domain, '') as domain,
        accounts.industry,
        accounts.employees,
        accounts.owner_id,
        coalesce(people.people, 0) as people,
        coalesce(opportunities.opportunities, 0) as opportunities,
        coalesce(opportunities.won_opportunities, 0) as won_opportunities,
        coalesce(opportunities.won_revenue, 0) as won_revenue
    from accounts
    left join people
        on accounts.account_id = people.account_id
    left join opportunities
        on accounts.account_id = opportunities.account_id

)

select * from final
