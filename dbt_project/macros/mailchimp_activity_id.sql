{#- A Mailchimp email activity's id: its raw primary key (campaign, member, action, time,
    occurrence) hashed; the staging model and its delete hook both name rows by it. -#}
{% macro mailchimp_activity_id(relation) -%}
    md5(campaign_id || '|' || email_id || '|' || action || '|' || "timestamp" || '|'
        || coalesce({{ column_or_null(relation, 'occurrence', 'text') }}, '0'))
{%- endmacro %}
