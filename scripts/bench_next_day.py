"""Benchmark: the next day's run on the company at 1x and 10x its history.

Sizes (``--scales``, default ``1,10``) multiply the company's history (``--by history``, the
default: ``Company.generate(history_days=365 * x)`` at ``--scale``, default 0.1 of the demo's
company; the same people, deals and ad spend per day over a longer past, the ad extracts reading
all of it, Meta its 37 months) or its size (``--by scale``: more people per day too, so the next
day has more new rows as well). The simulator builds what its first requests would build lazily
before any timed extract (``Simulator.warm``), so the extracts time the connectors, not the
stand-in for the vendors. For each size it builds the company's warehouse
at ``--as-of`` with the helpers of ``scripts/bench_attribution_marts.py`` (the vendor simulator in
its own process) and the six extracts as the product runs them (``revops.pipeline.extract``,
recorded in ``revops_meta.extract_runs``; with ``--workdir`` raw data extracted earlier for the
same day is reused), then:

1. **first full build**: a copy of it with every dbt-built schema dropped (raw data, dlt's
   state and ``revops_meta`` kept) gets the product's transform
   (``revops.pipeline.transform``) and gate (``revops.pipeline.quality_gate``) at ``as_of``,
   timed; with the extract and generation times of the build this is the first full build;
2. **the next day**, ``--repeat`` rounds (default 3: two rounds moved the ratio by 0.2 here)
   interleaving the scales: a fresh copy of the warehouse as the first build left it (``create
   database ... template``, untimed), the simulator serving the same company one day later
   (``--next-as-of``, default ``as_of`` + 1 day; ``as_of`` defaults to the start of yesterday, since
   an extract never reads past now; a day's data never changes when ``as_of`` moves), then, timed,
   each in its own process as Airflow's tasks run: the six extracts (``revops.pipeline.extract`` per
   system, incremental from dlt's cursors, as the extract DAGs call it), the transform and the gate.

It prints the first build and the next day per stage (each extract, transform, gate, total) at
each scale, the ratio 10x / 1x (the goal: the next day's total at 10x within 1.5 times 1x's),
the transform split into dbt's invocations and the Python steps between them, and every dbt
model's time at both scales (from dbt's ``run_results.json``) with its ratio, slowest first, so
what grows with history is named. Everything measured is also written to
``next_day_results.json`` in the working directory.

    python scripts/bench_next_day.py                           # make bench: 1x, 10x history
    python scripts/bench_next_day.py --scale 1                 # the demo's company itself
    python scripts/bench_next_day.py --by scale --scales 0.1,1 # a bigger company instead
    python scripts/bench_next_day.py --workdir /tmp/bnd        # keep (and reuse) the builds

Each timed round starts from the same state: dlt restores its cursors from the copied
destination (each round has its own local state directory, as a fresh Airflow worker would).
On an idle 2-core machine the defaults take about 15 minutes: extracting the 10x history 4.5
minutes (1.45 million rows; reused with ``--workdir``), each first transform under a minute, a
round under 3 minutes. At ``--scale 1`` expect ten times the extract (not run yet).
``--reuse-first`` (with ``--workdir``) keeps the first full builds of an earlier run: only when
the code is the same, since the next day starts from them.
Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_attribution_marts as bam  # noqa: E402  (the building helpers are shared)

SYSTEMS = ("hubspot", "salesforce", "mailchimp", "google_ads", "meta_ads", "linkedin_ads")
# schemas the first build keeps: the extracted data, dlt's state (inside raw_*) and revops' own
KEEP_SCHEMAS = ("public", "revops_meta", "information_schema")
RESULTS_FILE = "next_day_results.json"
RAW_MARKER = "raw.json"  # the extracted warehouse of one scale (as of, extract times)
FIRST_MARKER = "first.json"  # the first full build's measurements (--reuse-first)
# --tag: a second run beside the first on the same raw data (other code): its own databases,
# dbt target and files, named with this suffix
TAG = {"suffix": ""}


def tagged(name: str) -> str:
    """``name`` with the run's --tag suffix (before a file name's extension)."""
    stem, dot, extension = name.rpartition(".") if name.endswith(".json") else (name, "", "")
    return f"{stem}{TAG['suffix']}{dot}{extension}"


ME = Path(__file__)


# -- child processes -------------------------------------------------------------------------


def _run_results(target: Path) -> dict:
    """dbt's newest run_results.json: elapsed time and each node's execution time."""
    path = target / "run_results.json"
    if not path.exists():
        return {"executing": None, "nodes": {}, "not_ok": {}}
    results = json.loads(path.read_text())
    nodes, not_ok = {}, {}
    for node in results.get("results", []):
        nodes[node["unique_id"]] = node.get("execution_time") or 0.0
        if node.get("status") not in ("success", "pass"):
            not_ok[node["unique_id"]] = node.get("status")
    return {"executing": results.get("elapsed_time"), "nodes": nodes, "not_ok": not_ok}


def child_main(kind: str, spec: dict, result_path: str) -> None:
    """Child side: one stage of the product's run, timed; what it measured to ``result_path``."""
    if kind == "extract":
        from revops.pipeline import extract

        began = time.perf_counter()
        result = extract(spec["system"], until=datetime.fromisoformat(spec["until"]))
        seconds = time.perf_counter() - began
        streams = {s["stream"]: [s["rows"], s["elapsed_s"]] for s in result["streams"]}
        payload = {
            "seconds": seconds,
            "rows": sum(result["rows"].values()),
            "complete": result["complete"],
            "streams": streams,
        }
        bam._write_result(result_path, payload)
        return
    if kind == "transform":
        import dbt.cli.main  # noqa: F401  (imported before the clock starts)

        import revops.transform
        from revops import pipeline

        target = Path(os.environ["DBT_TARGET_PATH"])
        calls: list[dict] = []
        original = revops.transform.run_dbt

        def timed_run_dbt(args, url, quiet=False):
            """The product's run_dbt, with its time and dbt's per-node times kept."""
            (target / "run_results.json").unlink(missing_ok=True)
            began = time.perf_counter()
            try:
                original(args, url, quiet=True)
            finally:
                calls.append(
                    {
                        "args": " ".join(args),
                        "seconds": time.perf_counter() - began,
                        **_run_results(target),
                    }
                )

        revops.transform.run_dbt = timed_run_dbt
        error = ""
        began = time.perf_counter()
        try:
            pipeline.transform()
        except revops.transform.DbtError as err:  # a failed test still leaves a timing
            error = str(err)
        seconds = time.perf_counter() - began
        not_ok = {k: v for call in calls for k, v in call["not_ok"].items()}
        payload = {"seconds": seconds, "calls": calls, "not_ok": not_ok, "error": error}
        bam._write_result(result_path, payload)
        return
    if kind == "gate":
        from revops.pipeline import quality_gate
        from revops.quality.gate import GateFailed

        began = time.perf_counter()
        try:
            outcome = quality_gate(
                run_key=spec["run_key"],
                as_of=datetime.fromisoformat(spec["as_of"]),
                docs_dir=Path(spec["docs_dir"]),
                alert=False,
            )
            passed, summary = True, outcome.get("summary", "")
        except GateFailed as err:
            passed, summary = False, str(err)
        seconds = time.perf_counter() - began
        bam._write_result(
            result_path, {"seconds": seconds, "passed": passed, "summary": str(summary)[-3000:]}
        )
        return
    raise ValueError(f"unknown child kind {kind!r}")


