"""Every page opens right as the very first request of a freshly started server.

Streamlit decides on the first connection whether the app is an old-style ``pages/`` app (see
samis/dashboard/streamlit_compat.py); a colleague's first click on a shared link must still open the
page it names, with the shared sidebar and the six pages' titles in the navigation, and no
"Page not found" dialog. One server start per link proves it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from test_browser import CHROMEDRIVER, CHROMIUM, REPO, _free_port, _wait_for_page, _wait_healthy, pytestmark  # noqa: F401

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

TITLES = ["Overview", "Run", "Compare", "Speed", "Gallery", "Cases"]
LINKS = [
    ("/", "samis — SAM on industrial surface defects", "/overview"),
    ("/overview?dataset=toy&split=test", "samis — SAM on industrial surface defects", "/overview"),
    ("/run?dataset=toy&tab=Baselines", "Run", "/run"),
    ("/compare?dataset=toy&gap_method=weak", "Compare", "/compare"),
    ("/speed", "Speed", "/speed"),
    ("/gallery?dataset=toy&mode=overlay", "Gallery", "/gallery"),
    ("/cases?dataset=toy&filter=good&image=img_002", "Cases", "/cases"),
]


@pytest.fixture
def study(make_study):
    return make_study(8)


def _start_server(workspace_root):
    port = _free_port()
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace_root), "PYTHONUNBUFFERED": "1"}
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    return process, url, log


@pytest.mark.parametrize("link, title, path", LINKS, ids=[link.split("?")[0] for link, _, _ in LINKS])
def test_a_link_opens_its_page_as_the_first_request_of_a_fresh_server(study, tmp_path, link, title, path):
    process, url, log = _start_server(study.root)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1400", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(url + link)
        _wait_for_page(driver)
        source = driver.page_source
        assert "Page not found" not in source, f"{link}: Streamlit showed 'Page not found'"
        assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
        assert [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1")][:1] == [title]
        links = [a.text.strip() for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')]
        assert [t for t in TITLES if any(text.endswith(t) for text in links)] == TITLES, links
        assert not any("page" in text.lower() and "_" in text for text in links), links  # no file names
        assert "streamlit app" not in " ".join(links).lower()
        assert driver.current_url.split("?")[0].endswith(path), driver.current_url
        if "dataset=toy" in link:
            assert "dataset=toy" in driver.current_url
    finally:
        driver.quit()
        process.terminate()
        process.wait(timeout=20)
        log.close()
