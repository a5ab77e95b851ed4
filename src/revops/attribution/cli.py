"""``revops attribute ...``: attribution on channel paths from outside the warehouse.

    revops attribute paths FILE.csv [--model MODEL[,MODEL...]|all] [--out OUT.csv]

reads paths in the aggregated form ``path,total_conversions,total_conversion_value,total_null``
and prints (or writes with ``--out``) one row per channel: ``channel_name``, then
``<model>_conversions`` and ``<model>_value`` per model, and ``markov_removal_effect`` with
``markov``. Errors print one line to stderr and exit with status 2: a row with more or fewer
fields than the header (an unquoted comma in a channel name) and a header naming a column
twice are refused with the file and line, not read shifted. ``--out`` is written to a
temporary file renamed over it, so an error leaves no half-written or changed file. For big
files (or with ``--verbose``) the time each step took goes to stderr. ``--debug`` (or
``REVOPS_DEBUG=1``) prints the traceback of an error before its line.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
import traceback
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
from revops.config import write_atomically

PROG = "revops attribute"
BIG_FILE_ROWS = 100_000


class _UsageError(Exception):
    pass


class _OutError(Exception):
    """``--out`` cannot be written (its folder is missing, not writable, ...)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``revops attribute``."""
    parser = _Parser(prog=PROG, description="Attribution on paths from outside the warehouse.")
    debug_help = "print the traceback of an error (REVOPS_DEBUG=1 too)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
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
    paths.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    return parser


def _paths(args: argparse.Namespace) -> int:
    models = parse_models(args.model)
    if args.out:
        folder = Path(args.out).parent
        if not folder.is_dir():  # refused before the models run, not after
            raise _OutError(f"no such folder: {folder}; create it first or give another --out")
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
        try:
            write_atomically(Path(args.out), table.to_csv(index=False).encode("utf-8"))
        except OSError as exc:
            raise _OutError(
                f"cannot write it: {exc.strerror or exc}; check that folder's permissions "
                "and free space, or give another --out"
            ) from exc
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
            if len(row) == len(names) or not any(field.strip() for field in row):
                continue
            if len(row) > len(names):
                hint = (
                    f"a channel name with a {'comma' if sep == ',' else 'semicolon'} in it "
                    f'must be quoted, e.g. "email > Acme{sep} Inc > direct"'
                )
            else:
                hint = f"a value is missing; every row needs one per column ({sep.join(names)})"
            raise PathFileError(
                f"{len(row)} fields where the header has {len(names)}: {hint}",
                line=reader.line_num,
            )


def main(argv: Sequence[str] | None = None, debug: bool | None = None) -> int:
    """Run ``revops attribute`` with ``argv`` (starting at ``paths``); returns the exit status.

    ``debug`` (``revops --debug attribute ...``; read from REVOPS_DEBUG when None, as is
    ``--debug`` given here) prints the traceback of an error before its one line."""
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s", stream=sys.stderr)
    parser = build_parser()
    file = out = None
    try:
        if debug is None:
            from revops.settings import current

            debug = current().debug
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        debug = debug or bool(getattr(args, "debug", False))
        file, out = getattr(args, "file", None), getattr(args, "out", None)
        if args.command == "paths":
            return _paths(args)
        raise _UsageError(f"unknown command {args.command!r}")
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except _UsageError as exc:
        return _error(f"{exc} (see {PROG} paths --help)")
    except PathFileError as exc:
        return _error(f"{file}: {exc}", debug)
    except _OutError as exc:
        return _error(f"--out {out}: {exc}", debug)
    except FileNotFoundError as exc:
        where = exc.filename or file
        return _error(
            f"{where}: no such file; check the path (relative paths start at {os.getcwd()})",
            debug,
        )
    except (OSError, ValueError) as exc:
        return _error(str(exc), debug)


def _error(message: str, debug: bool | None = False) -> int:
    """One line ``revops attribute: error: ...`` on stderr (after the traceback with debug)."""
    if debug and sys.exc_info()[1] is not None:
        traceback.print_exc(file=sys.stderr)
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
