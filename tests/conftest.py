"""Shared fixtures: a real PostgreSQL for every test that needs one.

By default the tests start their own embedded warehouse (pgserver) in a temporary directory;
set ``REVOPS_TEST_WAREHOUSE_URL`` to a server URL (e.g. the machine's PostgreSQL 15) to use that
instead. Each test that asks for ``fresh_db`` gets a new, empty database, dropped afterwards.
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
