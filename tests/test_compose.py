"""docker-compose.yml and Dockerfile, checked without Docker: the Compose schema, and agreement
with the code on every service, variable, host, port, path and version the file names.

Docker's daemon is not available where the suite runs, so nothing here starts a container;
what can be known from the files and the code is checked instead.

``tests/data/compose-spec.json`` is the Compose Specification's JSON schema, copied unchanged
from github.com/compose-spec/compose-spec, ``schema/compose-spec.json`` at commit
170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23; Apache-2.0).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from revops.orchestration.objects import WAREHOUSE_CONN_ENV, warehouse_connection_uri
from revops.simulator import credentials as sim
from revops.sources import SYSTEMS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"

AIRFLOW_COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
# the ports the third-party images listen on (their documentation)
IMAGE_PORTS = {
    "postgres": {5432},
    "redis": {6379},
    "axllent/mailpit": {1025, 8025},
    "apache/superset": {8088},
}


# -- reading the files ------------------------------------------------------------------------


def _interpolate(value: object) -> object:
    """Compose's interpolation with an empty environment: ``${X:-d}`` -> d, ``$$`` -> ``$``."""
    if not isinstance(value, str):
        return value
    value = re.sub(r"(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    return value.replace("$$", "$")


@cache
def _compose_text() -> str:
    return COMPOSE.read_text()


@cache
def compose() -> dict:
    """The parsed file (YAML anchors and merge keys resolved). Tests only read it."""
    return yaml.safe_load(_compose_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def env(service: dict) -> dict[str, str]:
    """A service's environment after interpolation (mapping form, as this file writes it)."""
    raw = service.get("environment") or {}
    assert isinstance(raw, dict), "write environment as a mapping"
    return {k: str(_interpolate(v)) for k, v in raw.items()}


def command(service: dict) -> str:
    """The service's command (and entrypoint) as one string of shell text."""
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        parts.extend(value if isinstance(value, list) else [value] if value else [])
    return _interpolate(" ".join(str(p) for p in parts))


def airflow_services() -> dict[str, dict]:
    """Services that run an Airflow process (they carry Airflow's configuration)."""
    return {n: s for n, s in services().items() if "AIRFLOW__CORE__EXECUTOR" in env(s)}


def healthcheck_text(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return _interpolate(" ".join(test) if isinstance(test, list) else test)


def image_name(service: dict) -> str:
    return service["image"].rsplit(":", 1)[0]


def dockerfile() -> dict:
    """ARG defaults, ENV values, the FROM image, COPY targets and the final WORKDIR."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out: dict = {"args": {}, "env": {}, "from": None, "copies": {}, "workdir": None}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        op, rest = words[0].upper(), words[1:]
        if op == "ARG" and "=" in rest[0]:
            name, default = rest[0].split("=", 1)
            out["args"][name] = default
        elif op == "ENV":
            out["env"].update(dict(w.split("=", 1) for w in rest))
        elif op == "FROM":
            out["from"] = re.sub(
                r"\$\{(\w+)\}", lambda m: out["args"][m.group(1)], rest[0]
            )  # the ARGs before FROM
        elif op == "WORKDIR":
            out["workdir"] = rest[0]
        elif op == "COPY":
            args = [w for w in rest if not w.startswith("--")]
            for source in args[:-1]:
                out["copies"][source.rstrip("/")] = args[-1]
    return out


def resolve(target: str, workdir: str) -> str:
    return target if target.startswith("/") else f"{workdir.rstrip('/')}/{target.lstrip('./')}"


def airflow_pin() -> str:
    pins = dict(
        line.strip().split("==", 1)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    return pins["apache-airflow"]


def airflow_package() -> Path:
    """The installed ``airflow`` package's folder, found without importing Airflow."""
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0])


@cache
def airflow_config_defaults() -> dict[tuple[str, str], str]:
    """Airflow's documented defaults (its config.yml), read without importing Airflow."""
    config = airflow_package() / "config_templates" / "config.yml"
    sections = yaml.safe_load(config.read_text())
    return {
        (section, option): str(meta.get("default"))
        for section, body in sections.items()
        for option, meta in (body.get("options") or {}).items()
    }


def airflow_setting(environment: dict[str, str], section: str, option: str) -> str:
    name = f"AIRFLOW__{section.upper()}__{option.upper()}"
    return environment.get(name, airflow_config_defaults()[(section, option)])


def simulator_first_port() -> int:
    match = re.search(r"simulate serve\b.*?--port (\d+)", command(services()["simulator"]))
    assert match, "the simulator's command names its first port"
    return int(match.group(1))


def listening_ports(name: str, service: dict) -> set[int]:
    """What a service listens on, from the code or the image's documented defaults."""
    if name == "simulator":
        first = simulator_first_port()
        return {first + i for i in range(len(sim.SYSTEMS))}
    if name in airflow_services() and command(service) == "api-server":
        return {int(airflow_setting(env(service), "api", "port"))}
    return IMAGE_PORTS.get(image_name(service), set())


def _port_range(spec: str) -> set[int]:
    low, _, high = spec.partition("-")
    return set(range(int(low), int(high or low) + 1))


def container_ports(service: dict) -> set[int]:
    """Container-side ports a service publishes or exposes (ranges expanded)."""
    ports: set[int] = set()
    for entry in [*(service.get("ports") or []), *(service.get("expose") or [])]:
        ports |= _port_range(str(entry).split("/")[0].rsplit(":", 1)[-1])
    return ports


def published_ports(service: dict) -> set[int]:
    """Host-side ports a service publishes ("[ip:]host:container")."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) >= 2, f"{entry}: publish with an explicit host port"
        ports |= _port_range(parts[-2])
    return ports


# -- what the code reads ---------------------------------------------------------------------

_READERS = {"setting", "optional", "id_list", "start_date"}


def _called(node: ast.AST) -> str | None:
    func = getattr(node, "func", None)
    return getattr(func, "id", None) or getattr(func, "attr", None)


def _setting_keys(tree: ast.AST) -> set[str]:
    """Keys a connector reads with ``setting(SYSTEM, "key")`` and its siblings."""
    keys: set[str] = set()
    for node in ast.walk(tree):
        name = _called(node)
        if name in _READERS and len(node.args) >= 2:
            key = node.args[1]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
        if name == "api_url":
            keys.add("url")
        if name == "start_date":
            keys.add("start_date")
    return keys


@cache
def connector_variables() -> dict[str, set[str]]:
    """Per system, the ``REVOPS_<SYSTEM>_<KEY>`` variables its connector module reads."""
    settings_tree = ast.parse((ROOT / "src/revops/sources/settings.py").read_text())
    oauth = next(
        node
        for node in ast.walk(settings_tree)
        if isinstance(node, ast.FunctionDef) and node.name == "oauth_token"
    )
    found: dict[str, set[str]] = {}
    for system, target in SYSTEMS.items():
        module = target.split(":")[0]
        tree = ast.parse((ROOT / "src" / (module.replace(".", "/") + ".py")).read_text())
        keys = _setting_keys(tree)
        if any(_called(node) == "oauth_token" for node in ast.walk(tree)):
            keys |= _setting_keys(oauth)
        found[system] = {f"REVOPS_{system}_{key}".upper() for key in keys}
    return found


@cache
def variables_read() -> set[str]:
    """Every REVOPS_* name the code reads: literal names in src/ and dags/, dbt's env_var()
    calls, and each connector's REVOPS_<SYSTEM>_<KEY> settings."""
    names: set[str] = set()
    for path in [*(ROOT / "src/revops").rglob("*.py"), *(ROOT / "dags").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"REVOPS_[A-Z0-9_]*[A-Z0-9]", node.value):
                    names.add(node.value)
    for path in (ROOT / "dbt_project").glob("*.yml"):
        names.update(re.findall(r"env_var\(\s*'(REVOPS_[A-Z0-9_]+)'", path.read_text()))
    for variables in connector_variables().values():
        names |= variables
    return names


# -- the tests -------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose()), key=lambda e: e.json_path
    )
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_every_component_of_airflows_celery_deployment_and_the_revops_services_is_there():
    names = set(services())
    assert {"airflow-init", "postgres", "redis", "warehouse", "mail", "simulator"} <= names
    for name, cmd in AIRFLOW_COMPONENTS.items():
        assert command(services()[name]) == cmd, name
    assert set(AIRFLOW_COMPONENTS) <= set(airflow_services())


