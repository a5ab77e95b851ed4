with

source as (

    select * from {{ source('google_ads', 'customers') }}

),

renamed as (

    select
        customer__id::text as customer_id,
        customer__descriptive_name as customer_name,
        upper(customer__currency_code) as currency,
        customer__time_zone as time_zone

    from source

)

select * from renamed
