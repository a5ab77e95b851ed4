{#- The value of the query parameter `name` in the URL `url`, lower-cased (null without it):
    how an email click's UTM source and medium are read from the link clicked. -#}
{% macro url_parameter(url, name) -%}
    lower(substring({{ url }} from '[?&]{{ name }}=([^&#]+)'))
{%- endmacro %}
