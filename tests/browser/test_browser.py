"""End to end: a real Streamlit server on 127.0.0.1 and headless Chromium open every page.

The test starts ``streamlit run streamlit_app.py`` on a free port with a generated workspace, opens
each page in Debian's Chromium (through chromedriver and selenium), waits until the script has
finished, checks that no exception box (``stException``) and no "Traceback" is on the page, and
saves a screenshot of each page to ``screenshots/`` (git-ignored). It is skipped, with the reason,
when Chromium, chromedriver or selenium are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "screenshots"
PAGES = ["overview", "run", "compare", "speed", "gallery", "cases"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - depends on the machine
    webdriver = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium chromium-driver)"),
    pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed (apt-get install chromium-driver)"),
    pytest.mark.skipif(webdriver is None, reason="selenium is not installed (pip install selenium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout:.0f} s")


@pytest.fixture
def dashboard_workspace(make_study):
    """A small study: dataset `toy` with two imported methods and the test-size SAM's oracle maps."""
    return make_study(8)


@pytest.fixture
def server(dashboard_workspace):
    port = _free_port()
    env = {**os.environ, "SAMIS_WORKSPACE": str(dashboard_workspace.root), "PYTHONUNBUFFERED": "1"}
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.seek(0)
        server_log = log.read()
        log.close()
        os.unlink(log.name)
        if "Traceback" in server_log:
            print(server_log)


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,2200", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_page(driver, timeout: float = 60.0) -> None:
    """Wait until the app has drawn a title and no script run is in progress."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        titles = driver.find_elements(By.CSS_SELECTOR, "h1")
        running = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        spinners = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSpinner"]')
        if titles and not running and not spinners:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 1.5:  # stayed idle: the run has finished
                return
        else:
            quiet_since = None
        time.sleep(0.25)
    raise TimeoutError(f"page {driver.current_url} did not finish within {timeout:.0f} s")


def test_every_page_in_a_real_browser(server, browser):
    SCREENSHOTS.mkdir(exist_ok=True)
    for page in PAGES:
        browser.get(f"{server}/{page}?dataset=toy")
        _wait_for_page(browser)
        boxes = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
        source = browser.page_source
        browser.save_screenshot(str(SCREENSHOTS / f"{page}.png"))
        assert not boxes, f"{page}: exception box: {boxes[0].text[:500]}"
        assert "Traceback" not in source, f"{page}: a traceback is shown"
        assert "Page not found" not in source, f"{page}: Streamlit did not find the page"
        headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h1")]
        assert headings, f"{page}: no title"
    # the link names a view: the Cases page opens the image it names
    browser.get(f"{server}/cases?dataset=toy&image=img_002")
    _wait_for_page(browser)
    assert "Image img_002" in browser.page_source
    browser.save_screenshot(str(SCREENSHOTS / "cases-image.png"))
    assert "image=img_002" in browser.current_url
    # the sidebar's links change pages inside the session and keep the shared choices in the URL
    link = [a for a in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
            if a.text.strip().endswith("Gallery")][0]
    link.click()
    time.sleep(0.5)
    _wait_for_page(browser)
    assert [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h1")] == ["Gallery"]
    assert "/gallery" in browser.current_url and "dataset=toy" in browser.current_url
    assert "Page not found" not in browser.page_source
