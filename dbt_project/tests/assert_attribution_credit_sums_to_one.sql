-- For every conversion and model in fct_attribution, the credits sum to 1 within 1e-9
-- (DOMAIN.md: attribution models). That every model credits every conversion of the types it
-- applies to, and no other, is assert_attribution_rows_match_paths's check.
select conversion_id, model, sum(credit) as total_credit
from {{ ref('fct_attribution') }}
group by conversion_id, model
having abs(sum(credit) - 1) > 1e-9
