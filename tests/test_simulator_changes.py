"""Vendor simulator, changes over time: what a later clock shows - new, updated, deleted and
restated records - and that nothing changes without its modification stamp moving."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from revops.simulator import Company
from revops.simulator.crm import SF_SCHEMA

T0 = datetime(2026, 10, 20, 14, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=10)
SEED, SCALE = 11, 0.1


@pytest.fixture(scope="module")
def before() -> Company:
    return Company.generate(seed=SEED, scale=SCALE, as_of=T0)


@pytest.fixture(scope="module")
def after() -> Company:
    return Company.generate(seed=SEED, scale=SCALE, as_of=T1)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def test_same_seed_and_clock_give_the_same_world(before: Company) -> None:
    twin = Company.generate(seed=SEED, scale=SCALE, as_of=T0)
    assert twin.people == before.people and twin.members == before.members
    for obj in ("Lead", "Opportunity", "Task", "CampaignMember"):
        assert [r.fields for r in twin.salesforce(obj, True)] == [
            r.fields for r in before.salesforce(obj, True)
        ]
    assert [d.values for d in twin.deals] == [d.values for d in before.deals]
    assert twin.meta_daily == before.meta_daily and twin.linkedin_daily == before.linkedin_daily


@pytest.mark.parametrize("obj", [o for o, f in SF_SCHEMA.items() if "SystemModstamp" in f])
def test_salesforce_rows_never_change_without_their_system_modstamp(
    before: Company, after: Company, obj: str
) -> None:
    then = {r.id: r for r in before.salesforce(obj, include_deleted=True)}
    now = {r.id: r for r in after.salesforce(obj, include_deleted=True)}
    changed = same = 0
    for rid, old in then.items():
        new = now.get(rid)
        if new is None:
            continue  # aged out of the window, or purged from the recycle bin
        if new.modstamp == old.modstamp:
            assert new.fields == old.fields, (obj, rid)
            same += 1
        else:
            assert new.modstamp > old.modstamp and new.modstamp <= ms(T1)
            changed += 1
    new_rows = [r for r in now.values() if r.id not in then]
    assert all(r.fields["CreatedDate"] >= ms(T0) - 20 * 60_000 for r in new_rows), obj
    if obj in ("Lead", "Task", "Opportunity", "OpportunityContactRole", "CampaignMember"):
        assert new_rows, obj
    if obj in ("Lead", "Opportunity", "Task"):
        assert changed, obj
    assert same, obj


def test_hubspot_records_never_change_without_their_modification_date(
    before: Company, after: Company
) -> None:
    for then_rows, now_rows, stamp in (
        (before.contacts, after.contacts, "lastmodifieddate"),
        (before.deals, after.deals, "hs_lastmodifieddate"),
        (before.companies, after.companies, "hs_lastmodifieddate"),
    ):
        now = {r.id: r for r in now_rows}
        moved = 0
        for old in then_rows:
            new = now.get(old.id)
            if new is None:
                continue
            if new.values[stamp] == old.values[stamp]:
                assert new.values == old.values, old.id
                assert new.updated_ms == old.updated_ms
            else:
                moved += 1
        assert moved or stamp == "hs_lastmodifieddate" and then_rows is before.companies, stamp


def test_a_later_clock_shows_updates_and_deletions(before: Company, after: Company) -> None:
    # contacts archived in between (junk, merged duplicates) left the live list
    archived = [c for c in after.archived_contacts if ms(T0) <= c.archived_ms < ms(T1)]
    live_before = {c.id for c in before.contacts}
    assert archived and all(c.id in live_before for c in archived if c.created_ms < ms(T0))
    assert not {c.id for c in archived} & {c.id for c in after.contacts}
    # leads deleted in between are in the recycle bin: queryAll only, IsDeleted set
    deleted = [r for r in after.salesforce("Lead", True) if r.deleted]
    fresh = [r for r in deleted if r.modstamp >= ms(T0)]
    assert fresh and all(r.id not in {x.id for x in after.salesforce("Lead")} for r in fresh)
    # opportunities moved on
    then = {r.id: r.fields["StageName"] for r in before.salesforce("Opportunity")}
    moved = [
        r
        for r in after.salesforce("Opportunity")
        if r.id in then and r.fields["StageName"] != then[r.id]
    ]
    assert moved
    # the recycle bin keeps deleted rows 15 days
    much_later = Company.generate(seed=SEED, scale=SCALE, as_of=T1 + timedelta(days=16))
    still = {r.id for r in much_later.salesforce("Lead", True) if r.deleted}
    assert not {r.id for r in fresh} & still


def test_ad_platforms_restate_recent_days_only(before: Company, after: Company) -> None:
    yesterday = T0.date() - timedelta(days=1)
    old_day = T0.date() - timedelta(days=10)

    def by_key(rows: list, day: date) -> dict:
        return {r.entity_id: r for r in rows if r.day == day}

    for then_rows, now_rows in (
        (before.meta_daily, after.meta_daily),
        (before.linkedin_daily, after.linkedin_daily),
    ):
        assert by_key(then_rows, old_day) == by_key(now_rows, old_day)
        recent_then, recent_now = by_key(then_rows, yesterday), by_key(now_rows, yesterday)
        assert recent_then.keys() == recent_now.keys()
        assert recent_then != recent_now  # a day's numbers settle over the next days
        for key, then in recent_then.items():
            now = recent_now[key]
            assert now.link_clicks <= then.link_clicks  # invalid clicks get filtered out
            assert now.leads >= then.leads  # late conversions arrive
            assert abs(now.spend_micros - then.spend_micros) <= 0.03 * then.spend_micros + 1
    g_then = {(r.date, r.campaign_id): r for r in before.ad_daily}
    g_now = {(r.date, r.campaign_id): r for r in after.ad_daily}
    day = T0.astimezone().date() - timedelta(days=1)
    recent = [k for k in g_then if k[0] == day]
    assert any(g_then[k] != g_now[k] for k in recent)
    assert all(g_then[k].clicks == g_now[k].clicks for k in recent)  # click_view stays exact
    assert all(
        g_then[k] == g_now[k] for k in g_then if k in g_now and k[0] <= day - timedelta(days=3)
    )
