"""The warehouse: embedded server lifecycle, its password, and URL handling."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import psycopg
import pytest

from revops.warehouse import EmbeddedWarehouse, Warehouse, WarehouseError, redact, warehouse_url


def test_redact_hides_passwords_in_the_user_part_and_the_query() -> None:
    assert redact("postgresql://bob:s3cret@db:5432/w") == "postgresql://bob:***@db:5432/w"
    assert redact("postgresql://bob@db/w") == "postgresql://bob@db/w"
    assert (
        redact("cannot reach postgresql://bob@db/w?sslmode=require&password=hunter2 now")
        == "cannot reach postgresql://bob@db/w?sslmode=require&password=*** now"
    )
    assert redact("postgresql://u@/w?host=/s&sslpassword=k&api_token=t") == (
        "postgresql://u@/w?host=/s&sslpassword=***&api_token=***"
    )


def test_the_warehouse_gives_dbt_its_profile_parts() -> None:
    env = Warehouse.parse("postgresql://bob:pw@db.example:6543/analytics").dbt_env()
    assert [env[f"REVOPS_PG_{k}"] for k in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME")] == [
        "db.example",
        "6543",
        "bob",
        "pw",
        "analytics",
    ]


def test_a_non_postgres_url_is_refused_with_the_variable_named(monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_WAREHOUSE_URL", "mysql://root:hunter2@localhost/x")
    with pytest.raises(WarehouseError) as err:
        warehouse_url()
    assert "REVOPS_WAREHOUSE_URL" in str(err.value)
    assert "scheme 'mysql' is not postgresql" in str(err.value)
    assert "postgresql://user:password@host:5432/dbname" in str(err.value)  # the right form
    assert "hunter2" not in str(err.value)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_embedded_warehouse_starts_once_keeps_data_and_stops(tmp_path) -> None:
    wh = EmbeddedWarehouse(tmp_path / "wh")
    url = wh.start()
    password = wh.password_file.read_text().strip()
    assert len(password) >= 24
    assert url == f"postgresql://postgres:{password}@127.0.0.1:{wh.warehouse.port}/revops"
    assert _mode(wh.password_file) == 0o600 and _mode(wh.home) == 0o700
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


def test_the_embedded_warehouse_asks_every_connection_for_the_password(tmp_path) -> None:
    wh = EmbeddedWarehouse(tmp_path / "wh")
    wh.start()
    try:
        port = wh.warehouse.port
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/revops", connect_timeout=5)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"postgresql://postgres:guess@127.0.0.1:{port}/revops")
        hba = (wh.pgdata / "pg_hba.conf").read_text()
        rules = [line.split() for line in hba.splitlines() if line.strip() and line[0] != "#"]
        assert rules and {rule[-1] for rule in rules} == {"scram-sha-256"}
    finally:
        wh.stop()


def test_a_trust_cluster_of_an_older_revops_is_moved_to_passwords_with_its_data(tmp_path) -> None:
    """Users have .revops/warehouse initialised with --auth=trust by earlier versions."""
    from revops import warehouse as module

    wh = EmbeddedWarehouse(tmp_path / "wh")
    pgserver = module._pgserver()
    user = wh._system_user()
    wh.home.mkdir(parents=True)
    wh.pgdata.mkdir()
    if user:
        wh._grant(user)
    pgserver.initdb(  # what revops did before: trust, no password
        ["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=wh.pgdata, user=user
    )
    port = wh._port()
    pgserver.pg_ctl(
        ["-w", "-o", f"-h 127.0.0.1 -p {port} -k ''", "-l", str(wh.log_file), "start"],
        pgdata=wh.pgdata,
        user=user,
    )
    bare = f"postgresql://postgres@127.0.0.1:{port}"
    with psycopg.connect(f"{bare}/postgres", autocommit=True) as conn:
        conn.execute("create database revops")
    with psycopg.connect(f"{bare}/revops", autocommit=True) as conn:
        conn.execute("create table kept as select 42 as x")
    assert not wh.password_file.exists()
    try:
        url = wh.start()  # running, still trusting: migrated in place
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(f"{bare}/revops", connect_timeout=5)
        with psycopg.connect(url) as conn:
            assert conn.execute("select x from kept").fetchone() == (42,)
        assert _mode(wh.password_file) == 0o600
        wh.stop()
        assert wh.start() == url  # after a restart: same password, data kept
        with psycopg.connect(url) as conn:
            assert conn.execute("select x from kept").fetchone() == (42,)
    finally:
        wh.stop()


def test_a_scram_cluster_whose_password_file_is_gone_says_what_to_do(tmp_path) -> None:
    wh = EmbeddedWarehouse(tmp_path / "wh")
    wh.start()
    wh.stop()
    wh.password_file.unlink()
    try:
        with pytest.raises(WarehouseError) as raised:
            wh.start()
        assert str(wh.password_file) in str(raised.value)
        assert "pg_hba.conf" in str(raised.value)
    finally:
        wh.stop()


def test_warehouse_url_prints_the_password_only_when_asked(tmp_path) -> None:
    home = tmp_path / "state"
    wh = EmbeddedWarehouse(home / "warehouse")
    wh.start()
    try:
        env = {**os.environ, "REVOPS_HOME": str(home)}
        env.pop("REVOPS_WAREHOUSE_URL", None)
        env.pop("AIRFLOW_CONN_REVOPS_WAREHOUSE", None)
        revops = shutil.which("revops", path=os.path.dirname(sys.executable))
        password = wh.password_file.read_text().strip()

        def run(*args: str) -> str:
            done = subprocess.run(
                [revops, "warehouse", *args], env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            return done.stdout + done.stderr

        port = wh.warehouse.port
        assert run("url") == f"postgresql://postgres:***@127.0.0.1:{port}/revops\n"
        assert run("url", "--show-password").strip() == wh.url
        for action in ("status", "start"):
            out = run(action)
            assert password not in out and ":***@" in out
        external = {**env, "REVOPS_WAREHOUSE_URL": "postgresql://u@db/w?password=hunter2"}
        done = subprocess.run(
            [revops, "warehouse", "url"], env=external, capture_output=True, text=True
        )
        assert done.stdout == "postgresql://u:***@db:5432/w\n"
    finally:
        wh.stop()


@pytest.mark.slow
def test_bi_reader_limits_hold_on_the_embedded_warehouse(tmp_path) -> None:
    """No one gets in as the superuser without the password any more, so a BI tool's login
    (granted bi_reader, with its own password) is held to bi_reader's grants: marts only,
    read only. The role and the schema usage come from the dbt project's own hooks."""
    from psycopg import sql

    from revops.transform import run_dbt

    wh = EmbeddedWarehouse(tmp_path / "wh")
    url = wh.start()
    try:
        run_dbt(["seed"], url, quiet=True)  # on-run-start creates bi_reader
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create schema raw_hubspot")
            conn.execute("create table raw_hubspot.contacts as select 1 as id")
            conn.execute("create schema marts")
            conn.execute("create table marts.fct_funnel as select 1 as stage")
            conn.execute("grant select on marts.fct_funnel to bi_reader")  # what +grants does
            conn.execute(
                sql.SQL("create role bi_tool login password {} in role bi_reader").format(
                    sql.Literal("bi-tool-pass")
                )
            )
        run_dbt(["seed"], url, quiet=True)  # on-run-end: usage on marts, now that it exists
        port = wh.warehouse.port
        bi = f"postgresql://bi_tool:bi-tool-pass@127.0.0.1:{port}/revops"
        with psycopg.connect(bi, autocommit=True) as conn:
            assert conn.execute("select count(*) from marts.fct_funnel").fetchone() == (1,)
            for statement in (
                "select * from raw_hubspot.contacts",
                "insert into marts.fct_funnel values (2)",
                "create table marts.mine (x int)",
                "alter role bi_tool superuser",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        for stranger in ("bi_tool:guess", "postgres", "postgres:guess"):
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(f"postgresql://{stranger}@127.0.0.1:{port}/revops")
    finally:
        wh.stop()
