-- For every conversion and every model that applies to its type, the credits sum to 1 within
-- 1e-9 (DOMAIN.md: attribution models; which models apply to which type: var
-- attribution_model_conversion_types).
with

credited as (

    select conversion_id, model, sum(credit) as total_credit
    from {{ ref('fct_attribution') }}
    group by conversion_id, model

),

expected as (

    {% for model in var('attribution_models') %}
    select conversion_id, '{{ model }}' as model
    from {{ ref('int_conversions_unpivoted') }}
    where {{ attribution_model_applies(model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select expected.conversion_id, expected.model, credited.total_credit
from expected
left join credited
    on expected.conversion_id = credited.conversion_id
    and expected.model = credited.model
where credited.total_credit is null
    or abs(credited.total_credit - 1) > 1e-9
