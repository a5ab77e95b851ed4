with

source as (

    select * from {{ source('salesforce', 'user') }}

),

renamed as (

    select
        id as user_id,
        name as user_name,
        email,
        department,
        title,
        coalesce(is_active, false) as is_active

    from source

)

select * from renamed
