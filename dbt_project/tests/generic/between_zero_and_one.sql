{% test between_zero_and_one(model, column_name) %}
-- A rate is a share: between 0 and 1 where it is defined.
select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}
