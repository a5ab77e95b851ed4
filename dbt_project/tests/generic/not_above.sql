{% test not_above(model, column_name, other) %}
-- An order between two columns of a row: column_name <= other where both are set
-- (clicks <= impressions, a touch before its conversion, a stage entered after the one before).
select {{ column_name }}, {{ other }}
from {{ model }}
where {{ column_name }} > {{ other }}
{% endtest %}
