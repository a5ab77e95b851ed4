{#- The read-only role BI tools use (the name is fixed: `+grants` in dbt_project.yml names it): it may read `marts` and nothing else. Created if missing
    (needs CREATEROLE; on a warehouse where dbt's user lacks it, create the role once by hand:
    `create role bi_reader nologin;`). Grant it to your BI tool's login role. -#}
{% macro ensure_bi_reader_role() %}
    do $$
    begin
        if not exists (select 1 from pg_roles where rolname = 'bi_reader') then
            create role bi_reader nologin;
        end if;
    end
    $$;
{% endmacro %}

{#- After every invocation: once `marts` exists, bi_reader may look into it (a `dbt seed` or a
    selection that builds no mart runs before it exists, and must not fail on it). -#}
{% macro grant_marts_schema_usage() %}
    {% if execute %}
    do $$
    begin
        if exists (select 1 from pg_namespace where nspname = 'marts') then
            grant usage on schema marts to bi_reader;
        end if;
    end
    $$;
    {% endif %}
{% endmacro %}
