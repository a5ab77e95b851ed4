with

source as (

    select * from {{ source('hubspot', 'contact_property_history') }}

),

renamed as (

    select
        contact_id::text as contact_id,
        property,
        value as property_value,
        "timestamp"::timestamptz as changed_at,
        source_type as change_source

    from source

)

select * from renamed
