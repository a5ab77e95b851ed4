"""Set up Superset on the warehouse's marts (run by `make bi` with .venv-bi's Python).

    python bi/setup.py WAREHOUSE_URL

WAREHOUSE_URL is an owner's URL (`revops warehouse url --show-password`): it is used once, to
create (or re-password) the login role `revops_bi` in role `bi_reader`, which dbt grants the
marts and nothing else. Superset connects as `revops_bi`, never as the owner. Then: Superset's
metadata (SQLite under SUPERSET_HOME), an admin login, the warehouse as a database, every
table in `marts` as a dataset, and the dashboard in bi/dashboard.yaml. Idempotent: a rerun
replaces the database's URL, the datasets it lacks and the dashboard.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import yaml

BI = Path(__file__).resolve().parent
HOME = Path(os.environ.get("SUPERSET_HOME", ".revops/bi")).resolve()
LOGIN_ROLE = "revops_bi"
DATABASE_NAME = "revops warehouse"
ADMIN = "admin"


def secret(name: str) -> str:
    """A generated secret kept in HOME (made on first use, never in the repository)."""
    path = HOME / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def bi_reader_url(owner_url: str) -> str:
    """Create or re-password the login role in bi_reader; its URL on the same database."""
    password = secret("warehouse_password")
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", (LOGIN_ROLE,))
        verb = "alter" if cur.fetchone() else "create"
        cur.execute(f"{verb} role {LOGIN_ROLE} login password %s", (password,))
        cur.execute(f"grant bi_reader to {LOGIN_ROLE}")
    parts = urlsplit(owner_url)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    url = parts._replace(scheme="postgresql", netloc=f"{LOGIN_ROLE}:{password}@{host}")
    return urlunsplit(url)


def superset(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "superset"), *args], check=True)


def api(client, method: str, path: str, token: str, **body):
    response = getattr(client, method)(
        path, json=body or None, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code >= 400:
        raise SystemExit(
            f"Superset {method.upper()} {path}: {response.status_code} {response.text}"
        )
    return response.get_json()


def register(url: str, password: str) -> int:
    """Database, datasets, charts and dashboard through the REST API; the dashboard's id."""
    from superset.app import create_app

    app = create_app()
    client = app.test_client()
    login = client.post(
        "/api/v1/security/login",
        json={"username": ADMIN, "password": password, "provider": "db", "refresh": False},
    )
    token = login.get_json()["access_token"]

    q = json.dumps({"filters": [{"col": "database_name", "opr": "eq", "value": DATABASE_NAME}]})
    found = api(client, "get", f"/api/v1/database/?q={q}", token)["result"]
    db = {"database_name": DATABASE_NAME, "sqlalchemy_uri": url, "expose_in_sqllab": True}
    if found:
        database_id = found[0]["id"]
        api(client, "put", f"/api/v1/database/{database_id}", token, **db)
    else:
        database_id = api(client, "post", "/api/v1/database/", token, **db)["id"]

    tables = api(
        client,
        "get",
        f"/api/v1/database/{database_id}/tables/?q=(schema_name:marts,force:!t)",
        token,
    )["result"]
    q = json.dumps(
        {"filters": [{"col": "schema", "opr": "eq", "value": "marts"}], "page_size": 1000}
    )
    have = {
        d["table_name"]: d["id"]
        for d in api(client, "get", f"/api/v1/dataset/?q={q}", token)["result"]
    }
    for table in sorted(t["value"] for t in tables if t["type"] in ("table", "view")):
        if table not in have:
            have[table] = api(
                client,
                "post",
                "/api/v1/dataset/",
                token,
                database=database_id,
                schema="marts",
                table_name=table,
            )["id"]

    spec = yaml.safe_load((BI / "dashboard.yaml").read_text())
    q = json.dumps({"filters": [{"col": "slug", "opr": "eq", "value": spec["slug"]}]})
    for old in api(client, "get", f"/api/v1/dashboard/?q={q}", token)["result"]:
        charts = api(client, "get", f"/api/v1/dashboard/{old['id']}/charts", token)["result"]
        api(client, "delete", f"/api/v1/dashboard/{old['id']}", token)
        for chart in charts:
            api(client, "delete", f"/api/v1/chart/{chart['id']}", token)
    dashboard_id = api(
        client,
        "post",
        "/api/v1/dashboard/",
        token,
        dashboard_title=spec["title"],
        slug=spec["slug"],
        published=True,
    )["id"]
    layout = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
    }
    for n, chart in enumerate(spec["charts"]):
        dataset_id = have[chart["dataset"]]
        columns = [
            c["column_name"]
            for c in api(client, "get", f"/api/v1/dataset/{dataset_id}", token)["result"]["columns"]
        ]
        params = {
            "viz_type": "table",
            "query_mode": "raw",
            "datasource": f"{dataset_id}__table",
            "all_columns": chart.get("columns", columns),
            "row_limit": 1000,
        }
        chart_id = api(
            client,
            "post",
            "/api/v1/chart/",
            token,
            slice_name=chart["name"],
            viz_type="table",
            datasource_id=dataset_id,
            datasource_type="table",
            params=json.dumps(params),
            dashboards=[dashboard_id],
        )["id"]
        row, ch = f"ROW-{n}", f"CHART-{n}"
        layout["GRID_ID"]["children"].append(row)
        layout[row] = {
            "type": "ROW",
            "id": row,
            "children": [ch],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        layout[ch] = {
            "type": "CHART",
            "id": ch,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", row],
            "meta": {"chartId": chart_id, "width": 12, "height": 50, "sliceName": chart["name"]},
        }
    api(client, "put", f"/api/v1/dashboard/{dashboard_id}", token, position_json=json.dumps(layout))
    return dashboard_id


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SUPERSET_CONFIG_PATH", str(BI / "superset_config.py"))
    os.environ["SUPERSET_HOME"] = str(HOME)
    os.environ.setdefault("FLASK_APP", "superset")
    secret("secret_key")
    if os.environ.get("SUPERSET_ADMIN_PASSWORD"):  # docker-compose sets the login
        (HOME / "admin_password").write_text(os.environ["SUPERSET_ADMIN_PASSWORD"])
    password = secret("admin_password")
    url = bi_reader_url(sys.argv[1])
    superset("db", "upgrade")
    subprocess.run(
        [
            str(Path(sys.executable).parent / "superset"),
            "fab",
            "create-admin",
            "--username",
            ADMIN,
            "--firstname",
            "RevOps",
            "--lastname",
            "Admin",
            "--email",
            "admin@localhost",
            "--password",
            password,
        ],
        check=True,
    )
    superset("init")
    dashboard_id = register(url, password)
    print(
        f"Superset ready. Start it: make bi-serve, then open "
        f"http://localhost:8088/superset/dashboard/{dashboard_id}/ "
        f"(login {ADMIN}, password in {HOME / 'admin_password'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
