"""Fast loads: rows reach dlt as typed Arrow tables in large batches, with the row-level
guarantees of the dict path (column names and types, ``_rejected``, primary keys, variant
columns and the ``stop`` drift mode), first loads appended and later loads merged.

The dlt tests load one small source twice, once with rows as dicts (``size=0``, the former
path) and once through :func:`revops.sources.base.batch_resources` with tiny batches (so a
load spans several batches), and compare what PostgreSQL holds.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dlt
import psycopg
import pyarrow as pa
import pytest
from dlt.common.schema.exceptions import DataValidationError

from revops.sources.base import (
    DEDUPLICATED_HINT,
    REJECTED_TABLE,
    Stream,
    arrow_batch,
    batch_resources,
    load_batch_rows,
    reset_notes,
    resource_hints,
    screened,
    with_row_ids,
)


def same(name: str) -> str:
    return name


# -- arrow_batch: the typing rules ------------------------------------------------------------


def test_new_columns_take_the_type_of_their_first_value_as_dlt_does():
    rows = [
        {"id": "1", "n": None, "x": 3, "flag": True, "when": "2026-01-02", "tags": ["a"]},
        {"id": "2", "n": None, "x": 4, "flag": False, "when": "2026-01-03", "tags": None},
    ]
    table, apart, hints = arrow_batch(rows, {}, same, ["id"])
    assert apart == []
    assert table.schema.field("x").type == pa.int64()
    assert table.schema.field("flag").type == pa.bool_()
    # no date detection: an ISO day stays text unless the column is declared a date
    assert table.schema.field("when").type == pa.string()
    # JSON travels as text, declared json
    assert table.column("tags").to_pylist() == ['["a"]', None]
    assert hints == {"tags": {"data_type": "json"}}
    # a column of nulls alone is not made (dlt makes none either)
    assert "n" not in table.column_names
    assert table.schema.field("id").nullable is False


def test_known_types_win_and_values_are_coerced_as_dlt_coerces_them():
    rows = [
        {"id": "1", "day": "2026-01-02", "spend": 3, "amount": 12.34, "label": 7},
        {"id": "2", "day": "2026-01-03", "spend": 2.5, "amount": 1, "label": "x"},
    ]
    known = {"day": "date", "spend": "double", "amount": "decimal", "label": "text"}
    table, apart, _ = arrow_batch(rows, known, same)
    assert apart == []
    assert table.column("day").to_pylist() == [date(2026, 1, 2), date(2026, 1, 3)]
    assert table.column("spend").to_pylist() == [3.0, 2.5]
    assert table.schema.field("amount").type == pa.decimal128(38, 9)
    assert table.column("amount").to_pylist() == [Decimal("12.34"), Decimal("1")]
    assert table.column("label").to_pylist() == ["7", "x"]


def test_a_value_dlt_could_not_coerce_keeps_its_row_a_dict():
    rows = [{"id": "1", "n": 1}, {"id": "2", "n": "not a number"}, {"id": "3", "n": 2.0}]
    table, apart, _ = arrow_batch(rows, {"n": "bigint"}, same)
    assert apart == [{"id": "2", "n": "not a number"}]
    assert table.column("id").to_pylist() == ["1", "3"]
    assert table.column("n").to_pylist() == [1, 2]


def test_row_ids_sort_in_the_order_the_rows_were_read():
    first = with_row_ids(pa.table({"n": list(range(300))}))
    second = with_row_ids(pa.table({"n": list(range(5))}))  # made at once: the clock may not move
    ids = first.column("_dlt_id").to_pylist() + second.column("_dlt_id").to_pylist()
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 305
    assert {len(i) for i in ids} == {27} and set("".join(ids)) <= set("0123456789abcdef")
    assert first.schema.field("_dlt_id").nullable is False


def test_batch_size_setting_is_checked(monkeypatch):
    monkeypatch.setenv("REVOPS_LOAD_BATCH_ROWS", "lots")
    with pytest.raises(Exception, match="REVOPS_LOAD_BATCH_ROWS"):
        load_batch_rows()
    monkeypatch.setenv("REVOPS_LOAD_BATCH_ROWS", "0")
    assert load_batch_rows() == 0


# -- through dlt into PostgreSQL --------------------------------------------------------------

ITEMS = Stream("items", "id", "updated_at", "/items")
HISTORY = Stream("item_history", ("item_id", "at"), None, "/history")


def _rows(run: int, dup: bool = True) -> list[dict]:
    rows = []
    for i in range(7):
        rows.append(
            {
                "id": str(i),
                "updated_at": f"2026-01-0{run}T00:00:0{i}Z",
                "count": i * run,
                "ratio": 0.5 * i if i % 2 else i,  # int first, then floats: dlt makes variants
                "active": i % 2 == 0,
                "day": f"2026-02-0{1 + i % 5}",
                "tags": [f"t{i}"] if i % 3 else None,
                "props": {"k": i},
                "note": None if i < 6 else "late",
            }
        )
    rows.append({"id": "", "count": 1})  # no key: set aside
    if dup:  # the same key again, read later
        rows.append(dict(rows[2], count=100 + run))
    return rows


def _source(run: int, odd: object = None, dup: bool = True):
    @dlt.source(name="demo", max_table_nesting=0)
    def demo():
        @dlt.resource(**resource_hints(ITEMS, columns={"day": {"data_type": "date"}}))
        def items():
            rows = _rows(run, dup)
            if odd is not None:
                rows[1]["count"] = odd
            for start in range(0, len(rows), 3):  # pages of three
                page = rows[start : start + 3]
                yield from screened(ITEMS, page)
                history = [
                    {"item_id": r["id"], "at": r.get("updated_at"), "count": r["count"]}
                    for r in page
                    if r["id"]
                ]
                yield from screened(HISTORY, history, route=True)

        return items

    return demo()


def _load(
    url: str,
    pipelines_dir,
    run: int,
    size: int,
    odd: object = None,
    freeze=False,
    dup=True,
    skip_unchanged: bool | None = None,
):
    reset_notes()
    pipeline = dlt.pipeline(
        pipeline_name="loads_demo",
        destination=dlt.destinations.postgres(credentials=url),
        dataset_name="raw_demo",
        pipelines_dir=str(pipelines_dir),
    )
    source = _source(run, odd, dup)
    batch_resources(source, size, skip_unchanged)
    source.schema.remove_type_detection("iso_timestamp")
    if freeze:
        source.schema_contract = {"data_type": "freeze"}
    pipeline.sync_destination()
    if pipeline.default_schema_name:  # as run_extract does
        for table in pipeline.default_schema.tables.values():
            table.pop(DEDUPLICATED_HINT, None)
    return pipeline.run(source, loader_file_format="csv")


def _columns(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return {
            (t, c): d
            for t, c, d in conn.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = 'raw_demo' and table_name not like '\\_dlt%%'"
            )
        }


def _contents(url: str) -> dict:
    out = {}
    with psycopg.connect(url) as conn:
        for (table,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw_demo' "
            "and table_name not like '\\_dlt%%'"
        ).fetchall():
            cols = [
                c
                for (c,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = "
                    "'raw_demo' and table_name = %s and column_name not like '\\_dlt%%' order by 1",
                    (table,),
                )
            ]
            select = ", ".join(f'"{c}"::text' for c in cols)
            rows = conn.execute(f'select {select} from raw_demo."{table}"').fetchall()
            out[table] = (cols, sorted(rows, key=lambda r: tuple(v or "" for v in r)))
    return out


def _staged(url: str) -> set[str]:
    """Tables in the merge's staging schema (a table merged at least once has one)."""
    with psycopg.connect(url) as conn:
        return {
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw_demo_staging'"
            )
        }


