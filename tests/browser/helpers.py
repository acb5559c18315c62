"""Plain helpers to drive a real Streamlit server and headless Chromium (used by the browser tests and benchmarks).

Nothing here imports pytest: ``benchmarks/bench_load.py`` imports this module as well.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - depends on the machine
    webdriver = Service = By = None

#: Chromium flags that keep it from any network: names resolve nowhere, every connection goes to a closed port
OFFLINE_FLAGS = ('--host-resolver-rules=MAP * ~NOTFOUND', "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if CHROMEDRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    if webdriver is None:
        return "selenium is not installed (pip install selenium)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
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


@contextlib.contextmanager
def streamlit_server(workspace_root: str | os.PathLike, echo_tracebacks: bool = True, extra_env: dict | None = None):
    """``streamlit run streamlit_app.py`` on 127.0.0.1 and a free port; yields (url, process).

    ``extra_env`` is added to the server's environment (e.g. the scoring hold of ``hold/sitecustomize.py``).
    """
    port = free_port()
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace_root), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, process
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
        if echo_tracebacks and "Traceback" in server_log:
            print(server_log)


def chromium(profile_dir: str | os.PathLike, *, offline: bool = False, download_dir: str | os.PathLike | None = None,
             window: str = "1400,2200"):
    """A headless Chromium driver (quit it when done).

    Args:
        profile_dir: a fresh user-data folder.
        offline: add :data:`OFFLINE_FLAGS`.
        download_dir: where downloads land (allowed without asking).
    """
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={window}", f"--user-data-dir={profile_dir}",
                 *(OFFLINE_FLAGS if offline else ())):
        options.add_argument(flag)
    if download_dir is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    if download_dir is not None:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    return driver


def page_is_idle(driver) -> bool:
    """A title is drawn and no script run is in progress (no status widget, no spinner)."""
    titles = driver.find_elements(By.CSS_SELECTOR, "h1")
    running = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
    spinners = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSpinner"]')
    return bool(titles) and not running and not spinners


def wait_for_page(driver, timeout: float = 60.0, quiet: float = 1.5, poll: float = 0.25) -> float:
    """Wait until the app has drawn a title and no script run is in progress for ``quiet`` seconds.

    Returns:
        the monotonic time the page first became idle (the start of the quiet period).
    """
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        if page_is_idle(driver):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > quiet:  # stayed idle: the run has finished
                return quiet_since
        else:
            quiet_since = None
        time.sleep(poll)
    raise TimeoutError(f"page {driver.current_url} did not finish within {timeout:.0f} s")


def texts(driver, css: str) -> list[str]:
    """The shown text of every element matching ``css``, found and read in one step in the page.

    Streamlit redraws while a script runs; finding elements first and reading ``.text`` afterwards can
    meet an element that is gone meanwhile (StaleElementReferenceException). One script does both.
    """
    found = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText);", css)
    return [text.strip() for text in found]


def click_nav_link(driver, title: str, timeout: float = 15.0) -> None:
    """Click the sidebar link whose text ends with ``title``, finding it again while the sidebar is redrawn."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            links = [a for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
                     if a.text.strip().endswith(title)]
            if links:
                links[0].click()
                return
        except StaleElementReferenceException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no sidebar link ending with {title!r} on {driver.current_url}")
        time.sleep(0.2)
