-- Integrity (fan-out) between int_conversions_unpivoted, int_conversion_paths_joined and
-- fct_attribution: for every conversion and every model that applies to its type
-- (DOMAIN.md: attribution models), the number of credited touches is what the model gives credit
-- to, and no model credits a conversion type it does not apply to:
--   first_touch, last_touch, last_non_direct: exactly one touch;
--   linear, time_decay: every touch of the path;
--   position_based: every touch (only the first and last while first + last weight is 1);
--   w_shaped / full_path: every touch (only the milestones while the milestones take all);
--   markov, shapley: between one touch and every touch (a channel may get no credit).
-- A join that doubles a touch shows as more rows than the path has; a lost touch as fewer.
-- The tables are incremental: checked are the conversions whose credits this run wrote and
-- those whose path the latest path build wrote (every conversion on a full build).
{%- set first_w = var('position_based_weights')['first'] %}
{%- set last_w = var('position_based_weights')['last'] %}
{%- set position_rest = 1.0 - first_w - last_w %}
{%- set w_rest = 1.0 - 3 * var('w_shaped_milestone_weight') %}
{%- set z_rest = 1.0 - 4 * var('full_path_milestone_weight') %}
with

in_scope as (

    select conversion_id
    from {{ ref('fct_attribution') }}
    where batch_at = {{ attribution_batch_at() }}
    union
    select conversion_id
    from {{ ref('int_conversion_paths_joined') }}
    where batch_at = (select max(batch_at) from {{ ref('int_conversion_paths_joined') }})

),

conversions as (

    select conversion_id, conversion_type
    from {{ ref('int_conversions_unpivoted') }}
    where conversion_id in (select in_scope.conversion_id from in_scope)

),

path_lengths as (

    select conversion_id, count(*) as path_length
    from {{ ref('int_conversion_paths_joined') }}
    where conversion_id in (select in_scope.conversion_id from in_scope)
    group by conversion_id

),

models as (

    select model, conversion_type from (values
        {%- for model in var('attribution_models') %}{% set outer = loop %}
        {%- for type in var('attribution_model_conversion_types').get(model, var('conversion_types')) %}
        {{- ',' if not (outer.first and loop.first) }} ('{{ model }}', '{{ type }}')
        {%- endfor %}{% endfor %}
    ) as applicable (model, conversion_type)

),

expected as (

    select
        conversions.conversion_id,
        models.model,
        path_lengths.path_length,
        case
            when models.model in ('first_touch', 'last_touch', 'last_non_direct') then 1
            when models.model in ('{{ var("data_driven_models") | join("', '") }}') then 1
            when models.model = 'position_based' and {{ position_rest }} <= 0
                then least(path_lengths.path_length, 2)
            when models.model = 'w_shaped' and {{ w_rest }} <= 0 then 1
            when models.model = 'full_path' and {{ z_rest }} <= 0 then 1
            else path_lengths.path_length
        end as min_rows,
        case
            when models.model in ('first_touch', 'last_touch', 'last_non_direct') then 1
            else path_lengths.path_length
        end as max_rows
    from conversions
    inner join models
        on models.conversion_type = conversions.conversion_type
    left join path_lengths
        on conversions.conversion_id = path_lengths.conversion_id

),

credited as (

    select conversion_id, model, count(*) as credited_rows
    from {{ ref('fct_attribution') }}
    where conversion_id in (select in_scope.conversion_id from in_scope)
    group by conversion_id, model

)

select
    coalesce(expected.conversion_id, credited.conversion_id) as conversion_id,
    coalesce(expected.model, credited.model) as model,
    expected.path_length,
    expected.min_rows,
    expected.max_rows,
    credited.credited_rows
from expected
full outer join credited
    on expected.conversion_id = credited.conversion_id
    and expected.model = credited.model
where expected.conversion_id is null  -- a model credits a conversion it does not apply to
    or expected.path_length is null  -- a conversion without a path, not even `(none)`
    or credited.credited_rows is null  -- a conversion a model does not credit
    or credited.credited_rows < expected.min_rows
    or credited.credited_rows > expected.max_rows