@pytest.fixture
def two_dbs(server_url):
    from warehouse_checks import new_database

    with new_database(server_url) as dicts_url, new_database(server_url) as arrow_url:
        yield dicts_url, arrow_url


def test_arrow_batches_load_what_dicts_load(two_dbs, tmp_path):
    dicts_url, arrow_url = two_dbs
    # no key read twice in a run here: dlt's own merge keeps an arbitrary one of them (its dedup
    # has no order), the batches keep the last read (the other tests check that)
    for run in (1, 2):
        _load(dicts_url, tmp_path / "dicts", run, size=0, dup=False)
        _load(arrow_url, tmp_path / "arrow", run, size=4, dup=False)
        assert _columns(arrow_url) == _columns(dicts_url)
        assert _contents(arrow_url) == _contents(dicts_url)
    columns = _columns(arrow_url)
    assert columns[("items", "day")] == "date"
    assert columns[("items", "ratio")] == "bigint"
    assert columns[("items", "ratio__v_double")] == "double precision"
    assert columns[("items", "tags")] == "jsonb"
    assert columns[("items", "_dlt_load_id")] == "character varying"
    assert columns[("items", "_dlt_id")] == "character varying"
    contents = _contents(arrow_url)
    cols, rows = contents["items"]
    assert len(rows) == 7
    assert len(contents[REJECTED_TABLE][1]) == 1  # the keyless record
    assert len(contents["item_history"][1]) == 14  # (item_id, at): 7 per run


