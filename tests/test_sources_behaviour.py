"""What every connector shares, tested without a vendor: paging and windows, records set aside,
schema drift (new columns, variant columns or a clean stop), and the pure helpers of each
vendor module. Drift and rejects load into a real PostgreSQL through ``run_extract``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import dlt
import psycopg
import pytest

import revops.sources as sources
from revops.sources import SchemaDriftStopped, run_extract
from revops.sources.base import (
    Stream,
    day_chunks,
    flatten,
    parse_ts,
    quota_ends_stream,
    reread_from,
    screened,
)
from revops.sources.http import QuotaExhausted
from revops.sources.linkedin_ads import account_urn, analytics_row, date_range
from revops.sources.salesforce import record_row, soql
from revops.sources.settings import api_url

# -- a stand-in vendor: rows come from FEED, one run at a time ---------------------------------

FEED: list[dict] = []
THINGS = Stream("things", "id", "changed", "things")


@dlt.source(name="fake", max_table_nesting=0)
def fake_source(until: datetime | None = None):
    """A source whose rows are whatever the test put in FEED, with a cursor like a connector's."""

    @dlt.resource(name="things", primary_key="id", write_disposition="merge")
    def things():
        state = dlt.current.resource_state()
        with quota_ends_stream("fake", "things"):
            for row in FEED:
                if row.get("quota"):
                    raise QuotaExhausted("fake", "things", 429, "quota exhausted: daily limit")
                yield from screened(THINGS, [row])
                state["cursor"] = row.get("changed")

    return things


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv("REVOPS_HOME", str(tmp_path / "state"))
    monkeypatch.setitem(sources.SYSTEMS, "fake", f"{__name__}:fake_source")

    def run(rows: list[dict], **env: str):
        FEED[:] = rows
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return run_extract("fake", fresh, until=datetime(2026, 11, 2, tzinfo=UTC))

    fresh = ""

    def bind(url: str):
        nonlocal fresh
        fresh = url
        return run

    return bind


def table(url: str, name: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = "
                "'raw_fake' and table_name = %s and column_name not like '\\_dlt%%' "
                "and column_name <> 'changed' "
                "order by column_name",
                (name,),
            )
        ]
        rows = conn.execute(
            f'select {", ".join(columns)} from raw_fake."{name}" order by 1'
        ).fetchall()
    return [tuple(columns), *rows]


def test_a_new_field_becomes_a_new_column_and_is_reported(fresh_db, fake) -> None:
    run = fake(fresh_db)
    run([{"id": 1, "name": "a", "changed": "1"}])
    result = run([{"id": 2, "name": "b", "region": "EU", "changed": "2"}])
    assert result.new_columns == {"things": ["region"]}
    assert table(fresh_db, "things") == [
        ("id", "name", "region"),
        (1, "a", None),
        (2, "b", "EU"),
    ]


def test_a_type_change_lands_in_a_variant_column_without_losing_rows(fresh_db, fake) -> None:
    run = fake(fresh_db)
    run([{"id": 1, "amount": 5, "changed": "1"}])
    result = run([{"id": 2, "amount": "five", "changed": "2"}])
    assert result.variant_columns == {"things": ["amount__v_text"]}
    assert table(fresh_db, "things") == [
        ("amount", "amount__v_text", "id"),
        (5, None, 1),
        (None, "five", 2),
    ]


def test_a_type_change_stops_the_run_cleanly_when_configured(fresh_db, fake) -> None:
    run = fake(fresh_db)
    run([{"id": 1, "amount": 5, "changed": "1"}])
    with pytest.raises(SchemaDriftStopped) as err:
        run(
            [{"id": 2, "amount": "five", "changed": "2"}, {"id": 3, "amount": 7, "changed": "3"}],
            REVOPS_SCHEMA_DRIFT="stop",
        )
    message = str(err.value)
    assert "raw_fake.things" in message and "'amount__v_text'" in message
    assert "nothing of this run was loaded" in message
    assert table(fresh_db, "things") == [("amount", "id"), (5, 1)]  # untouched, no partial rows
    # the next run (drift allowed again) starts from the destination's state, not the failed one
    result = run(
        [{"id": 2, "amount": "five", "changed": "2"}, {"id": 3, "amount": 7, "changed": "3"}],
        REVOPS_SCHEMA_DRIFT="variant",
    )
    assert result.rows == {"things": 2}
    assert len(table(fresh_db, "things")) == 4


def test_a_record_without_its_primary_key_is_set_aside_and_queryable(fresh_db, fake) -> None:
    run = fake(fresh_db)
    result = run([{"id": 1, "changed": "1"}, {"id": None, "changed": "2"}, {"changed": "3"}])
    assert result.rejected == {"things": 2} and result.rows == {"things": 1}
    assert table(fresh_db, "things") == [("id",), (1,)]
    with psycopg.connect(fresh_db) as conn:
        kept = conn.execute(
            "select stream, reason, record::jsonb ->> 'changed' from raw_fake._rejected order by 3"
        ).fetchall()
    assert kept == [
        ("things", "missing primary key id", "2"),
        ("things", "missing primary key id", "3"),
    ]
    run([{"id": None, "changed": "2"}])  # the same bad record again: still one row for it
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from raw_fake._rejected").fetchone()[0] == 2


