"""``python -m revops.simulator``: serve the simulator in the foreground.

``revops simulate`` does the same.
"""

from __future__ import annotations

import argparse

from revops.simulator.server import FaultConfig, run


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m revops.simulator", description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate-limit-every", type=int, default=None)
    parser.add_argument("--server-error-every", type=int, default=None)
    args = parser.parse_args(argv)
    faults = FaultConfig(args.rate_limit_every, args.server_error_every)
    run(args.seed, args.scale, args.host, args.port, faults=faults)


if __name__ == "__main__":
    main()
