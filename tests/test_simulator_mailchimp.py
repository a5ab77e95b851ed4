"""Vendor simulator, Mailchimp: count/offset paging, filters, reports, email activity, auth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from revops.simulator import SIM_CREDENTIALS, Company, SimulatorServer

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
AUTH = ("anyone", SIM_CREDENTIALS["mailchimp"]["api_key"])
ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"


@pytest.fixture(scope="module", autouse=True)
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The simulator's certificates for this module; requests trusts its CA meanwhile."""
    path = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(path / "ca.pem"))
        yield path


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture(scope="module")
def base(company: Company, certs: Path) -> Iterator[str]:
    with SimulatorServer(company, cert_dir=certs) as server:
        yield server.urls["mailchimp"] + "/3.0"


def get(base: str, path: str, **params: object) -> dict:
    response = requests.get(base + path, auth=AUTH, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_lists_has_the_one_newsletter_audience(company: Company, base: str) -> None:
    body = get(base, "/lists")
    assert body["total_items"] == 1
    audience = body["lists"][0]
    assert audience["id"] == company.list_id and audience["name"] == "Newsletter"
    assert audience["date_created"] == "2019-03-14T16:02:11+00:00"
    stats = audience["stats"]
    assert (
        stats["member_count"] == sum(1 for m in company.members if m.status == "subscribed") == 505
    )
    assert stats["unsubscribe_count"] == 66 and stats["cleaned_count"] == 7
    assert stats["campaign_count"] == 62


def test_members_count_offset_paging(company: Company, base: str) -> None:
    path = f"/lists/{company.list_id}/members"
    ids: list[str] = []
    offset = 0
    while True:
        page = get(
            base,
            path,
            count=100,
            offset=offset,
            fields="members.id,members.last_changed,total_items",
        )
        assert page["total_items"] == 578
        assert set(page["members"][0]) <= {"id", "last_changed"}
        ids.extend(m["id"] for m in page["members"])
        offset += 100
        if offset >= page["total_items"]:
            break
    assert len(ids) == len(set(ids)) == 578
    assert ids == [m.id for m in company.members]
    assert len(get(base, path)["members"]) == 10  # default count
    assert len(get(base, path, count=5000)["members"]) == 578  # capped at 1000, fewer exist
    assert get(base, path, count=10, offset=575)["members"][-1]["id"] == ids[-1]


def test_members_since_last_changed_and_status(company: Company, base: str) -> None:
    path = f"/lists/{company.list_id}/members"
    since = "2026-10-01T00:00:00+00:00"
    cutoff = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)
    body = get(base, path, since_last_changed=since, count=1000)
    assert (
        body["total_items"] == sum(1 for m in company.members if m.last_changed_ms >= cutoff) == 75
    )
    assert all(m["last_changed"] >= since for m in body["members"])
    unsubscribed = get(base, path, status="unsubscribed", count=1000)
    assert unsubscribed["total_items"] == 66
    assert all(
        m["status"] == "unsubscribed" and m["unsubscribe_reason"] for m in unsubscribed["members"]
    )


def test_campaigns_filters_and_sorting(company: Company, base: str) -> None:
    sent = get(base, "/campaigns", status="sent", count=1000)
    assert sent["total_items"] == 62
    first = sent["campaigns"][0]
    assert first["type"] == "regular" and first["recipients"]["list_id"] == company.list_id
    assert first["settings"]["title"] and first["settings"]["subject_line"]
    everything = get(base, "/campaigns", count=1000)
    assert Counter(c["status"] for c in everything["campaigns"]) == {"sent": 62, "schedule": 1}
    recent = get(
        base,
        "/campaigns",
        status="sent",
        since_send_time="2026-10-01T00:00:00Z",
        count=1000,
        sort_field="send_time",
        sort_dir="DESC",
    )
    times = [c["send_time"] for c in recent["campaigns"]]
    assert times == sorted(times, reverse=True)
    assert recent["total_items"] == 5
    assert all(t >= "2026-10-01T00:00:00+00:00" for t in times)
    tuesdays = [
        c for c in sent["campaigns"] if c["settings"]["title"].startswith("Weekly Newsletter")
    ]
    assert all(c["send_time"].endswith("T15:00:00+00:00") for c in tuesdays)
    assert all(datetime.fromisoformat(c["send_time"]).weekday() == 1 for c in tuesdays)


