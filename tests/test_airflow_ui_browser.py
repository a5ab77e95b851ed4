"""The Airflow UI as an operator sees it, in headless Chromium, after the chain has run.

``revops airflow start`` (LocalExecutor, metadata on the machine's PostgreSQL) runs the chain
(six extracts -> transform -> publish) against the simulator; then Playwright drives Debian's
``/usr/bin/chromium`` (never a downloaded browser): it logs in as ``admin`` with the generated
password, opens the DAG list and finds the project's eight DAGs, each with its latest run
succeeded, and saves a screenshot of the list.

Needs ``/usr/bin/chromium``; without it the test is skipped with a plain reason, except in CI
(``CI=true``), where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow_chain import DAGS, deployment, run_chain

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the Airflow UI browser test: {missing}")
        pytest.skip(f"{missing}, so the Airflow UI browser test was skipped")
    return CHROMIUM


@pytest.fixture(scope="module")
def chain_ran(chromium, tmp_path_factory, server_url):
    """A running Airflow on which the whole chain has just succeeded."""
    with deployment(tmp_path_factory.mktemp("ui"), server_url) as dep:
        run_chain(dep)
        yield dep


def latest_run_states(url: str, password: str, screenshot: Path) -> dict[str, str]:
    """Log in to the UI, open the DAG list; each DAG shown with its latest run's state badge.

    Waits (up to a minute) for every DAG's badge to be there; saves a screenshot of the list.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/dags")
            page.wait_for_url(f"{url}/auth/login**", timeout=30_000)  # not logged in yet
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("button:has-text('Sign in')")
            page.wait_for_url(f"{url}/dags**", timeout=30_000)
            page.get_by_role("button", name="Show table view").click()
            rows = page.locator("tbody tr")
            page.wait_for_function(
                "n => document.querySelectorAll('tbody tr [data-testid=state-badge]').length >= n",
                arg=len(DAGS),
                timeout=60_000,
            )
            states = {}
            for row in rows.all():
                dag_id = row.locator("a[href^='/dags/']").first.inner_text().strip()
                badge = row.locator("[data-testid=state-badge]").first
                states[dag_id] = badge.get_attribute("aria-label") if badge.count() else None
            page.screenshot(path=str(screenshot))
            return states
        finally:
            browser.close()


def test_the_ui_shows_every_dag_with_its_last_run_succeeded(chain_ran, tmp_path):
    from revops.orchestration import service

    settings = chain_ran.airflow.settings
    screenshot = tmp_path / "airflow-dags.png"
    states = latest_run_states(settings.ui_url, service.admin_password(settings), screenshot)
    assert states == {dag_id: "success" for dag_id in DAGS}
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {screenshot}")
