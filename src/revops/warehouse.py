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
import re
import secrets
import socket
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode

from revops.config import private_dir, state_dir, write_private

WAREHOUSE_URL_ENV = "REVOPS_WAREHOUSE_URL"
EMBEDDED_DB = "revops"
EMBEDDED_PORT_START = 54329
_RUN_AS = "pgserver"  # PostgreSQL refuses to run as root; pgserver's own convention

URL_EXAMPLES = (
    "postgresql://user:password@host:5432/dbname?sslmode=require, or for a unix socket "
    "postgresql://user@/dbname?host=/var/run/postgresql"
)
# query keys whose values are shown as *** wherever a URL is displayed
_SECRET_KEY = re.compile(r"pass|secret|token|key", re.IGNORECASE)
_SECRET_PAIR = re.compile(
    r"(?<![\w.-])([\w.-]*(?:pass|secret|token)[\w.-]*)=(?!\*\*\*)[^&\s'\"]+", re.I
)
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)

# libpq parameters dbt's postgres profile has a field for (profiles.yml reads REVOPS_PG_<NAME>)
DBT_PROFILE_OPTIONS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "connect_timeout",
    "keepalives_idle",
    "application_name",
)
# the other libpq parameters that have an environment variable: dbt gets them that way
LIBPQ_ENV = {
    "options": "PGOPTIONS",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "sslcertmode": "PGSSLCERTMODE",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "requirepeer": "PGREQUIREPEER",
    "require_auth": "PGREQUIREAUTH",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "gssdelegation": "PGGSSDELEGATION",
    "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB",
    "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS",
    "hostaddr": "PGHOSTADDR",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}


# trust-auth servers take no password, but Cosmos's PostgresUserPasswordProfileMapping requires
# one in the Airflow connection: this one stands for "none" and is mapped back to none on reading
PLACEHOLDER_PASSWORD = "trust-auth-ignores-this"


class WarehouseError(RuntimeError):
    """The warehouse could not be reached or started; the message says what to do."""


def redact(text: str) -> str:
    """``text`` with every URL's password shown as ``***``: the one in the user part and any
    query parameter that holds a secret (``password=``, ``sslpassword=``, ``...token=``)."""
    text = _URL_IN_TEXT.sub(lambda m: _redact_url(m.group(0)), text)
    # and a secret given as key=value outside a URL (a URL without its scheme, a conninfo)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}=***", text)


def _redact_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    head, mark, query = rest.partition("?")
    at = head.rfind("@")
    if at > 0 and ":" in head[:at]:
        user = head[: head.index(":")]
        head = f"{user}:***{head[at:]}"
    if mark:
        fragment = ""
        if "#" in query:
            query, fragment = query.split("#", 1)
            fragment = "#" + fragment
        pairs = []
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            pairs.append(f"{key}=***" if eq and _SECRET_KEY.search(key) else pair)
        query = "&".join(pairs) + fragment
    return f"{scheme}://{head}{mark}{query}"


def table_columns(conn, table: str) -> set[str]:
    """The column names of ``schema.table`` (empty when it does not exist)."""
    schema, _, name = table.partition(".")
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s",
        (schema, name),
    ).fetchall()
    return {row[0] for row in rows}


def _default_socket_dir(port: int) -> str:
    """Where libpq looks when a URL names no host: PGHOST, else the local server's socket."""
    if os.environ.get("PGHOST"):
        return os.environ["PGHOST"]
    candidates = ("/var/run/postgresql", "/tmp")
    for folder in candidates:
        if Path(folder, f".s.PGSQL.{port}").exists():
            return folder
    return next((f for f in candidates if Path(f).is_dir()), "/tmp")


