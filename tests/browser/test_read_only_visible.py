"""Read-only is visible (issue 20, item 10): a banner on every page, and /run opened by link says the server
is read-only instead of silently opening the Overview."""

from __future__ import annotations

from helpers import REPO, By, chromium, streamlit_server, texts, wait_for_page

SCREENSHOTS = REPO / "screenshots"


def test_read_only_server_says_so_on_every_page_and_at_run(dashboard_workspace, tmp_path):
    SCREENSHOTS.mkdir(exist_ok=True)
    browser = chromium(tmp_path / "profile")
    try:
        with streamlit_server(dashboard_workspace.root, extra_env={"SAMIS_READ_ONLY": "1"}) as (url, _process):
            browser.get(f"{url}/run?dataset=toy")  # the first link of a session
            wait_for_page(browser)
            browser.save_screenshot(str(SCREENSHOTS / "read-only-run.png"))
            assert "/run" in browser.current_url, browser.current_url
            assert texts(browser, "h1") == ["Run"]
            assert "This server is read-only" in browser.page_source
            assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
            for page in ("overview", "compare", "speed", "gallery", "cases", "masks", "good_parts"):
                browser.get(f"{url}/{page}?dataset=toy")
                wait_for_page(browser)
                banners = [t for t in texts(browser, '[data-testid="stAlertContentInfo"]')
                           if "This server is read-only: it shows results" in t]
                browser.save_screenshot(str(SCREENSHOTS / f"read-only-{page}.png"))
                shown = texts(browser, '[data-testid="stAlertContentInfo"]')
                assert banners, f"{page}: no read-only banner among {shown}"
            browser.save_screenshot(str(SCREENSHOTS / "read-only-good_parts.png"))
    finally:
        browser.quit()
