{#- The report marts' period fan-out: each rpt_ mart has one row set per period grain of the var
    `report_periods` (week, month), each from the same select. Call it with the select as the
    call block; the block gets the period and usually starts with `period_columns`:

        {% call(period) union_periods() %}
        select {{ period_columns(period, 'converted_at') }}, channel, count(*) as conversions
        from ... group by 1, 2, 3
        {% endcall %}
-#}
{% macro union_periods() -%}
    {%- for period in var('report_periods') %}
    {{ caller(period) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- `period_type` and `period_start` (the first day of the period holding `at`, UTC). A date
    column (already a UTC or platform day) is truncated as it is: `utc=false`. -#}
{% macro period_columns(period, at, utc=true) -%}
    '{{ period }}' as period_type,
        date_trunc('{{ period }}', {{ at }}{{ " at time zone 'UTC'" if utc }})::date as period_start
{%- endmacro %}
