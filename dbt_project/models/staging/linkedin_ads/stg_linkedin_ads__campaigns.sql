with

source as (

    select * from {{ source('linkedin_ads', 'campaigns') }}

),

renamed as (

    select
        id::text as campaign_id,
        split_part(account, ':', 4) as account_id,
        name as campaign_name,
        objective_type as objective,
        status as campaign_status

    from source

)

select * from renamed
