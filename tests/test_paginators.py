"""Paginators that cannot loop or drop rows: every paginator of ``revops.sources.base`` and the
HubSpot search (its body cursor, re-queried at the cap) against a scripted stand-in vendor
(no network).

A repeated cursor, page token or next link is an error naming the vendor, the stream and the
cursor; a missing total means "follow until an empty page"; an empty page that still names a
next page is followed, at most ``MAX_EMPTY_PAGES`` in a row; a page without its items key is an
error naming the key and the keys the vendor sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from revops.sources.base import (
    MAX_EMPTY_PAGES,
    AfterCursorPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    PageTokenPaginator,
    SinglePage,
)
from revops.sources.http import SourceError


class FakeApi:
    """Answers each GET/POST with ``answer(path, params_or_json)``; stops a runaway loop."""

    def __init__(self, answer, system: str = "hubspot", limit: int = 200) -> None:
        self.system = system
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.limit = limit

    def get_json(self, path: str, stream: str, params: dict | None = None, **_: Any) -> Any:
        self.calls.append((path, dict(params or {})))
        if len(self.calls) > self.limit:
            raise AssertionError(f"paged {self.limit} times: the paginator loops")
        return self.answer(path, dict(params or {}))

    def post_json(self, path: str, stream: str, json: dict | None = None, **_: Any) -> Any:
        return self.get_json(path, stream, params=json)


def read(paginator, api, path="things", stream="contacts") -> list[list[dict]]:
    return list(paginator.pages(api, path, stream, {}))


# -- a cursor that never advances ------------------------------------------------------------


def test_a_repeated_after_cursor_is_an_error_naming_vendor_stream_and_cursor() -> None:
    api = FakeApi(lambda path, q: {"results": [{"id": 1}], "paging": {"next": {"after": "abc"}}})
    with pytest.raises(SourceError) as err:
        read(AfterCursorPaginator(), api, stream="owners")
    text = str(err.value)
    assert text.startswith("hubspot stream 'owners': ")
    assert "after='abc'" in text and "again" in text
    assert len(api.calls) == 2  # the second page gave the same cursor: no third request


def test_a_repeated_next_link_is_an_error() -> None:
    link = "https://graph.facebook.com/v21.0/act_1/ads?after=QVFI"
    api = FakeApi(lambda path, q: {"data": [{"id": 1}], "paging": {"next": link}}, "meta_ads")
    with pytest.raises(SourceError) as err:
        read(NextLinkPaginator(items="data", next_link="paging.next"), api, "act_1/ads", "ads")
    assert str(err.value).startswith("meta_ads stream 'ads': ")
    assert link in str(err.value)
    assert len(api.calls) == 2  # the second page gave its own link again: not followed


def test_a_repeated_page_token_is_an_error() -> None:
    api = FakeApi(
        lambda path, q: {"elements": [{"id": 1}], "metadata": {"nextPageToken": "tok-1"}},
        "linkedin_ads",
    )
    with pytest.raises(SourceError) as err:
        read(PageTokenPaginator(), api, "adCampaigns", "campaigns")
    assert "linkedin_ads stream 'campaigns'" in str(err.value)
    assert "pageToken='tok-1'" in str(err.value)


def test_a_cursor_cycle_is_caught_too() -> None:
    cycle = {None: "a", "a": "b", "b": "a"}
    api = FakeApi(
        lambda path, q: {
            "results": [{"id": 1}],
            "paging": {"next": {"after": cycle[q.get("after")]}},
        }
    )
    with pytest.raises(SourceError) as err:
        read(AfterCursorPaginator(), api)
    assert "after='a'" in str(err.value)


# -- totals, empty pages, items keys ----------------------------------------------------------


def test_offset_paging_without_a_total_follows_until_an_empty_page() -> None:
    rows = [{"id": i} for i in range(25)]
    api = FakeApi(
        lambda path, q: {"members": rows[q["offset"] : q["offset"] + q["count"]]}, "mailchimp"
    )
    pages = read(OffsetPaginator("members", limit=10), api, "lists/1/members", "members")
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sum(pages, []) == rows


def test_offset_paging_with_a_total_stops_at_it() -> None:
    rows = [{"id": i} for i in range(20)]
    api = FakeApi(
        lambda path, q: {"lists": rows[q["offset"] : q["offset"] + q["count"]], "total_items": 20},
        "mailchimp",
    )
    pages = read(OffsetPaginator("lists", limit=10), api, "lists", "lists")
    assert [len(p) for p in pages] == [10, 10] and len(api.calls) == 2


def test_an_empty_page_with_a_next_cursor_is_followed() -> None:
    script = {
        None: {"results": [{"id": 1}], "paging": {"next": {"after": "p2"}}},
        "p2": {"results": [], "paging": {"next": {"after": "p3"}}},
        "p3": {"results": [{"id": 3}]},
    }
    api = FakeApi(lambda path, q: script[q.get("after")])
    pages = read(AfterCursorPaginator(), api)
    assert sum(pages, []) == [{"id": 1}, {"id": 3}]


def test_empty_next_link_and_page_token_pages_are_followed() -> None:
    links = {
        "act_1/ads": {"data": [], "paging": {"next": "https://g/act_1/ads?after=2"}},
        "https://g/act_1/ads?after=2": {"data": [{"id": 2}]},
    }
    api = FakeApi(lambda path, q: links[path], "meta_ads")
    pages = read(NextLinkPaginator(items="data", next_link="paging.next"), api, "act_1/ads", "ads")
    assert sum(pages, []) == [{"id": 2}]
    tokens = {
        None: {"elements": [], "metadata": {"nextPageToken": "t2"}},
        "t2": {"elements": [{"id": 7}], "metadata": {}},
    }
    api = FakeApi(lambda path, q: tokens[q.get("pageToken")], "linkedin_ads")
    assert sum(read(PageTokenPaginator(), api), []) == [{"id": 7}]


def test_endless_empty_pages_with_next_cursors_are_bounded() -> None:
    api = FakeApi(
        lambda path, q: {
            "results": [],
            "paging": {"next": {"after": str(int(q.get("after") or 0) + 1)}},
        }
    )
    with pytest.raises(SourceError) as err:
        read(AfterCursorPaginator(), api, stream="deals")
    assert "hubspot stream 'deals'" in str(err.value)
    assert f"{MAX_EMPTY_PAGES} empty pages in a row" in str(err.value)
    assert len(api.calls) == MAX_EMPTY_PAGES


@pytest.mark.parametrize(
    "paginator, body",
    [
        (OffsetPaginator("members"), {"list_members": [{"id": 1}], "total_items": 1}),
        (AfterCursorPaginator(), {"items": [{"id": 1}]}),
        (NextLinkPaginator(items="records", next_link="nextRecordsUrl"), {"rows": [{"Id": 1}]}),
        (PageTokenPaginator(), {"data": [{"id": 1}], "metadata": {}}),
        (SinglePage("results"), {"pipelines": [{"id": 1}]}),
    ],
)
def test_a_renamed_items_key_is_an_error_naming_it_and_the_keys_present(paginator, body) -> None:
    api = FakeApi(lambda path, q: body)
    with pytest.raises(SourceError) as err:
        read(paginator, api, stream="members")
    text = str(err.value)
    assert f"no {paginator.items!r} key" in text
    for key in body:
        assert repr(key) in text


def test_an_items_key_holding_null_is_an_empty_page_not_an_error() -> None:
    api = FakeApi(lambda path, q: {"members": None, "total_items": 0}, "mailchimp")
    assert read(OffsetPaginator("members"), api) == []


# -- the HubSpot search (POST body cursor, re-queried at the cap) -------------------------


def test_hubspot_search_stops_on_a_repeated_after_and_follows_empty_pages() -> None:
    from revops.sources.hubspot import STREAMS, search_window

    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    stream = STREAMS["contacts"]
    script = {
        None: {"results": [{"id": "1"}], "paging": {"next": {"after": "1"}}},
        "1": {"results": [], "paging": {"next": {"after": "2"}}},
        "2": {"results": [{"id": "3"}]},
    }
    api = FakeApi(lambda path, body: script[body.get("after")])
    pages = list(search_window(api, stream, ["email"], since, until))
    assert sum(pages, []) == [{"id": "1"}, {"id": "3"}]

    stuck = FakeApi(
        lambda path, body: {"results": [{"id": "1"}], "paging": {"next": {"after": "9"}}}
    )
    with pytest.raises(SourceError) as err:
        list(search_window(stuck, stream, ["email"], since, until))
    assert "hubspot stream 'contacts'" in str(err.value) and "after='9'" in str(err.value)

    renamed = FakeApi(lambda path, body: {"objects": [{"id": "1"}], "total": 1})
    with pytest.raises(SourceError) as err:
        list(search_window(renamed, stream, ["email"], since, until))
    assert "no 'results' key" in str(err.value) and "'objects'" in str(err.value)


def test_hubspot_search_requests_are_hubspots_and_requery_after_the_last_id_at_the_cap() -> None:
    """The wire: each search is a POST of HubSpot's body (``after`` only on later pages); a
    query that would pass the cap is not paged further, a new one starts after the last id."""
    import revops.sources.hubspot as hubspot

    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    ids = [str(i) for i in range(1, 8)]  # 7 matching records, pages of 2, at most 4 a query

    def answer(path: str, body: dict) -> dict:
        after_id = int(body["filterGroups"][0]["filters"][2]["value"])
        rest = [i for i in ids if int(i) > after_id]
        start = int(body.get("after", 0))
        page = rest[start : start + 2]
        more = {"paging": {"next": {"after": str(start + 2)}}} if start + 2 < len(rest) else {}
        return {"total": len(rest), "results": [{"id": i} for i in page], **more}

    api = FakeApi(answer)
    capped = replace(hubspot.SEARCH_PAGING, cap=4)
    stream = replace(hubspot.STREAMS["contacts"], paginator=capped)
    pages = list(hubspot.search_window(api, stream, ["email"], since, until, page_size=2))
    assert [[r["id"] for r in p] for p in pages] == [["1", "2"], ["3", "4"], ["5", "6"], ["7"]]

    def body(after_id: int, after: str | None = None) -> dict:
        sent = {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "GTE",
                            "value": "1793491200000",
                        },
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "LT",
                            "value": "1793577600000",
                        },
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["email"],
            "limit": 2,
        }
        return sent if after is None else {**sent, "after": after}

    path = "crm/v3/objects/contacts/search"
    assert api.calls == [
        (path, body(0)),
        (path, body(0, "2")),
        (path, body(4)),
        (path, body(4, "2")),
    ]
    # the same key order as HubSpot's documented body (after last, only when paging)
    assert [list(b) for _, b in api.calls] == [list(body(0)), list(body(0, "2"))] * 2


def test_a_hubspot_requery_that_does_not_move_past_the_last_id_is_an_error() -> None:
    """A vendor that ignores the ``hs_object_id`` filter answers each re-query with the same
    records: the search stops, naming the id, instead of reading them forever."""
    import revops.sources.hubspot as hubspot

    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    pages = {
        None: {"results": [{"id": "1"}, {"id": "2"}], "paging": {"next": {"after": "2"}}},
        "2": {"results": [{"id": "3"}, {"id": "4"}], "paging": {"next": {"after": "4"}}},
    }
    api = FakeApi(lambda path, body: pages[body.get("after")])
    stream = replace(hubspot.STREAMS["deals"], paginator=replace(hubspot.SEARCH_PAGING, cap=4))
    with pytest.raises(SourceError) as err:
        list(hubspot.search_window(api, stream, ["dealname"], since, until, page_size=2))
    assert "hubspot stream 'deals'" in str(err.value)
    assert "re-query after id 4 read nothing past it" in str(err.value)
    assert len(api.calls) == 4  # two queries of two pages, then no third query
