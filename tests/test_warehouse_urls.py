"""One warehouse setting, every URL form: each libpq form of ``REVOPS_WAREHOUSE_URL`` reaches the
same database, as the same user, with the same options, through every consumer (psycopg, the
gate's SQLAlchemy engine, dlt, dbt's profile, the Airflow connection Cosmos reads), and
``revops extract`` loads the same rows with each of them as into the embedded warehouse.

Two real servers: the machine's PostgreSQL on 127.0.0.1:5432 (a scratch role with a scram
password and scratch databases, dropped afterwards; that server trusts loopback, so there the
password forms prove the URL is parsed right) and a private cluster run from pgserver's binaries
that listens on a unix socket only and asks every role but ``postgres`` for its scram password.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import pytest
from psycopg import sql

from revops.warehouse import Warehouse, WarehouseError, redact

MACHINE = "postgresql://postgres@127.0.0.1:5432/postgres"
# a role, password and database whose names need percent-encoding in a URL
ROLE = "etl@ops:1"
PASSWORD = "p@ss:w/rd %&?=#+ é"
DBNAME = "revops urls é"
OPTIONS = "-c statement_timeout=61000"  # shows as 61s: proves the options reached the session
AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SYSTEM = "linkedin_ads"


def enc(text: str) -> str:
    return quote(text, safe="")


@dataclass(frozen=True)
class Server:
    """Where a URL form points: the superuser's connection and how to address the server."""

    admin: Warehouse  # trusted superuser, database postgres
    netloc_host: str  # the host part of a URL: "127.0.0.1:5432", or "" for the socket
    query_host: str  # "?host=<dir>&" for the socket forms, or "?"
    percent_host: str  # the socket directory percent-encoded in the host part, or the TCP host
    port: int | None  # what inet_server_port() says: None over a socket


def _create(server: Server, dbname: str, owner: str) -> None:
    with server.admin.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(dbname), sql.Identifier(owner)
            )
        )


def _drop(server: Server, dbname: str) -> None:
    with server.admin.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
        )


def _add_role(server: Server) -> None:
    with server.admin.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(ROLE), sql.Literal(PASSWORD)
            )
        )


def _drop_role(server: Server) -> None:
    with server.admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(ROLE)))


@pytest.fixture(scope="module")
def tcp() -> Iterator[Server]:
    """The machine's PostgreSQL with the scratch role."""
    server = Server(Warehouse.parse(MACHINE), "127.0.0.1:5432", "?", "127.0.0.1:5432", 5432)
    _drop_role(server)
    _add_role(server)
    yield server
    _drop_role(server)


def _socket_cluster(base: Path) -> Path:
    """initdb + start a cluster under ``base`` listening on ``base/sock`` only; its socket dir."""
    from revops import warehouse as module

    pgserver = module._pgserver()
    user = module.EmbeddedWarehouse._system_user()
    pgdata, sock = base / "pgdata", base / "sock"
    for folder in (pgdata, sock):
        folder.mkdir(parents=True)
    if user:
        import pwd

        from pgserver.utils import ensure_prefix_permissions

        entry = pwd.getpwnam(user)
        for folder in (base, pgdata, sock):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        ensure_prefix_permissions(pgdata)
    pgserver.initdb(["--auth=trust", "-U", "postgres", "--encoding=utf8"], pgdata=pgdata, user=user)
    (pgdata / "pg_hba.conf").write_text("local all postgres trust\nlocal all all scram-sha-256\n")
    pgserver.pg_ctl(
        ["-w", "-o", f"-c listen_addresses='' -k {sock}", "-l", str(base / "log"), "start"],
        pgdata=pgdata,
        user=user,
    )
    return sock


