"""Every page opens right as the very first request of a freshly started server.

Streamlit decides on the first connection whether the app is an old-style ``pages/`` app (see
samis/dashboard/streamlit_compat.py); a colleague's first click on a shared link must still open the
page it names, with the shared sidebar and the pages' titles in the navigation, and no
"Page not found" dialog. One server start per link proves it.
"""

from __future__ import annotations

import pytest
from helpers import By, chromium, streamlit_server, texts, wait_for_page

TITLES = ["Overview", "Run", "Compare", "Speed", "Gallery", "Cases", "Masks", "Prompts", "Good parts", "Inspection"]
LINKS = [
    ("/", "samis — SAM on industrial surface defects", "/overview"),
    ("/overview?dataset=toy&split=test", "samis — SAM on industrial surface defects", "/overview"),
    ("/run?dataset=toy&tab=Baselines", "Run", "/run"),
    ("/compare?dataset=toy&gap_method=weak", "Compare", "/compare"),
    ("/speed", "Speed", "/speed"),
    ("/gallery?dataset=toy&mode=overlay", "Gallery", "/gallery"),
    ("/cases?dataset=toy&filter=good&image=img_002", "Cases", "/cases"),
    ("/prompts?dataset=toy&click=2", "Prompts", "/prompts"),
    ("/good_parts?dataset=toy&score=max", "Good parts", "/good_parts"),
    ("/inspection?dataset=toy&budget=0.05", "Inspection", "/inspection"),
]


@pytest.fixture
def study(make_study):
    return make_study(8)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """One headless Chromium for the module (the servers are the fresh ones: a new one per link, on its own port)."""
    driver = chromium(tmp_path_factory.mktemp("first-link") / "profile", window="1400,1400")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize("link, title, path", LINKS, ids=[link.split("?")[0] for link, _, _ in LINKS])
def test_a_link_opens_its_page_as_the_first_request_of_a_fresh_server(study, driver, link, title, path):
    with streamlit_server(study.root) as (url, _process):
        try:
            driver.get(url + link)
            wait_for_page(driver)
            source = driver.page_source
            assert "Page not found" not in source, f"{link}: Streamlit showed 'Page not found'"
            assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
            assert texts(driver, "h1")[:1] == [title]
            links = texts(driver, '[data-testid="stSidebarNavLink"]')
            assert [t for t in TITLES if any(text.endswith(t) for text in links)] == TITLES, links
            assert len(links) == len(TITLES), links  # no file names beside the pages
            assert driver.current_url.split("?")[0].endswith(path), driver.current_url
            if "dataset=toy" in link:
                assert "dataset=toy" in driver.current_url
        finally:
            driver.get("about:blank")  # leave the page (and its connection) before this server stops
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})  # the next link meets a browser as new
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
