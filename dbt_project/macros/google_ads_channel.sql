{#- The channel of a Google Ads campaign: its advertising channel type through the seed
    ad_channel_types; a type the seed does not list is paid_search. Join with
    `join_google_ads_channel('<campaigns>.advertising_channel_type')`, then select
    `google_ads_channel() as channel`. -#}
{% macro join_google_ads_channel(channel_type) -%}
    left join {{ ref('ad_channel_types') }} as types
        on types.platform = 'google_ads'
        and {{ channel_type }} = types.advertising_channel_type
{%- endmacro %}

{% macro google_ads_channel() -%}
    coalesce(types.channel, 'paid_search')
{%- endmacro %}