def test_a_used_up_quota_ends_the_run_cleanly_and_keeps_what_was_read(fresh_db, fake) -> None:
    run = fake(fresh_db)
    result = run([{"id": 1, "changed": "1"}, {"id": 2, "changed": "2"}, {"quota": True}])
    assert not result.complete
    assert result.stopped == {"things": "quota exhausted: daily limit"}
    assert table(fresh_db, "things")[1:] == [(1,), (2,)]
    with psycopg.connect(fresh_db) as conn:
        state = conn.execute("select count(*) from raw_fake._dlt_pipeline_state").fetchone()[0]
    assert state == 1  # the cursor state was committed with the rows it describes


# -- pure helpers ------------------------------------------------------------------------------


def test_day_chunks_cover_the_window_without_overlap() -> None:
    chunks = day_chunks(date(2026, 1, 1), date(2026, 3, 5), 31)
    assert chunks[0] == (date(2026, 1, 1), date(2026, 1, 31))
    assert chunks[-1] == (date(2026, 3, 4), date(2026, 3, 4))
    covered = sum((last - first).days + 1 for first, last in chunks)
    assert covered == (date(2026, 3, 5) - date(2026, 1, 1)).days
    assert day_chunks(date(2026, 1, 1), date(2026, 1, 1), 7) == []


def test_reread_goes_back_by_the_lookback_but_never_before_history() -> None:
    first = date(2026, 1, 1)
    assert reread_from(None, first, 14, first) == first
    assert reread_from(date(2026, 6, 15), first, 14, first) == date(2026, 6, 1)
    assert reread_from(date(2026, 1, 5), first, 28, first) == first
    assert reread_from(date(2026, 6, 15), first, 3, date(2026, 6, 14)) == date(2026, 6, 14)


def test_flatten_snake_cases_nested_keys_and_keeps_lists() -> None:
    assert flatten({"dateRange": {"start": {"year": 2026}}, "pivotValues": ["urn:x"]}) == {
        "date_range__start__year": 2026,
        "pivot_values": ["urn:x"],
    }


def test_vendor_timestamps_parse_with_any_offset_style() -> None:
    expected = datetime(2026, 11, 1, 13, 3, 27, tzinfo=UTC)
    for text in (
        "2026-11-01T13:03:27.000Z",
        "2026-11-01T13:03:27.000+0000",
        "2026-11-01T14:03:27+01:00",
        "2026-11-01T13:03:27",
    ):
        assert parse_ts(text) == expected


def test_api_urls_take_a_bare_host_or_a_full_root(monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_GOOGLE_ADS_URL", "https://127.0.0.1:9000")
    assert api_url("google_ads", "https://x", "v21") == "https://127.0.0.1:9000/v21"
    monkeypatch.setenv("REVOPS_GOOGLE_ADS_URL", "https://googleads.googleapis.com/v20/")
    assert api_url("google_ads", "https://x", "v21") == "https://googleads.googleapis.com/v20"


def test_salesforce_queries_read_a_window_in_cursor_order_with_deleted_rows() -> None:
    query = soql(
        "Lead",
        ["Id", "Status", "SystemModstamp"],
        "SystemModstamp",
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 2, 8, 30, tzinfo=UTC),
    )
    assert query == (
        "SELECT Id, Status, SystemModstamp FROM Lead WHERE SystemModstamp >= "
        "2026-01-01T00:00:00Z AND SystemModstamp < 2026-11-02T08:30:00Z "
        "ORDER BY SystemModstamp ASC, Id ASC"
    )
    row = record_row(
        {
            "attributes": {"type": "LeadHistory"},
            "Id": "017x",
            "OldValue": 5,
            "NewValue": True,
            "Field": "Status",
        },
        {"OldValue", "NewValue"},
    )
    assert row == {"Id": "017x", "OldValue": "5", "NewValue": "true", "Field": "Status"}


def test_linkedin_restli_values_keep_their_syntax() -> None:
    assert date_range(date(2026, 1, 1), date(2026, 1, 30)) == (
        "(start:(year:2026,month:1,day:1),end:(year:2026,month:1,day:30))"
    )
    assert account_urn(508912345) == "urn%3Ali%3AsponsoredAccount%3A508912345"
    row = analytics_row(
        {
            "dateRange": {
                "start": {"year": 2026, "month": 3, "day": 9},
                "end": {"year": 2026, "month": 3, "day": 9},
            },
            "pivotValues": ["urn:li:sponsoredCampaign:777"],
            "impressions": 10,
            "clicks": 2,
            "costInLocalCurrency": "12.5",
        },
        {"id": 508912345, "currency": "EUR"},
    )
    assert (row["date"], row["campaign"], row["campaign_id"]) == (
        date(2026, 3, 9),
        "urn:li:sponsoredCampaign:777",
        "777",
    )
    assert (row["cost_in_local_currency"], row["account_currency"], row["time_zone"]) == (
        "12.5",
        "EUR",
        "UTC",
    )
