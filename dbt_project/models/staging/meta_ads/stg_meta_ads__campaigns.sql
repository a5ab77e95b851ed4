with

source as (

    select * from {{ source('meta_ads', 'campaigns') }}

),

renamed as (

    select
        id::text as campaign_id,
        account_id::text as account_id,
        name as campaign_name,
        objective,
        status as campaign_status

    from source

)

select * from renamed
