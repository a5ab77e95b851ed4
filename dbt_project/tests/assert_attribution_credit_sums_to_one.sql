-- For every conversion and every model that applies to its type, the credits sum to 1 within
-- 1e-9 (DOMAIN.md: attribution models; w_shaped: opportunity and customer, full_path: customer).
with

credited as (

    select conversion_id, model, sum(credit) as total_credit
    from {{ ref('fct_attribution') }}
    group by conversion_id, model

),

models as (

    select model, applies_to from (values
        ('first_touch', null), ('last_touch', null), ('last_non_direct', null),
        ('linear', null), ('time_decay', null), ('position_based', null),
        ('markov', null), ('shapley', null),
        ('w_shaped', 'opportunity'), ('w_shaped', 'customer'), ('full_path', 'customer')
    ) as applicable (model, applies_to)

),

expected as (

    select conversions.conversion_id, models.model
    from {{ ref('int_conversions_unpivoted') }} as conversions
    inner join models
        on models.applies_to is null or models.applies_to = conversions.conversion_type

)

select expected.conversion_id, expected.model, credited.total_credit
from expected
left join credited
    on expected.conversion_id = credited.conversion_id
    and expected.model = credited.model
where credited.total_credit is null
    or abs(credited.total_credit - 1) > 1e-9
