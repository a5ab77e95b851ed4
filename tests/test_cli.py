"""The ``revops`` command's output: quiet, one line per stream, nothing outside REVOPS_HOME.

A clean ``revops extract all`` against the vendor simulator (a subprocess, as a user runs it,
with HOME an empty folder) prints no traceback, one line per stream plus a header and a total
per system, and leaves HOME empty: dlt no longer reads its settings through Airflow Variables
(which, with no Airflow database, logged an exception per lookup and created
``~/airflow/airflow.db``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_run import revops_env, run_revops
from warehouse_checks import new_database

from revops import vocabulary
from revops.simulator import Company, SimulatorServer

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
HISTORY_START = (AS_OF - timedelta(days=30)).date()
STREAM_LINE = re.compile(
    r"^  (?P<system>\w+)\.(?P<stream>\w+) +(?P<rows>[\d,]+) rows? +(?P<pages>[\d,]+) pages? "
    r"+(?P<elapsed>\d+\.\d) s(?P<rest>.*)$"
)
TOTAL_LINE = re.compile(r"^(?P<system>\w+): (?P<rows>[\d,]+) rows in (?P<streams>\d+) streams?")


@pytest.fixture(scope="module")
def simulator(tmp_path_factory) -> Iterator[SimulatorServer]:
    company = Company.generate(seed=7, scale=0.02, as_of=AS_OF)
    with SimulatorServer(company, cert_dir=tmp_path_factory.mktemp("tls")) as server:
        yield server


@pytest.fixture(scope="module")
def extract_all(simulator, server_url, tmp_path_factory):
    """One ``revops extract all`` into a new database: (completed process, HOME folder)."""
    tmp = tmp_path_factory.mktemp("extract-all")
    env = {
        **simulator.env(),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
        **{
            f"REVOPS_{system.upper()}_START_DATE": HISTORY_START.isoformat()
            for system in ("google_ads", "meta_ads", "linkedin_ads")
        },
    }
    with new_database(server_url) as url:
        env["REVOPS_WAREHOUSE_URL"] = url
        done = run_revops(tmp, "extract", "all", "--until", AS_OF.isoformat(), env=env)
    return done, tmp / "home"


def test_extract_all_prints_no_traceback_and_one_line_per_stream(extract_all) -> None:
    done, _ = extract_all
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "Exception" not in output
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    per_system: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        per_system[line.strip().split(".")[0].split(":")[0]].append(line)
    systems = list(vocabulary.SYSTEMS)
    assert sorted(per_system) == sorted(systems), lines
    for system in systems:
        streams = [m for line in per_system[system] if (m := STREAM_LINE.match(line))]
        totals = [m for line in per_system[system] if (m := TOTAL_LINE.match(line))]
        assert len(streams) >= 1 and len(totals) == 1, per_system[system]
        assert len(per_system[system]) <= len(streams) + 2, per_system[system]
        assert int(totals[0]["streams"]) == len(streams)
        assert int(totals[0]["rows"].replace(",", "")) == sum(
            int(m["rows"].replace(",", "")) for m in streams
        )
        assert all(m["rest"] == "" for m in streams)  # every stream complete: no mark
    assert sum(len(v) for v in per_system.values()) <= 6 * 2 + sum(
        1 for line in lines if STREAM_LINE.match(line)
    )


def test_extract_all_writes_nothing_to_home(extract_all) -> None:
    done, home = extract_all
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


def _providers(tmp_path: Path, code: str) -> list[str]:
    probe = (
        f"{code}\n"
        "from dlt.common.configuration.container import Container\n"
        "from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext\n"
        "print([p.name for p in Container()[PluggableRunContext].providers.providers])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=revops_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "order",
    [
        "import revops\nimport dlt",
        "import dlt\nimport dlt.common.configuration.resolve\n"
        "from dlt.common.configuration.container import Container\n"
        "from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext\n"
        "Container()[PluggableRunContext]\nimport revops",
    ],
    ids=["revops-first", "dlt-set-up-first"],
)
def test_dlt_reads_no_settings_through_airflow_variables(tmp_path: Path, order: str) -> None:
    names = _providers(tmp_path, order)
    assert "Environment Variables" in names
    assert not [name for name in names if "airflow" in name.lower()], names
    if order.startswith("import revops"):  # dlt set up first has imported Airflow already
        assert not (tmp_path / "home" / "airflow").exists()


# -- in-process: what the commands print --
def _outcome(streams, complete=True):
    return {
        "system": "hubspot",
        "dataset": "raw_hubspot",
        "run_id": "manual__x",
        "mode": "incremental",
        "window_start": None,
        "window_end": "2026-11-02T09:30:00+00:00",
        "rows": {s["stream"]: s["rows"] for s in streams},
        "complete": complete,
        "streams": streams,
    }


def test_extract_prints_each_stream_and_marks_an_incomplete_one(monkeypatch, capsys) -> None:
    streams = [
        {
            "stream": "contacts",
            "rows": 1234,
            "pages": 13,
            "elapsed_s": 2.14,
            "complete": False,
            "stopped_at": "2026-11-01T10:00:00+00:00",
            "reason": "daily quota",
        },
        {
            "stream": "companies",
            "rows": 5,
            "pages": 1,
            "elapsed_s": 0.04,
            "complete": True,
            "stopped_at": None,
            "reason": None,
        },
    ]
    monkeypatch.setattr("revops.pipeline.extract", lambda *a, **k: _outcome(streams, False))
    from revops import cli

    assert cli.main(["extract", "hubspot", "--until", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hubspot: incremental to 2026-11-02T09:30:00+00:00 into raw_hubspot"
    assert out[1] == "  hubspot.companies         5 rows     1 page    0.0 s"
    assert out[2] == (
        "  hubspot.contacts      1,234 rows    13 pages   2.1 s  INCOMPLETE: stopped at "
        "2026-11-01T10:00:00+00:00: daily quota"
    )
    assert out[3] == (
        "hubspot: 1,239 rows in 2 streams; INCOMPLETE: 1 stream stopped early "
        "(the next run resumes; the gate blocks reports it does not cover)"
    )
    assert len(out) == 4


def test_report_send_names_only_the_recipients_who_got_it(monkeypatch, capsys) -> None:
    """A refused recipient was listed as sent (the CLI printed every recipient)."""
    sent = {
        "edition": "weekly",
        "period": "2026-W46",
        "run_key": "manual",
        "recipients": ["ceo@example.com", "cfo@example.com"],
        "already_sent": False,
        "html_path": "/out/2026-W46.html",
        "pdf_path": "/out/2026-W46.pdf",
        "delivered_to": ["ceo@example.com"],
        "refused": {"cfo@example.com": "550 5.1.1 mailbox unavailable"},
    }
    monkeypatch.setattr("revops.pipeline.send_report", lambda period, run_key: {"sent": [sent]})
    from revops import cli

    assert cli.main(["report", "send", "--period", "2026-W46"]) == 1
    captured = capsys.readouterr()
    assert "sent to ceo@example.com;" in captured.out
    assert "cfo@example.com" not in captured.out
    assert captured.err.strip().splitlines()[-1] == (
        "revops: error: report 2026-W46: the mail server refused cfo@example.com "
        "(550 5.1.1 mailbox unavailable); run the same `revops report send` again "
        "(same --run-key) to send to them only"
    )
