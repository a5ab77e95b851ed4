-- One row per person: HubSpot contacts collapsed on normalised email (duplicates in one system
-- are one person), joined to Mailchimp members on the same email. DECISIONLOG.md: identity.
with

contacts as (

    select
        *,
        coalesce(email_normalized, 'hubspot:' || contact_id) as identity_key
    from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

ranked as (

    select
        *,
        row_number() over (
            partition by identity_key order by created_at, contact_id
        ) as contact_rank,
        count(*) over (partition by identity_key) as contact_count
    from contacts

),

members as (

    select
        email_normalized,
        min(member_id) as member_id
    from {{ ref('stg_mailchimp__members') }}
    where email_normalized is not null
    group by email_normalized

),

people as (

    select
        md5(ranked.identity_key) as person_id,
        ranked.email_normalized as email,
        ranked.contact_id as hubspot_contact_id,
        ranked.contact_count as hubspot_contact_count,
        members.member_id as mailchimp_member_id,
        ranked.analytics_source,
        ranked.analytics_source_data_1,
        ranked.analytics_source_data_2,
        ranked.owner_id,
        ranked.created_at as first_seen_at
    from ranked
    left join members
        on ranked.email_normalized = members.email_normalized
    where ranked.contact_rank = 1

)

select * from people
