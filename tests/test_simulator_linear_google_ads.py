"""Issue 12, Google Ads simulator: a page costs its own size, a date window its window.

A metrics query reads only the daily facts its ``segments.date`` range can allow (an index of
the facts' days), and a paged ``search`` runs its query once and renders only the page asked
for. Functional counts, no timings."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from revops.simulator import Company
from revops.simulator import google_ads as gamod
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.server import Simulator
from revops.simulator.wire import Request

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
CREDS = SIM_CREDENTIALS["google_ads"]
METRICS = (
    "SELECT campaign.id, segments.date, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros FROM campaign WHERE segments.date BETWEEN '{lo}' AND '{hi}'"
)


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture()
def api(company: Company) -> gamod.GoogleAdsAPI:
    return Simulator(company).apis["google_ads"]  # type: ignore[return-value]


def post(api: gamod.GoogleAdsAPI, method: str, body: dict[str, Any]) -> Any:
    req = Request.build(
        "POST",
        f"/{api.versions[-1]}/customers/1234567890/googleAds:{method}",
        headers={
            "Authorization": f"Bearer {CREDS['token']}",
            "developer-token": CREDS["developer_token"],
            "Content-Type": "application/json",
        },
        body=json.dumps(body).encode(),
    )
    resp = api.handle(req)
    assert resp.status == 200, resp.body[:300]
    return json.loads(resp.body)


def test_a_date_window_reads_only_the_facts_of_its_days(
    api: gamod.GoogleAdsAPI, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real = gamod._DateRange.allows

    def counting(self: Any, d: Any) -> bool:
        seen.append(d)
        return real(self, d)

    monkeypatch.setattr(gamod._DateRange, "allows", counting)
    hi = company.today - timedelta(days=1)
    lo = hi - timedelta(days=6)
    batches = post(api, "searchStream", {"query": METRICS.format(lo=lo, hi=hi)})
    rows = [r for b in batches for r in b.get("results", [])]
    facts = [f for f in company.ad_daily if lo <= f.date <= hi]
    assert rows and len(seen) == len(facts) < len(company.ad_daily) / 10
    by_day: dict[str, int] = {}
    for r in rows:
        by_day[r["segments"]["date"]] = by_day.get(r["segments"]["date"], 0) + int(
            r["metrics"]["impressions"]
        )
    expected: dict[str, int] = {}
    for f in facts:
        if f.impressions or f.clicks or f.cost_micros or f.conversions:
            expected[f.date.isoformat()] = expected.get(f.date.isoformat(), 0) + f.impressions
    assert by_day == expected


def test_search_pages_run_the_query_once_and_render_only_the_page(
    api: gamod.GoogleAdsAPI, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gamod, "BATCH_ROWS", 25)
    runs: list[str] = []
    real_select = gamod.select_rows

    def counting_select(company: Company, text: str, memo: Any = None) -> Any:
        runs.append(text)
        return real_select(company, text, memo)

    rendered: list[Any] = []
    real_render = gamod._render

    def counting_render(q: Any, ctx: Any) -> dict:
        rendered.append(ctx)
        return real_render(q, ctx)

    monkeypatch.setattr(gamod, "select_rows", counting_select)
    monkeypatch.setattr(gamod, "_render", counting_render)
    hi = company.today - timedelta(days=1)
    query = METRICS.format(lo=hi - timedelta(days=60), hi=hi)
    body: dict[str, Any] = {"query": query, "returnTotalResultsCount": True}
    got: list[dict] = []
    pages = 0
    while True:
        page = post(api, "search", body)
        assert len(rendered) == len(page.get("results", [])) <= 25
        rendered.clear()
        got.extend(page.get("results", []))
        pages += 1
        token = page.get("nextPageToken")
        if not token:
            break
        assert int(base64.urlsafe_b64decode(token)) == len(got)
        body["pageToken"] = token
    assert pages >= 3 and len(got) == int(page["totalResultsCount"])
    assert runs == [query]  # one run for every page
    monkeypatch.setattr(gamod, "_render", real_render)
    stream = post(api, "searchStream", {"query": query})
    assert got == [r for b in stream for r in b.get("results", [])]
    assert runs == [query, query]  # a stream (or a first page) runs the query afresh


def test_a_rows_json_shape_is_worked_out_once_per_query_not_per_row(
    api: gamod.GoogleAdsAPI, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = gamod._camel

    def counting(name: str) -> str:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(gamod, "_camel", counting)
    monkeypatch.setattr(gamod, "_PLANS", {})
    hi = company.today - timedelta(days=1)
    query = METRICS.format(lo=hi - timedelta(days=60), hi=hi)
    rows = [r for b in post(api, "searchStream", {"query": query}) for r in b.get("results", [])]
    assert len(rows) > 50
    assert rows[0]["campaign"]["resourceName"].startswith("customers/1234567890/campaigns/")
    assert set(rows[0]["metrics"]) == {"impressions", "clicks", "costMicros"}
    # per query (its fields' paths, the field mask), not per row: before, about 10 per row
    assert len(calls) <= 25 < len(rows)
