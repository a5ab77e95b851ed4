{#- A seed's rows in one statement: each column's values as one array parameter, `unnest`ed
    into the table, the arrays cast to the column types the table was created with (the seed's
    `column_types`, else dbt's inferred type). dbt's own loader writes a VALUES list of 10,000
    rows at a time in Jinja, which took 6.4 to 7.8 s for the 27,395 FX rates. Overrides dbt's
    default on PostgreSQL (dbt dispatches `load_csv_rows` to the root project first). -#}
{% macro postgres__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set cols_sql = get_seed_column_quoted_csv(model, agate_table.column_names) -%}
    {%- set arrays = [] -%}
    {%- set bindings = [] -%}
    {%- for column in agate_table.columns -%}
        {%- set inferred = adapter.convert_type(agate_table, loop.index0) -%}
        {%- set type = column_override.get(column.name, inferred) -%}
        {%- do arrays.append(get_binding_char() ~ '::' ~ type ~ '[]') -%}
        {%- do bindings.append(column.values() | list) -%}
    {%- endfor -%}
    {%- set sql -%}
        insert into {{ this.render() }} ({{ cols_sql }})
        select * from unnest({{ arrays | join(', ') }})
    {%- endset -%}
    {%- if agate_table.rows | length > 0 -%}
        {%- do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) -%}
    {%- endif -%}
    {{ return(sql) }}
{% endmacro %}
