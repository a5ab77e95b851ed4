"""``revops attribute ...``: attribution on channel paths from outside the warehouse.

    revops attribute paths FILE.csv [--model MODEL[,MODEL...]|all] [--out OUT.csv]

reads paths in the aggregated form ``path,total_conversions,total_conversion_value,total_null``
and prints (or writes with ``--out``) one row per channel: ``channel_name``, then
``<model>_conversions`` and ``<model>_value`` per model, and ``markov_removal_effect`` with
``markov``. Errors print one line to stderr and exit with status 2: a row with more or fewer
fields than the header (an unquoted comma in a channel name) and a header naming a column
twice are refused with the file and line, not read shifted. ``--out`` is written to a
temporary file renamed over it, so an error leaves no half-written or changed file. For big
files (or with ``--verbose``) the time each step took goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from revops.attribution.paths import (
    PATH_MODELS,
    PathFileError,
    attribute_paths,
    encode_paths,
    parse_models,
    read_paths_frame,
)

PROG = "revops attribute"
BIG_FILE_ROWS = 100_000


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``revops attribute``."""
    parser = _Parser(prog=PROG, description="Attribution on paths from outside the warehouse.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    paths = sub.add_parser(
        "paths",
        help="credit channels of aggregated paths (path,total_conversions,"
        "total_conversion_value,total_null)",
        description="Credit the channels of aggregated paths under one or more models.",
    )
    paths.add_argument("file", help="CSV: path,total_conversions,total_conversion_value,total_null")
    paths.add_argument(
        "--model",
        default="all",
        help=f"comma-separated models, or all ({', '.join(PATH_MODELS)}); default all",
    )
    paths.add_argument("--out", help="write the CSV here instead of stdout")
    paths.add_argument("--verbose", action="store_true", help="timings to stderr")
    return parser


def _paths(args: argparse.Namespace) -> int:
    models = parse_models(args.model)
    started = time.perf_counter()
    check_csv_shape(args.file)
    frame = read_paths_frame(args.file)
    big = args.verbose or len(frame) >= BIG_FILE_ROWS

    def note(step: str, since: float) -> float:
        now = time.perf_counter()
        if big:
            print(f"{PROG}: {step} in {now - since:.2f}s", file=sys.stderr, flush=True)
        return now

    mark = note(f"read {len(frame):,} paths from {args.file}", started)
    paths = encode_paths(frame, aggregate=True)
    # a float sum: two valid totals near the largest float may add up past it (shown as inf)
    journeys = float(paths.conversions.sum()) + float(paths.nulls.sum())
    mark = note(
        f"encoded {paths.n_paths:,} distinct paths, {len(paths.codes):,} touches over "
        f"{paths.n_channels} channels, {journeys:,.0f} journeys",
        mark,
    )
    table = None
    for model in models:
        part = attribute_paths(paths, [model])
        table = part if table is None else table.merge(part, on="channel_name", how="outer")
        mark = note(f"model {model}", mark)
    assert table is not None
    table = table.fillna(0.0).sort_values("channel_name", kind="stable").reset_index(drop=True)
    if args.out:
        write_atomically(Path(args.out), table.to_csv(index=False))
    else:
        table.to_csv(sys.stdout, index=False)
    note("total", started)
    return 0


def check_csv_shape(file: str) -> None:
    """Refuse a paths CSV whose header names a column twice or whose rows do not have exactly
    the header's number of fields (pandas would take a surplus first field as the index and
    shift every column: ``email > Acme, Inc > direct`` credited a channel ``Inc``)."""
    with open(file, encoding="utf-8-sig", newline="") as handle:
        header = handle.readline()
        sep = ";" if ";" in header and "," not in header else ","
        handle.seek(0)
        reader = csv.reader(handle, delimiter=sep)
        names = [name.strip() for name in next(reader, [])]
        seen: dict[str, int] = {}
        for position, name in enumerate(names, start=1):
            if name in seen:
                raise PathFileError(
                    f"the header names column {name!r} twice (columns {seen[name]} and "
                    f"{position}); keep one of them",
                    line=1,
                )
            seen[name] = position
        for row in reader:
            if len(row) != len(names) and any(field.strip() for field in row):
                raise PathFileError(
                    f"{len(row)} fields where the header has {len(names)}: a channel name "
                    f"with a {'comma' if sep == ',' else 'semicolon'} in it must be quoted, "
                    f'e.g. "email > Acme{sep} Inc > direct"',
                    line=reader.line_num,
                )


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``: readers
    see the old file or the whole new one, and a failure leaves ``path`` as it was."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``revops attribute`` with ``argv`` (starting at ``paths``); returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s", stream=sys.stderr)
    parser = build_parser()
    file = None
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        file = getattr(args, "file", None)
        if args.command == "paths":
            return _paths(args)
        raise _UsageError(f"unknown command {args.command!r}")
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except _UsageError as exc:
        print(f"{PROG}: error: {exc} (see {PROG} paths --help)", file=sys.stderr)
        return 2
    except PathFileError as exc:
        print(f"{PROG}: error: {file}: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
