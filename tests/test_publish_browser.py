"""The report as people see it: the archived HTML in headless Chromium (it lays out, every
image loads, a screenshot is taken) and the PDF as pages (``pdftoppm``) with the charts on them.

Needs Debian's ``chromium`` and ``poppler-utils``. Without them these tests are skipped with a
plain reason, except in CI (``CI=true``), where they fail: CI must run them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from browser_flags import CHROMIUM_ARGS
from PIL import Image
from test_publish_data import build_world

from revops.reports.periods import parse_period
from revops.reports.send import archive_report

pytestmark = pytest.mark.browser

W46 = parse_period("2026-W46")
CHROMIUM_FLAGS = (*CHROMIUM_ARGS, "--hide-scrollbars")
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images).map(function (img) {
    return {alt: img.alt, complete: img.complete, width: img.naturalWidth,
            shown: Math.round(img.getBoundingClientRect().width)};
  });
  var probe = document.createElement("pre");
  probe.id = "revops-probe";
  probe.textContent = JSON.stringify({height: document.documentElement.scrollHeight,
                                      width: document.documentElement.scrollWidth,
                                      images: images});
  document.body.appendChild(probe);
});
</script>"""


def tool(*names: str) -> str:
    """The path of the first of ``names`` installed; skip (fail in CI) when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    missing = f"{names[0]} is not installed (Debian: apt-get install chromium poppler-utils)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires the browser and PDF page tests: {missing}")
    pytest.skip(f"{missing}, so the browser and PDF page tests were skipped")


@pytest.fixture
def chromium_binary() -> str:
    return tool("chromium", "chromium-browser")


@pytest.fixture
def poppler() -> tuple[str, str]:
    return tool("pdftoppm"), tool("pdfimages")


@pytest.fixture
def archived(fresh_db: str, tmp_path: Path):
    build_world(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        return archive_report(conn, W46, tmp_path / "out")


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_report_renders_in_chromium_with_every_image_loaded(archived, tmp_path: Path) -> None:
    binary = tool("chromium", "chromium-browser")
    html = archived.html_path.read_text()
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(html.replace("</body>", PROBE + "</body>"))
    dom = chromium(
        binary,
        tmp_path / "profile",
        "--window-size=680,1000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probe_page.as_uri(),
    ).stdout
    found = re.search(r'<pre id="revops-probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    probe = json.loads(found[1].replace("&quot;", '"').replace("&amp;", "&"))
    assert len(probe["images"]) == 4
    for image in probe["images"]:  # loaded (a broken image has no natural width) and shown
        assert image["complete"] and image["width"] > 0 and 400 <= image["shown"] <= 560, image
        assert image["alt"]
    assert probe["width"] <= 680  # nothing wider than the e-mail body plus its margins
    assert 2500 < probe["height"] < 9000, probe["height"]

    shot = tmp_path / "report.png"
    chromium(
        binary,
        tmp_path / "profile",
        f"--window-size=680,{probe['height']}",
        f"--screenshot={shot}",
        archived.html_path.as_uri(),
    )
    with Image.open(shot) as image:
        assert image.size == (680, probe["height"])
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 200  # text, tables and charts, not a blank page
    keep = os.environ.get("REVOPS_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_the_pdf_converts_to_pages_with_the_charts_on_them(
    poppler: tuple[str, str], archived, tmp_path: Path
) -> None:
    pdftoppm, pdfimages = poppler
    pdf = archived.pdf_path
    assert pdf is not None
    subprocess.run(
        [pdftoppm, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 2 <= len(pages) <= 8
    for page in pages:
        with Image.open(page) as image:
            assert image.width > 250 and image.height > 350  # A4 at 40 dpi
            assert len(image.convert("L").getcolors(maxcolors=1 << 16) or range(999)) > 8
    listing = subprocess.run(
        [pdfimages, "-list", str(pdf)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()[2:]
    images = [line.split() for line in listing if line.strip()]
    assert len(images) == 4  # the four charts, as images on the report's pages
    assert {int(fields[0]) for fields in images} <= set(range(1, len(pages) + 1))
    assert all(int(fields[3]) >= 1000 for fields in images)  # drawn at 2x: sharp in print
