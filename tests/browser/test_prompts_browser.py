"""The Prompts page (issue 24) in a real browser: the click curves, the NoC table, the replay picture at the link's
click, the box rows; random weights said in a warning; no exception."""

from __future__ import annotations

from helpers import By, chromium, streamlit_server, texts, wait_for_page


def test_prompts_page_in_a_browser(make_study, tmp_path):
    from samis.datasets import load_dataset
    from samis.prompts.box_run import BoxRun, run_box_prompts
    from samis.prompts.click_run import ClickRun, run_clicks

    workspace = make_study(6)
    dataset = load_dataset(workspace, "toy")
    run_clicks(workspace, dataset, ClickRun("tiny", max_clicks=3, device="cpu"))
    run_box_prompts(workspace, dataset, BoxRun("tiny", source="good", device="cpu"))
    run_box_prompts(workspace, dataset, BoxRun("tiny", jitter=10, seed=0, device="cpu"))
    browser = chromium(tmp_path / "profile", window="1400,3000")
    try:
        with streamlit_server(workspace.root) as (url, _process):
            browser.get(f"{url}/prompts?dataset=toy&image=img_001&click=2")
            wait_for_page(browser, timeout=240, quiet=3)
            browser.save_screenshot(str(tmp_path / "prompts.png"))
            assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
            assert len(browser.find_elements(By.CSS_SELECTOR, '[data-testid="stPlotlyChart"], .stPlotlyChart')) >= 2
            assert browser.find_elements(By.CSS_SELECTOR, '[data-testid="stImage"] img')  # the replay picture
            warnings = " ".join(texts(browser, '[data-testid="stAlertContentWarning"]'))
            assert "random weights" in warnings
            page = browser.find_element(By.TAG_NAME, "body").text
            assert "img_001" in page and "mask after click 2 of" in page
            assert "Boxes: sloppy, and without ground truth" in page
    finally:
        browser.quit()
