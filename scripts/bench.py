"""Benchmark: extract-load throughput against plain ``COPY``, and time and memory at 1x and 10x.

In one run, against the vendor simulator (served from its own process, so its memory is not
counted) and an embedded PostgreSQL in a temporary directory:

1. **Throughput.** Every system is extracted once at the demo's scale (``--scale``, default
   1.0) to find the largest stream. That stream is then extracted again on its own into an
   empty warehouse (a first load: appended), timed end to end (HTTP, parsing, dlt normalize,
   load), then the same rows again (a backfill of the whole history: merged), and the same rows
   are loaded by a plain PostgreSQL ``COPY ... FROM STDIN`` (CSV already in memory) into a table
   of the same columns. It prints the end-to-end rate against ``COPY``, and dlt's normalize +
   load as a share of ``COPY`` for the first load (aim >= 0.3), the merges (aim >= 0.25): the
   same rows unchanged (the MERGE compares and writes nothing) and the same rows after one
   column of every row was changed in the warehouse (the MERGE rewrites every row) and,
   unless ``--no-dicts``, the former path with rows as dicts (``REVOPS_LOAD_BATCH_ROWS=0``).
2. **Scale.** At 1x and at ``--memory-factor`` (default 10) times the scale, a simulator is
   started for that company (its lazily generated email activity and clicks built before it
   serves: a vendor's data exists before it is read); the largest stream alone is extracted
   and loaded end to end into
   an empty database (the aim: 10x the data within 11x the time), and its whole system is
   extracted in a child process for its peak resident memory (``ru_maxrss``; aim at most 1.5x).

    python scripts/bench.py                   # make bench
    python scripts/bench.py --scale 0.2 --memory-factor 5   # a quicker look
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

AS_OF = "2026-11-02T00:00:00+00:00"
SEED = 42
BACKFILL_SINCE = "2000-01-01T00:00:00+00:00"  # before any simulated history: every row again


def free_ports(count: int = 6, start: int = 21000) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    port = start
    while port < 60000:
        try:
            for offset in range(count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            port += count
    raise RuntimeError("no free ports")


def start_simulator(scale: float, home: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """The simulator in a child process; returns it and the environment pointing at it."""
    from revops.simulator import env_exports

    port = free_ports()
    cert_dir = home / "tls"
    code = (
        "import sys; from revops.simulator import Company, SimulatorServer; "
        f"c = Company.generate(seed={SEED}, scale={scale}, as_of={AS_OF!r}); "
        # the vendor's data exists before anyone asks: build the lazily generated email
        # activity and clicks now, so a timed extract measures reading them, not making them
        "c.email_events; c.clicks; "
        f"SimulatorServer(c, port={port}, cert_dir={str(cert_dir)!r}).serve_forever()"
    )
    env = {**os.environ, "REVOPS_HOME": str(home / "state")}
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port + 5), timeout=1):
                break
        except OSError:
            if child.poll() is not None:
                raise RuntimeError("the simulator did not start") from None
            time.sleep(0.5)
    return child, env_exports(port, cert_dir=cert_dir)


def run_child(
    system: str,
    url: str,
    env: dict[str, str],
    home: Path,
    streams: str = "",
    since: str = "",
    extra_env: dict[str, str] | None = None,
) -> dict:
    """One extract in a child process: its rows, wall time and peak memory (``since``: a
    backfill of ``[since, AS_OF)``, which reads the same rows again and merges them)."""
    args = [sys.executable, __file__, "--child", system, "--warehouse", url, "--streams", streams]
    if since:
        args += ["--since", since]
    full_env = {**os.environ, **env, "REVOPS_HOME": str(home), **(extra_env or {})}
    done = subprocess.run(args, env=full_env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"extract {system} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(system: str, url: str, streams: str, since: str = "") -> None:
    """Child side: run the extract, print what it did as JSON."""
    from revops.sources import run_extract

    began = time.perf_counter()
    result = run_extract(
        system,
        url,
        until=datetime.fromisoformat(AS_OF),
        streams=streams.split(",") if streams else None,
        since=datetime.fromisoformat(since) if since else None,
    )
    seconds = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from revops.sources import pipeline_for

    trace = pipeline_for(system, url).last_trace
    steps = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in (trace.steps if trace else [])
        if step.step in ("extract", "normalize", "load")
    }
    print(
        json.dumps(
            {"rows": result.rows, "seconds": seconds, "peak_mib": peak_kib / 1024, "steps": steps}
        )
    )


def copy_rate(url: str, schema: str, table: str) -> tuple[int, float]:
    """Rows and seconds for a plain COPY of the loaded rows into a same-shaped table."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s "
                "and table_name = %s and column_name not like '\\_dlt%%' order by ordinal_position",
                (schema, table),
            )
        ]
        column_list = ", ".join(f'"{c}"' for c in columns)
        buffer = io.BytesIO()
        with conn.cursor().copy(
            f'copy (select {column_list} from {schema}."{table}") to stdout (format csv)'
        ) as copy:
            for chunk in copy:
                buffer.write(chunk)
        data = buffer.getvalue()
        conn.execute("create schema if not exists bench_copy")
        conn.execute(f'drop table if exists bench_copy."{table}"')
        conn.execute(
            f'create table bench_copy."{table}" as select {column_list} from {schema}."{table}" '
            "with no data"
        )
        began = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(
                f'copy bench_copy."{table}" ({column_list}) from stdin (format csv)'
            ) as copy,
        ):
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])
        seconds = time.perf_counter() - began
        rows = conn.execute(f'select count(*) from bench_copy."{table}"').fetchone()[0]
    return rows, seconds


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print what it measured."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--memory-factor", type=float, default=10.0)
    parser.add_argument("--systems", default="", help="comma-separated (default: all six)")
    parser.add_argument(
        "--no-dicts",
        dest="dicts",
        action="store_false",
        help="skip the comparison run with rows handed to dlt as dicts",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    parser.add_argument("--streams", default="", help=argparse.SUPPRESS)
    parser.add_argument("--since", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, args.warehouse, args.streams, args.since)
        return 0

    from revops.sources import SYSTEMS
    from revops.warehouse import EmbeddedWarehouse

    home = Path(tempfile.mkdtemp(prefix="revops-bench-"))
    warehouse = EmbeddedWarehouse(home / "warehouse")
    url = warehouse.start()
    simulators: list[subprocess.Popen] = []
    try:
        print(f"extract benchmark: seed {SEED}, scale {args.scale}, as of {AS_OF}", flush=True)
        sim, env = start_simulator(args.scale, home / "sim1")
        simulators.append(sim)
        loaded: dict[str, dict] = {}
        for system in args.systems.split(",") if args.systems else SYSTEMS:
            loaded[system] = run_child(system, url, env, home / "runs" / system)
            total = sum(loaded[system]["rows"].values())
            print(
                f"  {system:13s} {total:9,d} rows in {loaded[system]['seconds']:6.1f}s, "
                f"peak {loaded[system]['peak_mib']:.0f} MiB",
                flush=True,
            )
        system, table, rows = max(
            ((s, t, n) for s, r in loaded.items() for t, n in r["rows"].items()),
            key=lambda item: item[2],
        )
        print(f"largest stream: {system}.{table} ({rows:,d} rows)")

        # throughput: that stream alone into an empty database
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("create database bench_one")
        one_url = url.rsplit("/", 1)[0] + "/bench_one"
        resource_name = _owning_resource(system, table)
        alone = run_child(system, one_url, env, home / "runs" / "alone", resource_name)
        alone_rows = alone["rows"].get(table, 0)
        extract_rate = alone_rows / alone["seconds"]
        # the same rows again: a backfill of the whole history into the loaded table merges
        merged = run_child(
            system, one_url, env, home / "runs" / "alone", resource_name, since=BACKFILL_SINCE
        )
        merged_rows = merged["rows"].get(table, 0)
        # and again after every row changed in the warehouse: the MERGE rewrites them all
        changed_column = _touch_every_row(one_url, system, table)
        rewritten = run_child(
            system, one_url, env, home / "runs" / "alone", resource_name, since=BACKFILL_SINCE
        )
        copied, copy_seconds = copy_rate(one_url, f"raw_{system}", table)
        copy_speed = copied / copy_seconds
        print(
            f"extract-load {system}.{table}: {alone_rows:,d} rows in {alone['seconds']:.2f}s = "
            f"{extract_rate:,.0f} rows/s (HTTP + parse + normalize + load; a first load)"
        )
        steps = alone["steps"]
        print(
            "  of which: "
            + ", ".join(f"{name} {secs:.2f}s" for name, secs in steps.items())
            + f", start-up and the rest {alone['seconds'] - sum(steps.values()):.2f}s"
        )
        print(
            f"plain COPY of the same rows: {copied:,d} rows in {copy_seconds:.2f}s = "
            f"{copy_speed:,.0f} rows/s"
        )
        print(f"ratio extract-load / COPY: {extract_rate / copy_speed:.3f}")
        shares = {
            "first load (append)": (alone_rows, alone["steps"], 0.3),
            "same rows again (merge, no row changed)": (merged_rows, merged["steps"], 0.25),
            f"same rows again (merge, every row's {changed_column} changed)": (
                rewritten["rows"].get(table, 0),
                rewritten["steps"],
                0.25,
            ),
        }
        if args.dicts:  # the former path, rows handed to dlt as dicts, on the same rows
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute("create database bench_dicts")
            dicts_url = url.rsplit("/", 1)[0] + "/bench_dicts"
            dicts = run_child(
                system,
                dicts_url,
                env,
                home / "runs" / "dicts",
                resource_name,
                extra_env={"REVOPS_LOAD_BATCH_ROWS": "0"},
            )
            shares["first load, rows as dicts (REVOPS_LOAD_BATCH_ROWS=0)"] = (
                dicts["rows"].get(table, 0),
                dicts["steps"],
                0.0,
            )
        for label, (rows_in, run_steps, aim) in shares.items():
            loading = run_steps.get("normalize", 0) + run_steps.get("load", 0)
            if not loading:
                continue
            share = rows_in / loading / copy_speed
            print(
                f"dlt normalize + load, {label}: {rows_in:,d} rows in {loading:.2f}s = "
                f"{rows_in / loading:,.0f} rows/s = {share:.3f} of COPY"
                + (f" (aim >= {aim})" if aim else "")
            )

        # 1x and the factor: the largest stream alone timed end to end, then its whole system
        # for peak memory
        sim.terminate()
        sim.wait()
        simulators.clear()
        peaks = {}
        timed: dict[float, tuple[int, float]] = {}
        for factor in (1.0, args.memory_factor):
            scale = args.scale * factor
            began = time.perf_counter()
            sim, env = start_simulator(scale, home / f"sim-{factor}")
            simulators.append(sim)
            print(
                f"simulator at {factor:g}x (scale {scale:g}) ready in "
                f"{time.perf_counter() - began:.1f}s",
                flush=True,
            )
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'create database "bench_mem_{int(factor)}"')
                conn.execute(f'create database "bench_stream_{int(factor)}"')
            stream_url = url.rsplit("/", 1)[0] + f"/bench_stream_{int(factor)}"
            one = run_child(
                system, stream_url, env, home / "runs" / f"stream-{factor}", resource_name
            )
            timed[factor] = (one["rows"].get(table, 0), one["seconds"])
            print(
                f"extract-load {system}.{table} at {factor:g}x: {timed[factor][0]:,d} rows in "
                f"{one['seconds']:.2f}s ("
                + ", ".join(f"{name} {secs:.2f}s" for name, secs in one["steps"].items())
                + ")",
                flush=True,
            )
            mem_url = url.rsplit("/", 1)[0] + f"/bench_mem_{int(factor)}"
            result = run_child(system, mem_url, env, home / "runs" / f"mem-{factor}")
            peaks[factor] = result["peak_mib"]
            total = sum(result["rows"].values())
            print(
                f"memory {system} at {factor:g}x (scale {scale:g}): {total:,d} rows, "
                f"peak {result['peak_mib']:.0f} MiB in {result['seconds']:.1f}s",
                flush=True,
            )
            sim.terminate()
            sim.wait()
            simulators.clear()
        (rows_1, secs_1), (rows_n, secs_n) = timed[1.0], timed[args.memory_factor]
        print(
            f"extract-load {system}.{table} {args.memory_factor:g}x / 1x: "
            f"{rows_n / max(rows_1, 1):.2f}x the rows in {secs_n / secs_1:.2f}x the time "
            f"(aim: at most {args.memory_factor * 1.1:g}x the time for "
            f"{args.memory_factor:g}x the data)"
        )
        ratio = peaks[args.memory_factor] / peaks[1.0]
        print(f"peak memory {args.memory_factor:g}x / 1x: {ratio:.2f} (aim <= 1.5)")
        print(f"finished at {datetime.now(UTC).isoformat(timespec='seconds')}")
    finally:
        for sim in simulators:
            sim.terminate()
            sim.wait()
        warehouse.stop()
        shutil.rmtree(home, ignore_errors=True)
    return 0


