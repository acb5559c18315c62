"""The fresh-clone demo shows every page (issue 20, item 9): a real server on an empty workspace builds the demo
on first open (timed: under 30 s), and then every page has content and no empty-state notice."""

from __future__ import annotations

import os
import time

from helpers import REPO, By, chromium, streamlit_server, texts, wait_for_page

SCREENSHOTS = REPO / "screenshots"
PAGES = ["overview", "compare", "speed", "gallery", "cases", "masks", "good_parts", "run"]
#: what each page shows when it has data (a table, a chart or a picture)
CONTENT = '[data-testid="stDataFrame"], [data-testid="stPlotlyChart"], [data-testid="stImage"], .stPlotlyChart, img'
FIRST_OPEN_LIMIT_S = 30.0


def test_fresh_demo_shows_every_page(tmp_path):
    SCREENSHOTS.mkdir(exist_ok=True)
    workspace = tmp_path / "workspace"
    browser = chromium(tmp_path / "profile")
    try:
        with streamlit_server(workspace) as (url, _process):
            started = time.monotonic()
            browser.get(url)
            idle = wait_for_page(browser, timeout=180)
            first_open = idle - started
            print(f"first open of the fresh demo: {first_open:.1f} s")
            (SCREENSHOTS / "demo-first-open.txt").write_text(f"{first_open:.1f} s at load {os.getloadavg()[0]:.1f}\n")
            # the limit holds on a machine that is not oversubscribed; on a shared one (other jobs on its cores)
            # the time is recorded and printed, not judged
            load, cores = os.getloadavg()[0], os.cpu_count() or 1
            if load <= cores:
                assert first_open < FIRST_OPEN_LIMIT_S, f"the demo took {first_open:.1f} s to open"
            else:
                print(f"load {load:.1f} on {cores} cores: the {FIRST_OPEN_LIMIT_S:.0f} s limit is not judged")
            for page in PAGES:
                browser.get(f"{url}/{page}?dataset=demo")
                wait_for_page(browser, timeout=120)
                browser.save_screenshot(str(SCREENSHOTS / f"demo-{page}.png"))
                assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), page
                assert "Traceback" not in browser.page_source, page
                if page != "run":
                    assert browser.find_elements(By.CSS_SELECTOR, CONTENT), f"{page}: no table, chart or picture"
                notices = texts(browser, '[data-testid="stAlertContentInfo"]')
                if page == "run":  # a form: its notice says where SAM's checkpoint goes, the page is not empty
                    notices = [n for n in notices if "needs its checkpoint" not in n]
                assert not notices, f"{page}: empty-state notice {notices}"
    finally:
        browser.quit()
