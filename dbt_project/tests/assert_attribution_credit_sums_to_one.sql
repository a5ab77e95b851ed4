-- For every conversion and model in fct_attribution, the credits sum to 1 within 1e-9
-- (DOMAIN.md: attribution models). That every model credits every conversion of the types it
-- applies to, and no other, is assert_attribution_rows_match_paths's check. fct_attribution is
-- incremental and writes a conversion's rows together: the rows this run wrote are checked
-- (every row on a full build).
select conversion_id, model, sum(credit) as total_credit
from {{ ref('fct_attribution') }}
where batch_at = {{ attribution_batch_at() }}
group by conversion_id, model
having abs(sum(credit) - 1) > 1e-9
