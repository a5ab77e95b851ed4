"""Benchmark: ``revops attribute paths --model all`` against ChannelAttribution on one file.

Generates N journeys (default 1,000,000, seeded) over ten channels from a first-order chain
with repeats, converting with a probability that depends on the channels touched, aggregates
them into the common CSV form (``path,total_conversions,total_conversion_value,total_null``),
then in the same run times, each as its own subprocess:

- ``revops attribute paths FILE --model all --out OUT`` (every model that works on paths:
  first_touch, last_touch, last_non_direct, linear, position_based, markov, shapley);
- ChannelAttribution's ``heuristic_models`` plus ``markov_model`` on the same file (reading the
  CSV with pandas included, as an analyst would), if the package is installed.

Each tool runs ``--repeat`` times (default 3, interleaved so both see the same machine load);
it prints every wall time, the best and the median, their ratios, each process's peak resident
memory (from ``wait4``), whether revops stayed under 2 GiB, and how far the two tools' answers
are apart.

    python scripts/bench_attribution.py                 # 1,000,000 journeys
    python scripts/bench_attribution.py --journeys 50000

ChannelAttribution is GPL and only ever runs here in a separate process; revops never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CHANNELS = (
    "paid_search",
    "paid_social",
    "email",
    "organic_search",
    "referral",
    "direct",
    "events",
    "display",
    "affiliate",
    "sales",
)
MAX_TOUCHES = 18  # (len(CHANNELS) + 1) ** 18 < 2 ** 63: a path fits in one int64 key
MEMORY_LIMIT = 2 * 1024**3

CA_SCRIPT = r"""
import json, sys, time, contextlib, io
t0 = time.perf_counter()
import pandas as pd
import ChannelAttribution as ca
t1 = time.perf_counter()
data = pd.read_csv(sys.argv[1])
t2 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    h = ca.heuristic_models(data, "path", "total_conversions",
                            var_value="total_conversion_value", sep=">", flg_pro=False)
t3 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    m = ca.markov_model(data, "path", "total_conversions", var_value="total_conversion_value",
                        var_null="total_null", sep=">", out_more=True, verbose=False,
                        flg_pro=False)
t4 = time.perf_counter()
h.to_csv(sys.argv[2] + ".heuristic.csv", index=False)
m["result"].merge(m["removal_effects"], on="channel_name").to_csv(
    sys.argv[2] + ".markov.csv", index=False)
print(json.dumps({"import": t1 - t0, "read_csv": t2 - t1, "heuristic_models": t3 - t2,
                  "markov_model": t4 - t3}))
