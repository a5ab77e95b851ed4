{#- The columns that say where a person came from, as HubSpot records them on a contact (its
    original source and UTM tags): carried by every record of int_records_mapped_to_people (null
    outside HubSpot) and taken from the person's first HubSpot contact in int_people_resolved. -#}
{% macro person_source_columns() %}
    {{ return([
        'analytics_source', 'analytics_source_data_1', 'analytics_source_data_2',
        'utm_source', 'utm_medium', 'utm_campaign',
    ]) }}
{% endmacro %}
