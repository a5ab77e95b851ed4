-- One row per opportunity: account, amounts in the original and reporting currency, created,
-- closed, won/lost, stage history, sales cycle and the source channel of its primary contact.
with

opportunities as (

    select * from {{ ref('int_opportunities_enriched') }}

),

primary_person as (

    {{ primary_opportunity_person() }}

),

final as (

    select
        opportunities.opportunity_id,
        opportunities.account_id,
        opportunities.opportunity_name,
        opportunities.opportunity_type,
        opportunities.stage_name as stage,
        opportunities.created_at,
        opportunities.closed_at,
        opportunities.is_closed,
        opportunities.is_won,
        opportunities.amount,
        opportunities.currency,
        opportunities.amount_reporting,
        opportunities.loss_reason,
        opportunities.stage_history,
        case when opportunities.is_closed then
            round((extract(epoch from opportunities.closed_at - opportunities.created_at)
                / 86400.0)::numeric, 1)::double precision
        end as sales_cycle_days,
        primary_person.person_id as primary_person_id,
        coalesce(funnel.source_channel, 'other') as source_channel
    from opportunities
    left join primary_person
        on opportunities.opportunity_id = primary_person.opportunity_id
    left join {{ ref('fct_funnel') }} as funnel
        on primary_person.person_id = funnel.person_id

)

select * from final
