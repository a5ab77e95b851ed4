"""Issue 12, Salesforce simulator: a page costs its own size, not the org's.

A query's rows are filtered once (a ``COUNT()`` with the same ``WHERE``, the query and its later
pages share one pass), a datetime window evaluates the predicate only on the rows in it (an
index on the field), and only a page's rows are rendered (REST pages and Bulk API 2.0 result
sets). Functional counts, no timings."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from revops.simulator import Company
from revops.simulator import salesforce as sfmod
from revops.simulator.credentials import SIM_CREDENTIALS
from revops.simulator.server import Simulator
from revops.simulator.soql import Compiled
from revops.simulator.wire import Request, fmt_salesforce

AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
TOKEN = SIM_CREDENTIALS["salesforce"]["token"]


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=42, scale=0.05, as_of=AS_OF)


@pytest.fixture()
def api(company: Company) -> sfmod.SalesforceAPI:
    return Simulator(company).apis["salesforce"]  # type: ignore[return-value]


@pytest.fixture()
def evaluated(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ids of the rows a compiled predicate was evaluated on."""
    seen: list[str] = []
    real = sfmod.compile_query

    def counting(*args: Any, **kwargs: Any) -> Compiled:
        compiled = real(*args, **kwargs)
        inner = compiled.predicate

        def predicate(row: dict[str, Any]) -> bool:
            seen.append(str(row.get("Id")))
            return inner(row)

        compiled.predicate = predicate
        return compiled

    monkeypatch.setattr(sfmod, "compile_query", counting)
    yield seen


def lit(ms: int) -> str:
    return fmt_salesforce(ms).replace("+0000", "Z")


def get(api: sfmod.SalesforceAPI, path: str, batch: int | None = None, **query: str) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if batch is not None:
        headers["Sforce-Query-Options"] = f"batchSize={batch}"
    version = api.served[-1]
    req = Request.build(
        "GET", f"/services/data/v{version}{path}", urlencode(query), headers=headers
    )
    resp = api.handle(req)
    assert resp.status == 200, resp.body[:300]
    return json.loads(resp.body)


def walk(api: sfmod.SalesforceAPI, soql: str, batch: int) -> tuple[list[dict], int]:
    """Every record of a query through its nextRecordsUrl pages, and the number of pages."""
    page = get(api, "/query", batch, q=soql)
    records, pages = list(page["records"]), 1
    prefix = f"/services/data/v{api.served[-1]}"
    while not page["done"]:
        page = get(api, page["nextRecordsUrl"][len(prefix) :], batch)
        records.extend(page["records"])
        pages += 1
    return records, pages


def window(field: str, lo: int, hi: int) -> str:
    return f"WHERE {field} >= {lit(lo)} AND {field} < {lit(hi)}"


def test_a_query_filters_once_and_its_pages_never(
    api: sfmod.SalesforceAPI, company: Company, evaluated: list[str]
) -> None:
    leads = company.crm.sf["Lead"]
    where = window("SystemModstamp", 0, company.as_of_ms)
    total = get(api, "/query", q=f"SELECT COUNT() FROM Lead {where}")["totalSize"]
    visible = [r for r in leads if not r.deleted]
    assert total == len(visible)
    assert sorted(evaluated) == sorted(r.id for r in visible)  # the COUNT(): one pass
    evaluated.clear()
    records, pages = walk(
        api, f"SELECT Id, Email FROM Lead {where} ORDER BY SystemModstamp ASC, Id ASC", 200
    )
    assert len(records) == total and pages >= 3
    # one pass for the query and all its pages (each later page is a slice)
    assert sorted(evaluated) == sorted(r.id for r in visible)


