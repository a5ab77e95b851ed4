"""Airflow as a service on this machine: ``revops airflow start|stop|status|env``.

Starts Airflow's components one by one (api-server, dag-processor, scheduler, triggerer and,
with ``REVOPS_AIRFLOW_EXECUTOR=celery``, N Celery workers) rather than ``airflow standalone``,
which forces the LocalExecutor. Metadata lives in PostgreSQL: the database ``airflow`` of the
embedded warehouse server by default, or ``REVOPS_AIRFLOW_DB_URL``. Everything the service
keeps is under the Airflow home (``REVOPS_AIRFLOW_HOME``, default ``.revops/airflow-service``):
``airflow.cfg``-free settings in the environment built here, secrets in 0600 files, one pid
file and one log file per component.

Every process gets the same environment: the same JWT secret (processes with different secrets
reject each other's tokens: random 403s), the execution API URL of the api-server, the
``revops_warehouse`` connection and every ``REVOPS_*`` variable of the starting shell.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from revops.config import out_dir, private_dir, project_root, state_dir
from revops.settings import default, load

ADMIN_USER = "admin"
DEFAULT_PORT: int = default("airflow_port")
DEFAULT_BROKER: str = default("celery_broker_url")
AIRFLOW_DB = "airflow"
START_TIMEOUT_S = 240
STOP_GRACE_S = 30
API_TIMEOUT_S = 120
"""How long a REST call to the service may take before it fails."""

# Tuned for a small project (8 DAG files) on a small machine. Each is an Airflow 3.3 option.
TUNING = {
    # re-parse a DAG file at most once a minute (default 30 s): the transform DAG imports Cosmos,
    # and on 2 cores constant re-parsing competes with the tasks; new files are found on the
    # first scan at start and then every refresh_interval (default 300 s)
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
    # the scheduler loop already runs every second when idle; asset-triggered runs are created
    # in that loop, so a chain moves on within a second or two of an asset event
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "5",
    # paused until someone unpauses them: starting the service must not call vendors by itself
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__API__WORKERS": "1",
    # how long a task waits for the api-server's execution API (default 5 s, retried 5 times):
    # one api-server worker on 2 busy cores answered in up to 36 s, and Celery tasks failed
    # with ReadTimeout before they started (measured with three services running at once)
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
    # no usage pings from company runs (dbt's are off in dbt_project.yml)
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
}


class ServiceError(RuntimeError):
    """The Airflow service could not start or be reached; the message names what and the log."""


@dataclass(frozen=True)
class Settings:
    """Where and how the service runs, from ``REVOPS_AIRFLOW_*`` settings."""

    home: Path
    port: int
    executor: str  # "local" or "celery"
    db_url: str | None  # None: the embedded server's database ``airflow``
    broker_url: str
    workers: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, workers: int = 2) -> Settings:
        """Settings from the environment (``REVOPS_AIRFLOW_HOME``, ``_PORT``, ``_EXECUTOR``...)."""
        s = load(environ)  # a bad value: ConfigError naming the variable
        return cls(
            home=Path(s.airflow_home or state_dir() / "airflow-service").resolve(),
            port=s.airflow_port,
            executor=s.airflow_executor,
            db_url=s.airflow_db_url,
            broker_url=s.celery_broker_url,
            workers=workers,
        )

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # log servers (task logs of running tasks) on the ports after the UI's, so two services
    # on one machine with different REVOPS_AIRFLOW_PORT do not collide on Airflow's 8793/8794
    @property
    def worker_log_port(self) -> int:
        return self.port + 1

    @property
    def trigger_log_port(self) -> int:
        return self.port + 2

    @property
    def password_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    def pid_file(self, component: str) -> Path:
        return self.home / "run" / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.home / "logs" / "service" / f"{component}.log"

    def components(self) -> list[str]:
        """Component names in start order (api-server first: the others call its API)."""
        names = ["api-server", "dag-processor", "scheduler", "triggerer"]
        if self.executor == "celery":
            names += [f"worker-{i}" for i in range(1, self.workers + 1)]
        return names

    def running_components(self) -> list[str]:
        """Components with a pid file, whatever the executor now says (stop finds them all)."""
        run = self.home / "run"
        found = sorted(p.stem for p in run.glob("*.pid")) if run.exists() else []
        ordered = [c for c in self.components() if c in found]
        return ordered + [c for c in found if c not in ordered]


# -- secrets --------------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def service_secrets(settings: Settings) -> dict[str, str]:
    """The JWT secret, API secret key and Fernet key, generated once, kept in a 0600 file."""
    if settings.secrets_file.exists():
        return json.loads(settings.secrets_file.read_text())
    values = {
        "jwt_secret": secrets.token_urlsafe(48),
        "api_secret_key": secrets.token_urlsafe(48),
        "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    _write_private(settings.secrets_file, json.dumps(values, indent=2))
    return values


def admin_password(settings: Settings) -> str:
    """The UI/API password of ``admin``, generated once (SimpleAuthManager's passwords file)."""
    if settings.password_file.exists():
        known = json.loads(settings.password_file.read_text() or "{}")
        if ADMIN_USER in known:
            return known[ADMIN_USER]
    password = secrets.token_urlsafe(16)
    _write_private(settings.password_file, json.dumps({ADMIN_USER: password}) + "\n")
    return password


# -- the metadata database -------------------------------------------------------------------


def metadata_db_url(settings: Settings) -> str:
    """The metadata DB URL; the database is created if missing (embedded server by default)."""
    import psycopg

    if settings.db_url:
        url = settings.db_url
    else:
        from revops.warehouse import EmbeddedWarehouse

        embedded = EmbeddedWarehouse()
        embedded.start()  # with its password: the embedded server asks every connection for one
        url = embedded.warehouse.with_dbname(AIRFLOW_DB).url()
    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,))
            if not exists.fetchone():
                conn.execute(f'create database "{dbname}"')
    except psycopg.Error as err:
        from revops.warehouse import redact

        raise ServiceError(
            f"cannot reach or create the Airflow metadata database {redact(url)}: {err}"
        ) from err
    return url


