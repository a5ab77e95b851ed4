{#- Staging tables incremental on dlt's loads (DECISIONLOG.md: incremental staging). A raw row's
    `_dlt_load_id` names the load that last changed it (merges skip unchanged rows); a load is
    complete once dlt lists it in the dataset's `_dlt_loads`, at `inserted_at`. An incremental
    run reads the raw rows of the loads completed since `load_reread_hours` before the newest
    load it has read (the margin covers a load listed a moment after a later one) that it does
    not hold yet (a listed load was read whole: its rows committed before it was listed), and
    of loads not listed (incomplete or abandoned; none in a healthy warehouse), so every row a
    full refresh reads is read at least once after its last change. `incremental_change_detection:
    false` reads none (tests prove the check fails without it). -#}

{#- the loads a staging model over `relation` reads: a where-clause on the raw rows -#}
{% macro loaded_since_last_run(relation) -%}
    {%- if not var('incremental_change_detection', true) -%}
    false
    {%- else -%}
    _dlt_load_id not in (
        select loads.load_id
        from {{ relation.schema }}._dlt_loads as loads
        where loads.inserted_at <= (
            select coalesce(max(_loaded_at), '-infinity'::timestamptz) from {{ this }}
        ) - interval '{{ var("load_reread_hours", 24) }} hours'
        union all
        -- within the margin, a listed load already in the table was read whole: skip it
        select distinct held._dlt_load_id
        from {{ this }} as held
        where held._loaded_at > (
            select coalesce(max(_loaded_at), '-infinity'::timestamptz) from {{ this }}
        ) - interval '{{ var("load_reread_hours", 24) }} hours'
    )
    {%- endif -%}
{%- endmacro %}

{#- when the row's load completed: null for a load dlt does not list -#}
{% macro load_completed_at(relation, load_column='source._dlt_load_id') -%}
    (
        select loads.inserted_at from {{ relation.schema }}._dlt_loads as loads
        where loads.load_id = {{ load_column }}
        order by loads.inserted_at desc
        limit 1
    )
{%- endmacro %}

{#- post-hook: delete the rows whose raw row is gone. Every raw row is in the table (one row
    each), so equal counts mean nothing is gone and the anti-join is skipped. -#}
{% macro delete_rows_gone_from(relation, key, raw_key_expression) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as existing
    where (select count(*) from {{ this }}) <> (select count(*) from {{ relation }})
        and not exists (
            select 1 from {{ relation }} as source
            where {{ raw_key_expression }} = existing.{{ key }}
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
