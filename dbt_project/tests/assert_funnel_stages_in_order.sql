-- fct_funnel: a person's stage times never decrease down the funnel, and a person who reached a
-- stage has a time for every earlier one (docs/definitions.md: a skipped stage is passed at the time of
-- the next stage reached).
{%- set stages = var('funnel_stages').keys() | list %}
select person_id, {% for stage in stages %}{{ stage }}_at{% if not loop.last %}, {% endif %}{% endfor %}
from {{ ref('fct_funnel') }}
where
    {%- for stage in stages[1:] %}
    {{ stage }}_at < {{ stages[loop.index0] }}_at
    or ({{ stages[loop.index0] }}_at is null and {{ stage }}_at is not null)
    {%- if not loop.last %}
    or{% endif %}
    {%- endfor %}
