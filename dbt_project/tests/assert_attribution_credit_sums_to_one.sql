-- For every conversion and model the credits sum to 1 (within 1e-9), and every conversion has
-- credit under every model (DOMAIN.md: attribution models).
with

credited as (

    select conversion_id, model, sum(credit) as total_credit
    from {{ ref('fct_attribution') }}
    group by conversion_id, model

),

models as (

    select distinct model from {{ ref('fct_attribution') }}

),

expected as (

    select conversions.conversion_id, models.model
    from {{ ref('int_conversions_unpivoted') }} as conversions
    cross join models

)

select expected.conversion_id, expected.model, credited.total_credit
from expected
left join credited
    on expected.conversion_id = credited.conversion_id
    and expected.model = credited.model
where credited.total_credit is null
    or abs(credited.total_credit - 1) > 1e-9
