-- Each person's account: the Salesforce account of their contact, else of their converted lead,
-- else the account whose website domain is their email domain (never a free-mail domain).
with

people as (

    select * from {{ ref('int_people_resolved') }}

),

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }} where not is_deleted

),

by_domain as (

    select distinct on (domain) domain, account_id
    from accounts
    where domain <> ''
    order by domain, created_at, account_id

),

matched as (

    select
        people.person_id,
        coalesce(contacts.account_id, leads.converted_account_id) as account_by_id,
        by_domain.account_id as account_by_domain
    from people
    left join {{ ref('stg_salesforce__contacts') }} as contacts
        on people.salesforce_contact_id = contacts.contact_id
    left join {{ ref('stg_salesforce__leads') }} as leads
        on people.salesforce_lead_id = leads.lead_id
    left join by_domain
        on split_part(people.email, '@', 2) = by_domain.domain
        and split_part(people.email, '@', 2) not in (
            select domain from {{ ref('free_mail_domains') }}
        )

)

select
    person_id,
    coalesce(account_by_id, account_by_domain) as account_id,
    case
        when account_by_id is not null then 'id'
        when account_by_domain is not null then 'domain'
    end as account_match
from matched