def test_a_first_load_appends_and_a_later_load_merges(fresh_db, tmp_path):
    info = _load(fresh_db, tmp_path, 1, size=100)
    schema = info.load_packages[0].schema
    assert schema.tables["items"]["write_disposition"] == "append"
    assert schema.tables["item_history"]["write_disposition"] == "append"
    assert not {"items", "item_history"} & _staged(fresh_db)  # never merged
    info = _load(fresh_db, tmp_path, 2, size=100)
    schema = info.load_packages[0].schema
    assert schema.tables["items"]["write_disposition"] == "merge"
    # one batch, each key once: one MERGE that updates only changed rows
    assert schema.tables["items"]["x-merge-strategy"] == "upsert"
    assert schema.tables["items"]["x-merge-skip-unchanged-rows"] is True
    assert schema.tables["items"]["columns"]["_dlt_id"]["row_key"] is True  # never compared
    # a routed variant's _dlt_id is a row key too: it merges the same way
    assert schema.tables["item_history"]["x-merge-strategy"] == "upsert"
    assert schema.tables["item_history"]["columns"]["_dlt_id"]["row_key"] is True
    assert {"items", "item_history"} <= _staged(fresh_db)
    cols, rows = _contents(fresh_db)["items"]
    assert len(rows) == 7
    assert sorted(int(r[cols.index("count")]) for r in rows) == sorted(
        [i * 2 for i in range(7) if i != 2] + [102]
    )


def test_a_merge_rewrites_only_rows_that_changed(fresh_db, tmp_path):
    _load(fresh_db, tmp_path, 1, size=100, dup=False)
    _load(fresh_db, tmp_path, 2, size=100, dup=False)  # every row changed (count, updated_at)
    query = "select id, _dlt_load_id, xmin::text from raw_demo.items order by id"
    with psycopg.connect(fresh_db) as conn:
        before = conn.execute(query).fetchall()
    info = _load(fresh_db, tmp_path, 2, size=100, dup=False)  # the same rows again
    with psycopg.connect(fresh_db) as conn:
        after = conn.execute(query).fetchall()
    assert info.loads_ids and len(after) == 7
    # nothing rewritten: each row keeps the load and the row version that last changed it
    assert after == before
    _load(fresh_db, tmp_path, 3, size=100, dup=False)  # every row changed again
    with psycopg.connect(fresh_db) as conn:
        third = conn.execute(query).fetchall()
    assert all(new[1] != old[1] and new[2] != old[2] for new, old in zip(third, after, strict=True))


