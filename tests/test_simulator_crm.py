"""Vendor simulator, the two CRMs together: the same people in HubSpot, Salesforce and Mailchimp,
every funnel signal DOMAIN.md needs, and deals that mirror opportunities."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from revops.simulator import Company
from revops.simulator.crm import SfRecord

AS_OF = datetime(2026, 11, 2, 9, 45, tzinfo=UTC)
MINUTE = 60_000


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=7, scale=0.1, as_of=AS_OF)


def norm(email: object) -> str:
    return str(email).strip().lower()


def by_id(rows: list[SfRecord]) -> dict[str, SfRecord]:
    return {r.id: r for r in rows}


def test_the_same_people_in_hubspot_salesforce_and_mailchimp(company: Company) -> None:
    as_of = company.as_of_ms
    settled = as_of - 30 * MINUTE  # the sync may still be on its way for the last minutes
    hubspot = {
        norm(c.values["email"])
        for c in company.contacts
        if c.values.get("hs_lifecyclestage_lead_date") is not None
        and c.values["hs_lifecyclestage_lead_date"] < settled  # type: ignore[operator]
    }
    leads = company.salesforce("Lead")
    salesforce = {norm(r.fields["Email"]) for r in leads}
    assert hubspot and hubspot <= salesforce
    recent = salesforce - hubspot
    every_hubspot = {norm(c.values["email"]) for c in company.contacts}
    assert all(e in every_hubspot for e in recent)  # the rest are leads of the last minutes
    # subscribers who never became leads are not synced
    subscribers = {
        norm(c.values["email"])
        for c in company.contacts
        if c.values["lifecyclestage"] == "subscriber"
        and not c.values.get("hs_lifecyclestage_lead_date")
    }
    duplicated = {norm(c.values["email"]) for c in company.contacts if c.is_duplicate}
    assert subscribers and not (subscribers & salesforce) - duplicated
    # Mailchimp members who are (already) contacts have the very same address
    members = {m.person_id: m for m in company.members}
    matched = 0
    for person in company.people:
        member = members.get(person.id)
        if member is not None:
            assert member.email == person.email
            matched += 1
    assert matched > 100
    # a converted lead and its contact are one person, same address
    contacts = by_id(company.salesforce("Contact"))
    converted = [r for r in leads if r.fields["IsConverted"]]
    assert converted and all(
        contacts[r.fields["ConvertedContactId"]].fields["Email"] == r.fields["Email"]
        and contacts[r.fields["ConvertedContactId"]].fields["AccountId"]
        == r.fields["ConvertedAccountId"]
        for r in converted
    )


def test_lead_status_follows_the_hubspot_lifecycle(company: Company) -> None:
    history: dict[str, list[SfRecord]] = defaultdict(list)
    for h in company.salesforce("LeadHistory"):
        history[h.fields["LeadId"]].append(h)
    leads = {r.id: r for r in company.salesforce("Lead")}
    checked = Counter()
    for person in company.people:
        lead_id = person.salesforce_lead_id
        if lead_id is None or lead_id not in leads:
            continue
        statuses = {
            h.fields["NewValue"]: h.fields["CreatedDate"]
            for h in history[lead_id]
            if h.fields["Field"] == "Status"
        }
        if person.mql_at is not None:
            mql = statuses.get("Marketing Qualified")
            if mql is not None:  # converted by a colleague's deal first otherwise
                lag = mql - person.mql_at.timestamp() * 1000
                assert 0 < lag <= 10 * MINUTE  # HubSpot first, the sync follows
                checked["mql"] += 1
        if person.sql_at is not None and "Sales Qualified" in statuses:
            lag = person.sql_at.timestamp() * 1000 - statuses["Sales Qualified"]
            assert 0 < lag <= 10 * MINUTE  # sales qualifies in Salesforce first
            checked["sql"] += 1
    assert checked["mql"] > 100 and checked["sql"] > 30
    unqualified = [r for r in leads.values() if r.fields["Status"] == "Unqualified"]
    assert len(unqualified) > 30
    assert all(r.fields["Unqualified_Reason__c"] for r in unqualified)
    reasons = Counter(r.fields["Unqualified_Reason__c"] for r in unqualified)
    assert len(reasons) >= 4
    hs_status = Counter(c.values.get("hs_lead_status") for c in company.contacts)
    assert hs_status["UNQUALIFIED"] + hs_status["BAD_TIMING"] > 20 and hs_status["OPEN_DEAL"] > 10


def test_sales_activities_time_the_handoff(company: Company) -> None:
    users = by_id(company.salesforce("User"))
    tasks = company.salesforce("Task")
    events = company.salesforce("Event")
    integration = [
        t for t in tasks if users[t.fields["OwnerId"]].fields["Department"] == "Marketing"
    ]
    assert integration and all(
        t.fields["Subject"].startswith("Form submission:") for t in integration
    )
    sales = [
        a for a in tasks + events if users[a.fields["OwnerId"]].fields["Department"] == "Sales"
    ]
    kinds = Counter(a.fields["Type"] for a in sales)
    assert kinds["Call"] > 100 and kinds["Email"] > 50 and kinds["Meeting"] > 50
    assert all(a.fields["WhoId"][:3] in ("00Q", "003") for a in sales)
    calls = [t for t in tasks if t.fields["TaskSubtype"] == "Call"]
    assert all(t.fields["CallDurationInSeconds"] is not None for t in calls)
    assert all(t.fields["CompletedDateTime"] == t.fields["CreatedDate"] for t in calls)
    # handoff: first sales activity after the MQL, some within the 24-hour SLA, some not
    first_touch: dict[str, int] = {}
    leads = {r.id: r for r in company.salesforce("Lead")}
    contact_to_lead = {
        r.fields["ConvertedContactId"]: r.id
        for r in leads.values()
        if r.fields["ConvertedContactId"]
    }
    for a in sales:
        at = a.fields.get("CompletedDateTime") or a.fields.get("StartDateTime")
        who = contact_to_lead.get(a.fields["WhoId"], a.fields["WhoId"])
        first_touch[who] = min(first_touch.get(who, at), at)
    handoffs = []
    for person in company.people:
        if person.mql_at is None or person.salesforce_lead_id not in first_touch:
            continue
        handoffs.append(first_touch[person.salesforce_lead_id] / 1000 - person.mql_at.timestamp())
    within = sum(1 for h in handoffs if h <= 24 * 3600)
    assert len(handoffs) > 100 and 0.3 < within / len(handoffs) < 0.95
    assert min(handoffs) > 0


def test_opportunities_contact_roles_and_customers(company: Company) -> None:
    opps = company.salesforce("Opportunity")
    roles = company.salesforce("OpportunityContactRole")
    contacts = by_id(company.salesforce("Contact"))
    per_opp: dict[str, list[SfRecord]] = defaultdict(list)
    for role in roles:
        per_opp[role.fields["OpportunityId"]].append(role)
        assert role.fields["ContactId"] in contacts
    assert all(sum(r.fields["IsPrimary"] for r in per_opp[o.id]) == 1 for o in opps)
    assert sum(1 for o in opps if len(per_opp[o.id]) > 1) >= 10  # buying groups
    won = [o for o in opps if o.fields["IsWon"]]
    lost = [o for o in opps if o.fields["StageName"] == "Closed Lost"]
    assert won and lost and all(o.fields["Loss_Reason__c"] for o in lost)
    assert {o.fields["Type"] for o in opps} == {"New Business", "Existing Business"}
    assert {o.fields["CurrencyIsoCode"] for o in opps} == {"USD", "EUR", "GBP"}
    email_of = {c.id: c.fields["Email"] for c in contacts.values()}
    people = {p.email: p for p in company.people}
    won_at = {
        h.fields["OpportunityId"]: h.fields["CreatedDate"]
        for h in company.salesforce("OpportunityHistory")
        if h.fields["StageName"] == "Closed Won"
    }
    customers = 0
    for o in won:
        if o.fields["Type"] != "New Business":
            continue
        primary = next(r for r in per_opp[o.id] if r.fields["IsPrimary"])
        person = people[email_of[primary.fields["ContactId"]]]
        assert person.customer_at is not None
        lag = person.customer_at.timestamp() * 1000 - won_at[o.id]
        assert 0 <= lag <= 10 * MINUTE  # Salesforce closes it, HubSpot's lifecycle follows
        customers += 1
    assert customers > 5
    history = defaultdict(list)
    for h in company.salesforce("OpportunityHistory"):
        history[h.fields["OpportunityId"]].append(h.fields["StageName"])
    assert all(history[o.id][-1] == o.fields["StageName"] for o in opps)
    assert all(history[o.id][0] in ("Prospecting", "Qualification") for o in opps)
    campaigns = by_id(company.salesforce("Campaign"))
    assert all(o.fields["CampaignId"] in campaigns for o in opps if o.fields["CampaignId"])
    assert sum(1 for o in opps if o.fields["CampaignId"]) > len(opps) / 3


def test_deals_mirror_new_business_opportunities(company: Company) -> None:
    opps = by_id(company.salesforce("Opportunity"))
    deals = company.deals
    mirrored = [d for d in deals if d.values["salesforceopportunityid"] in opps]
    assert len(mirrored) == len(deals) > 50
    settled = company.as_of_ms - 10 * MINUTE
    compared = 0
    for deal in mirrored:
        opp = opps[str(deal.values["salesforceopportunityid"])]
        assert opp.fields["Type"] == "New Business"
        assert deal.values["deal_currency_code"] == opp.fields["CurrencyIsoCode"]
        if opp.modstamp > settled:
            continue  # the sync has not caught up yet
        assert float(deal.values["amount"]) == opp.fields["Amount"]  # type: ignore[arg-type]
        close = datetime.fromtimestamp(int(deal.values["closedate"]) / 1000, tz=UTC).date()
        assert close == opp.fields["CloseDate"]
        stage = {"Closed Won": "closedwon", "Closed Lost": "closedlost"}.get(
            opp.fields["StageName"]
        )
        if stage:
            assert deal.values["dealstage"] == stage
        compared += 1
    assert compared > 50
    expansions = [o for o in opps.values() if o.fields["Type"] == "Existing Business"]
    assert expansions and not {o.id for o in expansions} & {
        str(d.values["salesforceopportunityid"]) for d in deals
    }


def test_accounts_are_the_same_companies_in_both_crms(company: Company) -> None:
    accounts = by_id(company.salesforce("Account"))
    assert len(company.companies) == len(accounts) == len(company.accounts)
    for c in company.companies[:50]:
        sf = accounts[str(c.values["salesforceaccountid"])]
        assert sf.fields["Name"] == c.values["name"]
        assert sf.fields["Website"] == f"www.{c.values['domain']}"
    types = Counter(a.fields["Type"] for a in accounts.values())
    assert set(types) == {"Prospect", "Partner", "Customer - Direct"}
    legacy = {
        a.fields["Name"] for a in accounts.values() if a.fields["Type"] == "Customer - Direct"
    }
    assert legacy == {
        c.values["name"] for c in company.companies if c.values["lifecyclestage"] == "customer"
    }
    owned = {str(c.values["hubspot_owner_id"]) for c in company.companies}
    assert owned <= {u.owner_id for u in company.users if u.owner_id}


def test_campaign_members_respond_to_source_and_webinar_campaigns(company: Company) -> None:
    campaigns = by_id(company.salesforce("Campaign"))
    members = company.salesforce("CampaignMember")
    kinds = Counter(campaigns[m.fields["CampaignId"]].fields["Type"] for m in members)
    assert kinds["Paid Search"] > 100 and kinds["Paid Social"] > 20 and kinds["Webinar"] > 50
    webinar = [
        m
        for m in members
        if campaigns[m.fields["CampaignId"]].fields["Type"] == "Webinar"
        and campaigns[m.fields["CampaignId"]].fields["Name"].startswith("Webinar: ")
    ]
    statuses = Counter(m.fields["Status"] for m in webinar)
    assert statuses["Attended"] and statuses["No Show"]
    assert all(
        m.fields["HasResponded"] == (m.fields["Status"] in ("Attended", "Responded"))
        for m in members
    )
    utm = {c.fields["UTM_Campaign__c"] for c in campaigns.values()}
    assert {c.utm_campaign for c in company.social.meta_campaigns} <= utm
