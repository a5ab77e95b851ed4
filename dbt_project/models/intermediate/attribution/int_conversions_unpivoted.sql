-- One row per conversion (docs/definitions.md: conversions): a person entering lead, mql or sql; an
-- opportunity created (opportunity) or won (customer), account-based, valued at its amount in
-- the reporting currency. Milestone times for w_shaped / full_path ride along.
with

stages as (

    select * from {{ ref('int_funnel_stages_ordered') }}

),

opportunities as (

    select * from {{ ref('int_opportunities_enriched') }}

),

primary_person as (

    {{ primary_opportunity_person() }}

),

people_conversions as (

    {% for stage in var('conversion_types') if stage not in var('valued_conversion_types') %}
    select
        person_id || ':{{ stage }}' as conversion_id,
        '{{ stage }}' as conversion_type,
        person_id,
        cast(null as text) as opportunity_id,
        {{ stage }}_at as converted_at,
        cast(null as numeric) as conversion_value,
        lead_at as lead_milestone_at,
        cast(null as timestamptz) as opportunity_milestone_at,
        cast(null as timestamptz) as close_milestone_at
    from stages
    where {{ stage }}_at is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

opportunity_conversions as (

    select
        opportunities.opportunity_id || ':opportunity' as conversion_id,
        'opportunity' as conversion_type,
        primary_person.person_id,
        opportunities.opportunity_id,
        opportunities.created_at as converted_at,
        opportunities.amount_reporting as conversion_value,
        stages.lead_at as lead_milestone_at,
        opportunities.created_at as opportunity_milestone_at,
        cast(null as timestamptz) as close_milestone_at
    from opportunities
    inner join primary_person
        on opportunities.opportunity_id = primary_person.opportunity_id
    left join stages
        on primary_person.person_id = stages.person_id
    union all
    select
        opportunities.opportunity_id || ':customer',
        'customer',
        primary_person.person_id,
        opportunities.opportunity_id,
        opportunities.closed_at,
        opportunities.amount_reporting,
        stages.lead_at,
        opportunities.created_at,
        opportunities.closed_at
    from opportunities
    inner join primary_person
        on opportunities.opportunity_id = primary_person.opportunity_id
    left join stages
        on primary_person.person_id = stages.person_id
    where opportunities.is_won

),

unioned as (

    select * from people_conversions
    union all
    select * from opportunity_conversions

)

select * from unioned