@pytest.fixture(scope="module")
def socket_server() -> Iterator[Server]:
    """A private cluster on a unix socket (no TCP), scram for every role but postgres."""
    from revops import warehouse as module

    base = Path(tempfile.mkdtemp(prefix="revops-sock-"))  # short: socket paths max 107 bytes
    sock = _socket_cluster(base)
    admin = Warehouse(host=str(sock), port=5432, user="postgres", dbname="postgres")
    server = Server(admin, "", f"?host={sock}&", enc(str(sock)), None)
    _add_role(server)
    try:
        yield server
    finally:
        module._pgserver().pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=base / "pgdata",
            user=module.EmbeddedWarehouse._system_user(),
        )
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class Form:
    """One way of writing the warehouse URL, and who it connects as."""

    name: str
    server: str  # "tcp" or "socket"
    build: Callable[[Server, str], str]  # (server, database) -> URL
    role: str  # the user the session must run as
    options: bool = False  # carries OPTIONS (statement_timeout 61s)
    application_name: str | None = None


def _plain(s: Server, db: str) -> str:
    if s.netloc_host:
        return f"postgresql://postgres@{s.netloc_host}/{enc(db)}"
    return f"postgresql://postgres@/{enc(db)}{s.query_host.rstrip('&')}"


def _password_in_netloc(s: Server, db: str) -> str:
    return f"postgresql://{enc(ROLE)}:{enc(PASSWORD)}@{s.percent_host}/{enc(db)}"


def _password_in_query(s: Server, db: str) -> str:
    return (
        f"postgresql://{enc(ROLE)}@{s.netloc_host}/{enc(db)}{s.query_host}password={enc(PASSWORD)}"
        f"&sslmode=disable&connect_timeout=7&application_name=revops%20urls&options={enc(OPTIONS)}"
    )


FORMS = [
    Form("tcp-no-password", "tcp", _plain, "postgres"),
    Form("tcp-password-percent-encoded", "tcp", _password_in_netloc, ROLE),
    Form(
        "tcp-query-password-sslmode-options", "tcp", _password_in_query, ROLE, True, "revops urls"
    ),
    # the URL: a unix socket as ?host=, trust, no password
    Form("socket-query-host-no-password", "socket", _plain, "postgres"),
    Form("socket-percent-encoded-host-password", "socket", _password_in_netloc, ROLE),
    Form(
        "socket-query-password-sslmode-options",
        "socket",
        _password_in_query,
        ROLE,
        True,
        "revops urls",
    ),
]


@pytest.fixture(scope="module")
def servers(tcp, socket_server) -> dict[str, Server]:
    return {"tcp": tcp, "socket": socket_server}


@pytest.fixture(scope="module")
def databases(servers) -> Iterator[Callable[[Form], str]]:
    """A database per (form, purpose) on the form's server, owned by the form's role."""
    made: list[tuple[Server, str]] = []

    def make(form: Form, purpose: str = "check") -> str:
        server = servers[form.server]
        name = (
            f"{DBNAME} {purpose} {uuid.uuid4().hex[:6]}"
            if form.role == ROLE
            else (f"revops_urls_{purpose}_{uuid.uuid4().hex[:6]}")
        )
        _create(server, name, form.role)
        made.append((server, name))
        return form.build(server, name)

    yield make
    for server, name in made:
        _drop(server, name)


IDENTITY = (
    "select current_user, current_database(), inet_server_port(), "
    "current_setting('statement_timeout'), current_setting('application_name')"
)


def expected(form: Form, servers: dict[str, Server], url: str, app: str) -> tuple:
    dbname = Warehouse.parse(url).dbname
    return (
        form.role,
        dbname,
        servers[form.server].port,
        "61s" if form.options else "0",
        form.application_name or app,
    )


# -- parsing, and what a bad URL says ----------------------------------------------------------


