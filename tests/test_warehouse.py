"""The warehouse: embedded server lifecycle and URL handling."""

from __future__ import annotations

import psycopg
import pytest

from revops.warehouse import EmbeddedWarehouse, WarehouseError, redact, split_url, warehouse_url


def test_redact_hides_the_password_only() -> None:
    assert redact("postgresql://bob:s3cret@db:5432/w") == "postgresql://bob:***@db:5432/w"
    assert redact("postgresql://bob@db/w") == "postgresql://bob@db/w"


def test_split_url_gives_profile_parts() -> None:
    parts = split_url("postgresql://bob:pw@db.example:6543/analytics")
    assert (parts.host, parts.port, parts.user, parts.password, parts.dbname) == (
        "db.example",
        6543,
        "bob",
        "pw",
        "analytics",
    )


def test_a_non_postgres_url_is_refused_with_the_variable_named(monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", "mysql://root:hunter2@localhost/x")
    with pytest.raises(WarehouseError) as err:
        warehouse_url()
    assert "REVOPS_WAREHOUSE_URL" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_embedded_warehouse_starts_once_keeps_data_and_stops(tmp_path) -> None:
    wh = EmbeddedWarehouse(tmp_path / "wh")
    url = wh.start()
    assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/revops")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table kept (x int)")
        conn.execute("insert into kept values (42)")
    assert wh.start() == url  # already running: same server, same URL
    assert wh.stop() is True
    assert not wh.is_running()
    assert wh.start() == url  # restarts on the remembered port with the data kept
    with psycopg.connect(url) as conn:
        assert conn.execute("select x from kept").fetchone() == (42,)
    wh.stop()
