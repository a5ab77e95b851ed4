{#- After every invocation: each model, seed, unit test and data test result into
    revops_meta.dbt_results, which the publish gate reads (revops.quality.dbt_results) instead of
    re-running the tests. A table rather than target/run_results.json: Cosmos runs dbt in a
    temporary copy of the project, and `revops transform` runs dbt twice (the second run's file
    would replace the first's). -#}
{% macro record_dbt_results(results) %}
    {% if execute %}
    {%- set rows = [] -%}
    {%- for res in results if res.node.resource_type in ('model', 'seed', 'test', 'unit_test') -%}
        {%- set parents = res.node.depends_on.nodes if res.node.depends_on else [] -%}
        {%- set severity = res.node.config.severity if res.node.resource_type == 'test' else none -%}
        {%- do rows.append(
            "('" ~ invocation_id ~ "', '" ~ res.node.unique_id ~ "', '" ~ res.node.resource_type
            ~ "', '" ~ res.node.name ~ "', '" ~ res.status ~ "', "
            ~ ("'" ~ (severity | lower) ~ "'" if severity else "null") ~ ", "
            ~ (res.failures if res.failures is not none else "null") ~ ", "
            ~ "'" ~ ((res.message or '') | string | replace("'", "''")) ~ "', "
            ~ "array[" ~ ("'" ~ (parents | join("', '")) ~ "'" if parents else "") ~ "]::text[])"
        ) -%}
    {%- endfor %}
    create schema if not exists revops_meta;
    create table if not exists revops_meta.dbt_results (
        invocation_id text not null,
        unique_id text not null,
        resource_type text not null,
        name text not null,
        status text not null,
        severity text,
        failures bigint,
        message text,
        depends_on text[] not null,
        recorded_at timestamptz not null default clock_timestamp()
    );
    {% if rows %}
    insert into revops_meta.dbt_results
        (invocation_id, unique_id, resource_type, name, status, severity, failures, message,
         depends_on)
    values
        {{ rows | join(",\n        ") }};
    {% endif %}
    {% endif %}
{% endmacro %}