"""


def generate(journeys: int, seed: int) -> pd.DataFrame:
    """``journeys`` synthetic journeys, aggregated into one row per distinct path."""
    rng = np.random.default_rng(seed)
    k = len(CHANNELS)
    start = rng.dirichlet(np.full(k, 2.0))
    trans = rng.dirichlet(np.full(k, 0.7), size=k)
    trans += np.eye(k) * 0.3  # repeats of a channel are common
    trans /= trans.sum(axis=1, keepdims=True)
    cum_trans = trans.cumsum(axis=1)
    lengths = np.minimum(rng.geometric(0.3, size=journeys), MAX_TOUCHES)
    current = np.searchsorted(start.cumsum(), rng.random(journeys) * start.sum())
    current = np.minimum(current, k - 1)
    key = (current + 1).astype(np.int64)
    touched = np.zeros((journeys, k), dtype=bool)
    touched[np.arange(journeys), current] = True
    base = np.int64(k + 1)
    place = np.full(journeys, base, dtype=np.int64)
    for step in range(1, MAX_TOUCHES):
        alive = np.flatnonzero(lengths > step)
        if len(alive) == 0:
            break
        u = rng.random(len(alive))
        nxt = (cum_trans[current[alive]] < u[:, None]).sum(axis=1)
        nxt = np.minimum(nxt, k - 1)
        current[alive] = nxt
        touched[alive, nxt] = True
        key[alive] += (nxt + 1) * place[alive]
        place[alive] *= base
    effect = np.array([0.6, 0.3, 0.4, 0.5, 0.2, 0.1, 0.9, -0.2, 0.0, 1.2])
    logit = -3.6 + touched @ effect + 0.05 * lengths
    converted = rng.random(journeys) < 1.0 / (1.0 + np.exp(-logit))
    value = np.where(converted, np.round(rng.lognormal(6.5, 0.8, journeys), 2), 0.0)
    uniq, inverse = np.unique(key, return_inverse=True)
    conv = np.bincount(inverse, weights=converted, minlength=len(uniq))
    val = np.bincount(inverse, weights=value, minlength=len(uniq))
    null = np.bincount(inverse, weights=~converted, minlength=len(uniq))
    names = np.array(CHANNELS, dtype=object)
    texts = []
    for code in uniq.tolist():
        parts = []
        while code:
            code, digit = divmod(code, int(base))
            parts.append(names[digit - 1])
        texts.append(" > ".join(parts))
    return pd.DataFrame(
        {
            "path": texts,
            "total_conversions": conv.astype(np.int64),
            "total_conversion_value": np.round(val, 2),
            "total_null": null.astype(np.int64),
        }
    )


@dataclass
class Run:
    """One timed subprocess."""

    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: list[str]) -> Run:
    """Run ``cmd``; wall time and peak resident memory of that process alone (wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss * 1024, proc.returncode, out.read(), err.read())


