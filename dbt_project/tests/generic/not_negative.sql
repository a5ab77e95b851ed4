{% test not_negative(model, column_name) %}
-- A count, an amount or a duration: >= 0 where it is set.
select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0
{% endtest %}
