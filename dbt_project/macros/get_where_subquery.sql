{#- dbt's own get_where_subquery, plus one placeholder a test's `where` may use:
    `__written_this_run__` stands for `batch_at = <this run's stamp>`, so a test on a large
    incremental table (fct_attribution, the path tables) checks only the rows this run wrote
    (all of them on a full build). A test's `where` is rendered when the project is parsed (and
    a parse is reused between runs), so the stamp cannot be written there; it is put in here,
    when the test runs. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__written_this_run__' in where -%}
            {%- set where = where | replace(
                '__written_this_run__', 'batch_at = ' ~ attribution_batch_at()
            ) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