def test_reports_match_the_email_events(company: Company, base: str) -> None:
    reports = get(base, "/reports", count=1000)
    assert reports["total_items"] == 62
    events = company.email_events
    for report in reports["reports"][-10:]:
        mine = [e for e in events if e.campaign_id == report["id"]]
        assert report["emails_sent"] == len(company.recipients(report["id"]))
        assert report["opens"]["opens_total"] == sum(1 for e in mine if e.action == "open")
        assert report["opens"]["unique_opens"] == len(
            {e.member_id for e in mine if e.action == "open"}
        )
        assert report["clicks"]["unique_subscriber_clicks"] == len(
            {e.member_id for e in mine if e.action == "click"}
        )
        bounces = report["bounces"]["hard_bounces"] + report["bounces"]["soft_bounces"]
        assert bounces == sum(1 for e in mine if e.action == "bounce")
        assert 0.1 < report["opens"]["open_rate"] < 0.45
    assert sum(1 for e in events if e.action == "open") == 5202
    assert sum(1 for e in events if e.action == "click") == 706


def test_email_activity_paging_and_since(company: Company, base: str) -> None:
    campaign = [c for c in company.email_campaigns if c.status == "sent"][-3]
    path = f"/reports/{campaign.id}/email-activity"
    whole = get(base, path, count=1000)
    assert whole["total_items"] == len(company.recipients(campaign.id)) == 467
    assert whole["campaign_id"] == campaign.id
    pages = [get(base, path, count=200, offset=o)["emails"] for o in (0, 200, 400)]
    assert [e["email_id"] for page in pages for e in page] == [
        e["email_id"] for e in whole["emails"]
    ]
    assert any(
        e["activity"] == [] for e in whole["emails"]
    )  # recipients without activity are listed
    since = "2026-10-14T00:00:00+00:00"
    later = get(base, path, count=1000, since=since)
    expected = {
        r.member_id
        for r, events in company.visible_activity(campaign.id)
        if any(e.timestamp_ms >= datetime.fromisoformat(since).timestamp() * 1000 for e in events)
    }
    assert {e["email_id"] for e in later["emails"]} == expected
    assert later["total_items"] == len(expected) == 40
    assert all(a["timestamp"] >= since for e in later["emails"] for a in e["activity"])
    kinds = {a["action"] for e in whole["emails"] for a in e["activity"]}
    assert kinds == {"open", "click", "bounce"}
    bounce = next(a for e in whole["emails"] for a in e["activity"] if a["action"] == "bounce")
    assert bounce["type"] in ("hard", "soft") and "url" not in bounce


def test_auth_and_not_found_are_problem_json(company: Company, base: str) -> None:
    missing = requests.get(base + "/lists", timeout=10)
    assert missing.status_code == 401
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.json()["title"] == "API Key Missing"
    wrong = requests.get(base + "/lists", auth=("x", "wrong-us1"), timeout=10).json()
    assert wrong == {**wrong, "type": ERRORS_DOC, "title": "API Key Invalid", "status": 401}
    for path in ("/reports/0000000000/email-activity", "/lists/nope/members", "/campaigns/nope"):
        response = requests.get(base + path, auth=AUTH, timeout=10)
        assert response.status_code == 404
        assert response.json()["title"] == "Resource Not Found"
    scheduled = next(c for c in company.email_campaigns if c.status == "schedule")
    assert requests.get(f"{base}/reports/{scheduled.id}", auth=AUTH, timeout=10).status_code == 404


def test_official_client_works_with_the_simulator_host(company: Company, base: str) -> None:
    import mailchimp_marketing
    from mailchimp_marketing.api_client import ApiClientError

    client = mailchimp_marketing.Client()
    client.set_config({"api_key": SIM_CREDENTIALS["mailchimp"]["api_key"]})
    client.api_client.host = base  # REVOPS_MAILCHIMP_URL + "/3.0"
    assert client.ping.get() == {"health_status": "Everything's Chimpy!"}
    lists = client.lists.get_all_lists()
    list_id = lists["lists"][0]["id"]
    members = client.lists.get_list_members_info(list_id, count=1000, offset=0)
    assert members["total_items"] == len(company.members)
    assert [m["id"] for m in members["members"]] == [m.id for m in company.members][:1000]
    reports = client.reports.get_all_campaign_reports(count=1000)
    assert reports["total_items"] == sum(1 for c in company.email_campaigns if c.status == "sent")
    bad = mailchimp_marketing.Client()
    bad.set_config({"api_key": "0" * 32 + "-us1"})
    bad.api_client.host = base
    with pytest.raises(ApiClientError) as err:
        bad.ping.get()
    assert err.value.status_code == 401