@dataclass(frozen=True)
class Warehouse:
    """One PostgreSQL warehouse, parsed once from a libpq URL, in every form its consumers need.

    ``host`` is a host name, an IP address, or a unix-socket directory (it starts with ``/``).
    What the URL leaves out is resolved here, once, as libpq does (PGHOST/PGPORT/PGUSER/
    PGDATABASE, then the local socket, port 5432, user ``postgres``, database = user), so
    psycopg, SQLAlchemy, dlt, dbt and Airflow all reach the same database. ``password`` None
    means none in the URL: libpq then uses PGPASSWORD or ~/.pgpass, in every consumer alike.
    ``options`` are the other libpq parameters (``sslmode``, ``connect_timeout``, ...).
    """

    host: str
    port: int
    user: str
    dbname: str
    password: str | None = field(default=None, repr=False)
    options: tuple[tuple[str, str], ...] = ()
    source: str = field(default=WAREHOUSE_URL_ENV, compare=False)

    # -- parsing ---------------------------------------------------------------------------
    @classmethod
    def parse(cls, url: str, source: str = WAREHOUSE_URL_ENV) -> Warehouse:
        """Parse a ``postgresql://`` URL (any form libpq accepts, one host); a bad one raises
        :class:`WarehouseError` naming ``source``, what is wrong, and the right form."""
        from psycopg import Error as PsycopgError
        from psycopg.conninfo import conninfo_to_dict

        text = (url or "").strip()
        shown = redact(text) if "://" in text else _redact_url(f"x://{text}")[4:]

        def bad(what: str) -> WarehouseError:
            return WarehouseError(
                f"{source} is not a usable PostgreSQL URL: {what} (in {shown}). "
                f"Write it as {URL_EXAMPLES}"
            )

        scheme, sep, rest = text.partition("://")
        if not sep:
            raise bad("it has no scheme; it must start with postgresql://")
        if scheme.lower() not in (
            "postgresql",
            "postgres",
            "postgresql+psycopg",
            "postgresql+psycopg2",
        ):
            raise bad(f"scheme {scheme!r} is not postgresql")
        try:
            params = conninfo_to_dict(f"postgresql://{rest}")
        except PsycopgError as err:
            raise bad(_scrub(str(err).strip(), text)) from None
        params = {k: str(v) for k, v in params.items()}
        host = params.pop("host", None)
        port_text = params.pop("port", None)
        if host and "," in host or port_text and "," in port_text:
            raise bad("it names several hosts; revops needs one warehouse host")
        try:
            port = int(port_text or os.environ.get("PGPORT") or 5432)
        except ValueError:
            raise bad(f"port {port_text!r} is not a number") from None
        if not 0 < port < 65536:
            raise bad(f"port {port} is out of range")
        user = params.pop("user", None) or os.environ.get("PGUSER") or "postgres"
        dbname = params.pop("dbname", None) or os.environ.get("PGDATABASE") or user
        password = params.pop("password", None) or None
        return cls(
            host=host or _default_socket_dir(port),
            port=port,
            user=user,
            dbname=dbname,
            password=password,
            options=tuple(sorted(params.items())),
            source=source,
        )

    @classmethod
    def from_airflow_connection(cls, value: str) -> Warehouse:
        """The warehouse of an Airflow connection given as a URI or as JSON (extras are libpq
        options; the placeholder password of a trust-auth connection means none)."""
        text = value.strip()
        if text.startswith("{"):
            try:
                conn = json.loads(text)
            except ValueError as err:
                raise WarehouseError(f"{AIRFLOW_CONN_ENV} is not valid JSON: {err}") from None
            extra = conn.get("extra") or {}
            if isinstance(extra, str):
                extra = json.loads(extra) if extra.strip() else {}
            password = conn.get("password")
            user = conn.get("login")
            port = conn.get("port")
            return cls(
                host=str(conn.get("host") or "") or _default_socket_dir(int(port or 5432)),
                port=int(port or 5432),
                user=str(user or "postgres"),
                dbname=str(conn.get("schema") or user or "postgres"),
                password=None if password in (None, "", PLACEHOLDER_PASSWORD) else str(password),
                options=tuple(sorted((str(k), str(v)) for k, v in extra.items())),
                source=AIRFLOW_CONN_ENV,
            )
        scheme, sep, rest = text.partition("://")
        if scheme not in ("postgres", "postgresql"):
            raise WarehouseError(
                f"{AIRFLOW_CONN_ENV} must be a postgres connection, got scheme {scheme!r}; "
                f"write it as {URL_EXAMPLES.replace('postgresql://', 'postgres://')}"
            )
        rest = rest.split("#", 1)[0]
        base, _, query = rest.partition("?")
        # Airflow reads its URI's query as a form (a + is a space), libpq would not
        extras: list[tuple[str, str]] = []
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "__extra__":  # extras Airflow wrote as one JSON object
                extras += [(str(k), str(v)) for k, v in json.loads(value or "{}").items()]
            else:
                extras.append((key, value))
        pairs = [f"{quote(k, safe='')}={quote(v, safe='/')}" for k, v in extras]
        # Airflow writes a socket host percent-encoded in the host part, as libpq reads it
        parsed = cls.parse(
            f"postgresql://{base}" + (f"?{'&'.join(pairs)}" if pairs else ""), AIRFLOW_CONN_ENV
        )
        if parsed.password == PLACEHOLDER_PASSWORD:
            parsed = replace(parsed, password=None)
        return parsed

    # -- what each consumer needs ----------------------------------------------------------
    @property
    def socket(self) -> bool:
        """True when ``host`` is a unix-socket directory."""
        return self.host.startswith("/")

    def option(self, name: str) -> str | None:
        """A libpq option from the URL's query (``sslmode``, ...), or None."""
        return dict(self.options).get(name)

    def with_dbname(self, dbname: str) -> Warehouse:
        """The same server, another database."""
        return replace(self, dbname=dbname)

    def url(self, show_password: bool = True) -> str:
        """The canonical libpq URL (a socket host goes in the query, as ``?host=``)."""
        password = None
        if self.password is not None:
            password = self.password if show_password else "***"
        text = self._url("postgresql", password, self.options)
        return text if show_password else redact(text)

    def _url(self, scheme: str, password: str | None, options: Sequence[tuple[str, str]]) -> str:
        """``scheme://user[:password]@host:port/db?options``; a socket host in the query."""
        user = quote(self.user, safe="")
        secret = (
            ""
            if password is None
            else ":" + (password if password == "***" else quote(password, safe=""))
        )
        query = list(options)
        if self.socket:
            netloc = f"{user}{secret}@"
            query = [("host", self.host), ("port", str(self.port)), *query]
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
            netloc = f"{user}{secret}@{host}:{self.port}"
        text = f"{scheme}://{netloc}/{quote(self.dbname, safe='')}"
        if query:
            text += "?" + urlencode(query, quote_via=quote, safe="/")
        return text

    @property
    def display(self) -> str:
        """The URL with its password shown as ``***`` (for messages and logs)."""
        return self.url(show_password=False)

    def connect_kwargs(self) -> dict[str, str]:
        """libpq keywords (psycopg 3 and psycopg2 ``connect(**kwargs)``)."""
        kwargs = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": self.dbname,
        }
        if self.password is not None:
            kwargs["password"] = self.password
        kwargs.update(self.options)
        return kwargs

    def conninfo(self) -> str:
        """The libpq ``key=value`` connection string (psycopg, psql)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo("", **self.connect_kwargs())

    def connect(self, **kwargs):
        """A psycopg connection; an unreachable server raises :class:`WarehouseError`."""
        import psycopg

        try:
            return psycopg.connect(self.conninfo(), **kwargs)
        except psycopg.OperationalError as err:
            raise WarehouseError(
                f"cannot connect to the warehouse at {self.display}: {_scrub(str(err), self)}"
            ) from err

    def sqlalchemy_url(self, driver: str = "psycopg", utc: bool = False) -> str:
        """A SQLAlchemy URL (``postgresql+<driver>://``); ``utc`` adds ``-c TimeZone=UTC`` to
        the session options. A socket host goes in the query, as both drivers accept."""
        options = dict(self.options)
        if utc:
            options["options"] = " ".join(filter(None, [options.get("options"), "-c TimeZone=UTC"]))
        return self._url(f"postgresql+{driver}", self.password, list(options.items()))

    def dlt_credentials(self):
        """dlt's PostgresCredentials, field by field (dlt cannot parse a socket host or a
        query-string password, and insists on a password libpq may not need)."""
        from revops._dlt_warehouse import WarehouseCredentials

        credentials = WarehouseCredentials()
        credentials.host = self.host
        credentials.port = self.port
        credentials.username = self.user
        credentials.password = self.password
        credentials.database = self.dbname
        query = dict(self.options)
        if "connect_timeout" in query:
            credentials.connect_timeout = int(query.pop("connect_timeout"))
        if "client_encoding" in query:
            credentials.client_encoding = query.pop("client_encoding")
        credentials.query = query
        credentials.resolve()
        return credentials

    def dbt_env(self) -> dict[str, str]:
        """The environment of a dbt call: ``REVOPS_PG_*`` for ``dbt_project/profiles.yml``
        and libpq's own ``PG*`` variables for options dbt's profile has no field for."""
        env = {
            "REVOPS_PG_HOST": self.host,
            "REVOPS_PG_PORT": str(self.port),
            "REVOPS_PG_USER": self.user,
            "REVOPS_PG_PASSWORD": self.password or "",
            "REVOPS_PG_DBNAME": self.dbname,
        }
        for name in DBT_PROFILE_OPTIONS:
            env[f"REVOPS_PG_{name.upper()}"] = self.option(name) or ""
        env.update(self.libpq_env(exclude=DBT_PROFILE_OPTIONS))
        return env

    def libpq_env(self, exclude: Sequence[str] = ()) -> dict[str, str]:
        """``PG*`` variables for the options outside ``exclude``; an option libpq has no
        variable for raises :class:`WarehouseError` (dbt would otherwise silently drop it)."""
        env = {}
        for name, value in self.options:
            if name in exclude:
                continue
            if name not in LIBPQ_ENV:
                raise WarehouseError(
                    f"{self.source}: dbt cannot take the libpq option {name!r} (its profile "
                    f"has no such field and libpq no environment variable for it) in "
                    f"{self.display}; remove it from the URL"
                )
            env[LIBPQ_ENV[name]] = value
        return env

    def airflow_connection_uri(self) -> str:
        """The Airflow connection URI (``postgres://``): a socket host percent-encoded in the
        host part, options as extras, and a password even on trust auth (Cosmos requires one;
        reading it back maps the placeholder to none)."""
        user = quote(self.user, safe="")
        password = quote(self.password or PLACEHOLDER_PASSWORD, safe="")
        host = quote(self.host, safe="") if self.socket else self.host
        host = f"[{host}]" if ":" in host else host
        text = f"postgres://{user}:{password}@{host}:{self.port}/{quote(self.dbname, safe='')}"
        if self.options:
            text += "?" + urlencode(self.options, quote_via=quote, safe="/")
        return text


def _scrub(message: str, source: str | Warehouse) -> str:
    """``message`` without the password of ``source`` in any spelling."""
    if isinstance(source, Warehouse):
        raw = [source.password or ""]
    else:
        scheme, _, rest = source.partition("://")
        head, _, query = rest.partition("?")
        at = head.rfind("@")
        raw = [head[head.index(":") + 1 : at]] if at > 0 and ":" in head[:at] else []
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if _SECRET_KEY.search(key):
                raw.append(value)
    secrets = {s for r in raw for s in (r, unquote(r)) if s}
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return redact(message)


class EmbeddedWarehouse:
    """A PostgreSQL server run from pgserver's binaries with its data under ``home``.

    It asks every connection for a password (scram-sha-256): the superuser ``postgres``'s is
    generated once and kept in ``home/password`` (0600, in a 0700 folder). A data directory
    initialised by an older revops with trust authentication is moved to passwords on start.
    """

    def __init__(self, home: Path | None = None) -> None:
        self.home = (home or state_dir() / "warehouse").resolve()
        self.pgdata = self.home / "pgdata"
        self.state_file = self.home / "warehouse.json"
        self.log_file = self.home / "postgres.log"
        self.password_file = self.home / "password"

    # -- state -------------------------------------------------------------------------------
    def _port(self, after: int | None = None) -> int:
        """The server's port: the one remembered in ``warehouse.json``, else the first free one
        from :data:`EMBEDDED_PORT_START` (or after ``after``), remembered from then on."""
        if after is None and self.state_file.exists():
            return int(json.loads(self.state_file.read_text())["port"])
        port = _free_port(EMBEDDED_PORT_START if after is None else after + 1)
        private_dir(self.home)
        self.state_file.write_text(json.dumps({"port": port}))
        return port

    def _password(self) -> str:
        """The superuser's password, generated once and kept in a 0600 file."""
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        password = secrets.token_urlsafe(24)
        write_private(self.password_file, password.encode())
        return password

    @property
    def warehouse(self) -> Warehouse:
        """The server's database ``revops`` as the superuser (loopback TCP, with the password)."""
        return Warehouse(
            host="127.0.0.1",
            port=self._port(),
            user="postgres",
            dbname=EMBEDDED_DB,
            password=self._password(),
            source="the embedded warehouse",
        )

    @property
    def url(self) -> str:
        """The URL clients connect with, password included (show it with :func:`redact`)."""
        return self.warehouse.url()

    def is_running(self) -> bool:
        """True when this data directory's server accepts connections."""
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        return _accepts(("127.0.0.1", self._port()))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Initialise (first time) and start the server if it is not running; return its URL."""
        pgserver = _pgserver()

        self._check_password_file()
        if self.is_running():
            self._require_passwords()
            return self.url
        user = self._system_user()
        private_dir(self.home)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        password = self._password()
        if user:
            self._grant(user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(pgserver, password, user)
        chosen_now = not self.state_file.exists()
        port = self._port()
        if _accepts(("127.0.0.1", port)):
            raise WarehouseError(
                f"port {port} on 127.0.0.1 is taken by another program; delete "
                f"{self.state_file} to let revops choose a free port"
            )
        if not _pid_alive(self.pgdata):  # a stale pid file left by a killed server
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        for attempt in range(_PORT_ATTEMPTS):
            logged = self.log_file.stat().st_size if self.log_file.exists() else 0
            try:
                self._pg_start(pgserver, port, user)
                break
            except subprocess.CalledProcessError as err:
                tail = _log_since(self.log_file, logged)
                # a port chosen just now can be taken by another server starting at the same
                # moment (it was only checked free): choose the next free one and try again
                if chosen_now and _BIND_FAILED in tail and attempt + 1 < _PORT_ATTEMPTS:
                    port = self._port(after=port)
                    continue
                raise WarehouseError(
                    f"the embedded warehouse did not start (pg_ctl exit {err.returncode}); "
                    f"server log {self.log_file}:\n{tail[-2000:]}"
                ) from err
        self._require_passwords()
        self._ensure_database()
        return self.url

    def _pg_start(self, pgserver, port: int, user: str | None) -> None:
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

    def stop(self) -> bool:
        """Stop the server; return False if it was not running."""
        pgserver = _pgserver()
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._system_user())
        return True

    # -- passwords ---------------------------------------------------------------------------
    def _initdb(self, pgserver, password: str, user: str | None) -> None:
        """A new cluster with scram-sha-256 everywhere and the superuser's password set."""
        pwfile = self.home / f".pwfile.{os.getpid()}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        try:
            if user:  # initdb runs as the server's user, which must read the file
                import pwd

                entry = pwd.getpwnam(user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            pgserver.initdb(
                [
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=utf8",
                    "-U",
                    "postgres",
                ],
                pgdata=self.pgdata,
                user=user,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _trusting_lines(self) -> list[int]:
        """Lines of ``pg_hba.conf`` that let connections in without a password."""
        hba = self.pgdata / "pg_hba.conf"
        if not hba.exists():
            return []
        lines = hba.read_text().splitlines()
        return [i for i, line in enumerate(lines) if _TRUST.search(line.split("#", 1)[0])]

    def _check_password_file(self) -> None:
        """A cluster that asks for passwords is useless without the file that holds it."""
        if self.password_file.exists() or not (self.pgdata / "PG_VERSION").exists():
            return
        if self._trusting_lines():
            return  # an older revops's trust cluster: start() gives it a password
        raise WarehouseError(
            f"the embedded warehouse in {self.pgdata} asks for a password, but the file that "
            f"holds it, {self.password_file}, is missing. Restore that file; or, to set a new "
            f"password, stop the server (`revops warehouse stop`), change the method of every "
            f"rule in {self.pgdata / 'pg_hba.conf'} to trust and run `revops warehouse start`"
        )

    def _require_passwords(self) -> None:
        """Move a cluster an older revops initialised with trust authentication to passwords:
        set the superuser's password, rewrite ``pg_hba.conf`` trust lines to scram-sha-256,
        reload. Data, roles and settings are kept; running it again changes nothing."""
        import psycopg
        from psycopg import sql

        trusting = self._trusting_lines()
        if not trusting:
            return
        hba = self.pgdata / "pg_hba.conf"
        lines = hba.read_text().splitlines(keepends=True)
        admin = self.warehouse.with_dbname("postgres")
        with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter role postgres with password {}").format(
                    sql.Literal(self._password())
                )
            )
            for i in trusting:
                lines[i] = _TRUST.sub("scram-sha-256", lines[i], count=1)
            with open(hba, "r+") as handle:  # in place: the server's user keeps owning it
                handle.write("".join(lines))
                handle.truncate()
            conn.execute("select pg_reload_conf()")

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
        with self.warehouse.with_dbname("postgres").connect(autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (EMBEDDED_DB,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{EMBEDDED_DB}"')


_TRUST = re.compile(r"(?<=\s)trust(?=\s|$)")


def _pgserver():
    """Import pgserver (only when the embedded warehouse is used) without its import warning."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


_PORT_ATTEMPTS = 5
_BIND_FAILED = "could not bind"
"""PostgreSQL's log line when its port is taken (``could not bind IPv4 address``)."""


def _log_since(path: Path, offset: int) -> str:
    """What the server log gained after ``offset`` bytes (all of it if it was rotated)."""
    if not path.exists():
        return ""
    data = path.read_bytes()
    return data[offset if len(data) >= offset else 0 :].decode(errors="replace")


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
    """The canonical ``postgresql://`` URL of an Airflow connection given as a URI or as JSON."""
    return Warehouse.from_airflow_connection(value).url()


def configured() -> Warehouse | None:
    """``REVOPS_WAREHOUSE_URL`` if set (an external warehouse); else the Airflow connection
    ``revops_warehouse`` from ``AIRFLOW_CONN_REVOPS_WAREHOUSE`` (what every Airflow process of
    ``revops airflow start`` carries); else None (embedded). A bad value raises
    :class:`WarehouseError` naming the variable."""
    from revops.settings import ConfigError, current

    try:
        url = current().warehouse_url  # checked by the same parser, Warehouse.parse
    except ConfigError:  # this variable's own error is a WarehouseError, as it always was
        Warehouse.parse(os.environ.get(WAREHOUSE_URL_ENV) or "postgresql://")
        raise
    if url:
        return Warehouse.parse(url)
    connection = os.environ.get(AIRFLOW_CONN_ENV)
    return Warehouse.from_airflow_connection(connection) if connection else None


def configured_url() -> str | None:
    """The canonical URL of :func:`configured`, or None (embedded)."""
    found = configured()
    return found.url() if found else None


def current(start: bool = True) -> Warehouse:
    """The warehouse: the configured one, or the embedded server (started if asked)."""
    found = configured()
    if found:
        return found
    embedded = EmbeddedWarehouse()
    if start:
        embedded.start()
        return embedded.warehouse
    if not embedded.is_running():
        raise WarehouseError(
            "the embedded warehouse is not running: start it with `revops warehouse start`, "
            f"or set {WAREHOUSE_URL_ENV} to a PostgreSQL URL"
        )
    return embedded.warehouse


def warehouse_url(start: bool = True) -> str:
    """The warehouse's canonical URL (password included: show it with :func:`redact`)."""
    return current(start).url()


def as_warehouse(url: str | Warehouse | None) -> Warehouse:
    """``url`` parsed (a URL given by a caller), or the current warehouse when None."""
    if url is None:
        return current()
    if isinstance(url, Warehouse):
        return url
    return Warehouse.parse(url)


def connect(url: str | Warehouse | None = None, **kwargs):
    """A psycopg connection to the warehouse (``url``, or the current one)."""
    return as_warehouse(url).connect(**kwargs)
