"""Helpers the simulator-backed tests share: a simulator trusted by ``requests`` for the length
of a block, and a fake clock that moves only when someone sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from revops.simulator import Company, SimulatorServer


@contextmanager
def trusted_simulator(company: Company, certs: Path) -> Iterator[SimulatorServer]:
    """A running simulator whose CA ``requests`` trusts (``REQUESTS_CA_BUNDLE``) inside the
    block; both are undone at its end."""
    with pytest.MonkeyPatch.context() as patch, SimulatorServer(company, cert_dir=certs) as running:
        patch.setenv("REQUESTS_CA_BUNDLE", str(certs / "ca.pem"))
        yield running


class FakeClock:
    """Monotonic seconds that move only when someone sleeps (shared by a simulator's rate
    windows and a client's sleeps, so pacing is tested without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