def test_every_form_parses_to_the_same_fields_and_round_trips() -> None:
    sock = "/run/pg sock"
    a = Warehouse.parse(f"postgresql://{enc(ROLE)}:{enc(PASSWORD)}@{enc(sock)}:6543/{enc(DBNAME)}")
    b = Warehouse.parse(
        f"postgresql://{enc(ROLE)}@/{enc(DBNAME)}?host={enc(sock)}&port=6543&password={enc(PASSWORD)}"
    )
    assert a == b
    assert (a.host, a.port, a.user, a.password, a.dbname) == (sock, 6543, ROLE, PASSWORD, DBNAME)
    assert Warehouse.parse(a.url()) == a
    assert Warehouse.from_airflow_connection(a.airflow_connection_uri()) == a
    assert PASSWORD not in a.display and enc(PASSWORD) not in a.display
    tcp = Warehouse.parse("postgres://bob@db.example/w?sslmode=require&connect_timeout=5")
    assert (tcp.host, tcp.port, tcp.password, tcp.options) == (
        "db.example",
        5432,
        None,
        (("connect_timeout", "5"), ("sslmode", "require")),
    )


def test_a_connection_uri_airflow_wrote_itself_reads_back_the_same() -> None:
    """Airflow writes a query as a form (a space as +); libpq would keep the +."""
    from airflow.models.connection import Connection

    want = Warehouse.parse(
        f"postgresql://{enc(ROLE)}:{enc(PASSWORD)}@/{enc(DBNAME)}?host=/run/pg&port=5433"
        f"&sslmode=require&options={enc(OPTIONS)}"
    )
    written = Connection(
        conn_id="revops_warehouse",
        conn_type="postgres",
        host=want.host,
        port=want.port,
        login=want.user,
        password=want.password,
        schema=want.dbname,
        extra={"sslmode": "require", "options": OPTIONS},
    ).get_uri()
    assert "options=-c+statement_timeout" in written
    assert Warehouse.from_airflow_connection(written) == want


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("mysql://root:hunter2@db/x", "scheme 'mysql' is not postgresql"),
        ("db.example:5432/x?password=hunter2", "it has no scheme"),
        ("postgresql://u:hunter2@db:54x/x", "port '54x' is not a number"),
        (
            "postgresql://u@db/x?password=hunter2&colour=blue",
            'invalid URI query parameter: "colour"',
        ),
        ("postgresql://u:hun%zzter2@db/x", "invalid percent-encoded token"),
        ("postgresql://u:hunter2@a:1,b:2/x", "it names several hosts"),
    ],
)
def test_a_bad_url_names_the_variable_what_is_wrong_and_the_right_form(url, what) -> None:
    with pytest.raises(WarehouseError) as raised:
        Warehouse.parse(url)
    message = str(raised.value)
    assert message.startswith("REVOPS_WAREHOUSE_URL is not a usable PostgreSQL URL: ")
    assert what in message
    assert "postgresql://user@/dbname?host=/var/run/postgresql" in message
    assert "hunter2" not in message and "hun%zzter2" not in message


def test_redaction_covers_query_string_secrets_in_any_text() -> None:
    text = "failed: postgresql://u@db/x?sslmode=require&password=hunter2&sslpassword=k2 (retry)"
    assert redact(text) == (
        "failed: postgresql://u@db/x?sslmode=require&password=***&sslpassword=*** (retry)"
    )
    assert Warehouse.parse("postgresql://u@db/x?password=hunter2").display == (
        "postgresql://u:***@db:5432/x"
    )


def test_dbt_refuses_a_libpq_option_it_cannot_be_given() -> None:
    from revops.transform import dbt_env

    env = dbt_env(f"postgresql://u@db/x?sslmode=verify-full&options={enc(OPTIONS)}")
    assert env["REVOPS_PG_SSLMODE"] == "verify-full" and env["PGOPTIONS"] == OPTIONS
    with pytest.raises(WarehouseError, match="dbt cannot take the libpq option 'keepalives'"):
        dbt_env("postgresql://u:hunter2@db/x?keepalives=1")


