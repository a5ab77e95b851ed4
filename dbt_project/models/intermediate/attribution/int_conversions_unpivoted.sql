-- One row per conversion: a person reaching a funnel stage (DOMAIN.md: conversions).
with

stages as (

    select * from {{ ref('int_funnel_stages_ordered') }}

),

unpivoted as (

    {% for stage in ['lead', 'mql', 'sql', 'opportunity', 'customer'] %}
    select
        person_id || ':{{ stage }}' as conversion_id,
        '{{ stage }}' as conversion_type,
        person_id,
        {{ stage }}_at as converted_at
    from stages
    where {{ stage }}_at is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unpivoted
