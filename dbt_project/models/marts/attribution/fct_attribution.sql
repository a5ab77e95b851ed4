-- Credit per conversion, touch and model (docs/definitions.md). Heuristic models are
-- computed here in SQL; markov and shapley come from revops.attribution (exact, in Python),
-- written to the source `attribution.data_driven_credits` before this model builds. Every
-- conversion's credits sum to 1 under every model that applies to its type (w_shaped:
-- opportunity and customer; full_path: customer). Only credited touches appear.
-- Incremental (DECISIONLOG.md: incremental attribution): a run recomputes the conversions whose
-- path rows or data-driven credits were written since its last run, and deletes the gone
-- conversions; `batch_at` is the run that wrote the row (the tests check only those rows).
{{ config(
    materialized='incremental',
    unique_key='conversion_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['conversion_id']}, {'columns': ['batch_at']}],
    pre_hook=[attribution_watermarks_ddl(), "{{ attribution_record_replaced_days() }}"],
    post_hook=[
        "{% if attribution_change_detection()
             and load_relation(ref('int_attribution_inputs_tracked')) is not none %}
         delete from {{ this }} as credited
         using {{ ref('int_attribution_inputs_tracked') }} as tracked
         where tracked.input_kind = 'conversion' and tracked.is_deleted
             and credited.conversion_id = tracked.entity_id
         {% else %}select 1{% endif %}",
        "{{ attribution_advance_watermark('fct_attribution') }}",
        "{{ ensure_index('converted_at') }}",
        "analyze {{ this }}",
    ],
) }}
{%- set half_life = var('time_decay_half_life_days') %}
{%- set first_w = var('position_based_weights')['first'] %}
{%- set last_w = var('position_based_weights')['last'] %}
{#- The milestone models: each milestone's touch (the first touch; the last touch at or before
    the lead, the opportunity, the close) gets the model's weight, adding where milestones share a
    touch, and the rest of the credit is split evenly over the other touches (over the milestone
    touches when there are none). -#}
{%- set milestone_models = {
    'w_shaped': {
        'prefix': 'w',
        'weight': var('w_shaped_milestone_weight'),
        'touches': ['1', 'per_conversion.lead_touch', 'per_conversion.opportunity_touch'],
    },
    'full_path': {
        'prefix': 'z',
        'weight': var('full_path_milestone_weight'),
        'touches': ['1', 'per_conversion.lead_touch', 'per_conversion.opportunity_touch',
                    'per_conversion.close_touch'],
    },
} %}

with

{% if is_incremental() %}

affected as (

    -- conversions whose path or data-driven credits were written since this model's last run
    {{ attribution_changed_conversions() }}

),

{% endif %}

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
    {%- if is_incremental() %}
    where conversion_id in (select affected.conversion_id from affected)
        {%- if not attribution_change_detection() %} and false{% endif %}
    {%- endif %}

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
        {%- for m in milestone_models.values() %}
        ({{ m.weight }} * (
            {%- for touch in m.touches %}
            {{ '+ ' if not loop.first }}(paths.touch_position = {{ touch }})::int
            {%- endfor %}
        ))::double precision as {{ m.prefix }}_milestone,
        (case when paths.touch_position in ({{ m.touches | join(', ') }}) then 1 else 0 end)
            as is_{{ m.prefix }}_milestone{{ ',' if not loop.last }}
        {%- endfor %}
    from paths
    inner join per_conversion
        on paths.conversion_id = per_conversion.conversion_id

),

milestone_counts as (

    select
        conversion_id,
        {%- for m in milestone_models.values() %}
        sum(is_{{ m.prefix }}_milestone) as {{ m.prefix }}_milestones{{ ',' if not loop.last }}
        {%- endfor %}
    from positioned
    group by conversion_id

),

heuristic as (

    select
        positioned.*,
        {%- for m in milestone_models.values() %}
        milestone_counts.{{ m.prefix }}_milestones,
        {%- endfor %}
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
        {%- for model, m in milestone_models.items() %}
        {%- set rest = '(1.0 - ' ~ (m.touches | length) ~ ' * ' ~ m.weight ~ ')' %}
        {%- set milestones = 'milestone_counts.' ~ m.prefix ~ '_milestones' %}
        case
            when path_length > {{ milestones }}
                then {{ m.prefix }}_milestone + case when is_{{ m.prefix }}_milestone = 0
                    then {{ rest }} / (path_length - {{ milestones }})
                    else 0 end
            else {{ m.prefix }}_milestone + {{ rest }} / {{ milestones }}
        end::double precision as {{ model }}{{ ',' if not loop.last }}
        {%- endfor %}
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
        campaign_name,
        {{ attribution_batch_at() }} as batch_at
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
        paths.campaign_name,
        {{ attribution_batch_at() }} as batch_at
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
