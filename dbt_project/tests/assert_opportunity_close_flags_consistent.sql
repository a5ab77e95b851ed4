-- An opportunity's close fields agree: won implies closed, a closed one has a close time and a
-- sales cycle, an open one has neither.
select opportunity_id, stage, is_closed, is_won, closed_at, sales_cycle_days
from {{ ref('fct_opportunities') }}
where (is_won and not is_closed)
    or (is_closed and (closed_at is null or sales_cycle_days is null))
    or (not is_closed and (closed_at is not null or sales_cycle_days is not null))