# -- every consumer, every form, against the real servers --------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_every_consumer_reaches_the_same_database_as_the_same_user(form, servers, databases):
    import psycopg2
    from airflow.models.connection import Connection
    from sqlalchemy import create_engine

    from revops.orchestration.objects import warehouse_connection_uri, warehouse_profile_mapping
    from revops.quality.gate import sqlalchemy_url
    from revops.transform import dbt_env

    url = databases(form)
    seen = {}
    # psycopg (pipeline, publish, gate checks)
    with Warehouse.parse(url).connect() as conn:
        seen["psycopg"] = conn.execute(IDENTITY).fetchone()
    # the gate's SQLAlchemy engine (GX), in UTC
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        seen["sqlalchemy"] = conn.exec_driver_sql(IDENTITY).fetchone()
        assert conn.exec_driver_sql("show timezone").scalar() == "UTC"
    engine.dispose()
    # dlt: the DSN its psycopg2 client opens
    credentials = Warehouse.parse(url).dlt_credentials()  # what pipeline_for gives dlt
    assert credentials.is_resolved()
    with psycopg2.connect(dsn=credentials.to_native_representation()) as conn, conn.cursor() as c:
        c.execute(IDENTITY)
        seen["dlt"] = c.fetchone()
    # dbt: profiles.yml's fields from REVOPS_PG_*, libpq options through PG* variables
    env = dbt_env(url)
    seen["dbt"] = _as_dbt_connects(env, _profile_from_env(env))
    # Airflow: the connection round-trips, and Cosmos's profile + env connect like dbt
    uri = warehouse_connection_uri(url)
    conn = Connection(conn_id="revops_warehouse", uri=uri)
    assert Warehouse.from_airflow_connection(uri) == Warehouse.parse(url)
    assert conn.host == Warehouse.parse(url).host
    with mock.patch.dict(os.environ, {"AIRFLOW_CONN_REVOPS_WAREHOUSE": uri}):
        mapping = warehouse_profile_mapping(schema="marts", threads=2, connect_timeout=10)
        profile, cosmos_env = mapping.profile, mapping.env_vars
    password = cosmos_env.pop("COSMOS_CONN_POSTGRES_PASSWORD")
    seen["cosmos"] = _as_dbt_connects(cosmos_env, {**profile, "password": password})

    want = {
        "psycopg": expected(form, servers, url, ""),
        "sqlalchemy": expected(form, servers, url, ""),
        "dlt": expected(form, servers, url, ""),
        "dbt": expected(form, servers, url, "dbt"),
        "cosmos": expected(form, servers, url, "dbt"),
    }
    assert seen == want


def _profile_from_env(env: dict[str, str]) -> dict:
    """The fields dbt_project/profiles.yml renders from REVOPS_PG_*."""
    return {
        "host": env["REVOPS_PG_HOST"],
        "port": int(env["REVOPS_PG_PORT"]),
        "user": env["REVOPS_PG_USER"],
        "password": env["REVOPS_PG_PASSWORD"],
        "dbname": env["REVOPS_PG_DBNAME"],
        "connect_timeout": int(env["REVOPS_PG_CONNECT_TIMEOUT"] or 10),
        "keepalives_idle": int(env["REVOPS_PG_KEEPALIVES_IDLE"] or 0),
        "sslmode": env["REVOPS_PG_SSLMODE"],
        "sslcert": env["REVOPS_PG_SSLCERT"],
        "sslkey": env["REVOPS_PG_SSLKEY"],
        "sslrootcert": env["REVOPS_PG_SSLROOTCERT"],
        "application_name": env["REVOPS_PG_APPLICATION_NAME"] or "dbt",
    }


def _as_dbt_connects(env: dict[str, str], profile: dict) -> tuple:
    """Connect as dbt-postgres does (its ``open``): psycopg2 with the profile's fields, the
    optional ones only when set, in an environment carrying ``env``'s PG* variables."""
    import psycopg2

    kwargs = {
        k: profile[k]
        for k in ("sslmode", "sslcert", "sslkey", "sslrootcert", "keepalives_idle")
        if profile.get(k)
    }
    pg = {k: v for k, v in env.items() if k.startswith("PG")}
    with mock.patch.dict(os.environ, pg):
        conn = psycopg2.connect(
            dbname=profile["dbname"],
            user=profile["user"],
            host=profile["host"],
            password=profile["password"],
            port=profile["port"],
            connect_timeout=profile.get("connect_timeout", 10),
            application_name=profile.get("application_name", "dbt"),
            **kwargs,
        )
    try:
        with conn.cursor() as cursor:
            cursor.execute(IDENTITY)
            return cursor.fetchone()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("form", [FORMS[3], FORMS[5]], ids=lambda f: f.name)
