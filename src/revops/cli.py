"""The ``revops`` command: run any stage by hand, with the same code the Airflow DAGs run.

revops warehouse start|stop|url|status
revops simulate serve [--seed N] [--scale X] [--history-days D] [--port P]
revops simulate env --port P
revops extract SYSTEM|all [--until ISO] [--since ISO]
revops transform [-- DBT ARGS]
revops gate
revops report render|send --period 2026-W46
revops attribute paths FILE.csv [--model MODEL,...|all] [--out OUT.csv]
revops airflow start|stop|status|env [--workers N]
revops config [--check]
revops demo

Output: one line per result (``extract``: one per stream with rows, pages and seconds); nothing
else unless something failed. A failure ends with one line ``revops: error: ...`` saying what
was wrong and what to do, and a non-zero exit; ``--debug`` (or ``REVOPS_DEBUG=1``) also prints
the traceback and the libraries' own log. Every ``REVOPS_*`` setting is checked before any
command runs (:mod:`revops.settings`): a value revops cannot use stops it, naming the variable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

DEBUG_HELP = "on failure print the traceback; show the libraries' logs (REVOPS_DEBUG=1 too)"


def _cmd_warehouse(args: argparse.Namespace) -> int:
    from revops.warehouse import EmbeddedWarehouse, configured, current

    external = configured()
    if args.action == "url":
        target = external or current(start=False)
        print(target.url(show_password=args.show_password))
        return 0
    if external:
        print(
            f"REVOPS_WAREHOUSE_URL is set ({external.display}): revops does not manage "
            f"that server; unset it to use the embedded warehouse."
        )
        return 0 if args.action == "status" else 1
    embedded = EmbeddedWarehouse()
    if args.action == "start":
        embedded.start()
        print(f"warehouse running: {embedded.warehouse.display}")
        print('connect with: psql "$(revops warehouse url --show-password)"')
    elif args.action == "stop":
        print("warehouse stopped" if embedded.stop() else "warehouse was not running")
    else:
        running = embedded.is_running()
        state = "running" if running else "stopped"
        print(f"embedded warehouse {state}: {embedded.warehouse.display}")
        return 0 if running else 3
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from revops import simulator

    if args.action == "serve":
        simulator.run(
            seed=args.seed,
            scale=args.scale,
            host=args.host,
            port=args.port,
            faults=args.faults,
            as_of=args.as_of,
            history_days=args.history_days,
        )
        return 0
    simulator.print_env(port=args.port, host=args.host)
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from revops.pipeline import extract
    from revops.sources import SYSTEMS

    if not args.debug:  # the progress lines below say what these warnings say
        logging.getLogger("revops.pipeline").setLevel(logging.ERROR)
    systems = list(SYSTEMS) if args.system == "all" else [args.system]
    for system in systems:
        for line in extract_lines(extract(system, since=args.since, until=args.until)):
            print(line, flush=True)
    return 0


def extract_lines(outcome: dict[str, Any]) -> list[str]:
    """What ``revops extract`` prints for one system: where it went, one line per stream
    (rows, pages, seconds; an incomplete stream marked with where it stopped and why), a total."""
    system = outcome["system"]
    what = (
        f"backfill [{outcome['window_start']}, {outcome['window_end']})"
        if outcome["mode"] == "backfill"
        else f"incremental to {outcome['window_end']}"
    )
    lines = [f"{system}: {what} into {outcome['dataset']}"]
    streams = sorted(outcome.get("streams") or [], key=lambda s: s["stream"])
    width = max((len(f"{system}.{s['stream']}") for s in streams), default=0)
    for stream in streams:
        rows, pages, name = stream["rows"], stream["pages"], f"{system}.{stream['stream']}"
        line = (
            f"  {name:<{width}} {rows:>9,} {_plural(rows, 'row'):<4} "
            f"{pages:>5,} {_plural(pages, 'page'):<5} {stream['elapsed_s']:>5.1f} s"
        )
        if not stream["complete"]:
            where = f"at {stream['stopped_at']}" if stream["stopped_at"] else "before its end"
            line += f"  INCOMPLETE: stopped {where}: {stream['reason'] or 'no reason given'}"
        lines.append(line)
    total = sum(s["rows"] for s in streams) if streams else sum(outcome["rows"].values())
    summary = f"{system}: {total:,} rows in {len(streams)} {_plural(len(streams), 'stream')}"
    if not outcome.get("complete", True):
        short = sum(1 for s in streams if not s["complete"]) or len(outcome.get("stopped") or {})
        summary += (
            f"; INCOMPLETE: {short} {_plural(short, 'stream')} stopped early "
            "(the next run resumes; the gate blocks reports it does not cover)"
        )
    if outcome.get("rejected"):
        summary += f"; set aside in {outcome['dataset']}._rejected: " + ", ".join(
            f"{stream} {count:,}" for stream, count in sorted(outcome["rejected"].items())
        )
    if outcome.get("variant_columns"):
        changed = sorted(outcome["variant_columns"].items())
        summary += "; values that changed type: " + ", ".join(
            f"{table} ({', '.join(cols)})" for table, cols in changed
        )
    lines.append(summary)
    return lines


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _cmd_transform(args: argparse.Namespace) -> int:
    if args.dbt_args:  # a dbt command of the user's own
        from revops.transform import run_dbt
        from revops.warehouse import warehouse_url

        run_dbt(args.dbt_args, warehouse_url())
        return 0
    from revops.pipeline import transform

    transform()
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    from revops.config import out_dir
    from revops.pipeline import report_periods
    from revops.reports.periods import parse_period
    from revops.reports.publish import check_and_record

    labels = args.period or report_periods(None)
    outcome = check_and_record(
        [parse_period(p) for p in labels],
        args.run_key,
        docs_dir=out_dir() / "data_docs",
        alert=args.alert,
    )
    print(outcome.result.summary())
    if args.alert and outcome.alert_error:
        print(outcome.alert_error, file=sys.stderr)
    if args.json:
        print(json.dumps(outcome.to_dict(), default=str, indent=2))
    return 0 if outcome.result.passed else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from revops.config import out_dir
    from revops.pipeline import report_period, send_report
    from revops.reports.periods import parse_period
    from revops.reports.send import archive_report
    from revops.warehouse import connect

    period = args.period if args.period is not None else report_period(None)
    if args.action == "render":
        with connect() as conn:
            archived = archive_report(conn, parse_period(period), out_dir())
        print(f"rendered {period}: {archived.html_path} and {archived.pdf_path}")
        return 0
    outcome = send_report(period, run_key=args.run_key)
    refusals = []
    for sent in outcome["sent"]:
        delivered = sent.get("delivered_to") or []
        if sent["already_sent"]:
            state = "already sent for this run key"
        else:
            state = f"sent to {', '.join(delivered)}" if delivered else "sent to nobody"
        print(
            f"report {sent['period']}: {state}; archived at {sent['html_path']} "
            f"and {sent['pdf_path']}"
        )
        if sent.get("refused"):
            refusals.append(
                f"report {sent['period']}: the mail server refused "
                + "; ".join(f"{addr} ({why})" for addr, why in sent["refused"].items())
            )
    if refusals:
        print(
            f"revops: error: {'; '.join(refusals)}; run the same `revops report send` again "
            "(same --run-key) to send to them only",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_attribute(args: argparse.Namespace) -> int:
    from revops.attribution.cli import main as attribute_main

    return attribute_main(args.attribute_args)


def _cmd_config(args: argparse.Namespace) -> int:
    from revops.settings import config_lines, fields

    if args.check_only:  # main() has read and checked every setting before this runs
        print(f"revops: {len(fields())} settings checked, all usable")
        return 0
    print("\n".join(config_lines()))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from revops.demo import run_demo

    return run_demo(seed=args.seed, scale=args.scale)


def _cmd_airflow(args: argparse.Namespace) -> int:
    from revops.orchestration import service

    settings = service.Settings.from_env(workers=args.workers)
    if args.action == "start":
        service.start(settings)
    elif args.action == "stop":
        service.stop(settings)
    elif args.action == "status":
        lines, running = service.status(settings)
        print("\n".join(lines))
        return 0 if running else 3
    else:
        print("\n".join(service.env_exports(settings)))
    return 0


def _iso(value: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when it names no offset), for argparse."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 date or date-time; "
            "give e.g. 2026-11-02 or 2026-11-02T09:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _period(value: str) -> str:
    """A report period label (``2026-W46`` or ``2026-11``), checked before anything runs."""
    from revops.reports.periods import parse_period

    if not value.strip():
        raise argparse.ArgumentTypeError(
            "empty; give an ISO week like 2026-W46 or a month like 2026-11, or leave --period "
            "out for the default"
        )
    try:
        return parse_period(value).label
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--until`` not in the future (beyond a little clock skew), ``--since`` before it."""
    from revops.sources.base import MAX_CLOCK_SKEW

    now = datetime.now(UTC)
    if args.until is not None and args.until > now + MAX_CLOCK_SKEW:
        parser.error(
            f"argument --until: {args.until.isoformat()} is in the future (now "
            f"{now:%Y-%m-%dT%H:%M:%S}Z): the incremental cursors would move there and later "
            "runs would read nothing new; give a time up to now, or leave --until out"
        )
    if args.since is not None:
        until = args.until or now
        shown = args.until.isoformat() if args.until is not None else "(now)"
        if args.since >= until:
            parser.error(
                f"argument --since: the window is empty: --since {args.since.isoformat()} "
                f"is not before --until {shown}; give a --since earlier than --until"
            )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    from revops.vocabulary import SYSTEMS

    parser = argparse.ArgumentParser(
        prog="revops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=DEBUG_HELP,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    wh = sub.add_parser("warehouse", help="start, stop or locate the warehouse")
    wh.add_argument("action", choices=["start", "stop", "url", "status"])
    wh.add_argument(
        "--show-password",
        action="store_true",
        help="url: print the password instead of *** (it goes to your terminal and history)",
    )
    wh.set_defaults(func=_cmd_warehouse)

    sim = sub.add_parser("simulate", help="the loopback vendor simulator")
    sim.add_argument("action", choices=["serve", "env"])
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument("--scale", type=float, default=1.0)
    sim.add_argument(
        "--history-days",
        type=int,
        default=None,
        help="how far back the company's data goes (default a year; the same people per day)",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument(
        "--port", type=int, default=8765, help="first of six consecutive ports (one per vendor)"
    )
    sim.add_argument(
        "--faults", default=None, help="RATE[:KINDS], e.g. 0.1 or 0.1:429,500,reset,truncate,slow"
    )
    sim.add_argument("--as-of", default=None, help="the simulated clock (ISO date or date-time)")
    sim.set_defaults(func=_cmd_simulate)

    ex = sub.add_parser("extract", help="run one connector (or all) into raw_<system>")
    ex.add_argument(
        "system",
        choices=[*SYSTEMS, "all"],
    )
    ex.add_argument(
        "--until",
        type=_iso,
        default=None,
        help="end of the window (exclusive), ISO 8601; default now",
    )
    ex.add_argument(
        "--since",
        type=_iso,
        default=None,
        help="backfill: re-extract exactly [SINCE, UNTIL) (ISO 8601; days for daily streams) "
        "without moving the incremental cursors; default: incremental from the cursors",
    )
    ex.set_defaults(func=_cmd_extract, check=_check_window)

    tr = sub.add_parser(
        "transform",
        help="build the marts (dbt + data-driven attribution); "
        "extra arguments run that dbt command instead",
    )
    tr.add_argument("dbt_args", nargs=argparse.REMAINDER)
    tr.set_defaults(func=_cmd_transform)

    gate = sub.add_parser("gate", help="run the quality gate; exit 1 on a blocking failure")
    gate.add_argument("--json", action="store_true", help="also print the result as JSON")
    gate.add_argument(
        "--period",
        action="append",
        type=_period,
        help="2026-W46 or 2026-11 (repeatable); default the periods due now",
    )
    gate.add_argument("--run-key", default="manual", help="recorded with the gate run")
    gate.add_argument(
        "--alert",
        action="store_true",
        help="e-mail REVOPS_ALERT_RECIPIENTS when it fails (as the DAG does)",
    )
    gate.set_defaults(func=_cmd_gate)

    rep = sub.add_parser("report", help="render or send the leadership report")
    rep.add_argument("action", choices=["render", "send"])
    rep.add_argument(
        "--period", type=_period, help="2026-W46 or 2026-11; default the last complete week"
    )
    rep.add_argument("--run-key", default="manual", help="send once per run key")
    rep.set_defaults(func=_cmd_report)

    att = sub.add_parser(
        "attribute", help="attribution on paths from outside the warehouse", add_help=False
    )
    att.add_argument("attribute_args", nargs=argparse.REMAINDER)
    att.set_defaults(func=_cmd_attribute)

    af = sub.add_parser(
        "airflow",
        help="run Airflow as a service on this machine (UI and API on 127.0.0.1)",
        description="start: api-server, dag-processor, scheduler, triggerer (and Celery "
        "workers with REVOPS_AIRFLOW_EXECUTOR=celery), metadata in PostgreSQL, pools and the "
        "revops_warehouse connection applied; stop: by process group; status: each "
        "component, the UI's URL and login; env: the `export` lines that point the plain "
        "`airflow` CLI at it (they include the service's secrets and database URL).",
    )
    af.add_argument("action", choices=["start", "stop", "status", "env"])
    af.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Celery worker processes (REVOPS_AIRFLOW_EXECUTOR=celery only; default 2)",
    )
    af.set_defaults(func=_cmd_airflow)

    cfg = sub.add_parser(
        "config",
        help="list every REVOPS_* setting: value (secrets ***) and source (env or default)",
    )
    cfg.add_argument(
        "--check",
        action="store_true",
        dest="check_only",
        help="only check every setting; exit 1 naming any bad one",
    )
    cfg.set_defaults(func=_cmd_config)

    demo = sub.add_parser("demo", help="the whole pipeline on the simulator and embedded warehouse")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.set_defaults(func=_cmd_demo)
    for name, command in sub.choices.items():
        if name != "attribute":  # `revops attribute` has its own parser, which takes it too
            command.add_argument(  # after the command as well: `revops extract hubspot --debug`
                "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
            )
    return parser


KNOWN_ERRORS = (
    "ConfigError",
    "WarehouseError",
    "SourceError",
    "DbtError",
    "GateFailed",
    "GateNotPassed",
    "DagRunFailed",
    "ReportError",
    "ReportSendError",
    "GateConfigError",
    "SmtpConfigError",
    "ServiceError",
    "ValueError",
    "FileNotFoundError",
)
"""Errors whose message is meant for the user (matched by class name, subclasses included, so
reporting one imports nothing): one line, no traceback unless --debug."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``revops`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    lead = 1 if argv[:1] == ["--debug"] else 0  # before the command (or after it, parsed below)
    try:  # every setting is read and checked before any command runs
        from revops.settings import current

        debug = current().debug or bool(lead)
    except ValueError as err:  # a setting revops cannot use, named
        if not {"-h", "--help"} & set(argv):  # help is still shown
            return _report_error(err, bool(lead))
        debug = bool(lead)
    if argv[lead : lead + 1] == ["attribute"]:
        # its own parser, so `revops attribute --help` reaches it
        from revops.attribution.cli import main as attribute_main

        return attribute_main(argv[lead + 1 :], debug=debug)
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = debug or bool(getattr(args, "debug", False))
    args.debug = debug
    _quiet_logging(debug)
    check = getattr(args, "check", None)
    if check is not None:
        check(_subparser(parser, args.command), args)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("revops: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        return _report_error(err, debug)


def _quiet_logging(debug: bool) -> None:
    """Warnings (revops's own) as short lines on stderr; dlt's log only with --debug."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "INFO" if debug else "ERROR")  # dlt's logger
    logging.basicConfig(
        level=logging.INFO if debug else logging.WARNING,
        format="revops: %(levelname)s: %(name)s: %(message)s"
        if debug
        else "revops: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not debug:
        for noisy in ("dlt", "sqlfluff", "great_expectations", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    return parser


def _report_error(err: BaseException, debug: bool) -> int:
    """Print a failure: the traceback with --debug or when it is not a known error, then one
    last line ``revops: error: ...``. Returns the exit status (1)."""
    known = any(cls.__name__ in KNOWN_ERRORS for cls in type(err).__mro__)
    if debug or not known:
        traceback.print_exception(err, file=sys.stderr)
    if isinstance(err, FileNotFoundError) and err.filename:
        message = (
            f"no such file or folder: {err.filename}; check the path (relative paths start "
            f"at {os.getcwd()})"
        )
    else:
        message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    if not known:
        message = (
            f"unexpected {type(err).__name__}: {message or '(no message)'}; this is a bug in "
            "revops: please report it with the traceback above"
        )
    print(f"revops: error: {message}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
