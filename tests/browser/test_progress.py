"""A page that must score first shows progress (images done / total, ETA), and a page change keeps the work.

Compare shows a progress bar with the image-method pairs done out of the total; switching to Cases in
the middle does not start again: Cases picks up the same background job, so its first count is not below
the last one Compare showed. The job is kept running deterministically, not by hoping the machine is slow:
the server loads ``hold/sitecustomize.py``, which makes the last images' scoring wait until the test lets
them go, so Cases always opens while the job runs.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from helpers import By, chromium, click_nav_link, streamlit_server, texts, wait_for_page

from samis.datasets import register_dataset
from samis.store import import_predictions

PROGRESS = '[data-testid="stProgress"]'
COUNT = re.compile(r"(\d+)/(\d+)")


def _progress_counts(driver) -> list[tuple[int, int, str]]:
    counts = []
    for text in texts(driver, PROGRESS):
        match = COUNT.search(text)
        if match:
            counts.append((int(match.group(1)), int(match.group(2)), text))
    return counts


def _watch(driver, seconds: float) -> list[tuple[int, int, str]]:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen += _progress_counts(driver)
        if seen and seen[-1][0] > 0:
            break
        time.sleep(0.1)
    return seen


def test_scoring_shows_progress_and_a_page_change_keeps_the_work(workspace, make_folder_dataset, tmp_path):
    root, predictions = make_folder_dataset(n=600, shape=(96, 128), name="big")
    dataset = register_dataset(workspace, "big", root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    release = tmp_path / "release"
    hold = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent / "hold"), os.environ.get("PYTHONPATH")])),
        "SAMIS_TEST_HOLD_STEMS": ",".join(f"img_{i:03d}" for i in range(560, 600)),  # the last 40 images wait
        "SAMIS_TEST_RELEASE": str(release),
    }
    with streamlit_server(workspace.root, extra_env=hold) as (url, _process):
        driver = chromium(tmp_path / "profile")
        try:
            driver.get(f"{url}/compare?dataset=big&source=measured")
            seen = _watch(driver, 60)
            assert seen, "Compare showed no progress bar with a count while scoring"
            done, total, text = seen[-1]
            assert total == 1200 and "scoring big/all" in text  # image-method pairs
            assert 0 < done < total  # some pairs scored, the held ones not
            # change the page inside the session while the scoring runs (held: it cannot have finished)
            click_nav_link(driver, "Cases")
            later = _watch(driver, 60)
            assert later, "Cases showed no progress bar while the same scoring job was still running"
            assert later[0][1] == 1200 and later[0][0] >= done, (seen[-1], later[0])  # went on, not from zero
            release.touch()
            wait_for_page(driver, timeout=180)
            assert texts(driver, "h1") == ["Cases"]
            assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
            assert not driver.find_elements(By.CSS_SELECTOR, PROGRESS)  # done: no bar left behind
        finally:
            release.touch()
            driver.quit()
