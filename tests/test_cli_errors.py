"""Bad input and configuration at the ``revops`` command: refused with one clear last line.

Every case runs the real command in a subprocess (as a user would) with a warehouse URL that
refuses connections, so a command that gets past its input checks fails differently and the
test notices. Each asserts the exit status, that stderr's last line starts ``revops...error:``
and names the problem, and that no traceback is printed (``--debug``/``REVOPS_DEBUG=1`` aside).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_run import HEADER, last_line, run_revops

from revops.config import ConfigError


# -- revops attribute paths --
def test_attribute_paths_refuses_rows_with_an_extra_field(tmp_path: Path) -> None:
    """An unquoted comma in a channel name gives every row one field too many; pandas took the
    first field as the index and credited a channel called 'Inc', exit 0."""
    paths = tmp_path / "paths.csv"
    paths.write_text(HEADER + "email > Acme, Inc > direct,3,30,1\nemail,1,5,4\n")
    done = run_revops(tmp_path, "attribute", "paths", str(paths))
    assert done.returncode == 2
    assert done.stdout == ""  # no credits printed
    line = last_line(done)
    assert line.startswith("revops attribute: error:")
    assert str(paths) in line and "line 2" in line
    assert "5 fields" in line and "4" in line and "quote" in line
    assert "Traceback" not in done.stderr


def test_attribute_paths_refuses_a_duplicated_header_column(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(
        "path,total_conversions,total_conversion_value,total_null,total_conversions\n"
        "email > direct,3,30,1,7\n"
    )
    done = run_revops(tmp_path, "attribute", "paths", str(paths))
    assert done.returncode == 2
    line = last_line(done)
    assert str(paths) in line and "line 1" in line
    assert "'total_conversions'" in line and "twice" in line


def test_attribute_paths_error_leaves_an_existing_out_file_untouched(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(HEADER + "email > Acme, Inc,3,30,1\n")
    out = tmp_path / "credits.csv"
    out.write_text("previous results\n")
    done = run_revops(tmp_path, "attribute", "paths", str(paths), "--out", str(out))
    assert done.returncode == 2
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["credits.csv", "paths.csv"]


def test_attribute_paths_out_is_written_whole(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(HEADER + '"email > Acme, Inc",3,30,1\nemail > direct,1,5,4\n')
    out = tmp_path / "credits.csv"
    done = run_revops(
        tmp_path, "attribute", "paths", str(paths), "--model", "linear", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["channel_name", "linear_conversions", "linear_value"]
    assert [row[0] for row in rows[1:]] == ["Acme, Inc", "direct", "email"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["credits.csv", "paths.csv"]


def test_attribute_paths_refuses_a_row_with_a_missing_field(tmp_path: Path) -> None:
    """A row one field short is a missing value, not an unquoted comma: the hint says so."""
    paths = tmp_path / "paths.csv"
    paths.write_text(HEADER + "email > direct,3,30,1\nemail,1,5\n")
    done = run_revops(tmp_path, "attribute", "paths", str(paths))
    assert done.returncode == 2
    line = last_line(done)
    assert str(paths) in line and "line 3" in line and "3 fields where the header has 4" in line
    assert "missing" in line and "quoted" not in line
    assert "Traceback" not in done.stderr


def test_attribute_paths_missing_input_file_says_what_to_do(tmp_path: Path) -> None:
    done = run_revops(tmp_path, "attribute", "paths", "nowhere/paths.csv")
    assert done.returncode == 2
    line = last_line(done)
    assert line.startswith("revops attribute: error: nowhere/paths.csv: no such file")
    assert f"check the path (relative paths start at {tmp_path})" in line
    assert "Errno" not in line and "Traceback" not in done.stderr


def test_attribute_paths_out_in_a_missing_folder_names_that_folder(tmp_path: Path) -> None:
    """The error named the hidden temporary file (.credits.csv.<pid>.partial), not --out."""
    paths = tmp_path / "paths.csv"
    paths.write_text(HEADER + "email > direct,3,30,1\n")
    done = run_revops(tmp_path, "attribute", "paths", str(paths), "--out", "nope/credits.csv")
    assert done.returncode == 2
    line = last_line(done)
    assert line.startswith("revops attribute: error: --out nope/credits.csv: ")
    assert "no such folder: nope" in line and ".partial" not in line
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("how", ["--debug before", "--debug after", "REVOPS_DEBUG=1"])
def test_attribute_paths_debug_shows_the_traceback(tmp_path: Path, how: str) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(HEADER + "email > Acme, Inc > direct,3,30,1\n")
    args = ["attribute", "paths", str(paths)]
    if how == "--debug before":
        args.insert(0, "--debug")
    elif how == "--debug after":
        args.append("--debug")
    env = {"REVOPS_DEBUG": "1"} if how.startswith("REVOPS") else {}
    done = run_revops(tmp_path, *args, env=env)
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert "PathFileError" in done.stderr
    line = last_line(done)
    assert line.startswith("revops attribute: error:") and "line 2" in line


# -- revops report / gate: periods and editions --
@pytest.mark.parametrize(
    ("period", "named"),
    [
        ("", "empty"),
        ("2026-W60", "'2026-W60'"),
        ("2026-13", "'2026-13'"),
        ("last week", "'last week'"),
    ],
)
def test_report_send_refuses_a_bad_period_before_touching_anything(
    tmp_path: Path, period: str, named: str
) -> None:
    """``--period ""`` used to send the default week; malformed periods are refused up front."""
    done = run_revops(tmp_path, "report", "send", "--period", period)
    assert done.returncode == 2
    line = last_line(done)
    assert line.startswith("revops report: error: argument --period")
    assert named in line and "2026-W46" in line
    assert "warehouse" not in done.stderr  # refused before connecting
    assert "Traceback" not in done.stderr


def test_gate_refuses_an_unknown_report_edition(tmp_path: Path) -> None:
    """``REVOPS_REPORT_EDITIONS=weekly,montly`` silently dropped the monthly edition."""
    done = run_revops(tmp_path, "gate", env={"REVOPS_REPORT_EDITIONS": "weekly,montly"})
    assert done.returncode == 1
    line = last_line(done)
    assert line.startswith("revops: error: REVOPS_REPORT_EDITIONS='weekly,montly'")
    assert "'montly'" in line and "weekly, monthly" in line
    assert "Traceback" not in done.stderr


def test_report_periods_reads_editions_through_the_typed_setting(monkeypatch) -> None:
    from revops.pipeline import report_periods

    monkeypatch.setenv("REVOPS_REPORT_EDITIONS", "weekly,montly")
    with pytest.raises(ConfigError, match="REVOPS_REPORT_EDITIONS"):
        report_periods(datetime(2026, 12, 2, tzinfo=UTC))
    monkeypatch.setenv("REVOPS_REPORT_EDITIONS", "monthly")
    assert report_periods(datetime(2026, 12, 2, tzinfo=UTC)) == ["2026-11"]


# -- revops extract: the window --
def test_extract_refuses_an_until_in_the_future(tmp_path: Path) -> None:
    """A future --until moved the cursors there, so later runs read nothing new."""
    future = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    done = run_revops(tmp_path, "extract", "hubspot", "--until", future)
    assert done.returncode == 2
    line = last_line(done)
    assert line.startswith("revops extract: error: argument --until")
    assert "in the future" in line and future in line
    assert "warehouse" not in done.stderr and "Traceback" not in done.stderr


def test_extract_allows_a_little_clock_skew_in_until(tmp_path: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=60)).replace(microsecond=0).isoformat()
    done = run_revops(tmp_path, "extract", "hubspot", "--until", soon)
    # accepted: it gets as far as the (refusing) warehouse
    assert done.returncode == 1
    assert "cannot connect to the warehouse" in last_line(done)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "2026-11-02", "--until", "2026-11-01"], "--since 2026-11-02"),
        (["--since", "2026-11-02", "--until", "2026-11-02"], "--since 2026-11-02"),
        (["--until", "garbage"], "'garbage' is not an ISO 8601 date"),
        (["--since", "2026-11-31"], "'2026-11-31' is not an ISO 8601 date"),
    ],
)
def test_extract_refuses_a_bad_window(tmp_path: Path, args: list[str], named: str) -> None:
    done = run_revops(tmp_path, "extract", "hubspot", *args)
    assert done.returncode == 2
    line = last_line(done)
    assert line.startswith("revops extract: error: argument")
    assert named in line
    assert "Is the server running" not in done.stderr and "Traceback" not in done.stderr


def test_window_of_refuses_an_until_in_the_future() -> None:
    """The Airflow path (and every connector) builds its window with Window.of."""
    from revops.sources.base import Window

    with pytest.raises(ValueError, match="in the future"):
        Window.of(until=datetime.now(UTC) + timedelta(hours=1))
    Window.of(until=datetime.now(UTC) + timedelta(seconds=30))  # clock skew is allowed


# -- known errors: one line, unless --debug --
def test_a_warehouse_error_is_one_last_line(tmp_path: Path) -> None:
    done = run_revops(tmp_path, "report", "render", "--period", "2026-W46")
    assert done.returncode == 1
    line = last_line(done)
    assert line.startswith("revops: error: cannot connect to the warehouse")
    assert "Is the server running" in line  # psycopg's hint joined onto the same line
    assert "Traceback" not in done.stderr


def test_a_bad_revops_setting_is_one_last_line(tmp_path: Path) -> None:
    done = run_revops(tmp_path, "report", "render", env={"REVOPS_DEBUG": "maybe"})
    assert done.returncode == 1
    assert last_line(done).startswith("revops: error: REVOPS_DEBUG='maybe' is not a yes/no value")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("how", ["--debug", "REVOPS_DEBUG=1"])
def test_debug_shows_the_traceback(tmp_path: Path, how: str) -> None:
    args = ["report", "render", "--period", "2026-W46"]
    env = {"REVOPS_DEBUG": "1"} if how.startswith("REVOPS") else {}
    done = run_revops(tmp_path, *([how] if how == "--debug" else []), *args, env=env)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert last_line(done).startswith("revops: error: cannot connect to the warehouse")


@pytest.mark.parametrize(
    "args",
    [
        ["report", "render", "--period", "2026-W46", "--debug"],
        ["report", "--debug", "render", "--period", "2026-W46"],
        ["extract", "hubspot", "--debug"],
    ],
    ids=lambda a: " ".join(a),
)
def test_debug_after_the_command_shows_the_traceback(tmp_path: Path, args: list[str]) -> None:
    """``--debug`` was refused anywhere but before the command ("unrecognized arguments")."""
    done = run_revops(tmp_path, *args)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert last_line(done).startswith("revops: error: cannot connect to the warehouse")


def _known_errors():
    from revops.config import ConfigError
    from revops.quality.gate import GateFailed
    from revops.quality.runs import GateNotPassed
    from revops.sources.http import SourceError
    from revops.warehouse import WarehouseError

    return [
        ConfigError("REVOPS_X='y' is not a number"),
        WarehouseError("cannot connect to the warehouse"),
        SourceError("hubspot", "contacts", 403, "forbidden"),
        GateNotPassed("no passing gate run for 2026-W46"),
        GateFailed(
            SimpleNamespace(summary=lambda: "gate failed:\n- hubspot.contacts stopped at X")
        ),
        ValueError("bad input"),
        FileNotFoundError(2, "No such file or directory", "/nope/paths.csv"),
    ]


@pytest.mark.parametrize("error", _known_errors(), ids=lambda e: type(e).__name__)
def test_known_errors_end_with_one_error_line(monkeypatch, capsys, error: Exception) -> None:
    from revops import cli

    def fail(args):
        raise error

    monkeypatch.setattr(cli, "_cmd_gate", fail)
    monkeypatch.delenv("REVOPS_DEBUG", raising=False)
    assert cli.main(["gate"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("revops: error: ")
    assert "\n" not in lines[-1]
    if isinstance(error, FileNotFoundError):
        assert "/nope/paths.csv" in lines[-1] and "check the path" in lines[-1]
    else:
        assert str(error).splitlines()[-1].strip("- ") in lines[-1]


def test_an_unexpected_error_shows_its_traceback_and_a_last_line(monkeypatch, capsys) -> None:
    from revops import cli

    def fail(args):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(cli, "_cmd_gate", fail)
    assert cli.main(["gate"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("revops: error: unexpected TypeError")
