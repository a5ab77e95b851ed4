with

source as (

    select * from {{ source('salesforce', 'account') }}

),

renamed as (

    select
        id as account_id,
        name as account_name,
        website,
        lower(regexp_replace(regexp_replace(coalesce(website, ''), '^(https?://)?(www\.)?', ''),
            '/.*$', '')) as domain,
        industry,
        number_of_employees::integer as employees,
        owner_id,
        created_date::timestamptz as created_at,
        coalesce(is_deleted, false) as is_deleted

    from source

)

select * from renamed
