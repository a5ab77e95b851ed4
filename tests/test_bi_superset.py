"""Superset, set up by bi/setup.py (what `make bi` runs), reads the marts as bi_reader.

On a database holding every mart (test_publish_data's world): the setup registers the warehouse
through the login role in `bi_reader`, the marts as datasets and the starter dashboard; a
Superset server then answers a SQL Lab query on a mart with the rows PostgreSQL holds, refuses
a raw schema, and its dashboard renders every chart in Debian's headless chromium (Playwright
drives /usr/bin/chromium; nothing downloads a browser). Needs .venv-bi (`make bi` installs it,
once: a stamp file keeps it) and /usr/bin/chromium; in CI neither may be missing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import requests
import yaml
from test_publish_data import build_world

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
BI_PYTHON = ROOT / ".venv-bi" / "bin" / "python"
BI_STAMP = ROOT / ".venv-bi" / ".revops-bi-installed"
CHROMIUM = Path("/usr/bin/chromium")
DASHBOARD = yaml.safe_load((ROOT / "bi" / "dashboard.yaml").read_text())
# the world has no rpt_spend_efficiency or rpt_model_comparison: stand-ins over the world's
# marts of the same grain, so every chart of the dashboard has rows to render
STAND_INS = {
    "rpt_spend_efficiency": "select * from marts.fct_attributed_spend_daily",
    "rpt_model_comparison": "select * from marts.rpt_channel_attribution",
}


def need(path: Path, why: str) -> None:
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the Superset test: {path} is missing ({why})")
        pytest.skip(f"{path} is missing ({why}), so the Superset test was skipped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def superset(tmp_path_factory, server_url: str):
    """A Superset server set up by bi/setup.py on a world of marts; (base URL, password, db)."""
    need(BI_STAMP, "run `make bi` once to install Superset")
    need(CHROMIUM, "Debian: apt-get install chromium")
    from warehouse_checks import new_database

    home = tmp_path_factory.mktemp("superset")
    env = {
        **os.environ,
        "SUPERSET_HOME": str(home),
        "SUPERSET_CONFIG_PATH": str(ROOT / "bi" / "superset_config.py"),
    }
    with new_database(server_url) as url:
        build_world(url)
        with psycopg.connect(url, autocommit=True) as conn:
            # what dbt's +grants and bi_reader macros do on a dbt-built warehouse
            conn.execute(
                "do $$ begin if not exists (select 1 from pg_roles where rolname = 'bi_reader')"
                " then create role bi_reader nologin; end if; end $$"
            )
            for name, sql in STAND_INS.items():
                conn.execute(f"create view marts.{name} as {sql}")
            conn.execute("grant usage on schema marts to bi_reader")
            conn.execute("grant select on all tables in schema marts to bi_reader")
        started = time.monotonic()
        subprocess.run([str(BI_PYTHON), "bi/setup.py", url], cwd=ROOT, env=env, check=True)
        print(f"bi/setup.py took {time.monotonic() - started:.1f} s")
        port = free_port()
        server = subprocess.Popen(
            [str(BI_PYTHON.parent / "superset"), "run", "-p", str(port), "--with-threads"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    if requests.get(f"{base}/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.5)
            else:
                pytest.fail("Superset did not answer /health within a minute")
            yield base, (home / "admin_password").read_text().strip(), url
        finally:
            server.terminate()
            server.wait(timeout=30)


def session(base: str, password: str) -> requests.Session:
    s = requests.Session()
    r = s.post(
        f"{base}/api/v1/security/login",
        json={"username": "admin", "password": password, "provider": "db", "refresh": False},
    )
    r.raise_for_status()
    s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return s


def database_id(s: requests.Session, base: str) -> int:
    (db,) = s.get(f"{base}/api/v1/database/").json()["result"]
    return db["id"]


def sql_lab(s: requests.Session, base: str, sql: str) -> requests.Response:
    return s.post(
        f"{base}/api/v1/sqllab/execute/",
        json={
            "database_id": database_id(s, base),
            "sql": sql,
            "runAsync": False,
            "schema": "marts",
        },
    )


def test_sql_lab_reads_a_mart_as_bi_reader_and_gets_the_warehouse_rows(superset) -> None:
    base, password, url = superset
    s = session(base, password)
    sql = (
        "select week_start::text as week_start, source_channel, leads, mqls"
        " from marts.rpt_funnel_weekly order by week_start, source_channel"
    )
    r = sql_lab(s, base, sql)
    assert r.ok, r.text
    got = [tuple(row.values()) for row in r.json()["data"]]
    with psycopg.connect(url) as conn:
        want = conn.execute(sql).fetchall()
    assert len(want) > 10 and sum(row[2] for row in want) > 0
    assert got == want
    # the database Superset holds logs in as the login role in bi_reader
    db = s.get(f"{base}/api/v1/database/{database_id(s, base)}/connection").json()["result"]
    assert db["sqlalchemy_uri"].startswith("postgresql://revops_bi:")
    refused = sql_lab(s, base, "select count(*) from raw_hubspot.contacts")
    assert not refused.ok and "permission denied" in refused.text


def test_every_mart_is_a_dataset_and_the_dashboard_renders_its_charts(superset) -> None:
    base, password, url = superset
    s = session(base, password)
    with psycopg.connect(url) as conn:
        marts = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            )
        }
    datasets = s.get(f"{base}/api/v1/dataset/?q=(page_size:1000)").json()["result"]
    assert {d["table_name"] for d in datasets} == marts

    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    names = [c["name"] for c in DASHBOARD["charts"]]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        # the login form's POST, sharing the page's cookies (the form itself is React)
        page.request.post(f"{base}/login/", form={"username": "admin", "password": password})
        page.goto(f"{base}/superset/dashboard/{DASHBOARD['slug']}/")
        for name in names:
            page.get_by_text(name, exact=True).first.wait_for(timeout=90_000)
        # every chart's table has rows (a chart that failed shows an error instead)
        # every chart holder is there and shows its table's rows (charts load one by one)
        holders_js = "[...document.querySelectorAll('.dashboard-component-chart-holder')]"
        try:
            page.wait_for_function(
                f"{holders_js}.length === {len(names)} && "
                f"{holders_js}.every(h => h.querySelector('table tbody tr'))",
                timeout=90_000,
            )
        except PlaywrightTimeout:
            pass  # the assertion below says which charts did not render
        holders = page.query_selector_all(".dashboard-component-chart-holder")
        rendered = [h for h in holders if h.query_selector("table tbody tr")]
        shown = [h.inner_text()[:200] for h in holders]
        page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / "superset-dash.png"))
        browser.close()
    assert len(rendered) == len(names), json.dumps(shown)
