"""The Airflow UI as an operator sees it, in headless Chromium: Debian's ``/usr/bin/chromium``,
driven by Playwright (never a downloaded browser).

:func:`latest_run_states` logs in as ``admin`` with the generated password, opens the DAG list
and reads each DAG's latest-run state badge, and saves a screenshot of the list. The
:func:`chromium` fixture skips with a plain reason when the browser is missing, except in CI
(``CI=true``), where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow_chain import DAGS
from browser_flags import CHROMIUM_ARGS

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the Airflow UI browser test: {missing}")
        pytest.skip(f"{missing}, so the Airflow UI browser test was skipped")
    return CHROMIUM


def latest_run_states(url: str, password: str, screenshot: Path) -> dict[str, str]:
    """Log in to the UI, open the DAG list; each DAG shown with its latest run's state badge.

    Waits (up to a minute) for every DAG's badge to be there; saves a screenshot of the list.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
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