def test_a_key_repeated_across_batches_of_a_first_load_turns_it_to_merge(fresh_db, tmp_path):
    # batches of 2: the repeated key (third page) arrives after its first row was sent
    info = _load(fresh_db, tmp_path, 1, size=2)
    schema = info.load_packages[0].schema
    assert schema.tables["items"]["write_disposition"] == "merge"
    assert schema.tables["items"][DEDUPLICATED_HINT] is False  # dlt's merge dedups it
    # of a key's rows in the load, dlt's merge keeps the one with the highest _dlt_id: the last read
    for table in ("items", "item_history"):
        assert schema.tables[table]["columns"]["_dlt_id"]["dedup_sort"] == "desc"
    contents = _contents(fresh_db)
    cols, rows = contents["items"]
    assert len(rows) == 7
    assert [r[cols.index("count")] for r in rows if r[cols.index("id")] == "2"] == ["101"]
    cols, rows = contents["item_history"]
    assert len(rows) == 7
    assert [r[cols.index("count")] for r in rows if r[cols.index("item_id")] == "2"] == ["101"]


def test_without_skipping_unchanged_rows_a_merge_deletes_and_inserts(fresh_db, tmp_path):
    # PostgreSQL 14 has no MERGE (run_extract asks server_has_merge), or
    # REVOPS_LOAD_SKIP_UNCHANGED=false: every row read is rewritten, with this load's id
    _load(fresh_db, tmp_path, 1, size=100, dup=False)
    info = _load(fresh_db, tmp_path, 1, size=100, dup=False, skip_unchanged=False)
    assert info.load_packages[0].schema.tables["items"]["x-merge-strategy"] == "delete-insert"
    with psycopg.connect(fresh_db) as conn:
        ids = {r[0] for r in conn.execute("select _dlt_load_id from raw_demo.items")}
    assert ids == {info.loads_ids[0]}


def test_the_warehouse_server_is_asked_whether_it_has_merge(server_url):
    from revops.sources import server_has_merge

    with psycopg.connect(server_url) as conn:
        version = conn.info.server_version
    assert server_has_merge(server_url) is (version >= 150000)


def test_a_merge_load_with_a_key_repeated_across_batches_keeps_the_last_row(fresh_db, tmp_path):
    _load(fresh_db, tmp_path, 1, size=100)
    info = _load(fresh_db, tmp_path, 2, size=2)  # the repeated key arrives in a later batch
    items = info.load_packages[0].schema.tables["items"]
    assert items[DEDUPLICATED_HINT] is False  # dlt's delete-insert merge dedups it
    assert items["x-merge-strategy"] == "delete-insert"
    info = _load(fresh_db, tmp_path, 3, size=100)  # each key once again: decided per load
    assert info.load_packages[0].schema.tables["items"]["x-merge-strategy"] == "upsert"
    cols, rows = _contents(fresh_db)["items"]
    assert len(rows) == 7
    assert {r[cols.index("id")]: r[cols.index("count")] for r in rows}["2"] == "103"


def test_a_changed_type_lands_in_a_variant_column_like_the_dict_path(two_dbs, tmp_path):
    dicts_url, arrow_url = two_dbs
    for url, size, where in ((dicts_url, 0, "dicts"), (arrow_url, 4, "arrow")):
        _load(url, tmp_path / where, 1, size=size, dup=False)
        _load(url, tmp_path / where, 2, size=size, odd="many", dup=False)
    assert ("items", "count__v_text") in _columns(arrow_url)
    assert _columns(arrow_url) == _columns(dicts_url)
    assert _contents(arrow_url) == _contents(dicts_url)


def test_a_changed_type_stops_a_frozen_load(fresh_db, tmp_path):
    _load(fresh_db, tmp_path, 1, size=4)
    with pytest.raises(Exception) as caught:
        _load(fresh_db, tmp_path, 2, size=4, odd="many", freeze=True)
    seen = caught.value
    while seen is not None and not isinstance(seen, DataValidationError):
        seen = seen.__cause__ or seen.__context__
    assert isinstance(seen, DataValidationError)