def test_a_window_evaluates_only_the_rows_inside_it(
    api: sfmod.SalesforceAPI, company: Company, evaluated: list[str]
) -> None:
    leads = company.crm.sf["Lead"]
    stamps = sorted(r.fields["SystemModstamp"] for r in leads)
    lo, hi = stamps[len(stamps) // 3], stamps[len(stamps) // 2]
    soql = f"SELECT Id FROM Lead {window('SystemModstamp', lo, hi)} ORDER BY Id ASC"
    records, _ = walk(api, soql, 200)
    inside = [r for r in leads if lo <= r.fields["SystemModstamp"] < hi]
    expected = sorted(r.id for r in inside if not r.deleted)
    assert [r["Id"] for r in records] == expected
    assert len(evaluated) == len(inside) < len(leads) / 2


@pytest.mark.parametrize(
    ("where", "picks"),
    [
        ("CreatedDate > {mid}", lambda v, mid: v is not None and v > mid),
        ("CreatedDate <= {mid}", lambda v, mid: v is not None and v <= mid),
        ("CreatedDate = {mid}", lambda v, mid: v == mid),
        ("CreatedDate < {mid} OR CreatedDate > {mid}", lambda v, mid: v is not None and v != mid),
    ],
)
def test_indexed_bounds_answer_what_the_predicate_answers(
    api: sfmod.SalesforceAPI,
    company: Company,
    where: str,
    picks: Callable[[Any, int], bool],
) -> None:
    contacts = company.crm.sf["Contact"]
    values = sorted(r.fields["CreatedDate"] for r in contacts)
    mid = values[len(values) // 2]
    soql = f"SELECT Id FROM Contact WHERE {where.format(mid=lit(mid))}"
    records, _ = walk(api, soql, 200)
    expected = [r.id for r in contacts if not r.deleted and picks(r.fields.get("CreatedDate"), mid)]
    assert [r["Id"] for r in records] == expected  # the object's own order, as before


def test_each_page_renders_only_its_rows(
    api: sfmod.SalesforceAPI, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    real = sfmod.SalesforceAPI._render

    def counting(self: Any, rec: Any, *args: Any) -> dict:
        rendered.append(rec.id)
        return real(self, rec, *args)

    monkeypatch.setattr(sfmod.SalesforceAPI, "_render", counting)
    page = get(api, "/query", 200, q="SELECT Id, Owner.Name FROM Lead ORDER BY Id")
    assert [r["Id"] for r in page["records"]] == rendered and len(rendered) == 200
    assert page["totalSize"] > 400
    prefix = f"/services/data/v{api.served[-1]}"
    rendered.clear()
    second = get(api, page["nextRecordsUrl"][len(prefix) :], 200)
    assert [r["Id"] for r in second["records"]] == rendered and len(rendered) == 200


def test_bulk_results_render_only_the_set_asked_for(
    api: sfmod.SalesforceAPI, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[str] = []
    real = sfmod.SalesforceAPI._csv_row

    def counting(self: Any, rec: Any, compiled: Compiled) -> list:
        rows.append(rec.id)
        return real(self, rec, compiled)

    monkeypatch.setattr(sfmod.SalesforceAPI, "_csv_row", counting)
    version = api.served[-1]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = json.dumps({"operation": "queryAll", "query": "SELECT Id, Email FROM Lead"})
    created = api.handle(
        Request.build("POST", f"/services/data/v{version}/jobs/query", "", headers, body.encode())
    )
    job = json.loads(created.body)["id"]
    assert rows == []  # nothing rendered when the job is created
    for _ in range(sfmod.JOB_POLLS):
        api.handle(Request.build("GET", f"/services/data/v{version}/jobs/query/{job}", "", headers))
    got: list[str] = []
    locator = ""
    sets = 0
    while locator != "null":
        query = urlencode({"maxRecords": "300", **({"locator": locator} if locator else {})})
        resp = api.handle(
            Request.build(
                "GET", f"/services/data/v{version}/jobs/query/{job}/results", query, headers
            )
        )
        table = list(csv.reader(io.StringIO(resp.body.decode())))[1:]
        assert [row[0] for row in table] == rows  # this set's rows, rendered now
        got.extend(rows)
        rows.clear()
        locator = resp.headers["Sforce-Locator"]
        sets += 1
        if locator != "null":
            assert int(base64.b64decode(locator + "=" * (-len(locator) % 4))) == len(got)
    assert sets >= 2
    assert got == [r.id for r in company.crm.sf["Lead"]]


def test_the_index_follows_a_row_changed_in_place(
    api: sfmod.SalesforceAPI, company: Company, evaluated: list[str]
) -> None:
    """A row whose stamp moves into a window after the index was built is found (a late
    commit, as tests/test_salesforce_bulk.py makes one)."""
    leads = [r for r in company.crm.sf["Lead"] if not r.deleted]
    stamps = sorted(r.fields["SystemModstamp"] for r in leads)
    lo, hi = stamps[-20], stamps[-1] + 1
    soql = f"SELECT Id FROM Lead {window('SystemModstamp', lo, hi)} ORDER BY Id ASC"
    first = [r["Id"] for r in walk(api, soql, 200)[0]]
    late = next(r for r in leads if r.fields["SystemModstamp"] < lo)
    before = dict(late.fields)
    try:
        late.fields["SystemModstamp"] = lo + 1
        second = [r["Id"] for r in walk(api, soql, 200)[0]]
    finally:
        late.fields.clear()
        late.fields.update(before)
    assert second == sorted([*first, late.id])
    third = [r["Id"] for r in walk(api, soql, 200)[0]]
    assert third == first


@pytest.mark.parametrize(
    "ms",
    [0, 1, 999, 1000, -1, -999, -1000, -86_400_001, 86_399_999, 1_793_000_000_123, 253402300799999],
)
def test_the_fast_datetime_text_is_salesforces(ms: int) -> None:
    # the text strftime gives, which the integer arithmetic must reproduce
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    expected = f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}+0000"
    assert fmt_salesforce(ms) == expected
    assert sfmod._csv_value("datetime", ms) == expected.replace("+0000", "Z")
