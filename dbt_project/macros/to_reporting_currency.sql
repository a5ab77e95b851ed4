{#- The amount in the reporting currency, at the day's rate from `rates` (joined by the caller).
    A missing rate is an error that names the currency and the day, never a silent 1.0
    (docs/definitions.md: money): the cast of the message to numeric fails the build with it. -#}
{% macro to_reporting_currency(amount, currency, day, rate) -%}
    case
        when {{ amount }} is null then null
        when {{ currency }} = '{{ var("reporting_currency") }}' then {{ amount }}
        when {{ rate }} is null then cast(
            'missing fx rate: no ' || {{ currency }} || ' rate for ' || {{ day }}
            || ' in seed fx_rates_daily' as numeric
        )
        else {{ amount }} * {{ rate }}
    end
{%- endmacro %}