def revops_command() -> tuple[list[str], str]:
    """The ``revops attribute`` command next to this interpreter, else the module."""
    exe = shutil.which("revops", path=str(Path(sys.executable).parent))
    if exe:
        probe = subprocess.run(
            [exe, "attribute", "paths", "--help"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [exe, "attribute"], "revops attribute"
    return [sys.executable, "-m", "revops.attribution.cli"], "python -m revops.attribution.cli"


def ca_available() -> bool:
    """Whether ChannelAttribution can be imported by this interpreter (checked out of process)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import ChannelAttribution"], capture_output=True, check=False
    )
    return probe.returncode == 0


def compare(ours_csv: Path, ca_prefix: Path, total_conv: float) -> dict[str, float]:
    """Largest absolute difference per model between the two tools' channel totals."""
    ours = pd.read_csv(ours_csv).set_index("channel_name")
    h = pd.read_csv(f"{ca_prefix}.heuristic.csv").set_index("channel_name")
    m = pd.read_csv(f"{ca_prefix}.markov.csv").set_index("channel_name")
    h.index = h.index.astype(str).str.strip()
    m.index = m.index.astype(str).str.strip()
    out = {}
    for ours_col, ca_frame, ca_col in [
        ("first_touch_conversions", h, "first_touch_conversions"),
        ("last_touch_conversions", h, "last_touch_conversions"),
        ("linear_conversions", h, "linear_touch_conversions"),
        ("first_touch_value", h, "first_touch_value"),
        ("linear_value", h, "linear_touch_value"),
        ("markov_conversions", m, "total_conversions"),
        ("markov_removal_effect", m, "removal_effects_conversion"),
    ]:
        diff = (ours[ours_col] - ca_frame[ca_col].reindex(ours.index).fillna(0.0)).abs().max()
        out[ours_col] = float(diff)
    out["markov_conversions_share_of_total"] = out["markov_conversions"] / max(total_conv, 1.0)
    return out


def main(argv: list[str] | None = None) -> int:
    """Generate, run both tools, print the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (default 3)")
    parser.add_argument("--skip-ca", action="store_true", help="time revops only")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_attribution_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Generate the file in ``workdir``, time both tools on it, print what was measured."""
    paths_csv = workdir / f"paths_{args.journeys}.csv"
    began = time.perf_counter()
    frame = generate(args.journeys, args.seed)
    frame.to_csv(paths_csv, index=False)
    total_conv = float(frame["total_conversions"].sum())
    touches = frame["path"].str.count(">") + 1
    journeys = frame["total_conversions"] + frame["total_null"]
    print(
        f"generated {int(journeys.sum()):,} journeys over {len(CHANNELS)} channels: "
        f"{len(frame):,} distinct paths, {int(total_conv):,} conversions, "
        f"mean {float((touches * journeys).sum() / journeys.sum()):.2f} touches/journey "
        f"-> {paths_csv} ({paths_csv.stat().st_size / 1e6:.1f} MB) "
        f"in {time.perf_counter() - began:.1f}s"
    )

    base, label = revops_command()
    ours_csv = workdir / "revops_out.csv"
    ours_cmd = [*base, "paths", str(paths_csv), "--model", "all", "--out", str(ours_csv)]
    ca_prefix = workdir / "ca_out"
    ca_cmd = [sys.executable, "-c", CA_SCRIPT, str(paths_csv), str(ca_prefix)]
    with_ca = not args.skip_ca and ca_available()
    ours_runs: list[Run] = []
    ca_runs: list[Run] = []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        ours_runs.append(run_measured(ours_cmd))
        if ours_runs[-1].returncode != 0:
            print(
                f"revops failed ({ours_runs[-1].returncode}):\n{ours_runs[-1].stderr}",
                file=sys.stderr,
            )
            return 1
        if with_ca:
            ca_runs.append(run_measured(ca_cmd))
            if ca_runs[-1].returncode != 0:
                print(
                    f"ChannelAttribution failed ({ca_runs[-1].returncode}):\n{ca_runs[-1].stderr}",
                    file=sys.stderr,
                )
                return 1

    ours_best, ours_peak = summarize(f"revops ({label} paths --model all)", ours_runs)
    steps = run_measured([*ours_cmd, "--verbose"]).stderr.strip().splitlines()
    print("  one more run with --verbose, its steps:")
    for line in steps:
        print(f"    {line.removeprefix('revops attribute: ')}")
    under = ours_peak < MEMORY_LIMIT
    print(f"  peak memory under 2 GiB: {'yes' if under else 'NO'}")
    if not with_ca:
        if not args.skip_ca:
            print(
                "\nChannelAttribution is not importable here: nothing to compare against "
                "(pip install channelattribution)."
            )
        return 0 if under else 1

    ca_best, _ = summarize("ChannelAttribution (heuristic_models + markov_model)", ca_runs)
    best_steps = json.loads(min(ca_runs, key=lambda r: r.seconds).stdout.strip().splitlines()[-1])
    print(
        "  steps of its fastest run: " + ", ".join(f"{k} {v:.2f}s" for k, v in best_steps.items())
    )

    ratio = ours_best / ca_best
    median_ratio = statistics.median(r.seconds for r in ours_runs) / statistics.median(
        r.seconds for r in ca_runs
    )
    print(
        f"\ntime ratio revops / ChannelAttribution: {ratio:.3f} best of {args.repeat}, "
        f"{median_ratio:.3f} median ({'revops faster' if ratio < 1 else 'revops slower'}; "
        f"revops computes 7 models, ChannelAttribution 4)"
    )
    print("largest |revops - ChannelAttribution| per channel:")
    for name, diff in compare(ours_csv, ca_prefix, total_conv).items():
        print(f"  {name}: {diff:.6g}")
    return 0 if under else 1


def summarize(title: str, runs: list[Run]) -> tuple[float, int]:
    """Print the runs' wall times and peak memory; return the best time and the peak."""
    times = [r.seconds for r in runs]
    peak = max(r.peak_rss_bytes for r in runs)
    print(
        f"\n{title}: best {min(times):.2f}s, median {statistics.median(times):.2f}s wall "
        f"({', '.join(f'{t:.2f}' for t in times)}); peak RSS {peak / 2**20:.0f} MiB"
    )
    return min(times), peak


if __name__ == "__main__":
    sys.exit(main())