def test_images_are_pinned_by_version():
    for name, service in services().items():
        image = service.get("image")
        assert image, f"{name} names its image"
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} has no version in its tag"


def test_airflow_image_is_the_official_one_at_the_pinned_version():
    pin = airflow_pin()
    docker = dockerfile()
    assert docker["args"]["AIRFLOW_VERSION"] == pin
    assert re.fullmatch(rf"apache/airflow:(slim-)?{re.escape(pin)}-python3\.11", docker["from"])
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    built = {n: s for n, s in services().items() if "build" in s}
    assert set(airflow_services()) | {"simulator"} <= set(built)
    for name, service in built.items():
        assert str(service["build"]["args"]["AIRFLOW_VERSION"]) == pin, name
        assert service["image"] == f"revops-airflow:{version.group(1)}-airflow{pin}", name


def test_airflow_processes_share_one_configuration():
    """Same JWT secret (a mismatch gives random 403s), execution API, metadata DB and broker
    everywhere; CeleryExecutor with Redis as broker and the metadata DB as result backend."""
    shared = [
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__FERNET_KEY",
    ]
    envs = {name: env(s) for name, s in airflow_services().items()}
    assert set(AIRFLOW_COMPONENTS) | {"airflow-init"} <= set(envs)
    for key in shared:
        values = {name: e.get(key) for name, e in envs.items()}
        assert None not in values.values() and len(set(values.values())) == 1, (key, values)
    one = envs["airflow-scheduler"]
    assert one["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert one["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert urlsplit(one["AIRFLOW__CELERY__BROKER_URL"]).scheme == "redis"
    metadata = urlsplit(one["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    backend = urlsplit(one["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
    assert (backend.scheme, backend.hostname, backend.path) == (
        metadata.scheme,
        metadata.hostname,
        metadata.path,
    )
    assert urlsplit(one["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path == "/execution/"


def _endpoints(environment: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Every (host, port) a service's settings point at."""
    found = {}
    for key, value in environment.items():
        if "://" in value and key != "REQUESTS_CA_BUNDLE":
            parts = urlsplit(value.removeprefix("db+"))
            scheme = parts.scheme.split("+")[0]
            default = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "http": 80}
            found[key] = (parts.hostname, parts.port or default.get(scheme, 443))
    if "REVOPS_SMTP_HOST" in environment:
        found["REVOPS_SMTP_HOST"] = (
            environment["REVOPS_SMTP_HOST"],
            int(environment["REVOPS_SMTP_PORT"]),
        )
    return found


def test_every_host_and_port_a_service_connects_to_is_a_service_listening_there():
    svc = services()
    checked = 0
    for name, service in svc.items():
        for key, (host, port) in _endpoints(env(service)).items():
            if host == "localhost":  # links for the user's browser: a published port
                assert any(port in published_ports(s) for s in svc.values()), (name, key)
                continue
            assert host in svc, f"{name}: {key} points at {host}, not a service"
            assert port in listening_ports(host, svc[host]), f"{name}: {key} -> {host}:{port}"
            checked += 1
    assert checked >= 10
    # and those services listen on every interface, not only inside their own container
    api = svc["airflow-apiserver"]
    assert airflow_setting(env(api), "api", "host") in ("0.0.0.0", "::")
    assert re.search(r"simulate serve\b.*--host (0\.0\.0\.0|::)\b", command(svc["simulator"]))


def test_published_and_exposed_ports_are_ports_the_services_listen_on():
    for name, service in services().items():
        ports = container_ports(service)
        assert ports <= listening_ports(name, service), (name, ports)
    assert container_ports(services()["simulator"]) == listening_ports(
        "simulator", services()["simulator"]
    )


def test_healthchecks_use_the_ports_and_endpoints_the_services_serve():
    svc = services()
    api = svc["airflow-apiserver"]
    api_port = int(airflow_setting(env(api), "api", "port"))
    assert f"localhost:{api_port}/api/v2/monitor/health" in healthcheck_text(api)
    scheduler = svc["airflow-scheduler"]
    assert airflow_setting(env(scheduler), "scheduler", "enable_health_check").lower() == "true"
    port = airflow_setting(env(scheduler), "scheduler", "scheduler_health_check_server_port")
    assert f"localhost:{port}/health" in healthcheck_text(scheduler)
    for name, job in [("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "")]:
        assert f"--job-type {job or 'TriggererJob'}" in healthcheck_text(svc[name])
    app = re.search(r"--app ([\w.]+)\.app", healthcheck_text(svc["airflow-worker"])).group(1)
    # the Celery provider's app module, where the pinned provider installs it
    assert airflow_package().joinpath(*app.split(".")[1:]).with_suffix(".py").exists(), app
    simulator = healthcheck_text(svc["simulator"])
    for port in listening_ports("simulator", svc["simulator"]):
        assert str(port) in simulator
    assert "--cacert" in simulator and "https://simulator:" in simulator


def test_services_others_wait_for_healthy_have_healthchecks_and_long_running_ones_too():
    svc = services()
    for name, service in svc.items():
        for target, condition in (service.get("depends_on") or {}).items():
            assert target in svc, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                check = svc[target].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{target} (for {name})"
            if condition["condition"] == "service_completed_successfully":
                assert "restart" not in svc[target], f"{target} is one-shot"
        long_running = "restart" in service
        if long_running:
            assert (service.get("healthcheck") or {}).get("test"), f"{name} has no healthcheck"
    assert {n for n, s in svc.items() if "restart" in s} >= set(AIRFLOW_COMPONENTS) | {
        "postgres",
        "redis",
        "warehouse",
        "mail",
        "simulator",
    }


def test_every_revops_variable_the_file_sets_is_one_the_code_reads():
    set_here = {k for s in services().values() for k in env(s) if k.startswith("REVOPS_")}
    assert len(set_here) > 20
    unknown = sorted(set_here - variables_read())
    assert not unknown, f"not read by any code under src/ or dags/: {unknown}"


def test_every_vendor_points_at_the_simulator_with_its_credentials(tmp_path):
    """Same values as `revops simulate env --host simulator --port P`, for every variable a
    connector reads; each system's URL names the simulator's port for that system."""
    worker = env(services()["airflow-worker"])
    first = simulator_first_port()
    host = urlsplit(worker["REVOPS_HUBSPOT_URL"]).hostname
    expected = sim.env_exports(f"https://{host}:{first}", cert_dir=tmp_path)
    for system in SYSTEMS:
        wanted = {k: v for k, v in expected.items() if k in connector_variables()[system]}
        assert f"REVOPS_{system.upper()}_URL" in wanted, system
        for key, value in wanted.items():
            assert worker.get(key) == value, key
    urls = sim.urls_for(host, first)
    assert {s: worker[f"REVOPS_{s.upper()}_URL"] for s in SYSTEMS} == {s: urls[s] for s in SYSTEMS}
    # the certificate the simulator serves covers the host name in those URLs
    sim_cmd = command(services()["simulator"])
    assert f"simulate env --host {host} --port {first}" in sim_cmd


def _volume_target(service: dict, volume: str) -> str | None:
    for entry in service.get("volumes") or []:
        source, target = str(entry).split(":")[:2]
        if source == volume:
            return target
    return None


def test_workers_trust_the_ca_the_simulator_writes_into_a_shared_volume(monkeypatch):
    from revops.simulator.tls import default_cert_dir

    svc = services()
    simulator = svc["simulator"]
    home = env(simulator).get("REVOPS_HOME") or dockerfile()["env"]["REVOPS_HOME"]
    monkeypatch.setenv("REVOPS_HOME", home)
    cert_dir = str(default_cert_dir())
    volume = next(
        str(v).split(":")[0]
        for v in simulator["volumes"]
        if str(v).split(":")[1] == cert_dir and not str(v).endswith(":ro")
    )
    assert volume in compose()["volumes"]
    for name in ["airflow-worker", "airflow-triggerer"]:
        bundle = env(svc[name])["REQUESTS_CA_BUNDLE"]
        assert bundle.endswith("/ca.pem")
        assert _volume_target(svc[name], volume) == bundle.rsplit("/", 1)[0], name


def test_the_warehouse_connection_and_url_name_the_warehouse_service_and_its_login():
    svc = services()
    for name, service in airflow_services().items():
        e = env(service)
        assert e[WAREHOUSE_CONN_ENV] == warehouse_connection_uri(e["REVOPS_WAREHOUSE_URL"]), name
    url = urlsplit(env(svc["airflow-worker"])["REVOPS_WAREHOUSE_URL"])
    db = env(svc[url.hostname])
    assert (url.username, url.password, url.path) == (
        db["POSTGRES_USER"],
        db["POSTGRES_PASSWORD"],
        "/" + db["POSTGRES_DB"],
    )
    meta = urlsplit(env(svc["airflow-scheduler"])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    db = env(svc[meta.hostname])
    assert (meta.username, meta.password, meta.path) == (
        db["POSTGRES_USER"],
        db["POSTGRES_PASSWORD"],
        "/" + db["POSTGRES_DB"],
    )


def test_dags_dbt_project_and_expectations_are_where_airflow_and_revops_look():
    """DAGs in Airflow's dags folder; dbt_project/ and expectations/ in the working directory,
    where revops.config.project_root() finds them when the package is installed."""
    docker = dockerfile()
    workdir = docker["workdir"]
    assert workdir
    for name, service in airflow_services().items():
        dags_folder = airflow_setting(env(service), "core", "dags_folder")
        dags_folder = dags_folder.replace("{AIRFLOW_HOME}", "/opt/airflow")
        assert dags_folder == f"{workdir}/dags", name
        for folder, marker in [
            ("dags", "revops_publish.py"),
            ("dbt_project", "dbt_project.yml"),
            ("airflow_config", "airflow_local_settings.py"),
        ]:
            assert (ROOT / folder / marker).exists()
            in_image = resolve(docker["copies"].get(folder, ""), workdir)
            mounted = {
                str(v).split(":")[1]
                for v in service.get("volumes") or []
                if str(v).split(":")[0] in (f"./{folder}", folder)
            }
            assert f"{workdir}/{folder}" in mounted | {in_image}, (name, folder)
        assert resolve(docker["copies"]["expectations"], workdir) == f"{workdir}/expectations"
        # Airflow imports revops' airflow_local_settings from there (PYTHONPATH, as the service)
        pythonpath = {**docker["env"], **env(service)}.get("PYTHONPATH", "").split(":")
        assert f"{workdir}/airflow_config" in pythonpath, name
    ignored = (ROOT / ".dockerignore").read_text().split()
    kept = {"src", "dags", "dbt_project", "expectations", "airflow_config", "constraints.txt"}
    assert not kept & set(ignored)


def test_init_migrates_and_applies_the_projects_airflow_objects_and_the_ui_login():
    init = services()["airflow-init"]
    script = command(init)
    assert "airflow db migrate" in script
    for module in re.findall(r"python -m ([\w.]+)", script):
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        assert "def apply(" in Path(spec.origin).read_text()
    assert "revops.orchestration.objects" in script
    e = env(init)
    assert (
        e["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")[0]
        == (e["_AIRFLOW_WWW_USER_USERNAME"])
    )
    passwords = e["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert '> "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"' in script
    assert passwords.rsplit("/", 1)[0] in {
        _volume_target(init, v) for v in compose()["volumes"]
    } & {_volume_target(services()["airflow-apiserver"], v) for v in compose()["volumes"]}


def test_revops_commands_in_the_file_parse():
    """Every `revops ...` the services run, and the CLI examples in the top comment."""
    from revops.cli import build_parser

    lines = [
        line
        for service in services().values()
        for line in command(service).splitlines()
        if line.strip().startswith(("revops ", "exec revops "))
    ]
    header = _compose_text().split("\nx-", 1)[0]
    lines += re.findall(r"docker compose run --rm (revops [^\n#]+)", header)
    assert len(lines) >= 3
    for line in lines:
        argv = shlex.split(line.split(">")[0])
        argv = argv[argv.index("revops") + 1 :]
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help exits 0; a wrong command exits 2
            assert exit_.code == 0, line


def test_the_unpause_example_matches_every_dag():
    pattern = re.search(r"dags unpause --treat-dag-id-as-regex -y '([^']+)'", _compose_text())
    dag_ids = [p.stem for p in (ROOT / "dags").glob("*.py") if not p.stem.startswith("_")]
    assert len(dag_ids) >= 8
    assert all(re.search(pattern.group(1), dag_id) for dag_id in dag_ids)


@pytest.mark.parametrize("service", ["warehouse", "mail", "airflow-apiserver"])
def test_documented_urls_match_published_ports(service):
    """The top comment's URLs use the ports the services publish."""
    header = _compose_text().split("\nx-", 1)[0]
    used = {int(port) for port in re.findall(r"localhost:(\d+)", header)}
    assert published_ports(services()[service]) & used, service
