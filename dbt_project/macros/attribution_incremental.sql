{#- Incremental attribution (DECISIONLOG.md: incremental attribution). The inputs of the paths
    (touches, conversions, people's stages) are fingerprinted in int_attribution_inputs_tracked,
    one row per input stamped `batch_at` with the dbt run that wrote it. Each consumer (the path
    tables, fct_attribution, the data-driven credits) keeps in `attribution.watermarks` the batch
    it has consumed through, and recomputes only what the inputs written since then reach: a
    failed run leaves its watermark behind, so the next run catches up. -#}

{#- The columns of int_conversions_unpivoted a conversion's path rows carry (and that, with the
    people on the conversion, decide its path). -#}
{% macro attribution_conversion_columns() %}
    {{ return([
        'conversion_id', 'conversion_type', 'person_id', 'converted_at', 'conversion_value',
        'lead_milestone_at', 'opportunity_milestone_at', 'close_milestone_at',
    ]) }}
{% endmacro %}

{#- Whether incremental runs recompute what changed (the var `attribution_change_detection`).
    Off, an incremental run of the path tables and fct_attribution writes and deletes nothing:
    the old rows stay. Only the tests turn it off, to show that the equality they check with a
    full refresh comes from the change detection. -#}
{% macro attribution_change_detection() %}
    {{ return(var('attribution_change_detection', true) in (true, 'true', 'True', 1, '1')) }}
{% endmacro %}

{#- This dbt run's stamp, as a SQL timestamp. -#}
{% macro attribution_batch_at() -%}
    '{{ run_started_at }}'::timestamptz
{%- endmacro %}

{#- The watermarks table: a pre-hook of int_attribution_inputs_tracked (before the path tables)
    and of fct_attribution; a no-op once it exists. The lock makes it safe when two builds (or
    two dbt threads) reach it at once: PostgreSQL's `if not exists` is not, and the loser fails
    on pg_namespace's unique index. It is held to the end of the model's transaction. -#}
{% macro attribution_watermarks_ddl() %}
    select pg_advisory_xact_lock(hashtext('revops.attribution_watermarks_ddl'));
    create schema if not exists attribution;
    create table if not exists attribution.watermarks (
        consumer text primary key,
        through timestamptz not null
    );
    create table if not exists attribution.replaced_days (
        day date not null,
        batch_at timestamptz not null
    )
{% endmacro %}

{#- A consumer's key in attribution.watermarks: its name and a digest of the vars its rows are
    computed with, so a change of the lookback or of a model's weights starts a new watermark
    ('-infinity') and the next run recomputes every row, with no full refresh needed. -#}
{% macro attribution_watermark_key(consumer) -%}
    {%- set settings = {} -%}
    {%- for name in [
        'attribution_lookback_days', 'time_decay_half_life_days', 'position_based_weights',
        'w_shaped_milestone_weight', 'full_path_milestone_weight', 'attribution_models',
        'data_driven_models', 'attribution_model_conversion_types', 'conversion_types',
        'valued_conversion_types',
    ] -%}
        {%- do settings.update({name: var(name)}) -%}
    {%- endfor -%}
    {{ consumer }}@{{ local_md5(tojson(settings, sort_keys=true))[:12] }}
{%- endmacro %}

{#- The batch a consumer has consumed inputs through ('-infinity' before its first build). -#}
{% macro attribution_watermark(consumer) -%}
    coalesce(
        (
            select through from attribution.watermarks
            where consumer = '{{ attribution_watermark_key(consumer) }}'
        ),
        '-infinity'::timestamptz
    )
{%- endmacro %}

{#- A post-hook: the consumer has consumed everything through this run. -#}
{% macro attribution_advance_watermark(consumer) %}
    {%- if attribution_change_detection() or not is_incremental() %}
    insert into attribution.watermarks (consumer, through)
    values ('{{ attribution_watermark_key(consumer) }}', {{ attribution_batch_at() }})
    on conflict (consumer) do update set through = excluded.through
    {%- else %}
    select 1
    {%- endif %}
{% endmacro %}

{#- The inputs written since the consumer's watermark, as a select over the tracked inputs. -#}
{% macro attribution_changed_inputs(tracked, consumer) %}
    select *
    from {{ tracked }}
    where batch_at > {{ attribution_watermark(consumer) }}
    {%- if not attribution_change_detection() %}
        and false
    {%- endif %}
{% endmacro %}

{#- The people whose non-converting journeys (int_nonconversion_paths_joined, `stored`) an
    incremental run recomputes, as a select of person_id: the person of every changed or gone
    touch and of every changed reached-stages input, and the person whose stored journey holds a
    changed or gone touch. -#}
{% macro attribution_affected_people(tracked, stored) %}
    select changes.person_id
    from ({{ attribution_changed_inputs(tracked, 'int_nonconversion_paths_joined') }}) as changes
    where changes.input_kind in ('touch', 'person')
        and changes.person_id is not null
    union
    select stored.person_id
    from {{ stored }} as stored
    inner join ({{ attribution_changed_inputs(tracked, 'int_nonconversion_paths_joined') }})
        as changes
        on changes.input_kind = 'touch'
        and stored.touchpoint_id = changes.entity_id
{% endmacro %}

{#- The conversions whose credits an incremental run of fct_attribution recomputes, as a select
    of conversion_id: those whose path rows or data-driven credits were written since its last
    run. -#}
{% macro attribution_changed_conversions() %}
    select conversion_id
    from {{ ref('int_conversion_paths_joined') }}
    where batch_at > {{ attribution_watermark('fct_attribution') }}
    union
    select conversion_id
    from {{ source('attribution', 'data_driven_credits') }}
    where batch_at > {{ attribution_watermark('fct_attribution') }}
{% endmacro %}

{#- A pre-hook of fct_attribution: before an incremental run replaces or deletes conversions'
    credits, it records the UTC days those credits were on (`attribution.replaced_days`), so
    the marts summing credits per day or period recompute the days a conversion left (its day
    changed, or it is gone), not only the days it is on now. -#}
{% macro attribution_record_replaced_days() %}
    {%- if is_incremental() and attribution_change_detection() %}
    insert into attribution.replaced_days (day, batch_at)
    select distinct (credited.converted_at at time zone 'UTC')::date, {{ attribution_batch_at() }}
    from {{ this }} as credited
    where credited.conversion_id in (
        {{ attribution_changed_conversions() }}
        union
        select entity_id
        from {{ ref('int_attribution_inputs_tracked') }}
        where input_kind = 'conversion' and is_deleted
    )
    {%- else %}
    select 1
    {%- endif %}
{% endmacro %}

{#- The days (UTC days of conversions, platform days of spend) whose sums a mart over credits
    and spend (`consumer`) recomputes on an incremental run, as a select of `day`: the days of
    the credits written since its last run, the days credits left (attribution.replaced_days),
    the days of the spend written since then; every day when it has no watermark (its first
    incremental run, or the attribution vars changed). None with the change detection off. -#}
{% macro attribution_changed_days(consumer) %}
    {#- each table read twice: by its batch_at (fct_attribution's index), and whole in a branch
        whose one-time filter skips it unless the consumer has no watermark -#}
    {%- set since = attribution_watermark(consumer) %}
    {%- if attribution_change_detection() %}
    {%- for table, day in [(ref('fct_attribution'), "(converted_at at time zone 'UTC')::date"),
                           (ref('fct_ad_spend_daily'), 'date_day')] %}
    select {{ day }} as day from {{ table }} where batch_at > {{ since }}
    union
    select {{ day }} as day from {{ table }} where {{ since }} = '-infinity'
    union
    {%- endfor %}
    select day from attribution.replaced_days where batch_at > {{ since }}
    {%- else %}
    select null::date as day where false
    {%- endif %}
{% endmacro %}

{#- The report periods (var `report_periods`) holding a changed day (attribution_changed_days),
    as a select of period_type, period_start and period_end (the next period's start). -#}
{% macro attribution_changed_periods(consumer) %}
    select distinct
        periods.period_type,
        date_trunc(periods.period_type, days.day)::date as period_start,
        (date_trunc(periods.period_type, days.day) + periods.length)::date as period_end
    from ({{ attribution_changed_days(consumer) }}) as days
    cross join (
        {%- for period in var('report_periods') %}
        select '{{ period }}' as period_type, interval '1 {{ period }}' as length
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    ) as periods
{% endmacro %}

{#- Join `alias`'s rows whose time `column` (a timestamptz; a date with `utc=false`) falls in
    one of `changed`'s days (`day`) or, with `period`, in one of its periods of that type: index
    ranges, where a day computed from every row would read the whole table. -#}
{% macro attribution_join_changed(changed, alias, column, period=none, utc=true) -%}
    {%- set start = changed ~ ('.period_start' if period else '.day') -%}
    {%- set end = changed ~ '.period_end' if period else '(' ~ changed ~ '.day + 1)' -%}
    inner join {{ changed }}
        on {{ alias }}.{{ column }} >= {{ start }}{{ "::timestamp at time zone 'UTC'" if utc }}
        and {{ alias }}.{{ column }} < {{ end }}{{ "::timestamp at time zone 'UTC'" if utc }}
        {%- if period %}
        and {{ changed }}.period_type = '{{ period }}'
        {%- endif %}
{%- endmacro %}

{#- A pre-hook of a mart over credits and spend: on an incremental run, delete its rows of the
    changed days (`column`: their day) or periods (`column` none: period_type, period_start),
    which the run then writes again; every row when it has no watermark. -#}
{% macro attribution_delete_changed(consumer, column=none) %}
    {%- if is_incremental() and attribution_change_detection() %}
    delete from {{ this }}
    where {{ attribution_watermark(consumer) }} = '-infinity'
    {%- if column %}
        or {{ column }} in ({{ attribution_changed_days(consumer) }})
    {%- else %}
        or (period_type, period_start) in (
            select period_type, period_start
            from ({{ attribution_changed_periods(consumer) }}) as changed
        )
    {%- endif %}
    {%- else %}
    select 1
    {%- endif %}
{% endmacro %}

{#- A post-hook: an index on `column` of this model, created when the table has none. dbt's
    `indexes` config builds indexes only with the table, so a table that existed before the
    index was declared (an upgraded warehouse) would never get one. Found by column, not name:
    on a full refresh the old table, still there when post-hooks run, holds any named one. -#}
{% macro ensure_index(column) -%}
    do $ensure_index$ begin
        if not exists (
            select 1
            from pg_catalog.pg_index as i
            join pg_catalog.pg_attribute as a
                on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
            where i.indrelid = '"{{ this.schema }}"."{{ this.identifier }}"'::regclass
                and i.indnatts = 1 and a.attname = '{{ column }}'
        ) then
            create index on {{ this }} ({{ column }});
        end if;
    end $ensure_index$
{%- endmacro %}

{#- The config of a mart summing credits and spend per day (`day_column`) or per report period
    (none): appended after a pre-hook deletes what changed since its watermark (keyed by the
    model's name), the watermark advanced after; `index`: a column to keep an index on. -#}
{% macro attribution_sums_config(day_column=none, index=none) %}
    {%- set delete_args = "this.name" ~ (", '" ~ day_column ~ "'" if day_column else "") -%}
    {%- set post_hook = ["{{ attribution_advance_watermark(this.name) }}"] -%}
    {%- if index %}{% do post_hook.append("{{ ensure_index('" ~ index ~ "') }}") %}{% endif -%}
    {%- do post_hook.append("analyze {{ this }}") -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'append_new_columns',
        'pre_hook': [
            attribution_watermarks_ddl(),
            "{{ attribution_delete_changed(" ~ delete_args ~ ") }}",
        ],
        'post_hook': post_hook,
    }) }}
{% endmacro %}
