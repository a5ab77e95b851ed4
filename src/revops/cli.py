"""The ``revops`` command: run any stage by hand, with the same code the Airflow DAGs run.

revops warehouse start|stop|url|status
revops simulate serve [--seed N] [--scale X] [--port P]
revops simulate env --port P
revops extract SYSTEM|all [--until ISO] [--since ISO]
revops transform [-- DBT ARGS]
revops gate
revops report render|send --period 2026-W46
revops attribute paths FILE.csv [--model MODEL,...|all] [--out OUT.csv]
revops airflow start|stop|status|env [--workers N]
revops demo
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime


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
        )
        return 0
    simulator.print_env(port=args.port, host=args.host)
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from revops.pipeline import extract
    from revops.sources import SYSTEMS

    systems = list(SYSTEMS) if args.system == "all" else [args.system]
    for system in systems:
        outcome = extract(system, since=args.since, until=args.until)
        rows = outcome["rows"]
        detail = ", ".join(f"{table} {count:,}" for table, count in sorted(rows.items()))
        what = (
            f"backfill [{outcome['window_start']}, {outcome['window_end']})"
            if outcome["mode"] == "backfill"
            else f"incremental to {outcome['window_end']}"
        )
        print(f"{system}: {sum(rows.values()):,} rows into {outcome['dataset']}, {what} ({detail})")
    return 0


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

    period = args.period or report_period(None)
    if args.action == "render":
        with connect() as conn:
            archived = archive_report(conn, parse_period(period), out_dir())
        print(f"rendered {period}: {archived.html_path} and {archived.pdf_path}")
        return 0
    outcome = send_report(period, run_key=args.run_key)
    for sent in outcome["sent"]:
        state = (
            "already sent for this run key"
            if sent["already_sent"]
            else f"sent to {', '.join(sent['recipients'])}"
        )
        print(
            f"report {sent['period']}: {state}; archived at {sent['html_path']} "
            f"and {sent['pdf_path']}"
        )
    return 0


def _cmd_attribute(args: argparse.Namespace) -> int:
    from revops.attribution.cli import main as attribute_main

    return attribute_main(args.attribute_args)


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
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="revops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
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
        choices=[
            "hubspot",
            "salesforce",
            "google_ads",
            "meta_ads",
            "linkedin_ads",
            "mailchimp",
            "all",
        ],
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
    ex.set_defaults(func=_cmd_extract)

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
    rep.add_argument("--period", help="2026-W46 or 2026-11; default the last complete week")
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

    demo = sub.add_parser("demo", help="the whole pipeline on the simulator and embedded warehouse")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``revops`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["attribute"]:  # its own parser, so `revops attribute --help` reaches it
        from revops.attribution.cli import main as attribute_main

        return attribute_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # every known failure carries a message meant for the user
        known = (
            "WarehouseError",
            "SettingsError",
            "SourceError",
            "DbtError",
            "GateFailed",
            "DagRunFailed",
            "ReportError",
            "ReportSendError",
            "GateConfigError",
            "GateNotPassed",
            "SmtpConfigError",
            "ServiceError",
            "ValueError",
            "FileNotFoundError",
        )
        if type(err).__name__ in known:
            print(f"revops: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
