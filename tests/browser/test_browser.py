"""End to end: a real Streamlit server on 127.0.0.1 and headless Chromium open every page.

The test starts ``streamlit run streamlit_app.py`` on a free port with a generated workspace, opens
each page in Debian's Chromium (through chromedriver and selenium), waits until the script has
finished, checks that no exception box (``stException``) and no "Traceback" is on the page, and
saves a screenshot of each page to ``screenshots/`` (git-ignored). It is skipped, with the reason,
when Chromium, chromedriver or selenium are missing (see ``conftest.py`` and ``helpers.py``).
"""

from __future__ import annotations

import time

from helpers import REPO, By, click_nav_link, texts, wait_for_page as _wait_for_page

SCREENSHOTS = REPO / "screenshots"
PAGES = ["overview", "run", "compare", "speed", "gallery", "cases", "good_parts"]


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
        headings = texts(browser, "h1")
        assert headings, f"{page}: no title"
    # the link names a view: the Cases page opens the image it names
    browser.get(f"{server}/cases?dataset=toy&image=img_002")
    _wait_for_page(browser)
    assert "Image img_002" in browser.page_source
    browser.save_screenshot(str(SCREENSHOTS / "cases-image.png"))
    assert "image=img_002" in browser.current_url
    # the sidebar's links change pages inside the session and keep the shared choices in the URL
    click_nav_link(browser, "Gallery")
    time.sleep(0.5)
    _wait_for_page(browser)
    assert texts(browser, "h1") == ["Gallery"]
    assert "/gallery" in browser.current_url and "dataset=toy" in browser.current_url
    assert "Page not found" not in browser.page_source
