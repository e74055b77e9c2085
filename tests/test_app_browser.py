"""End to end in a real browser: ``workbench app`` (``streamlit run app.py --server.headless
true``) on a free localhost port, headless Debian Chromium driven by Playwright; every
page opens, its key elements render, no exception box; screenshots in test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from app_fixtures import REPO, app_root  # noqa: F401 - app_root is a fixture

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
#: (url path, page title, a selector that only renders once the page has its data)
PAGES = [
    ("runs", "Runs", "[data-testid='stDataFrame']"),
    ("leaderboard", "Leaderboard", "[data-testid='stDataFrame']"),
    ("samples", "Samples", "[data-testid='stDataFrame']"),
    ("graph-inspector", "Graph inspector", "[data-testid='stMetric']"),
    ("gw-lab", "GW lab", "[data-testid='stVegaLiteChart']"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"workbench app exited with {server.returncode}: {server.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not come up at {url} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def server_url(app_root: Path):  # noqa: F811 - the fixture imported above
    """``workbench app --root <fixture root>`` serving on a free localhost port."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "app", "--root", str(app_root), "--port", str(port), "--headless"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_every_page_renders_in_chromium(server_url: str) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "Debian chromium is missing: `make browser` installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1800})
            for path, title, ready in PAGES:
                page.goto(f"{server_url}/{path}", wait_until="domcontentloaded")
                page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
                page.locator(ready).first.wait_for(timeout=180_000)
                # Let the last elements of this run settle (charts draw after the data arrives).
                page.wait_for_timeout(1500)
                shot = ARTIFACTS / f"app-{path}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert page.locator("[data-testid='stException']").count() == 0, f"exception on {path}"
                assert shot.stat().st_size > 10_000
            # The sidebar navigation lists every page.
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            assert all(title in nav for _, title, _ in PAGES)
        finally:
            browser.close()
