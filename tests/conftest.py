"""Shared fixtures: a real PostgreSQL for every test that needs one; how tests run in parallel.

By default the tests start their own embedded warehouse (pgserver) in a temporary directory;
set ``REVOPS_TEST_WAREHOUSE_URL`` to a server URL (e.g. the machine's PostgreSQL 15) to use that
instead. Each test that asks for ``fresh_db`` gets a new, empty database, dropped afterwards.

``make test`` runs the tests on several pytest-xdist workers with ``--dist loadgroup``: each
worker has its own embedded warehouse (``server_url`` is per worker), and
:func:`pytest_collection_modifyitems` decides what must share a worker and what starts first:

- the tests of a module that uses a module-scoped fixture (a built warehouse, a running
  Airflow or Superset) form one group, so the fixture is built once, on one worker;
- the end-to-end tests that each start a real Airflow come first, then the other slow tests,
  then the rest in file order, so the longest tests do not start last and leave a long tail.

Everything else that two tests could share is kept apart where it is made: databases have
random names, Airflow services take a block of ports per worker
(:func:`airflow_fixtures.free_port_block`), Celery runs on its own Redis queue, and state
directories are ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from warehouse_checks import new_database

from revops.warehouse import EmbeddedWarehouse

FIRST = (
    # the longest tests, each a whole pipeline through a real Airflow (minutes each): started
    # first, longest first, so that they overlap with everything else
    "test_airflow_celery.py",
    "test_demo_e2e.py",
    "test_airflow_service.py::test_scheduler_runs_the_chain",
    "test_airflow_ui_browser.py",
    "test_bi_superset.py",
)


def _first_rank(item: pytest.Item) -> int:
    nodeid = item.nodeid.split("/")[-1]
    for rank, prefix in enumerate(FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(FIRST)


def _module_scoped(item: pytest.Item) -> bool:
    """Whether the test uses a fixture shared by its module (or a class or package)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definition.scope in ("module", "class", "package")
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests that share a module fixture; put the longest tests first."""
    shared_modules = {item.path for item in items if _module_scoped(item)}
    for item in items:
        if item.path in shared_modules and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    # stable: within each rank the tests keep their file order (Python's sort is stable)
    items.sort(key=lambda item: (_first_rank(item), item.get_closest_marker("slow") is None))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server the tests may create databases on."""
    external = os.environ.get("REVOPS_TEST_WAREHOUSE_URL")
    if external:
        yield external
        return
    # not under pytest's basetemp: another pytest session rotates old basetemps away, and
    # deleting a running server's data directory crashes it
    home = Path(tempfile.mkdtemp(prefix="revops-test-warehouse-"))
    warehouse = EmbeddedWarehouse(home)
    url = warehouse.start()
    try:
        yield url
    finally:
        warehouse.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fresh_db(server_url: str) -> Iterator[str]:
    """URL of a new empty database, dropped after the test."""
    with new_database(server_url) as url:
        yield url
