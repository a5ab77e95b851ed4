"""Aggregated paths: the CSV form, per-channel attribution under every path model, the CLI."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revops.attribution.cli import main
from revops.attribution.paths import (
    PATH_MODELS,
    PathFileError,
    attribute_paths,
    parse_models,
    read_paths,
    read_paths_frame,
    to_paths,
    touch_credits,
    write_paths,
)

HEADER = "path,total_conversions,total_conversion_value,total_null\n"
FOUR_PATHS = HEADER + "a > a > b,3,30,1\nb > c,1,5,4\nc,0,0,5\na > b > c > a,2,8,2\n"


def write(tmp_path: Path, text: str, name: str = "paths.csv") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def generated_rows(seed: int, n: int = 1500) -> list[tuple[str, int, float, int]]:
    rng = random.Random(seed)
    channels = ["direct", "email", "events", "paid_search", "referral"]
    rows = []
    for _ in range(n):
        k = rng.choice([0, 1, 1, 2, 3, 5, 8])
        path = " > ".join(rng.choice(channels) for _ in range(k))
        conv = rng.randint(0, 3)
        rows.append((path, conv, round(rng.uniform(0, 500) * conv, 2), rng.randint(0, 5)))
    return rows


# -- reading ---------------------------------------------------------------------------------
def test_read_four_paths(tmp_path: Path) -> None:
    paths = read_paths(write(tmp_path, FOUR_PATHS))
    assert paths.channels == ("a", "b", "c")
    assert [paths.path(p) for p in range(4)] == [
        ["a", "a", "b"],
        ["b", "c"],
        ["c"],
        ["a", "b", "c", "a"],
    ]
    assert paths.conversions.tolist() == [3, 1, 0, 2]
    assert paths.values.tolist() == [30, 5, 0, 8]
    assert paths.nulls.tolist() == [1, 4, 5, 2]


def test_blank_path_is_none_and_spacing_does_not_matter(tmp_path: Path) -> None:
    paths = read_paths(write(tmp_path, HEADER + ',2,10,1\n"a>b",1,1,0\n  a  >b ,1,1,0\n'))
    assert paths.path(0) == ["(none)"]
    assert paths.path(1) == paths.path(2) == ["a", "b"]


def test_byte_order_mark_crlf_and_spaced_header(tmp_path: Path) -> None:
    f = tmp_path / "excel.csv"
    text = "path, total_conversions, total_conversion_value, total_null\r\na > b,1,2,0\r\n"
    f.write_bytes(b"\xef\xbb\xbf" + text.encode())
    paths = read_paths(f)
    assert paths.path(0) == ["a", "b"] and paths.values.tolist() == [2.0]
    with open(f, encoding="utf-8-sig", newline="") as handle:  # an open file works too
        assert read_paths(handle).path(0) == ["a", "b"]


def test_semicolon_separated_file(tmp_path: Path) -> None:
    text = "path;total_conversions;total_conversion_value;total_null\na > b;1;2.5;3\n"
    paths = read_paths(write(tmp_path, text))
    assert paths.path(0) == ["a", "b"] and paths.values.tolist() == [2.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "path,total_conversions,total_null\na,1,1\n",
            "line 1: missing column(s) total_conversion_value",
        ),
        (HEADER + "a,1,1,1\nb,x,1,1\n", "line 3, column 'total_conversions': not a number: 'x'"),
        (HEADER + "a,1,1,1\nb,1,1,\n", "line 3, column 'total_null': empty value"),
        (HEADER + "a,1,1,1\n\nb,1,1,-2\n", "line 4, column 'total_null': negative count -2"),
        (HEADER + "a,-1,1,1\n", "line 2, column 'total_conversions': negative count -1"),
        (HEADER + "a,1,inf,1\n", "line 2, column 'total_conversion_value': not a finite number"),
        (
            HEADER + "a,1,1,1\na > > b,1,1,1\n",
            "line 3, column 'path': empty channel name in path 'a > > b'",
        ),
        (HEADER + "a,1,1,1\na,1,1,1,7\n", "Expected 4 fields in line 3, saw 5"),
        ("", "line 1: empty file"),
    ],
)
def test_bad_input_names_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PathFileError) as err:
        read_paths(write(tmp_path, text))
    assert message in str(err.value)


def test_header_only_file_gives_an_empty_table(tmp_path: Path) -> None:
    table = attribute_paths(read_paths(write(tmp_path, HEADER)), "all")
    assert len(table) == 0 and table.columns[0] == "channel_name"


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    paths = to_paths(generated_rows(1, 200))
    target = tmp_path / "out.csv"
    write_paths(paths, target)
    again = read_paths(target)
    assert again.channels == paths.channels
    assert np.array_equal(again.codes, paths.codes)
    assert np.array_equal(again.offsets, paths.offsets)
    assert np.array_equal(again.values, paths.values)
    assert read_paths_frame(target).index[0] == 2  # line numbers


# -- the models ------------------------------------------------------------------------------
def test_table_columns_and_hand_computed_heuristics(tmp_path: Path) -> None:
    table = attribute_paths(read_paths(write(tmp_path, FOUR_PATHS)), "all")
    assert list(table.columns) == [
        "channel_name",
        *[f"{m}_{kind}" for m in PATH_MODELS[:5] for kind in ("conversions", "value")],
        "markov_conversions",
        "markov_value",
        "markov_removal_effect",
        "shapley_conversions",
        "shapley_value",
    ]
    t = table.set_index("channel_name")
    assert t["first_touch_conversions"].to_dict() == {"a": 5, "b": 1, "c": 0}
    assert t["first_touch_value"].to_dict() == {"a": 38, "b": 5, "c": 0}
    assert t["last_touch_conversions"].to_dict() == {"a": 2, "b": 3, "c": 1}
    # a > a > b gives a 2/3 (repeats included); a > b > c > a gives a 1/2
    assert t["linear_conversions"].to_dict() == pytest.approx({"a": 3.0, "b": 2.0, "c": 1.0})
    assert t["linear_value"].to_dict() == pytest.approx({"a": 24.0, "b": 14.5, "c": 4.5})
    # a > a > b: 0.4, 0.2, 0.4; b > c: 0.5 each; a > b > c > a: 0.4, 0.1, 0.1, 0.4
    assert t["position_based_conversions"].to_dict() == pytest.approx(
        {"a": 3 * 0.6 + 2 * 0.8, "b": 3 * 0.4 + 0.5 + 0.2, "c": 0.5 + 0.2}
    )


def test_last_non_direct_on_paths() -> None:
    rows = [("direct > direct", 1, 1.0, 0), ("email > direct", 2, 2.0, 0), ("direct", 4, 4.0, 0)]
    t = attribute_paths(rows, ["last_non_direct"]).set_index("channel_name")
    assert t["last_non_direct_conversions"].to_dict() == {"direct": 5.0, "email": 2.0}


def test_channel_that_never_converts() -> None:
    rows = [("a > b", 2, 20.0, 1), ("z", 0, 0.0, 9), ("z > z", 0, 0.0, 3)]
    t = attribute_paths(rows, "all").set_index("channel_name")
    conv_cols = [c for c in t.columns if c.endswith("_conversions")]
    assert (t.loc["z", conv_cols] == 0).all()
    assert t.loc["z", "markov_removal_effect"] == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_every_model_attributes_all_conversions_and_value(seed: int) -> None:
    rows = generated_rows(seed)
    paths = to_paths(rows)
    table = attribute_paths(paths, "all")
    total_conv = sum(r[1] for r in rows)
    total_value = sum(r[2] for r in rows)
    for model in PATH_MODELS:
        assert table[f"{model}_conversions"].sum() == pytest.approx(total_conv, rel=1e-12)
        assert table[f"{model}_value"].sum() == pytest.approx(total_value, rel=1e-12)
        credits = touch_credits(paths, model)
        assert np.abs(np.add.reduceat(credits, paths.starts) - 1).max() < 1e-9, model
    assert "(none)" in set(table["channel_name"])


def test_one_row_per_journey_gives_the_same_table_as_aggregated_rows() -> None:
    rows = generated_rows(3, 400)
    journeys = [(p, 1, v / c, 0) for p, c, v, _ in rows for _ in range(c)]
    journeys += [(p, 0, 0.0, 1) for p, _, _, n in rows for _ in range(n)]
    merged = to_paths(journeys, aggregate=True)
    assert merged.n_paths == len({r[0] for r in rows if r[1] + r[3] > 0})
    by_journey = attribute_paths(to_paths(journeys), "all")  # a PathSet is used as is
    pd.testing.assert_frame_equal(attribute_paths(journeys, "all"), by_journey, rtol=1e-12)
    pd.testing.assert_frame_equal(attribute_paths(rows, "all"), by_journey, rtol=1e-12)


def test_parse_models() -> None:
    assert parse_models("all") == list(PATH_MODELS)
    assert parse_models("linear, markov,linear") == ["linear", "markov"]
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        parse_models("linear,nope")
    with pytest.raises(ValueError, match="'w_shaped' needs touch times"):
        parse_models("w_shaped")


# -- the CLI ---------------------------------------------------------------------------------
def test_cli_prints_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, FOUR_PATHS)
    assert main(["paths", str(f), "--model", "linear,markov"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(out.columns) == [
        "channel_name",
        "linear_conversions",
        "linear_value",
        "markov_conversions",
        "markov_value",
        "markov_removal_effect",
    ]
    assert out["channel_name"].tolist() == ["a", "b", "c"]
    assert out["linear_value"].tolist() == [24.0, 14.5, 4.5]
    assert out["markov_conversions"].sum() == pytest.approx(6.0)


def test_cli_writes_out_file_with_all_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, FOUR_PATHS)
    out = tmp_path / "result.csv"
    assert main(["paths", str(f), "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    table = pd.read_csv(out)
    expected = attribute_paths(read_paths(f), "all")
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-15)


def test_top_level_revops_command_runs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from revops.cli import main as revops_main

    f = write(tmp_path, FOUR_PATHS)
    assert revops_main(["attribute", "paths", str(f), "--model", "first_touch"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "channel_name,first_touch_conversions,first_touch_value",
        "a,5.0,38.0",
        "b,1.0,5.0",
        "c,0.0,0.0",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["paths", "{f}", "--model", "bogus"], "unknown model 'bogus'"),
        (["paths", "{f}", "--model", "time_decay"], "needs touch times"),
        (["paths", "{bad}"], "bad.csv: line 3, column 'total_conversions': not a number"),
        (["paths", "{missing}"], "missing.csv: no such file; check the path"),
        (["paths"], "required: file"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_cli_errors_are_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    files = {
        "f": str(write(tmp_path, FOUR_PATHS)),
        "bad": str(write(tmp_path, HEADER + "a,1,1,1\nb,x,1,1\n", "bad.csv")),
        "missing": str(tmp_path / "missing.csv"),
    }
    assert main([a.format(**files) for a in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("revops attribute: error: ")
    assert message in lines[0]


def test_cli_verbose_reports_timings_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, FOUR_PATHS)
    assert main(["paths", str(f), "--model", "markov", "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "read 4 paths" in err and "model markov in" in err and "total in" in err