def test_dbt_debug_connects_with_a_socket_url(form, databases) -> None:
    from revops.transform import run_dbt

    run_dbt(["debug"], databases(form, "dbt"), quiet=True)  # raises DbtError when it cannot


# -- revops extract with each form: the same rows as the embedded warehouse --------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator:
    from revops.simulator import Company, SimulatorServer

    company = Company.generate(seed=7, scale=0.02, as_of=AS_OF)
    with SimulatorServer(company, cert_dir=tempfile.mkdtemp(prefix="revops-urls-tls-")) as server:
        yield server


def run_cli_extract(url: str, simulator, home: Path) -> subprocess.CompletedProcess:
    """``revops extract linkedin_ads`` with REVOPS_WAREHOUSE_URL set to ``url``."""
    env = {
        **os.environ,
        **simulator.env(),
        "REVOPS_HOME": str(home),
        "REVOPS_WAREHOUSE_URL": url,
        f"REVOPS_{SYSTEM.upper()}_START_DATE": (AS_OF - timedelta(days=30)).date().isoformat(),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
    }
    env.pop("AIRFLOW_CONN_REVOPS_WAREHOUSE", None)
    revops = shutil.which("revops", path=os.path.dirname(sys.executable))
    return subprocess.run(
        [revops, "extract", SYSTEM, "--until", AS_OF.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def raw_digests(url: str) -> dict[str, tuple[int, str]]:
    """Rows and an md5 over every row of every raw_<system> table, dlt's columns aside."""
    out = {}
    with Warehouse.parse(url).connect() as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s "
                "and table_name not like '\\_dlt%%' order by 1",
                (f"raw_{SYSTEM}",),
            )
        ]
        for table in tables:
            columns = [
                c
                for (c,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s and column_name not like '\\_dlt%%' order by 1",
                    (f"raw_{SYSTEM}", table),
                )
            ]
            row = sql.SQL("concat_ws('|', {})").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
            )
            query = sql.SQL(
                "select count(*), md5(string_agg({r}, '#' order by {r})) from {t}"
            ).format(r=row, t=sql.Identifier(f"raw_{SYSTEM}", table))
            out[table] = tuple(conn.execute(query).fetchone())
    return out


@pytest.fixture(scope="module")
def reference(server_url, simulator, tmp_path_factory) -> dict[str, tuple[int, str]]:
    """The extract into a fresh database on the tests' embedded warehouse (its password URL)."""
    from warehouse_checks import new_database

    with new_database(server_url, "revops_urls_ref") as url:
        done = run_cli_extract(url, simulator, tmp_path_factory.mktemp("ref"))
        assert done.returncode == 0, done.stderr[-3000:]
        digests = raw_digests(url)
    assert digests["campaign_analytics"][0] > 0
    return digests


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_revops_extract_loads_the_same_rows_with_every_url_form(
    form, databases, simulator, reference, tmp_path
) -> None:
    url = databases(form, "extract")
    began = time.monotonic()
    done = run_cli_extract(url, simulator, tmp_path)
    assert done.returncode == 0, f"{form.name}: {redact(done.stderr[-3000:])}"
    assert raw_digests(url) == reference, form.name
    assert PASSWORD not in done.stdout + done.stderr
    print(f"{form.name}: extract {time.monotonic() - began:.1f} s")


def test_the_extract_fails_clearly_on_a_bad_url(simulator, tmp_path) -> None:
    done = run_cli_extract("postgresql://u:hunter2@db:54x/x", simulator, tmp_path)
    assert done.returncode != 0
    assert "REVOPS_WAREHOUSE_URL is not a usable PostgreSQL URL: port '54x' is not a number" in (
        done.stderr
    )
    assert "hunter2" not in done.stdout + done.stderr
