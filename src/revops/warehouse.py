"""Where the data lives: any PostgreSQL named by ``REVOPS_WAREHOUSE_URL``, or an embedded one.

With ``REVOPS_WAREHOUSE_URL`` unset, revops runs its own PostgreSQL from the binaries the
``pgserver`` package ships, with its data under ``.revops/warehouse/`` in the working directory.
It listens on 127.0.0.1 only (a TCP port chosen once and remembered), so BI tools and ``psql``
can connect to it while it runs; ``revops warehouse stop`` stops it.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from revops.config import state_dir

WAREHOUSE_URL_ENV = "REVOPS_WAREHOUSE_URL"
EMBEDDED_DB = "revops"
EMBEDDED_PORT_START = 54329
_RUN_AS = "pgserver"  # PostgreSQL refuses to run as root; pgserver's own convention


class WarehouseError(RuntimeError):
    """The warehouse could not be reached or started; the message says what to do."""


@dataclass(frozen=True)
class ConnectionParts:
    """A PostgreSQL URL split into the pieces dbt profiles and GX need."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def split_url(url: str) -> ConnectionParts:
    """Split ``postgresql://user:password@host:port/db`` into its parts."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise WarehouseError(
            f"{WAREHOUSE_URL_ENV} must be a postgresql:// URL, got scheme {parts.scheme!r} "
            f"in {redact(url)}"
        )
    return ConnectionParts(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or "",
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
    )


class EmbeddedWarehouse:
    """A PostgreSQL server run from pgserver's binaries with its data under ``home``."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = (home or state_dir() / "warehouse").resolve()
        self.pgdata = self.home / "pgdata"
        self.state_file = self.home / "warehouse.json"
        self.log_file = self.home / "postgres.log"

    # -- state -------------------------------------------------------------------------------
    def _port(self) -> int:
        if self.state_file.exists():
            return int(json.loads(self.state_file.read_text())["port"])
        port = _free_port(EMBEDDED_PORT_START)
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"port": port}))
        return port

    @property
    def url(self) -> str:
        """The URL clients connect with (loopback TCP, database ``revops``)."""
        return f"postgresql://postgres@127.0.0.1:{self._port()}/{EMBEDDED_DB}"

    def is_running(self) -> bool:
        """True when this data directory's server accepts connections."""
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        return _accepts(("127.0.0.1", self._port()))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Initialise (first time) and start the server if it is not running; return its URL."""
        pgserver = _pgserver()

        if self.is_running():
            return self.url
        user = self._system_user()
        self.home.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if user:
            self._grant(user)
        if not (self.pgdata / "PG_VERSION").exists():
            pgserver.initdb(
                ["--auth=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.pgdata,
                user=user,
            )
        port = self._port()
        if _accepts(("127.0.0.1", port)):
            raise WarehouseError(
                f"port {port} on 127.0.0.1 is taken by another program; delete "
                f"{self.state_file} to let revops choose a free port"
            )
        if not _pid_alive(self.pgdata):  # a stale pid file left by a killed server
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        try:
            pgserver.pg_ctl(
                [
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-h 127.0.0.1 -p {port} -k ''",
                    "-l",
                    str(self.log_file),
                    "start",
                ],
                pgdata=self.pgdata,
                user=user,
                timeout=90,
            )
        except subprocess.CalledProcessError as err:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise WarehouseError(
                f"the embedded warehouse did not start (pg_ctl exit {err.returncode}); "
                f"server log {self.log_file}:\n{tail}"
            ) from err
        self._ensure_database()
        return self.url

    def stop(self) -> bool:
        """Stop the server; return False if it was not running."""
        pgserver = _pgserver()
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._system_user())
        return True

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _system_user() -> str | None:
        if platform.system() != "Windows" and os.geteuid() == 0:
            from pgserver.utils import ensure_user_exists

            ensure_user_exists(_RUN_AS)
            return _RUN_AS
        return None

    def _grant(self, user: str) -> None:
        """Let the unprivileged server user reach the binaries and own the data directory."""
        import pwd
        import stat

        from pgserver._commands import POSTGRES_BIN_PATH
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        for path in (self.home, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _ensure_database(self) -> None:
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self._port()}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (EMBEDDED_DB,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{EMBEDDED_DB}"')


def _pgserver():
    """Import pgserver (only when the embedded warehouse is used) without its import warning."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def _free_port(start: int) -> int:
    for port in range(start, start + 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise WarehouseError(f"no free TCP port on 127.0.0.1 in {start}..{start + 199}")


def _accepts(address: tuple[str, int]) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(address) == 0


def _pid_alive(pgdata: Path) -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


AIRFLOW_CONN_ENV = "AIRFLOW_CONN_REVOPS_WAREHOUSE"
"""The Airflow connection ``revops_warehouse`` as Airflow reads it from the environment."""


def url_from_airflow_connection(value: str) -> str:
    """A ``postgresql://`` URL from an Airflow connection given as a URI or as JSON."""
    import json
    from urllib.parse import quote

    text = value.strip()
    if text.startswith("{"):
        conn = json.loads(text)
        user = quote(str(conn.get("login") or "postgres"), safe="")
        password = conn.get("password")
        secret = f":{quote(str(password), safe='')}" if password else ""
        port = conn.get("port") or 5432
        host = conn.get("host") or "127.0.0.1"
        return f"postgresql://{user}{secret}@{host}:{port}/{conn.get('schema') or 'postgres'}"
    parts = urlsplit(text)
    if parts.scheme not in ("postgres", "postgresql"):
        raise WarehouseError(
            f"{AIRFLOW_CONN_ENV} must be a postgres connection, got scheme {parts.scheme!r}"
        )
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("__extra__="))
    return urlunsplit(parts._replace(scheme="postgresql", query=query, fragment=""))


def configured_url() -> str | None:
    """``REVOPS_WAREHOUSE_URL`` if set (an external warehouse); else the Airflow connection
    ``revops_warehouse`` from ``AIRFLOW_CONN_REVOPS_WAREHOUSE`` (what every Airflow process of
    ``revops airflow start`` carries); else None (embedded)."""
    url = os.environ.get(WAREHOUSE_URL_ENV)
    if url:
        return url
    connection = os.environ.get(AIRFLOW_CONN_ENV)
    return url_from_airflow_connection(connection) if connection else None


def warehouse_url(start: bool = True) -> str:
    """The warehouse URL: ``REVOPS_WAREHOUSE_URL``, or the embedded server's (started if asked)."""
    url = configured_url()
    if url:
        split_url(url)  # validate early, with a clear message
        return url
    embedded = EmbeddedWarehouse()
    if start:
        return embedded.start()
    if not embedded.is_running():
        raise WarehouseError(
            "the embedded warehouse is not running: start it with `revops warehouse start`, "
            f"or set {WAREHOUSE_URL_ENV} to a PostgreSQL URL"
        )
    return embedded.url


def connect(url: str | None = None, **kwargs):
    """A psycopg connection to the warehouse."""
    import psycopg

    target = url or warehouse_url()
    try:
        return psycopg.connect(target, **kwargs)
    except psycopg.OperationalError as err:
        raise WarehouseError(f"cannot connect to the warehouse at {redact(target)}: {err}") from err
