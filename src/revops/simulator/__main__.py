"""``python -m revops.simulator``: serve the simulator in the foreground, or print its env.

``revops simulate serve`` / ``revops simulate env`` do the same.
"""

from __future__ import annotations

import argparse

from revops.simulator.credentials import print_env
from revops.simulator.server import run


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; ``serve`` until Ctrl-C or print ``export`` lines for ``env``."""
    parser = argparse.ArgumentParser(prog="python -m revops.simulator", description=__doc__)
    parser.add_argument("action", nargs="?", choices=["serve", "env"], default="serve")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--history-days", type=int, default=None, help="default a year")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--faults", default=None, help="RATE[:KINDS], e.g. 0.1")
    parser.add_argument("--as-of", default=None, help="ISO date or date-time; default now")
    parser.add_argument("--cert-dir", default=None)
    args = parser.parse_args(argv)
    if args.action == "env":
        print_env(args.port, host=args.host, cert_dir=args.cert_dir)
        return
    run(
        args.seed,
        args.scale,
        args.host,
        args.port,
        faults=args.faults,
        as_of=args.as_of,
        cert_dir=args.cert_dir,
        history_days=args.history_days,
    )


if __name__ == "__main__":
    main()