# -- each page a slice: the filtered lists are built once per filter -----------------------------


def _handler(company: Company):
    """The Mailchimp handler alone (no server), with a way to send it one GET."""
    import base64
    import json
    from urllib.parse import urlencode

    from revops.simulator.mailchimp import MailchimpAPI
    from revops.simulator.oauth import TokenStore
    from revops.simulator.wire import Request

    api = MailchimpAPI(company, TokenStore({}))
    auth = "Basic " + base64.b64encode(f"x:{AUTH[1]}".encode()).decode()

    def get_json(path: str, **params: object) -> dict:
        req = Request.build("GET", "/3.0" + path, urlencode(params), {"Authorization": auth})
        response = api.handle(req)
        assert response.status == 200, response.body
        return json.loads(response.body)

    return api, get_json


def test_email_activity_pages_are_slices_of_one_filtering_per_campaign_and_since(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    from revops.simulator.mailchimp import MailchimpAPI

    api, get_json = _handler(company)
    calls: Counter[tuple] = Counter()
    original = MailchimpAPI._select_activity

    def counted(self, campaign_id, since):
        calls[(campaign_id, since)] += 1
        return original(self, campaign_id, since)

    monkeypatch.setattr(MailchimpAPI, "_select_activity", counted)
    sent = [c for c in company.email_campaigns if c.status == "sent"][-3:]
    for campaign in sent:
        path = f"/reports/{campaign.id}/email-activity"
        ids = []
        for offset in range(0, 467, 50):  # ten pages of each campaign
            ids += [e["email_id"] for e in get_json(path, count=50, offset=offset)["emails"]]
        assert ids == [r.member_id for r in company.recipients(campaign.id)]
        get_json(path, count=50, since="2026-10-14T00:00:00+00:00")
        get_json(path, count=50, offset=50, since="2026-10-14T00:00:00+00:00")
    since_ms = int(datetime(2026, 10, 14, tzinfo=UTC).timestamp() * 1000)
    assert calls == {
        **{(c.id, None): 1 for c in sent},
        **{(c.id, since_ms): 1 for c in sent},
    }


def test_member_pages_are_slices_of_one_filtering_per_filter(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    from revops.simulator.mailchimp import MailchimpAPI

    api, get_json = _handler(company)
    calls: list[tuple] = []
    original = MailchimpAPI._select_members

    def counted(self, *args):
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(MailchimpAPI, "_select_members", counted)
    path = f"/lists/{company.list_id}/members"
    ids = []
    for offset in range(0, len(company.members), 100):
        ids += [m["id"] for m in get_json(path, count=100, offset=offset)["members"]]
    assert ids == [m.id for m in company.members]
    since = "2026-10-01T00:00:00+00:00"
    changed = [
        m["id"]
        for offset in range(0, len(company.members), 100)
        for m in get_json(
            path, count=100, offset=offset, since_last_changed=since, sort_field="last_changed"
        )["members"]
    ]
    limit = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)
    assert changed == [
        m.id
        for m in sorted(company.members, key=lambda m: (m.last_changed_ms, m.id))
        if m.last_changed_ms >= limit
    ]
    assert len(calls) == 2  # one per filter, however many pages
    assert len(api.log) == 2 * len(range(0, len(company.members), 100))


@pytest.mark.parametrize("ms", [0, 999, -1, -86_400_001, 86_399_999, 1_793_000_000_123])
def test_mailchimp_timestamps_are_the_text_strftime_gives(ms: int) -> None:
    from revops.simulator.wire import fmt_mailchimp

    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    assert fmt_mailchimp(ms) == f"{moment:%Y-%m-%dT%H:%M:%S}+00:00"
