-- Credit per conversion, touch and model (DOMAIN.md: attribution models). Heuristic models are
-- computed here in SQL; markov and shapley come from revops.attribution (exact, in Python),
-- written to the source `attribution.data_driven_credits` before this model builds. Every
-- conversion's credits sum to 1 under every model that applies to its type (w_shaped:
-- opportunity and customer; full_path: customer). Only credited touches appear.
{%- set half_life = var('time_decay_half_life_days') %}
{%- set first_w = var('position_based_weights')['first'] %}
{%- set last_w = var('position_based_weights')['last'] %}
{%- set w_weight = var('w_shaped_milestone_weight') %}
{%- set z_weight = var('full_path_milestone_weight') %}

with

paths as (

    -- time decay counts days from each conversion's newest touch (as revops.attribution does):
    -- the newest touch weighs 1, so the sum never underflows, and a weight is capped at 2^-1000
    -- (PostgreSQL raises an error where a float underflows; any older touch counts as 0 there).
    -- date_part gives float8 seconds (extract gives numeric: arbitrary precision, 2x slower)
    select
        *,
        greatest(date_part('epoch', converted_at - touched_at), 0) / 86400.0
        - min(greatest(date_part('epoch', converted_at - touched_at), 0) / 86400.0)
            over (partition by conversion_id) as days_after_newest_touch
    from {{ ref('int_conversion_paths_joined') }}

),

per_conversion as (

    -- the positions the position-dependent models need, once per conversion
    select
        paths.conversion_id,
        max(paths.touch_position) filter (where paths.channel <> 'direct')
            as last_non_direct_position,
        coalesce(
            max(paths.touch_position) filter (where paths.touched_at <= paths.lead_milestone_at),
            1
        ) as lead_touch,
        coalesce(
            max(paths.touch_position)
                filter (where paths.touched_at <= paths.opportunity_milestone_at),
            1
        ) as opportunity_touch,
        coalesce(
            max(paths.touch_position)
                filter (where paths.touched_at <= paths.close_milestone_at),
            1
        ) as close_touch,
        sum(power(2.0, -least(paths.days_after_newest_touch / {{ half_life }}, 1000.0)))
            as decay_total
    from paths
    group by paths.conversion_id

),

positioned as (

    select
        paths.*,
        per_conversion.last_non_direct_position,
        per_conversion.lead_touch,
        per_conversion.opportunity_touch,
        per_conversion.close_touch,
        per_conversion.decay_total,
        -- milestone weights that land on this touch (they add when milestones coincide)
        ({{ w_weight }} * (
            (paths.touch_position = 1)::int
            + (paths.touch_position = per_conversion.lead_touch)::int
            + (paths.touch_position = per_conversion.opportunity_touch)::int
        ))::double precision as w_milestone,
        (case when paths.touch_position in (
            1, per_conversion.lead_touch, per_conversion.opportunity_touch
        ) then 1 else 0 end) as is_w_milestone,
        ({{ z_weight }} * (
            (paths.touch_position = 1)::int
            + (paths.touch_position = per_conversion.lead_touch)::int
            + (paths.touch_position = per_conversion.opportunity_touch)::int
            + (paths.touch_position = per_conversion.close_touch)::int
        ))::double precision as z_milestone,
        (case when paths.touch_position in (
            1, per_conversion.lead_touch, per_conversion.opportunity_touch,
            per_conversion.close_touch
        ) then 1 else 0 end) as is_z_milestone
    from paths
    inner join per_conversion
        on paths.conversion_id = per_conversion.conversion_id

),

milestone_counts as (

    select
        conversion_id,
        sum(is_w_milestone) as w_milestones,
        sum(is_z_milestone) as z_milestones
    from positioned
    group by conversion_id

),

heuristic as (

    select
        positioned.*,
        milestone_counts.w_milestones,
        milestone_counts.z_milestones,
        (touch_position = 1)::int::double precision as first_touch,
        (touch_position = path_length)::int::double precision as last_touch,
        (touch_position = coalesce(last_non_direct_position, path_length))::int::double precision
            as last_non_direct,
        1.0::double precision / path_length as linear,
        case
            when touched_at is null then 1.0
            else power(2.0, -least(days_after_newest_touch / {{ half_life }}, 1000.0))
                / decay_total
        end::double precision as time_decay,
        case
            when path_length = 1 then 1.0
            when path_length = 2 then 0.5
            when touch_position = 1 then {{ first_w }}
            when touch_position = path_length then {{ last_w }}
            else (1.0 - {{ first_w }} - {{ last_w }}) / (path_length - 2)
        end::double precision as position_based,
        case
            when path_length > milestone_counts.w_milestones
                then w_milestone + case when is_w_milestone = 0
                    then (1.0 - 3 * {{ w_weight }}) / (path_length - milestone_counts.w_milestones)
                    else 0 end
            else w_milestone + (1.0 - 3 * {{ w_weight }}) / milestone_counts.w_milestones
        end::double precision as w_shaped,
        case
            when path_length > milestone_counts.z_milestones
                then z_milestone + case when is_z_milestone = 0
                    then (1.0 - 4 * {{ z_weight }}) / (path_length - milestone_counts.z_milestones)
                    else 0 end
            else z_milestone + (1.0 - 4 * {{ z_weight }}) / milestone_counts.z_milestones
        end::double precision as full_path
    from positioned
    inner join milestone_counts
        on positioned.conversion_id = milestone_counts.conversion_id

),

heuristic_long as (

    {#- one column per rule-based model in `heuristic`, named as the model -#}
    {% for model in var('attribution_models') if model not in var('data_driven_models') %}
    select
        conversion_id,
        conversion_type,
        person_id,
        converted_at,
        touchpoint_id,
        touched_at,
        '{{ model }}' as model,
        {{ model }} as credit,
        coalesce({{ model }}::numeric * conversion_value, 0) as revenue_credit,
        channel,
        campaign_id,
        campaign_name
    from heuristic
    where {{ model }} > 0
        and {{ attribution_model_applies(model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

data_driven as (

    select
        paths.conversion_id,
        paths.conversion_type,
        paths.person_id,
        paths.converted_at,
        paths.touchpoint_id,
        paths.touched_at,
        credits.model,
        credits.credit,
        coalesce(credits.credit::numeric * paths.conversion_value, 0) as revenue_credit,
        paths.channel,
        paths.campaign_id,
        paths.campaign_name
    from {{ source('attribution', 'data_driven_credits') }} as credits
    inner join paths
        on credits.conversion_id = paths.conversion_id
        and coalesce(credits.touchpoint_id, '(none)') = paths.touchpoint_id
    where credits.credit > 0

),

final as (

    select * from heuristic_long
    union all
    select * from data_driven

)

select * from final