# -- the parent ------------------------------------------------------------------------------


def copy_database(admin_url: str, source: str, target: str) -> float:
    """``target`` as a fresh copy of ``source`` (a template copy: files, not rows); seconds."""
    import psycopg

    began = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{target}" with (force)')
        for attempt in range(30):  # a client still leaving the source database
            try:
                conn.execute(f'create database "{target}" template "{source}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                time.sleep(2)
    return time.perf_counter() - began


def drop_dbt_schemas(url: str) -> list[str]:
    """Drop every schema dbt and the data-driven step build; keep raw_* and revops' own."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        schemas = [
            row[0]
            for row in conn.execute(
                "select nspname from pg_namespace where left(nspname, 3) <> 'pg_' "
                "and left(nspname, 4) <> 'raw_' and not (nspname = any(%s))",
                [list(KEEP_SCHEMAS)],
            ).fetchall()
        ]
        for schema in schemas:
            conn.execute(f'drop schema "{schema}" cascade')
    return schemas


def build_raw(scale: float, as_of: str, url: str, home: Path) -> dict:
    """The simulator at ``as_of`` and the six extracts into ``url`` as the product runs them
    (``revops.pipeline.extract``: incremental, recorded in ``revops_meta.extract_runs``);
    returns how long generating and each extract took."""
    info: dict = {"scale": scale, "as_of": as_of, "extract": {}}
    sim_home = home / bam.db_name(scale) / "simulator"
    sim_home.mkdir(parents=True, exist_ok=True)
    bam._say(f"[{bam.size_label(scale)}] generating the company (seed {bam.SEED}, as of {as_of})")
    sim, sim_env, generated = bam.start_simulator(
        scale, as_of, sim_home, bam.scale_env(home, scale)
    )
    info["generate_seconds"] = generated
    bam._say(f"      generated and serving in {generated:.1f}s")
    env = {**stage_env(home, scale, url, home / bam.db_name(scale) / "state"), **sim_env}
    try:
        for system in SYSTEMS:
            done = bam.run_child(
                "extract",
                {"system": system, "until": as_of},
                env,
                home / bam.db_name(scale) / "scratch",
                label=f"extract {system}",
                script=ME,
            )
            info["extract"][system] = done.result
            bam._say(
                f"      extract {system:13s} {done.result['rows']:10,d} rows in "
                f"{done.result['seconds']:7.1f}s (peak {done.peak_rss_bytes / 2**20:.0f} MiB)"
            )
    finally:
        bam.stop_process(sim)
    info["extract_seconds"] = sum(e["seconds"] for e in info["extract"].values())
    info["raw_rows"] = sum(e["rows"] for e in info["extract"].values())
    bam._say(f"      extract total: {info['raw_rows']:,d} rows in {info['extract_seconds']:.0f}s")
    return info


def stage_env(home: Path, scale: float, url: str, state: Path) -> dict[str, str]:
    """A stage's environment: the scale's dbt target, ``state`` as REVOPS_HOME, the database."""
    base = home / bam.db_name(scale)
    return {
        **bam.scale_env(home, scale),
        "DBT_TARGET_PATH": str(base / tagged("dbt-target")),
        "DBT_LOG_PATH": str(base / tagged("dbt-logs")),
        "REVOPS_HOME": str(state),
        "REVOPS_WAREHOUSE_URL": url,
    }


def run_day(
    home: Path,
    scale: float,
    url: str,
    as_of: str,
    label: str,
    *,
    sim_env: dict[str, str] | None,
    state: Path,
) -> dict:
    """One day of the product on ``url``: the six extracts (when ``sim_env`` is given), the
    transform and the gate, each in its own process; returns each stage's measurement."""
    env = stage_env(home, scale, url, state)
    scratch = home / bam.db_name(scale) / tagged("scratch")
    stages: dict = {}
    if sim_env is not None:
        for system in SYSTEMS:
            done = bam.run_child(
                "extract",
                {"system": system, "until": as_of},
                {**env, **sim_env},
                scratch,
                label=f"{label} extract {system}",
                script=ME,
            )
            stages[f"extract {system}"] = done.result
            bam._say(
                f"    {label} extract {system:13s} {done.result['rows']:9,d} rows "
                f"{done.result['seconds']:7.2f}s"
                + ("" if done.result["complete"] else "  INCOMPLETE")
            )
    for kind, spec in (
        ("transform", {}),
        (
            "gate",
            {
                "run_key": f"bench-{label}",
                "as_of": as_of,
                "docs_dir": str(home / bam.db_name(scale) / tagged("docs")),
            },
        ),
    ):
        done = bam.run_child(kind, spec, env, scratch, label=f"{label} {kind}", script=ME)
        stages[kind] = done.result
        extra = ""
        if kind == "gate":
            extra = "  passed" if done.result["passed"] else "  FAILED (timing kept)"
        if done.result.get("error"):
            extra = f"  ERROR: {done.result['error'][:300]}"
        bam._say(f"    {label} {kind:23s} {done.result['seconds']:7.2f}s{extra}")
    return stages


def stage_seconds(stages: dict) -> dict[str, float]:
    """Each stage's seconds, with the extracts summed and the total."""
    out = {k: v["seconds"] for k, v in stages.items()}
    extracts = [v for k, v in out.items() if k.startswith("extract ")]
    if extracts:
        out["extract (six systems)"] = sum(extracts)
    out["total"] = sum(v for k, v in out.items() if k != "extract (six systems)")
    return out


def node_seconds(stages: dict) -> dict[str, float]:
    """dbt node -> seconds in a transform (over all its dbt invocations)."""
    out: dict[str, float] = {}
    for call in stages["transform"]["calls"]:
        for node, seconds in call["nodes"].items():
            out[node] = out.get(node, 0.0) + seconds
    return out


def _fmt_ratio(high: float, low: float) -> str:
    return f"{high / low:7.2f}" if low > 0 else "      -"


def summarize(scales: list[float], first: dict, rounds: list[dict], infos: dict) -> None:
    """Print the first build, the next day per stage, the ratio, the dbt split and models."""
    labels = [f"{s:g}x" for s in scales]
    low, high = scales[0], scales[-1]
    bam._say("\n== first full build (seconds)")
    bam._say(f"  {'':44s}" + "".join(f"{label:>12s}" for label in labels))
    rows = {
        "generate the company (simulator)": [infos[s].get("generate_seconds", 0) for s in scales],
        "extract, six systems": [infos[s]["extract_seconds"] for s in scales],
        "transform (revops.pipeline.transform)": [first[s]["transform"]["seconds"] for s in scales],
        "gate (revops.pipeline.quality_gate)": [first[s]["gate"]["seconds"] for s in scales],
    }
    rows["extract + transform + gate"] = [
        rows["extract, six systems"][i]
        + rows["transform (revops.pipeline.transform)"][i]
        + rows["gate (revops.pipeline.quality_gate)"][i]
        for i in range(len(scales))
    ]
    for name, values in rows.items():
        bam._say(f"  {name:44s}" + "".join(f"{v:12.1f}" for v in values))
    bam._say(f"  {'raw rows':44s}" + "".join(f"{infos[s]['raw_rows']:12,d}" for s in scales))

    n = len(rounds)
    per = {s: [stage_seconds(r[s]) for r in rounds] for s in scales}
    keys = list(per[low][0])
    bam._say(f"\n== the next day (seconds; best / median of {n} rounds)")
    header = "".join(f"{label + ' best':>11s}{label + ' med':>10s}" for label in labels)
    bam._say(f"  {'stage':26s}{header}{'ratio best':>12s}{'ratio med':>11s}")
    for key in keys:
        vals = {s: [p[key] for p in per[s]] for s in scales}
        cells = "".join(f"{min(vals[s]):11.2f}{statistics.median(vals[s]):10.2f}" for s in scales)
        ratio = (
            f"{_fmt_ratio(min(vals[high]), min(vals[low])):>12s}"
            f"{_fmt_ratio(statistics.median(vals[high]), statistics.median(vals[low])):>11s}"
        )
        bam._say(f"  {key:26s}{cells}{ratio}")
    rows_next = {
        s: sum(r[s][k]["rows"] for r in rounds for k in r[s] if k.startswith("extract ")) / n
        for s in scales
    }
    bam._say(f"  {'rows extracted':26s}" + "".join(f"{rows_next[s]:21,.0f}" for s in scales))
    total = {s: statistics.median(p["total"] for p in per[s]) for s in scales}
    ratio = total[high] / total[low]
    verdict = "meets" if ratio <= 1.5 else "misses"
    bam._say(
        f"\n  next day total: {low:g}x {total[low]:.1f}s, {high:g}x {total[high]:.1f}s, "
        f"ratio {ratio:.2f} (median of rounds; goal <= 1.5: {verdict} it)"
    )
    gates = {s: [r[s]["gate"]["passed"] for r in rounds] for s in scales}
    for s in scales:
        if not all(gates[s]):
            failed = next(r[s]["gate"]["summary"] for r in rounds if not r[s]["gate"]["passed"])
            bam._say(f"  {s:g}x gate did not pass (timed anyway):\n{failed[:1500]}")

    bam._say("\n== the next day's transform: dbt invocations and the Python between them (median)")
    for s in scales:
        calls = [r[s]["transform"]["calls"] for r in rounds]
        parts = []
        for i, call in enumerate(calls[0]):
            seconds = statistics.median(c[i]["seconds"] for c in calls if len(c) > i)
            parts.append(f"dbt {call['args']}: {seconds:.1f}s")
        transform = statistics.median(r[s]["transform"]["seconds"] for r in rounds)
        dbt_total = statistics.median(sum(c["seconds"] for c in cs) for cs in calls)
        parts.append(f"outside dbt (data-driven step): {transform - dbt_total:.1f}s")
        bam._say(f"  {s:g}x ({transform:.1f}s): " + "; ".join(parts))

    bam._say("\n== the next day's dbt nodes (median seconds), slowest at the largest scale first")
    nodes = {s: [node_seconds(r[s]) for r in rounds] for s in scales}
    names = set().union(*(set(d) for s in scales for d in nodes[s]))

    def med(s: float, name: str) -> float:
        return statistics.median(d.get(name, 0.0) for d in nodes[s])

    ordered = sorted(names, key=lambda name: med(high, name), reverse=True)
    bam._say(f"  {'node':64s}" + "".join(f"{label:>9s}" for label in labels) + "    ratio")
    shown = 0
    for name in ordered:
        if med(high, name) < 0.05 and shown >= 25:
            break
        short = ".".join(name.split(".")[0::2][:2]) if name.count(".") >= 2 else name
        bam._say(
            f"  {short[:64]:64s}"
            + "".join(f"{med(s, name):9.2f}" for s in scales)
            + f"  {_fmt_ratio(med(high, name), med(low, name))}"
        )
        shown += 1
    for s in scales:
        models = statistics.median(
            sum(v for k, v in d.items() if k.startswith("model.")) for d in nodes[s]
        )
        tests = statistics.median(
            sum(v for k, v in d.items() if k.startswith(("test.", "unit_test."))) for d in nodes[s]
        )
        bam._say(f"  {s:g}x: models {models:.1f}s, tests {tests:.1f}s of dbt node time")


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the warehouses, time the first build and the next day, print both."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated (default 1,10)")
    parser.add_argument(
        "--by",
        choices=["scale", "history"],
        default="history",
        help="what the scales multiply: the company's history (default: the same company with "
        "a longer past, at --scale), or its size (more people per day too)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="the company's size with --by history (default 0.1 of the demo's: the 10x history "
        "extracts in about 5 minutes; 1 is the demo's company, about 45)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="next-day rounds (default 3)")
    parser.add_argument(
        "--as-of",
        help="the day built (default: the start of yesterday, UTC, so the next day has ended)",
    )
    parser.add_argument(
        "--next-as-of",
        help="when the next day's run reads up to (default: one day after --as-of; an extract "
        "never reads past now)",
    )
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the warehouses here")
    parser.add_argument(
        "--reuse-first",
        action="store_true",
        help="keep the first full build of an earlier run with --workdir (same code only)",
    )
    parser.add_argument(
        "--report", type=Path, help=f"print the tables of a {RESULTS_FILE} written earlier"
    )
    parser.add_argument(
        "--tag",
        default="",
        help="a suffix for this run's databases and files: a run of other code beside an "
        "earlier one on the same extracted data (with --workdir)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, json.loads(args.spec), args.result)
        return 0
    if args.report:
        saved = json.loads(args.report.read_text())
        scales = saved["scales"]
        summarize(
            scales,
            {s: saved["first"][str(s)] for s in scales},
            [{s: r[str(s)] for s in scales} for r in saved["rounds"]],
            {s: saved["infos"][str(s)] for s in scales},
        )
        return 0

    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    TAG["suffix"] = f"_{args.tag}" if args.tag else ""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    as_of = args.as_of or (today - timedelta(days=1)).isoformat()
    next_day = args.next_as_of or (datetime.fromisoformat(as_of) + timedelta(days=1)).isoformat()
    home = (args.workdir or Path(tempfile.mkdtemp(prefix="bench_next_day_"))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    bam.SIZE.update(by=args.by, scale=args.scale, as_of=as_of)
    os.environ.update(bam.scale_env(home, 0))  # nothing lands in the working tree
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from revops.warehouse import EmbeddedWarehouse

    warehouse = EmbeddedWarehouse(home / "warehouse")
    was_running = warehouse.is_running()
    simulators = {}
    try:
        url = warehouse.start()
        base_url = url.rsplit("/", 1)[0]
        admin_url = f"{base_url}/postgres"
        bam._say(
            f"next-day benchmark: {', '.join(bam.size_label(s) for s in scales)} (scale "
            f"{bam.company_size(scales[0])['scale']:g}), seed {bam.SEED}, "
            f"built as of {as_of}, next day {next_day}, {args.repeat} rounds; under {home}"
        )
        infos: dict[float, dict] = {}
        first: dict[float, dict] = {}
        for scale in scales:
            name = bam.db_name(scale)
            marker = home / name / RAW_MARKER
            if marker.exists() and json.loads(marker.read_text())["as_of"] == as_of:
                infos[scale] = json.loads(marker.read_text())
                label = bam.size_label(scale)
                bam._say(f"[{label}] reusing the raw data extracted earlier in {home}")
            else:
                bam.ensure_database(admin_url, name, fresh=True)
                infos[scale] = build_raw(scale, as_of, f"{base_url}/{name}", home)
                marker.write_text(json.dumps(infos[scale]))
            day0 = tagged(f"{name}_day0")
            first_marker = home / name / tagged(FIRST_MARKER)
            if args.reuse_first and first_marker.exists():
                first[scale] = json.loads(first_marker.read_text())
                label = bam.size_label(scale)
                bam._say(f"[{label}] reusing the first full build of an earlier run")
                continue
            copied = copy_database(admin_url, name, day0)
            dropped = drop_dbt_schemas(f"{base_url}/{day0}")
            bam._say(
                f"[{bam.size_label(scale)}] first full build on a copy ({copied:.0f}s to copy; "
                "dropped "
                f"{', '.join(dropped) or 'nothing'})"
            )
            state = home / name / tagged("state-day0")
            shutil.rmtree(state, ignore_errors=True)
            first[scale] = run_day(
                home,
                scale,
                f"{base_url}/{day0}",
                as_of,
                f"{scale:g}x first",
                sim_env=None,
                state=state,
            )
            first_marker.write_text(json.dumps(first[scale]))

        for scale in scales if args.repeat > 0 else ():
            sim_home = home / bam.db_name(scale) / "simulator-next"
            sim_home.mkdir(parents=True, exist_ok=True)
            bam._say(f"[{bam.size_label(scale)}] the simulator one day later ({next_day})")
            proc, sim_env, generated = bam.start_simulator(
                scale, next_day, sim_home, bam.scale_env(home, scale)
            )
            simulators[scale] = (proc, sim_env)
            bam._say(f"      generated and serving in {generated:.1f}s")

        rounds: list[dict] = []
        for number in range(1, args.repeat + 1):
            this_round: dict[float, dict] = {}
            for scale in scales:
                name = bam.db_name(scale)
                target = tagged(f"{name}_next")
                copied = copy_database(admin_url, tagged(f"{name}_day0"), target)
                state = home / name / tagged("state-next")
                shutil.rmtree(state, ignore_errors=True)  # a fresh worker: cursors from the db
                label = f"round {number}/{args.repeat} {scale:g}x"
                bam._say(f"  {label}: copied the day-0 warehouse in {copied:.0f}s (untimed)")
                this_round[scale] = run_day(
                    home,
                    scale,
                    f"{base_url}/{target}",
                    next_day,
                    label,
                    sim_env=simulators[scale][1],
                    state=state,
                )
                total = stage_seconds(this_round[scale])["total"]
                bam._say(f"  {label}: next day {total:.1f}s")
            rounds.append(this_round)

        (home / tagged(RESULTS_FILE)).write_text(
            json.dumps(
                {
                    "as_of": as_of,
                    "scales": scales,
                    "infos": {str(s): infos[s] for s in scales},
                    "first": {str(s): first[s] for s in scales},
                    "rounds": [{str(s): r[s] for s in scales} for r in rounds],
                },
                indent=1,
            )
        )
        if rounds:
            summarize(scales, first, rounds, infos)
        bam._say(f"\nresults in {home / tagged(RESULTS_FILE)}")
        bam._say(f"finished at {datetime.now(UTC).isoformat(timespec='seconds')}")
        return 0
    except bam.ChildFailed as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        for proc, _ in simulators.values():
            bam.stop_process(proc)
        for proc in list(bam._ACTIVE):
            bam.stop_process(proc)
        if not was_running:
            warehouse.stop()
        if args.workdir is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
