"""Benchmark: building the attribution marts on the demo's data at 1x and 10x its scale.

For each scale (``--scales``, default ``1,10``) it builds a warehouse the way ``revops demo``
does, in an embedded PostgreSQL under a temporary directory: the vendor simulator
(``Company.generate(seed, scale, as_of)``, served from its own process), the six extracts
(``run_extract``, each in its own process), then ``dbt build --exclude source:attribution+``
(everything upstream of the data-driven step; models and seeds only, since tests are not what
is measured here) and one first attribution build. It then times, ``--repeat`` rounds (default
3), interleaving the scales so they see the same machine load:

1. **intermediates**: ``dbt build`` of ``models/intermediate/attribution`` (conversions,
   conversion paths, non-converting paths, and their tests);
2. **data-driven**: Markov and Shapley in Python for the five conversion types, credits written
   back in one transaction each (what ``revops.pipeline.attribute_data_driven`` does), in a
   child process whose peak resident memory (``ru_maxrss``) is recorded;
3. **marts**: ``dbt build --select source:attribution+`` (fct_attribution,
   rpt_channel_attribution, rpt_model_comparison, rpt_spend_efficiency) plus
   ``models/marts/attribution`` (adds rpt_conversion_paths), with their tests;

and, in the same rounds on the same warehouse, two references the attribution time is given
as a multiple of: a plain ``create table as select * from marts.fct_touchpoints``, and
``dbt run`` of ``models/marts/funnel`` (models only). It prints rows (touches, conversions, paths,
fct_attribution), each step's best and median, the ratio 10x / 1x per step, the attribution
time over each reference, and the slowest dbt nodes and conversion types.

    python scripts/bench_attribution_marts.py                      # make bench: 1x and 10x
    python scripts/bench_attribution_marts.py --scales 0.2,1 --repeat 2   # a quicker look
    python scripts/bench_attribution_marts.py --workdir /tmp/bam   # keep the warehouses; a
                                                                   # rerun reuses what is built

On a 2-core machine the defaults take about 50 minutes, most of it building the 10x warehouse
(generating the company about 3.5 min, extracting 4.5M rows about 26 min); the timed rounds
about 16 min. With ``--workdir`` a rerun on the same day reuses the built warehouses.

Nothing is written into the repository: the warehouse, dlt state, dbt's target and logs live
in the temporary directory (or ``--workdir``), which is removed at the end unless given.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 42
SIZE: dict = {"by": "scale", "scale": 1.0, "as_of": None}
"""What 1x, 10x... multiply: ``by: scale``, the company's size (``Company.generate(scale=x)``);
``by: history``, its past at ``scale`` (``history_days`` = x years: the same company, the same
people per day, a longer history; the ad extracts read it all, Meta its 37 months at most).
``as_of``: the day built (the ad extracts' start dates count back from it)."""
META_HISTORY_DAYS = 37 * 30  # Meta's insights go back 37 months (error 3018 before that)
HEARTBEAT_SECONDS = 60

# what the pipeline runs (revops.pipeline.transform), split into the steps timed here
# (the one-time upstream build leaves out tests: they are not what is measured, and a failing
# test elsewhere in the project must not stop the benchmark)
BEFORE_ATTRIBUTION = [
    "build",
    "--exclude",
    "source:attribution+",
    "--exclude-resource-type",
    "test",
    "unit_test",
]
INTERMEDIATES = [
    "build",
    "--select",
    "path:models/intermediate/attribution",
    "--exclude",
    "source:attribution+",
]
MARTS = ["build", "--select", "source:attribution+", "path:models/marts/attribution"]
# models only: the funnel area's unit tests change with its models, and a failing one would skip
# the models it guards and make the reference meaningless
FUNNEL_MARTS = ["run", "--select", "path:models/marts/funnel"]
COPY_TOUCHPOINTS = "create table bench_ref.touchpoints_copy as select * from marts.fct_touchpoints"


@dataclass(frozen=True)
class Step:
    """One timed unit of work, run in its own process."""

    key: str
    title: str
    kind: str  # dbt | data_driven | sql
    spec: dict


STEPS = (
    Step(
        "intermediates",
        "dbt build intermediate/attribution (3 models + tests)",
        "dbt",
        {"args": INTERMEDIATES},
    ),
    Step("data_driven", "Markov + Shapley in Python, 5 conversion types", "data_driven", {}),
    Step(
        "marts",
        "dbt build source:attribution+ and marts/attribution (5 models + tests)",
        "dbt",
        {"args": MARTS},
    ),
)
REFERENCES = (
    Step(
        "copy_touchpoints",
        "create table as select * from marts.fct_touchpoints",
        "sql",
        {
            "setup": "create schema if not exists bench_ref; "
            "drop table if exists bench_ref.touchpoints_copy",
            "statement": COPY_TOUCHPOINTS,
            "cleanup": "drop table if exists bench_ref.touchpoints_copy",
        },
    ),
    Step(
        "funnel_marts", "dbt run marts/funnel (10 models, no tests)", "dbt", {"args": FUNNEL_MARTS}
    ),
)

COUNTS = {
    "raw rows (six systems)": None,  # filled from the extracts
    "people (fct_funnel)": "select count(*) from marts.fct_funnel",
    "touches (fct_touchpoints)": "select count(*) from marts.fct_touchpoints",
    "conversions (int_conversions_unpivoted)": (
        "select count(*) from intermediate.int_conversions_unpivoted"
    ),
    "conversion path rows (int_conversion_paths_joined)": (
        "select count(*) from intermediate.int_conversion_paths_joined"
    ),
    "non-converting journeys (int_nonconversion_paths_joined)": (
        "select count(distinct journey_id) from intermediate.int_nonconversion_paths_joined"
    ),
    "non-converting path rows": "select count(*) from intermediate.int_nonconversion_paths_joined",
    "data_driven_credits rows": "select count(*) from attribution.data_driven_credits",
    "fct_attribution rows": "select count(*) from marts.fct_attribution",
    "fct_attribution size (MB)": (
        "select round(pg_total_relation_size('marts.fct_attribution') / 1e6)::bigint"
    ),
}


# -- child processes -------------------------------------------------------------------------


def _write_result(path: str, payload: dict) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def child_main(kind: str, spec: dict, result_path: str) -> None:
    """Child side: do one unit of work and write what it measured to ``result_path``."""
    if kind == "simulator":
        from revops.simulator import Company, SimulatorServer

        began = time.perf_counter()
        company = Company.generate(
            seed=spec["seed"],
            scale=spec["scale"],
            as_of=spec["as_of"],
            history_days=spec["history_days"],
        )
        server = SimulatorServer(company, cert_dir=spec["cert_dir"])
        # what the first requests would build lazily (the CRM views, every campaign's email
        # activity) is built before any timed extract: the extracts time the connectors, not
        # the simulator standing in for the vendors
        server.simulator.warm()
        server.start()
        generated = time.perf_counter() - began
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        _write_result(result_path, {"env": server.env(), "seconds": generated})
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
        return
    if kind == "extract":
        from revops.sources import run_extract

        began = time.perf_counter()
        result = run_extract(
            spec["system"], spec["url"], until=datetime.fromisoformat(spec["until"])
        )
        seconds = time.perf_counter() - began
        _write_result(result_path, {"seconds": seconds, "rows": result.rows})
        return
    if kind == "dbt":
        import dbt.cli.main  # noqa: F401  (imported before the clock starts)

        from revops.transform import DbtError, run_dbt

        run_results = Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json"
        run_results.unlink(missing_ok=True)
        error = ""
        began = time.perf_counter()
        try:
            run_dbt(spec["args"], spec["url"], quiet=spec.get("quiet", True))
        except DbtError as err:  # a failed test still leaves a timing worth reporting
            error = str(err)
        seconds = time.perf_counter() - began
        nodes, not_ok, executing = {}, {}, seconds
        if run_results.exists():
            results = json.loads(run_results.read_text())
            executing = results.get("elapsed_time") or seconds
            for node in results.get("results", []):
                nodes[node["unique_id"]] = node.get("execution_time") or 0.0
                if node.get("status") not in ("success", "pass"):
                    not_ok[node["unique_id"]] = node.get("status")
        elif error:
            raise SystemExit(error)
        payload = {
            "seconds": seconds,
            "executing": executing,  # dbt's own "elapsed": after parsing, hooks included
            "nodes": nodes,
            "not_ok": not_ok,
            "error": error,
        }
        _write_result(result_path, payload)
        return
    if kind == "data_driven":
        from revops.attribution.warehouse import compute_data_driven
        from revops.pipeline import CONVERSION_TYPES, NON_CONVERTING_SQL
        from revops.warehouse import connect

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        per_type = {}
        began = time.perf_counter()
        # revops.pipeline.attribute_data_driven, with each conversion type timed
        with connect(spec["url"]) as conn:
            for conversion_type in CONVERSION_TYPES:
                started = time.perf_counter()
                run = compute_data_driven(
                    conn, conversion_type, non_converting_sql=NON_CONVERTING_SQL
                )
                per_type[conversion_type] = {
                    "seconds": time.perf_counter() - started,
                    "conversions": run.conversions,
                    "non_converting": run.non_converting_journeys,
                    "rows": run.rows_written,
                }
        seconds = time.perf_counter() - began
        _write_result(
            result_path,
            {"seconds": seconds, "per_type": per_type, "rss_before_bytes": rss_before * 1024},
        )
        return
    if kind == "sql":
        import psycopg

        with psycopg.connect(spec["url"], autocommit=True) as conn:
            conn.execute(spec["setup"])
            began = time.perf_counter()
            with conn.transaction():
                conn.execute(spec["statement"])
            seconds = time.perf_counter() - began
            conn.execute(spec["cleanup"])
        _write_result(result_path, {"seconds": seconds})
        return
    raise ValueError(f"unknown child kind {kind!r}")


# -- the parent ------------------------------------------------------------------------------


@dataclass
class Measured:
    """One child process: what it reported, its wall time and its peak resident memory."""

    result: dict
    wall_seconds: float
    peak_rss_bytes: int


class ChildFailed(RuntimeError):
    """A child process exited with an error; the message holds the end of its output."""


_ACTIVE: set[subprocess.Popen] = set()
TEST_FAILURES: list[str] = []


def _say(message: str) -> None:
    print(message, flush=True)


def _child_command(
    kind: str, spec: dict, result_path: Path, script: Path | None = None
) -> list[str]:
    """The command of one child: ``script`` (default this one) with ``--child kind``."""
    return [
        sys.executable,
        str((script or Path(__file__)).resolve()),
        "--child",
        kind,
        "--spec",
        json.dumps(spec),
        "--result",
        str(result_path),
    ]


def run_child(
    kind: str,
    spec: dict,
    env: dict[str, str],
    scratch: Path,
    *,
    label: str,
    show_output: bool = False,
    script: Path | None = None,
) -> Measured:
    """Run one child to completion (a progress line every minute); raise ChildFailed on error.

    ``script`` is the file whose ``--child`` handles ``kind`` (default this one; another
    benchmark reuses this runner with its own kinds)."""
    scratch.mkdir(parents=True, exist_ok=True)
    result_path = scratch / f"{kind}-{time.monotonic_ns()}.json"
    log_path = result_path.with_suffix(".log")
    with open(log_path, "w+") as log:
        output = None if show_output else log
        began = time.perf_counter()
        proc = subprocess.Popen(
            _child_command(kind, spec, result_path, script),
            env={**os.environ, **env},
            stdout=output,
            stderr=output,
        )
        _ACTIVE.add(proc)
        waited: dict = {}

        def wait() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            waited.update(status=status, usage=usage, seconds=time.perf_counter() - began)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        while True:
            waiter.join(HEARTBEAT_SECONDS)
            if not waiter.is_alive():
                break
            _say(f"      ... {label}: {time.perf_counter() - began:.0f}s so far")
        _ACTIVE.discard(proc)
        proc.returncode = os.waitstatus_to_exitcode(waited["status"])
        if proc.returncode != 0 or not result_path.exists():
            log.seek(0)
            tail = log.read()[-4000:] if not show_output else "(output above)"
            raise ChildFailed(f"{label} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(result_path.read_text())
    result_path.unlink()
    log_path.unlink()
    for node, status in result.get("not_ok", {}).items():
        if node.split(".")[0] in ("model", "seed", "snapshot"):  # nothing valid was timed
            raise ChildFailed(f"{label}: {node} {status}: {result['error']}")
        where = label.split(" ", 2)[-1] if label.startswith("round ") else label
        message = f"{node.split('.')[-1]} {status} ({where})"
        if message not in TEST_FAILURES:
            TEST_FAILURES.append(message)
            _say(f"      WARNING: {message}; the build was still timed")
    return Measured(result, waited["seconds"], waited["usage"].ru_maxrss * 1024)


def start_simulator(
    scale: float, as_of: str, home: Path, env: dict[str, str]
) -> tuple[subprocess.Popen, dict[str, str], float]:
    """The simulator in its own process; returns it, the connectors' environment and how long
    generating the company took."""
    result_path = home / "simulator.json"
    result_path.unlink(missing_ok=True)
    spec = {"seed": SEED, **company_size(scale), "as_of": as_of, "cert_dir": str(home / "tls")}
    proc = subprocess.Popen(
        _child_command("simulator", spec, result_path), env={**os.environ, **env}
    )
    _ACTIVE.add(proc)
    began = time.monotonic()
    last = began
    while not result_path.exists():
        if proc.poll() is not None:
            raise ChildFailed(f"the simulator exited ({proc.returncode}) before serving")
        if time.monotonic() - last >= HEARTBEAT_SECONDS:
            last = time.monotonic()
            _say(f"      ... generating the company: {last - began:.0f}s so far")
        time.sleep(0.2)
    started = json.loads(result_path.read_text())
    return proc, started["env"], started["seconds"]


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate one child we started and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _ACTIVE.discard(proc)


def company_size(x: float) -> dict:
    """``Company.generate``'s ``scale`` and ``history_days`` for the size ``x`` (:data:`SIZE`)."""
    from revops.simulator.company import HISTORY_DAYS

    if SIZE["by"] == "history":
        return {"scale": SIZE["scale"], "history_days": round(HISTORY_DAYS * x)}
    return {"scale": x, "history_days": HISTORY_DAYS}


def size_label(x: float) -> str:
    """``1x scale``, ``10x history``: what the size ``x`` multiplies."""
    return f"{x:g}x {SIZE['by']}"


def history_env(x: float) -> dict[str, str]:
    """With ``by: history``, the ad extracts' start dates: the company's first day (Meta: at
    most :data:`META_HISTORY_DAYS` back), so the warehouse holds the whole longer past."""
    if SIZE["by"] != "history" or x <= 0:
        return {}
    from datetime import date

    as_of = date.fromisoformat(str(SIZE["as_of"])[:10])
    first = as_of - timedelta(days=company_size(x)["history_days"])
    meta_first = max(first, as_of - timedelta(days=META_HISTORY_DAYS))
    return {
        "REVOPS_GOOGLE_ADS_START_DATE": first.isoformat(),
        "REVOPS_LINKEDIN_ADS_START_DATE": first.isoformat(),
        "REVOPS_META_ADS_START_DATE": meta_first.isoformat(),
    }


def db_name(scale: float) -> str:
    """The database holding one size's warehouse: ``bench_s1``, ``bench_s0_2`` (by scale),
    ``bench_h10_s0_1`` (by history, at scale 0.1)."""
    name = f"bench_s{scale:g}"
    if SIZE["by"] == "history":
        name = f"bench_h{scale:g}_s{SIZE['scale']:g}"
    return name.replace(".", "_")


def scale_env(home: Path, scale: float) -> dict[str, str]:
    """The environment of every child of one scale: its own dlt state and dbt target."""
    base = home / db_name(scale)
    return {
        "REVOPS_HOME": str(base / "state"),
        "REVOPS_OUT_DIR": str(base / "out"),
        "DBT_TARGET_PATH": str(base / "dbt-target"),
        "DBT_LOG_PATH": str(base / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **history_env(scale),
    }


def build_scale(scale: float, as_of: str, url: str, home: Path) -> dict:
    """Simulator -> six extracts -> dbt build up to the data-driven step -> one first
    attribution build; returns what was built and how long it took."""
    from revops.sources import SYSTEMS

    env = scale_env(home, scale)
    scratch = home / db_name(scale) / "scratch"
    info: dict = {"scale": scale, "as_of": as_of, "extract": {}}
    _say(f"[{size_label(scale)}] generating the company (seed {SEED}, as of {as_of})")
    sim_home = home / db_name(scale) / "simulator"
    sim_home.mkdir(parents=True, exist_ok=True)
    sim, sim_env, generated = start_simulator(scale, as_of, sim_home, env)
    info["generate_seconds"] = generated
    _say(f"      generated and serving in {generated:.1f}s")
    try:
        for system in SYSTEMS:
            done = run_child(
                "extract",
                {"system": system, "url": url, "until": as_of},
                {**env, **sim_env},
                scratch,
                label=f"extract {system}",
            )
            rows = sum(done.result["rows"].values())
            info["extract"][system] = {"rows": rows, "seconds": done.result["seconds"]}
            _say(
                f"      extract {system:13s} {rows:10,d} rows in {done.result['seconds']:7.1f}s"
                f" (peak {done.peak_rss_bytes / 2**20:.0f} MiB)"
            )
    finally:
        stop_process(sim)
    info["extract_seconds"] = sum(e["seconds"] for e in info["extract"].values())
    info["raw_rows"] = sum(e["rows"] for e in info["extract"].values())
    _say(
        f"      extract total: {info['raw_rows']:,d} rows in {info['extract_seconds']:.0f}s "
        f"({info['extract_seconds'] / 60:.1f} min)"
    )
    _say(f"[{size_label(scale)}] dbt {' '.join(BEFORE_ATTRIBUTION)} (dbt's own progress follows)")
    done = run_child(
        "dbt",
        {"args": BEFORE_ATTRIBUTION, "url": url, "quiet": False},
        env,
        scratch,
        label="dbt build upstream",
        show_output=True,
    )
    info["upstream_dbt_seconds"] = done.result["seconds"]
    _say(f"      upstream dbt build in {done.result['seconds']:.0f}s")
    first = {}
    for step in STEPS[1:]:  # the intermediates were just built by the upstream build
        done = run_child(
            step.kind, {**step.spec, "url": url}, env, scratch, label=f"first {step.key}"
        )
        first[step.key] = done.result["seconds"]
        _say(f"      first {step.key} build in {done.result['seconds']:.1f}s")
    info["first_build"] = first
    return info


def table_counts(url: str) -> dict[str, int]:
    """The sizes the attribution build works on."""
    import psycopg

    counts = {}
    with psycopg.connect(url) as conn:
        for name, query in COUNTS.items():
            if query:
                counts[name] = int(conn.execute(query).fetchone()[0])
    return counts


def ensure_database(admin_url: str, name: str, fresh: bool) -> None:
    """Create the database ``name`` (dropping it first when ``fresh``)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'drop database if exists "{name}" with (force)')
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')


def summarize(
    scales: list[float],
    rounds: list[dict[float, dict[str, Measured]]],
    infos: dict[float, dict],
    counts: dict[float, dict[str, int]],
) -> None:
    """Print the tables: sizes, per-step times, ratios, references, memory, slowest parts."""
    keys = [s.key for s in STEPS]
    refs = [r.key for r in REFERENCES]
    titles = {s.key: s.title for s in (*STEPS, *REFERENCES)}

    def times(scale: float, key: str) -> list[float]:
        if key == "total":
            return [sum(r[scale][k].result["seconds"] for k in keys) for r in rounds]
        return [r[scale][key].result["seconds"] for r in rounds]

    labels = [f"{s:g}x" for s in scales]
    _say("\n== sizes")
    _say(f"  {'':58s}" + "".join(f"{label:>14s}" for label in labels))
    for name in COUNTS:
        row = [
            counts[s].get(name, infos[s]["raw_rows"] if name.startswith("raw") else 0)
            for s in scales
        ]
        _say(f"  {name:58s}" + "".join(f"{n:14,d}" for n in row))
    _say(
        "  extract time (six systems, s)                             "
        + "".join(f"{infos[s]['extract_seconds']:14.0f}" for s in scales)
    )
    _say(
        "  upstream dbt build time (s)                               "
        + "".join(f"{infos[s]['upstream_dbt_seconds']:14.0f}" for s in scales)
    )

    n = len(rounds)
    _say(f"\n== attribution build, seconds of work in each step's process (best / median of {n})")
    header = "".join(f"{label + ' best':>11s}{label + ' med':>10s}" for label in labels)
    _say(f"  {'step':18s}{header}")
    for key in [*keys, "total", *refs]:
        cells = "".join(
            f"{min(times(s, key)):11.2f}{statistics.median(times(s, key)):10.2f}" for s in scales
        )
        _say(f"  {key:18s}{cells}")
    for key in [*keys, *refs]:
        _say(f"    {key}: {titles[key]}")
    _say("    total: the three attribution steps of one round added up")

    if len(scales) > 1:
        low, high = scales[0], scales[-1]
        ratio_label = f"{high:g}x / {low:g}x"
        _say(f"\n== scaling: {ratio_label}")
        for name in (
            "touches (fct_touchpoints)",
            "conversions (int_conversions_unpivoted)",
            "conversion path rows (int_conversion_paths_joined)",
            "fct_attribution rows",
        ):
            _say(f"  data  {name:52s} {counts[high][name] / max(counts[low][name], 1):7.2f}")
        for key in [*keys, "total", *refs]:
            best = min(times(high, key)) / min(times(low, key))
            med = statistics.median(times(high, key)) / statistics.median(times(low, key))
            _say(f"  time  {key:52s} {best:7.2f} best, {med:7.2f} median")

    _say("\n== attribution total as a multiple of a reference timed in the same round")
    for ref in refs:
        for s in scales:
            per_round = [
                sum(r[s][k].result["seconds"] for k in keys) / r[s][ref].result["seconds"]
                for r in rounds
            ]
            best = min(times(s, "total")) / min(times(s, ref))
            _say(
                f"  {s:g}x: attribution / {ref}: {statistics.median(per_round):8.1f} "
                f"(median of rounds; {best:.1f} best / best)"
            )

    _say("\n== data-driven step (Python): peak resident memory of its process")
    for s in scales:
        runs = [r[s]["data_driven"] for r in rounds]
        peak = max(m.peak_rss_bytes for m in runs)
        before = max(m.result["rss_before_bytes"] for m in runs)
        _say(
            f"  {s:g}x: peak {peak / 2**20:.0f} MiB (of which {before / 2**20:.0f} MiB after "
            f"imports, before the step began)"
        )

    if TEST_FAILURES:
        _say("\n== tests that did not pass during the timed builds (timings still count)")
        for message in TEST_FAILURES:
            _say(f"  {message}")

    _say("\n== where the time goes (the round with the median total)")
    for s in scales:
        totals = times(s, "total")
        median_round = rounds[totals.index(sorted(totals)[(len(totals) - 1) // 2])][s]
        _say(f"  {s:g}x:")
        per_type = median_round["data_driven"].result["per_type"]
        _say(
            "    data-driven by conversion type: "
            + ", ".join(
                f"{t} {v['seconds']:.1f}s ({v['conversions']:,d} conv, "
                f"{v['non_converting']:,d} non-conv)"
                for t, v in per_type.items()
            )
        )
        for key in ("intermediates", "marts", "funnel_marts"):
            result = median_round[key].result
            nodes = result["nodes"]
            models = sum(v for k, v in nodes.items() if k.startswith("model."))
            others = sum(v for k, v in nodes.items() if not k.startswith("model."))
            slow = sorted(nodes.items(), key=lambda kv: kv[1], reverse=True)[:5]
            _say(
                f"    {key}: {result['seconds']:.1f}s = parsing and start-up "
                f"{result['seconds'] - result['executing']:.1f}s + running "
                f"{result['executing']:.1f}s, in which models took {models:.1f}s and tests "
                f"and hooks {others:.1f}s of node time (two dbt threads); slowest: "
                + ", ".join(f"{k.split('.')[2]} {v:.1f}s" for k, v in slow)
            )


def main(argv: list[str] | None = None) -> int:
    """Build the warehouses, time the attribution build, print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated (default 1,10)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument(
        "--as-of",
        help="the simulated clock (default: the start of today, UTC, as the demo uses)",
    )
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the warehouses here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, json.loads(args.spec), args.result)
        return 0

    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    as_of = (
        args.as_of
        or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    )
    home = (args.workdir or Path(tempfile.mkdtemp(prefix="bench_attribution_marts_"))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    # this process too: nothing lands in the working tree (dlt, dbt, .revops)
    os.environ.update(scale_env(home, 0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from revops.warehouse import EmbeddedWarehouse

    warehouse = EmbeddedWarehouse(home / "warehouse")
    try:
        url = warehouse.start()
        base_url = url.rsplit("/", 1)[0]
        _say(
            f"attribution marts benchmark: scales {', '.join(f'{s:g}' for s in scales)}, seed "
            f"{SEED}, as of {as_of}, {args.repeat} rounds; warehouse {base_url} under {home}"
        )
        infos: dict[float, dict] = {}
        counts: dict[float, dict[str, int]] = {}
        for scale in scales:
            marker = home / db_name(scale) / "built.json"
            scale_url = f"{base_url}/{db_name(scale)}"
            if marker.exists() and json.loads(marker.read_text())["as_of"] == as_of:
                infos[scale] = json.loads(marker.read_text())
                ensure_database(f"{base_url}/postgres", db_name(scale), fresh=False)
                _say(f"[{size_label(scale)}] reusing the warehouse built earlier in {home}")
            else:
                ensure_database(f"{base_url}/postgres", db_name(scale), fresh=True)
                infos[scale] = build_scale(scale, as_of, scale_url, home)
                marker.write_text(json.dumps(infos[scale]))
            counts[scale] = table_counts(scale_url)
            _say(
                f"      {counts[scale]['touches (fct_touchpoints)']:,d} touches, "
                f"{counts[scale]['conversions (int_conversions_unpivoted)']:,d} conversions, "
                f"{counts[scale]['fct_attribution rows']:,d} fct_attribution rows"
            )

        rounds: list[dict[float, dict[str, Measured]]] = []
        for number in range(1, args.repeat + 1):
            this_round: dict[float, dict[str, Measured]] = {}
            for scale in scales:
                scale_url = f"{base_url}/{db_name(scale)}"
                env = scale_env(home, scale)
                scratch = home / db_name(scale) / "scratch"
                this_round[scale] = {}
                for step in (*STEPS, *REFERENCES):
                    label = f"round {number}/{args.repeat} {scale:g}x {step.key}"
                    done = run_child(
                        step.kind, {**step.spec, "url": scale_url}, env, scratch, label=label
                    )
                    this_round[scale][step.key] = done
                    _say(
                        f"  {label}: {done.result['seconds']:.2f}s "
                        f"(process {done.wall_seconds:.2f}s)"
                    )
            rounds.append(this_round)
        summarize(scales, rounds, infos, counts)
        _say(f"\nfinished at {datetime.now(UTC).isoformat(timespec='seconds')}")
        return 0
    except ChildFailed as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        for proc in list(_ACTIVE):
            stop_process(proc)
        warehouse.stop()
        if args.workdir is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
