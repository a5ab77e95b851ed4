-- Sales activities (Salesforce Tasks and Events owned by a user of the Sales department) on a
-- person's lead or contact: the touches that mean Sales has picked the person up.
with

users as (

    select * from {{ ref('stg_salesforce__users') }}

),

activities as (

    select activity_id, who_id, owner_id, subject, activity_type, occurred_at, 'task' as kind
    from {{ ref('stg_salesforce__tasks') }}
    where not is_deleted
    union all
    select activity_id, who_id, owner_id, subject, activity_type, occurred_at, 'event' as kind
    from {{ ref('stg_salesforce__events') }}
    where not is_deleted

),

joined as (

    select
        activities.activity_id,
        records.person_id,
        activities.owner_id,
        users.user_name as owner_name,
        activities.kind,
        activities.activity_type,
        activities.subject,
        activities.occurred_at
    from activities
    inner join users
        on activities.owner_id = users.user_id
    inner join {{ ref('int_records_mapped_to_people') }} as records
        on records.system in ('salesforce_lead', 'salesforce_contact')
        and records.record_id = activities.who_id
    where users.department = 'Sales'

)

select * from joined
