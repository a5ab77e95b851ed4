-- What the attribution paths are computed from, one row per input with a fingerprint of it:
-- each touch (its person, time, type, channel and campaign), each conversion (its columns and
-- the people on it) and each person's reached stages. Incremental (DECISIONLOG.md: incremental
-- attribution): a run writes only the inputs that are new, changed or gone (a gone one stays as
-- a tombstone, `is_deleted`, keeping its last person and time), stamped `batch_at` with the
-- run, so the path tables recompute only the conversions and journeys those inputs reach.
{#- the path tables' watermarks are created here, as they build after this model (two models
    creating a schema at the same time collide) -#}
{{ config(
    materialized='incremental',
    unique_key='input_key',
    incremental_strategy='delete+insert',
    indexes=[{'columns': ['input_key'], 'unique': True}, {'columns': ['batch_at']}],
    pre_hook=[attribution_watermarks_ddl()],
) }}
{%- set conversion_columns = attribution_conversion_columns() %}
with

touches as (

    select * from {{ ref('int_touchpoints_unioned') }}

),

conversions as (

    select * from {{ ref('int_conversions_unpivoted') }}

),

stages as (

    select * from {{ ref('int_funnel_stages_ordered') }}

),

conversion_people as (

    {{ conversion_people('conversions') }}

),

people_on_conversion as (

    select conversion_id, string_agg(person_id, ',' order by person_id) as people
    from conversion_people
    group by conversion_id

),

inputs as (

    select
        'touch:' || touchpoint_id as input_key,
        'touch' as input_kind,
        touchpoint_id as entity_id,
        person_id,
        touched_at as occurred_at,
        md5(row(person_id, touched_at, touch_type, channel, campaign_id, campaign_name)::text)
            as fingerprint
    from touches
    union all
    select
        'conversion:' || conversions.conversion_id,
        'conversion',
        conversions.conversion_id,
        conversions.person_id,
        conversions.converted_at,
        md5(row(
            {%- for column in conversion_columns %}
            conversions.{{ column }},
            {%- endfor %}
            conversions.opportunity_id,
            people_on_conversion.people
        )::text)
    from conversions
    left join people_on_conversion
        on conversions.conversion_id = people_on_conversion.conversion_id
    union all
    select
        'person:' || person_id,
        'person',
        person_id,
        person_id,
        cast(null as timestamptz),
        -- a person's non-converting journeys depend on which stages they never reached
        md5(row(
            {%- for type in var('conversion_types') %}
            {{ type }}_at is null{{ ',' if not loop.last }}
            {%- endfor %}
        )::text)
    from stages

),

{% if is_incremental() %}

existing as (

    select * from {{ this }} where not is_deleted

),

changed as (

    select inputs.*, false as is_deleted
    from inputs
    left join existing
        on inputs.input_key = existing.input_key
    where existing.input_key is null
        or inputs.fingerprint <> existing.fingerprint
    union all
    select
        existing.input_key,
        existing.input_kind,
        existing.entity_id,
        existing.person_id,
        existing.occurred_at,
        existing.fingerprint,
        true as is_deleted
    from existing
    where not exists (select 1 from inputs where inputs.input_key = existing.input_key)

),

{% else %}

changed as (

    select inputs.*, false as is_deleted from inputs

),

{% endif %}

final as (

    select *, {{ attribution_batch_at() }} as batch_at from changed

)

select * from final