def _touch_every_row(url: str, system: str, table: str) -> str:
    """Change one value column of every row of ``raw_<system>.<table>`` (not timed), so the next
    merge of the same rows finds each of them changed; returns the column's name."""
    import importlib

    import psycopg

    from revops.sources import SYSTEMS, dataset_name

    stream = importlib.import_module(SYSTEMS[system].partition(":")[0]).STREAMS[table]
    key = {stream.primary_key} if isinstance(stream.primary_key, str) else set(stream.primary_key)
    schema = dataset_name(system)
    with psycopg.connect(url, autocommit=True) as conn:
        column = next(
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s "
                "and table_name = %s and data_type in ('text', 'character varying') "
                "and column_name not like '\\_dlt%%' order by ordinal_position",
                (schema, table),
            )
            if name not in key
        )
        conn.execute(
            f'update {schema}."{table}" set "{column}" = coalesce("{column}", \'\') || \'~\''
        )
        conn.execute(f'vacuum analyze {schema}."{table}"')
    return column


def _owning_resource(system: str, table: str) -> str:
    """The resource that writes ``table`` (HubSpot deals write their history and contacts)."""
    owners = {
        ("hubspot", "deal_stage_history"): "deals",
        ("hubspot", "deal_contacts"): "deals",
        ("hubspot", "deal_pipeline_stages"): "deal_pipelines",
    }
    return owners.get((system, table), table)


if __name__ == "__main__":
    sys.exit(main())
