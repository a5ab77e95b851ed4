"""Issue 12, HubSpot simulator: a search page costs its window, not the portal's history.

A search's filters are evaluated only on the records a range filter on a datetime/number
property lets through (a sorted index per property), and the answer (filtered, sorted) is
computed once and sliced for every ``after`` page. Functional counts, no timings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from revops.simulator import Company
from revops.simulator import hubspot as hsmod
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.server import Simulator
from revops.simulator.wire import Request, fmt_hubspot

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = SIM_CREDENTIALS["hubspot"]["token"]


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture()
def api(company: Company) -> Iterator[hsmod.HubSpotAPI]:
    handler: hsmod.HubSpotAPI = Simulator(company).apis["hubspot"]  # type: ignore[assignment]
    clock = handler.limits.clock
    handler.limits.clock = itertools.count(0, 10).__next__  # 10 s a read: never rate limited
    yield handler
    handler.limits.clock = clock


@pytest.fixture()
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ``hs_object_id`` of each record a search filter was evaluated on."""
    seen: list[Any] = []
    real = hsmod._Filter.matches

    def counting(self: hsmod._Filter, values: dict[str, object]) -> bool:
        seen.append(values.get("hs_object_id"))
        return real(self, values)

    monkeypatch.setattr(hsmod._Filter, "matches", counting)
    return seen


def search(api: hsmod.HubSpotAPI, obj: str, body: dict[str, Any]) -> dict[str, Any]:
    req = Request.build(
        "POST",
        f"/crm/v3/objects/{obj}/search",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    resp = api.handle(req)
    assert resp.status == 200, resp.body[:300]
    return json.loads(resp.body)


def where(name: str, op: str, value: Any) -> dict[str, str]:
    return {"propertyName": name, "operator": op, "value": str(value)}


def walk(api: hsmod.HubSpotAPI, obj: str, filters: list[dict], limit: int) -> tuple[list, int]:
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": ["email"],
        "limit": limit,
    }
    ids: list[str] = []
    pages = 0
    while True:
        page = search(api, obj, body)
        ids.extend(r["id"] for r in page["results"])
        pages += 1
        nxt = page.get("paging", {}).get("next")
        if not nxt:
            return ids, pages
        body["after"] = nxt["after"]


def test_a_window_evaluates_only_the_records_inside_it(
    api: hsmod.HubSpotAPI, company: Company, evaluated: list[Any]
) -> None:
    contacts = company.contacts
    stamps = sorted(c.values["lastmodifieddate"] for c in contacts)
    lo, hi = stamps[len(stamps) // 3], stamps[len(stamps) // 2]
    inside = [c for c in contacts if lo <= c.values["lastmodifieddate"] < hi]
    filters = [
        where("lastmodifieddate", "GTE", lo),
        where("lastmodifieddate", "LT", hi),
        where("hs_object_id", "GT", 0),
    ]
    ids, pages = walk(api, "contacts", filters, 20)
    assert pages >= 3
    assert ids == sorted((c.id for c in inside), key=int)
    # each record in the window once (its three filters), none outside it, over all pages
    assert sorted(set(evaluated)) == sorted(c.values["hs_object_id"] for c in inside)
    assert len(evaluated) <= 3 * len(inside) < len(contacts)


def test_a_requery_past_the_last_id_evaluates_only_the_ids_above_it(
    api: hsmod.HubSpotAPI, company: Company, evaluated: list[Any]
) -> None:
    ids = sorted(int(c.id) for c in company.contacts)
    after_id = ids[-50]
    found, _ = walk(api, "contacts", [where("hs_object_id", "GT", after_id)], 20)
    assert found == [str(i) for i in ids[-49:]]
    assert len(evaluated) == 49


@pytest.mark.parametrize(
    ("op", "value", "keep"),
    [
        ("EQ", "mid", lambda v, mid: v == mid),
        ("LTE", "mid", lambda v, mid: v <= mid),
        ("GT", "mid", lambda v, mid: v > mid),
        ("BETWEEN", "mid", lambda v, mid: mid <= v <= mid + 86_400_000),
    ],
)
def test_indexed_filters_answer_what_the_filters_answer(
    api: hsmod.HubSpotAPI, company: Company, op: str, value: str, keep: Any
) -> None:
    deals = company.crm.deals
    stamps = sorted(d.values["createdate"] for d in deals)
    mid = stamps[len(stamps) // 2]
    raw = where("createdate", op, mid)
    if op == "BETWEEN":
        raw["highValue"] = str(mid + 86_400_000)
    body = {"filterGroups": [{"filters": [raw]}], "limit": 200}  # no sort: the object's order
    got = [r["id"] for r in search(api, "deals", body)["results"]]
    assert got == [d.id for d in deals if keep(d.values["createdate"], mid)][:200]


def test_pages_of_one_search_filter_once(
    api: hsmod.HubSpotAPI, company: Company, evaluated: list[Any]
) -> None:
    ids, pages = walk(api, "contacts", [where("email", "HAS_PROPERTY", "")], 50)
    with_email = [c for c in company.contacts if c.values.get("email") is not None]
    assert pages >= 3 and len(ids) == len(with_email)
    assert len(evaluated) == len(company.contacts)  # one pass over the object, not per page


@pytest.mark.parametrize(
    "ms", [0, 1, 999, 1000, -1, -999, -1000, -86_400_001, 86_399_999, 1_793_000_000_123]
)
def test_the_fast_timestamp_text_is_hubspots(ms: int) -> None:
    # the text strftime gives, which the integer arithmetic must reproduce
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    expected = f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
    assert fmt_hubspot(ms) == expected
    assert hsmod._render(ms, "datetime") == expected


def test_the_index_follows_a_record_changed_in_place(
    api: hsmod.HubSpotAPI, company: Company
) -> None:
    contacts = company.contacts
    stamps = sorted(c.values["lastmodifieddate"] for c in contacts)
    lo, hi = stamps[-20], stamps[-1] + 1
    filters = [where("lastmodifieddate", "GTE", lo), where("lastmodifieddate", "LT", hi)]
    first, _ = walk(api, "contacts", filters, 100)
    late = next(c for c in contacts if c.values["lastmodifieddate"] < lo)
    before = late.values["lastmodifieddate"]
    try:
        late.values["lastmodifieddate"] = lo + 1
        second, _ = walk(api, "contacts", [*filters, where("hs_object_id", "GT", 0)], 100)
    finally:
        late.values["lastmodifieddate"] = before
    assert second == sorted([*first, late.id], key=int)
