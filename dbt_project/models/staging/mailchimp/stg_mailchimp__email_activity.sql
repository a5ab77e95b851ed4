-- Incremental on dlt's loads (DECISIONLOG.md: incremental staging): the largest raw table, read
-- by every run's touches and tests; a run reads only the rows of loads completed since its
-- last (macros/incremental_by_load.sql) and deletes rows whose raw row is gone.
{%- set raw = source('mailchimp', 'email_activity') %}
{{ config(
    materialized='incremental',
    unique_key='activity_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['activity_id'], 'unique': True}, {'columns': ['_loaded_at']}],
    post_hook=[
        "{{ delete_rows_gone_from(source('mailchimp', 'email_activity'), 'activity_id',
            mailchimp_activity_id(source('mailchimp', 'email_activity'))) }}",
        "analyze {{ this }}",
    ],
) }}
with

source as (

    select * from {{ raw }}
    {%- if is_incremental() %}
    where {{ loaded_since_last_run(raw) }}
    {%- endif %}

),

renamed as (

    select
        {{ mailchimp_activity_id(raw) }} as activity_id,
        campaign_id,
        list_id,
        email_id as member_id,
        email_address as email,
        lower(nullif(trim(email_address), '')) as email_normalized,
        action,
        type as bounce_type,
        "timestamp"::timestamptz as occurred_at,
        url as clicked_url,
        -- the clicked link's UTM tags, read once here rather than by every run's touches
        {{ url_parameter('url', 'utm_source') }} as utm_source,
        {{ url_parameter('url', 'utm_medium') }} as utm_medium,
        true as utm_parsed,
        _dlt_load_id,
        {{ load_completed_at(raw) }} as _loaded_at

    from source

)

select * from renamed