def _sqlalchemy_url(url: str, driver: str = "psycopg2") -> str:
    """The SQLAlchemy URL with the given driver (a driver already named in the URL is kept)."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        parts = parts._replace(scheme=f"postgresql+{driver}")
    return urlunsplit(parts)


# -- the environment every process shares ---------------------------------------------------


def airflow_config_dir() -> Path:
    """The folder of revops' ``airflow_local_settings.py``, on every process's ``PYTHONPATH``
    (the Docker image has it at ``/opt/airflow/airflow_config``, on its ``PYTHONPATH``)."""
    return project_root() / "airflow_config"


def service_env(settings: Settings, db_url: str, warehouse_url: str) -> dict[str, str]:
    """Variables that configure Airflow for this service (no inherited environment)."""
    from revops.orchestration.objects import WAREHOUSE_CONN_ENV, warehouse_connection_uri

    keys = service_secrets(settings)
    sqlalchemy_url = _sqlalchemy_url(db_url)
    env = {
        "AIRFLOW_HOME": str(settings.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_root() / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url,
        # the async engine (api-server, triggerer) through psycopg 3; asyncpg is not installed
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _sqlalchemy_url(db_url, "psycopg"),
        "AIRFLOW__CORE__EXECUTOR": (
            "CeleryExecutor" if settings.executor == "celery" else "LocalExecutor"
        ),
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.ui_url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.port),
        "AIRFLOW__API__BASE_URL": settings.ui_url,
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.password_file),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.trigger_log_port),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": (load().airflow_log_level or "info").upper(),
        **TUNING,
        WAREHOUSE_CONN_ENV: warehouse_connection_uri(warehouse_url),
        "REVOPS_WAREHOUSE_URL": warehouse_url,
    }
    if settings.executor == "celery":
        env["AIRFLOW__CELERY__BROKER_URL"] = settings.broker_url
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + sqlalchemy_url
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(load().celery_worker_concurrency)
    return env


def process_env(settings: Settings, airflow: Mapping[str, str]) -> dict[str, str]:
    """What each process runs with: the shell's environment, every REVOPS_* and the service's."""
    inherited = dict(os.environ)
    # tasks find the embedded warehouse, outputs and dlt state where the starting shell would
    inherited.setdefault("REVOPS_HOME", str(state_dir()))
    inherited.setdefault("REVOPS_OUT_DIR", str(out_dir()))
    bin_dir = str(Path(sys.executable).parent)
    path = inherited.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        inherited["PATH"] = bin_dir + os.pathsep + path
    # Airflow's local settings for revops (each process imports them at start: they preload
    # what the tasks import in the processes that fork them, revops.orchestration.preload)
    config = str(airflow_config_dir())
    python_path = inherited.get("PYTHONPATH", "")
    if config not in python_path.split(os.pathsep):
        inherited["PYTHONPATH"] = os.pathsep.join(filter(None, [config, python_path]))
    no_proxy = inherited.get("NO_PROXY", "")
    inherited["NO_PROXY"] = ",".join(filter(None, [no_proxy, "127.0.0.1", "localhost"]))
    # an explicit AIRFLOW__* in the shell wins over the service's tuning, not over its wiring
    wiring = {k: v for k, v in airflow.items() if k not in TUNING}
    tuning = {k: v for k, v in TUNING.items() if k not in os.environ}
    return {**inherited, **tuning, **wiring}


# -- processes -------------------------------------------------------------------------------


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _command(settings: Settings, component: str) -> list[str]:
    if component == "api-server":
        return [_airflow(), "api-server", "--host", "127.0.0.1", "--port", str(settings.port)]
    if component.startswith("worker-"):
        number = int(component.split("-")[1])
        command = [_airflow(), "celery", "worker", "--celery-hostname", f"{component}@%h"]
        # one log server serves the shared log folder for every worker on this machine
        return command if number == 1 else [*command, "--skip-serve-logs"]
    return [_airflow(), component]


def _start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot; Linux), to tell it from a reused pid.

    Unlike its command line, this does not change across ``exec`` or when a process retitles
    itself (the api-server and Celery workers do).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in () may hold spaces


def _read_pid(path: Path) -> tuple[int, str | None] | None:
    """The pid and start time recorded in a pid file, or None."""
    try:
        fields = path.read_text().split()
        return int(fields[0]), (fields[1] if len(fields) > 1 else None)
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _alive(pid: int, started: str | None = None) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or _start_time(pid) in (None, started)


def component_pid(settings: Settings, component: str) -> int | None:
    """The pid of a running component, or None."""
    recorded = _read_pid(settings.pid_file(component))
    return recorded[0] if recorded is not None and _alive(*recorded) else None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _spawn(settings: Settings, component: str, env: Mapping[str, str]) -> int:
    log_file = settings.log_file(component)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"\n--- revops airflow start {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        log.flush()
        process = subprocess.Popen(
            _command(settings, component),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop kills the api-server's workers too
        )
    settings.pid_file(component).parent.mkdir(parents=True, exist_ok=True)
    started = _start_time(process.pid) or ""
    settings.pid_file(component).write_text(f"{process.pid} {started}".strip())
    return process.pid


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- the API ---------------------------------------------------------------------------------


class Api:
    """A minimal client for the service's REST API (``/api/v2``), logged in as ``admin``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._token: str | None = None

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.settings.ui_url + path, data=data, headers=headers, method=method
        )
        # one api-server worker on a busy 2-core machine answered in up to 36 s (measured)
        with _no_proxy_opener().open(request, timeout=API_TIMEOUT_S) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def token(self) -> str:
        if self._token is None:
            answer = self._request(
                "POST",
                "/auth/token",
                {"username": ADMIN_USER, "password": admin_password(self.settings)},
                auth=False,
            )
            self._token = answer["access_token"]
        return self._token

    def health(self) -> dict:
        return self._request("GET", "/api/v2/monitor/health", auth=False)

    def get(self, path: str) -> dict:
        return self._request("GET", "/api/v2" + path)

    def post(self, path: str, body: dict) -> dict:
        return self._request("POST", "/api/v2" + path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._request("PATCH", "/api/v2" + path, body)


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- start / stop / status / env -------------------------------------------------------------


def _say(message: str) -> None:
    print(message, flush=True)


def start(
    settings: Settings | None = None, progress: Callable[[str], None] | None = _say
) -> Settings:
    """Start every component not yet running, apply the objects, wait until it is healthy."""
    from revops.warehouse import redact, warehouse_url

    settings = settings or Settings.from_env()
    say = progress or (lambda _message: None)
    began = time.monotonic()
    private_dir(settings.home)  # task logs and secrets: its owner only
    say(f"Airflow home {settings.home} ({settings.executor} executor)")
    warehouse = warehouse_url()
    db_url = metadata_db_url(settings)
    say(f"  metadata DB {redact(db_url)}; warehouse {redact(warehouse)}")
    admin_password(settings)
    env = process_env(settings, service_env(settings, db_url, warehouse))
    say("  applying the metadata DB migrations, pools and variables")
    applied = subprocess.run(
        [sys.executable, "-m", "revops.orchestration.objects"],
        env=env,
        capture_output=True,
        text=True,
    )
    if applied.returncode != 0:
        log = settings.log_file("objects")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(applied.stdout + applied.stderr)
        raise ServiceError(
            f"migrating the metadata DB or applying pools failed:\n{_tail(log)}\nfull log: {log}"
        )
    for component in settings.components():
        pid = component_pid(settings, component)
        if pid:
            say(f"  {component}: already running (pid {pid})")
            continue
        pid = _spawn(settings, component, env)
        say(f"  {component}: started (pid {pid}), log {settings.log_file(component)}")
    _wait_healthy(settings, began, say)
    say(f"Airflow is up in {time.monotonic() - began:.0f}s")
    for line in login_lines(settings):
        say(line)
    return settings


def _wait_healthy(settings: Settings, began: float, say: Callable[[str], None]) -> None:
    api = Api(settings)
    wanted = ["scheduler", "dag_processor", "triggerer"]
    reported: set[str] = set()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for component in settings.components():
            if component_pid(settings, component) is None:
                log = settings.log_file(component)
                time.sleep(1)  # let its last words reach the log
                raise ServiceError(
                    f"Airflow {component} exited while starting; last lines of {log}:\n"
                    f"{_tail(log)}\n(`revops airflow stop` stops the components still running)"
                )
        try:
            health = api.health()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            health = None
        if health is not None:
            if "api-server" not in reported:
                reported.add("api-server")
                say(f"  api-server: answering ({time.monotonic() - began:.0f}s)")
            for part in wanted:
                if part not in reported and (health.get(part) or {}).get("status") == "healthy":
                    reported.add(part)
                    say(f"  {part.replace('_', '-')}: healthy ({time.monotonic() - began:.0f}s)")
            if all(part in reported for part in wanted):
                return
        time.sleep(1)
    waiting = [c for c in ["api-server", *wanted] if c not in reported]
    logs = ", ".join(str(settings.log_file(c.replace("_", "-"))) for c in waiting)
    raise ServiceError(
        f"Airflow did not become healthy in {START_TIMEOUT_S}s: waiting for "
        f"{', '.join(waiting)}; see {logs}"
    )


def stop(settings: Settings | None = None, progress: Callable[[str], None] | None = _say) -> int:
    """Stop every component by process group (SIGTERM, then SIGKILL); return how many ran."""
    settings = settings or Settings.from_env()
    say = progress or (lambda _message: None)
    groups: dict[str, int] = {}
    for component in settings.running_components():
        pid = component_pid(settings, component)
        if pid is None:
            settings.pid_file(component).unlink(missing_ok=True)
            continue
        groups[component] = pid  # the pid is its group id (start_new_session)
    for pgid in groups.values():
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(_gone_or_reap(g) is False for g in groups.values()):
        time.sleep(0.3)
    for component, pgid in groups.items():
        forced = not _gone_or_reap(pgid)
        if forced:
            _signal_group(pgid, signal.SIGKILL)
        settings.pid_file(component).unlink(missing_ok=True)
        say(f"  {component}: stopped (pid {pgid}{', killed' if forced else ''})")
    # SIGKILLed groups disappear asynchronously
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(not _gone_or_reap(g) for g in groups.values()):
        time.sleep(0.2)
    if not groups:
        say("Airflow was not running")
    return len(groups)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _gone_or_reap(pgid: int) -> bool:
    _alive(pgid)  # reaps the leader if it is our own child
    return not _group_alive(pgid)


def status(settings: Settings | None = None) -> tuple[list[str], bool]:
    """Lines describing each component and how to reach the UI; True when all are running."""
    settings = settings or Settings.from_env()
    lines = [f"Airflow home {settings.home} ({settings.executor} executor)"]
    all_running = True
    for component in settings.components():
        pid = component_pid(settings, component)
        all_running &= pid is not None
        state = f"running (pid {pid})" if pid else "stopped"
        lines.append(f"  {component:<14} {state}  log {settings.log_file(component)}")
    if all_running:
        try:
            health = Api(settings).health()
            parts = ", ".join(
                f"{name} {(health.get(name) or {}).get('status', 'unknown')}"
                for name in ("metadatabase", "scheduler", "dag_processor", "triggerer")
            )
            lines.append(f"  health: {parts}")
        except OSError as err:
            lines.append(f"  health: the API does not answer ({err})")
        lines += login_lines(settings)
    return lines, all_running


def login_lines(settings: Settings) -> list[str]:
    """Where the UI is and how to log in (the password is printed: the user needs it)."""
    return [
        f"UI and API: {settings.ui_url}",
        f"log in as {ADMIN_USER} with password {admin_password(settings)} "
        f"(kept in {settings.password_file})",
    ]


def env_exports(settings: Settings | None = None) -> list[str]:
    """``export`` lines that point the plain ``airflow`` CLI at this service (with secrets)."""
    import shlex

    from revops.warehouse import warehouse_url

    settings = settings or Settings.from_env()
    db_url = metadata_db_url(settings)
    variables = service_env(settings, db_url, warehouse_url())
    variables = {**TUNING, **variables}
    return [f"export {key}={shlex.quote(value)}" for key, value in sorted(variables.items())]
