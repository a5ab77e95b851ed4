"""Running the real ``revops`` command in a subprocess, as a user would (test helper)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEADER = "path,total_conversions,total_conversion_value,total_null\n"
REFUSING_WAREHOUSE = "postgresql://postgres@127.0.0.1:1/nowhere"
"""A warehouse URL nothing listens on: a command that gets past its input checks fails there."""


def revops_env(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one run: HOME, REVOPS_HOME and REVOPS_OUT_DIR in ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REVOPS_", "AIRFLOW", "PROVIDERS__", "RUNTIME__"))
    }
    return {
        **base,
        "HOME": str(home),
        "REVOPS_HOME": str(tmp_path / "state"),
        "REVOPS_OUT_DIR": str(tmp_path / "out"),
        "REVOPS_WAREHOUSE_URL": REFUSING_WAREHOUSE,
        **(env or {}),
    }


def run_revops(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``revops ARGS`` with the environment of :func:`revops_env`, run from ``tmp_path``."""
    return subprocess.run(
        [sys.executable, "-m", "revops.cli", *args],
        env=revops_env(tmp_path, env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """The last non-blank line the command wrote to stderr."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, f"nothing on stderr (exit {done.returncode}); stdout: {done.stdout[-500:]}"
    return lines[-1]
