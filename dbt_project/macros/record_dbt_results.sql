{#- After every invocation: each model, seed, unit test and data test result into
    revops_meta.dbt_results, which the publish gate reads (revops.quality.dbt_results) instead of
    re-running the tests; pruned to the var dbt_results_retention_days. A table rather than
    target/run_results.json: Cosmos runs dbt in a temporary copy of the project, and `revops
    transform` runs dbt twice (the second run's file would replace the first's). -#}
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
    create index if not exists dbt_results_node_newest
        on revops_meta.dbt_results (unique_id, recorded_at desc);
    {% if rows %}
    insert into revops_meta.dbt_results
        (invocation_id, unique_id, resource_type, name, status, severity, failures, message,
         depends_on)
    values
        {{ rows | join(",\n        ") }};
    {% endif %}
    {#- history is kept for dbt_results_retention_days; a node's newest result is kept however
        old, so the gate still finds a mart that was not rebuilt since -#}
    delete from revops_meta.dbt_results as old_result
    where old_result.recorded_at
            < clock_timestamp() - interval '{{ var("dbt_results_retention_days", 30) | int }} days'
        and exists (
            select 1 from revops_meta.dbt_results as newer
            where newer.unique_id = old_result.unique_id
                and newer.recorded_at > old_result.recorded_at
        );
    {% endif %}
{% endmacro %}
