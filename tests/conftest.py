"""Shared fixtures: a real PostgreSQL for every test that needs one; how tests run in parallel.

By default the tests start their own embedded warehouse (pgserver) in a temporary directory;
set ``REVOPS_TEST_WAREHOUSE_URL`` to a server URL (e.g. the machine's PostgreSQL 15) to use that
instead. Each test that asks for ``fresh_db`` gets a new, empty database, dropped afterwards.

``make test`` runs the tests on several pytest-xdist workers with ``--dist loadfile``: each
test file runs on one worker, so a module-scoped fixture (a built warehouse, a running Airflow
or Superset) is built once; each worker has its own embedded warehouse (``server_url`` is per
worker). :func:`pytest_collection_modifyitems` sets the order the files start in (xdist keeps
it with ``--no-loadscope-reorder``): the files of :data:`ORDER` first, in that order, then the
other files with slow tests, then the rest, so that the longest tests do not start last.

Everything else two tests could share is kept apart where it is made: databases have random
names, Airflow services take a block of ports per worker
(:func:`airflow_fixtures.free_port_block`), Celery runs on its own Redis queue, and state
directories are ``tmp_path``.

(``--dist loadgroup`` with ``xdist_group`` markers would be finer, but pytest-xdist 3.8.0
marks a group by rewriting ``item._nodeid``, which pytest 9.2 no longer reads: the groups are
silently ignored.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from warehouse_checks import new_database

from revops.warehouse import EmbeddedWarehouse

ORDER = (
    # each a whole pipeline through a real Airflow or the demo (minutes each): first, so they
    # overlap with everything else
    "test_airflow_celery.py",
    "test_demo_e2e.py",
    "test_airflow_service.py",
    # a worker takes two files at a time and does not give the second back: shorter slow files
    # here, so the next long ones go to whichever worker frees up first
    "test_attribution_properties.py",
    "test_sources_e2e.py",
    "test_warehouse_urls.py",
    "test_bi_superset.py",
)
"""Test files that start first, in this order (the longest first)."""


_DBT_TARGET_OWNER = "PYTEST_REVOPS_DBT_TARGET_PID"
"""Names the process that made this run's ``DBT_TARGET_PATH`` (workers inherit the controller's
environment, and make their own)."""


def pytest_configure(config: pytest.Config) -> None:
    """Each worker's dbt calls write their own target directory (manifest, partial-parse state,
    run results): workers sharing ``dbt_project/target`` overwrote each other's files, and
    each saw the other's partial-parse state as stale and parsed the project in full."""
    owner = os.environ.get(_DBT_TARGET_OWNER)
    if "DBT_TARGET_PATH" in os.environ and owner is None:
        return  # the caller's own
    if owner != str(os.getpid()):  # unset, or inherited from the xdist controller
        target = tempfile.mkdtemp(prefix="revops-test-dbt-target-")
        os.environ["DBT_TARGET_PATH"] = target
        os.environ[_DBT_TARGET_OWNER] = str(os.getpid())
        config.add_cleanup(lambda: shutil.rmtree(target, ignore_errors=True))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the files of :data:`ORDER` first, then the files with slow tests, then the rest;
    a file's tests stay together and in their order."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    first_seen: dict[Path, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.path, index)

    def rank(item: pytest.Item) -> tuple[int, bool, int]:
        name = item.path.name
        position = ORDER.index(name) if name in ORDER else len(ORDER)
        return position, item.path not in slow, first_seen[item.path]

    items.sort(key=rank)  # stable: a file's tests keep their order


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
    _without_durability(url)
    try:
        yield url
    finally:
        warehouse.stop()
        shutil.rmtree(home, ignore_errors=True)


TEST_SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""A test warehouse's server does not wait for the disk: its data lives for one session (a
crash loses nothing a test needs), and each database the tests create and drop, each dlt load
and dbt build committed, otherwise waited for its writes to reach the disk."""


def _without_durability(url: str) -> None:
    """Apply :data:`TEST_SERVER_SETTINGS` to the embedded test server (all reloadable)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name, value in TEST_SERVER_SETTINGS.items():
            conn.execute(f"alter system set {name} = '{value}'")
        conn.execute("select pg_reload_conf()")


@pytest.fixture
def fresh_db(server_url: str) -> Iterator[str]:
    """URL of a new empty database, dropped after the test."""
    with new_database(server_url) as url:
        yield url
