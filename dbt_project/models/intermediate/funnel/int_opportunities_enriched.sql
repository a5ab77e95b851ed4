-- Live Salesforce opportunities with their amount in the reporting currency (at the close
-- date's rate, or today's while open; docs/definitions.md: money), close time and stage history.
with

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }} where not is_deleted

),

history as (

    select
        opportunity_id,
        string_agg(stage_name, ' > ' order by changed_at) as stage_history,
        count(*) as stage_changes
    from {{ ref('stg_salesforce__opportunity_history') }}
    group by opportunity_id

),

valued as (

    select
        opportunities.*,
        case
            when opportunities.is_closed
                then coalesce(opportunities.last_stage_changed_at,
                              opportunities.close_date::timestamptz)
        end as closed_at,
        case when opportunities.is_closed then opportunities.close_date
            else current_date end as valued_on
    from opportunities

),

final as (

    select
        valued.opportunity_id,
        valued.account_id,
        valued.opportunity_name,
        valued.opportunity_type,
        valued.stage_name,
        valued.created_at,
        valued.closed_at,
        valued.is_closed,
        valued.is_won,
        valued.amount,
        valued.currency,
        {{ to_reporting_currency('valued.amount', 'valued.currency', 'valued.valued_on',
                                 'rates.rate_to_usd') }} as amount_reporting,
        valued.loss_reason,
        valued.campaign_id,
        valued.lead_source,
        valued.owner_id,
        history.stage_history,
        coalesce(history.stage_changes, 0) as stage_changes
    from valued
    left join {{ ref('fx_rates_daily') }} as rates
        on rates.rate_date = valued.valued_on
        and rates.currency = valued.currency
    left join history
        on valued.opportunity_id = history.opportunity_id

)

select * from final
