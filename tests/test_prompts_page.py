"""The Prompts page (issue 24) through Streamlit's AppTest, and the views behind it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from samis.datasets import load_dataset
from samis.prompts.box_run import BoxRun, run_box_prompts
from samis.prompts.click_run import ClickRun, run_clicks
from samis.prompts import views

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "streamlit_app.py")


@pytest.fixture(scope="module")
def prompt_study(tmp_path_factory, folder_dataset_writer):
    """Dataset `toy` (4 images) with a click run of the test-size SAM, box jitters 0 and 20 over two seeds, and
    boxes from the `good` method's maps."""
    from samis.datasets import register_dataset
    from samis.store import import_predictions
    from samis.workspace import Workspace

    base = tmp_path_factory.mktemp("prompts")
    root, predictions = folder_dataset_writer(base, n=4)
    workspace = Workspace(base / "workspace")
    dataset = register_dataset(workspace, "toy", root, "folder")
    import_predictions(workspace, dataset, "good", predictions["good"])
    run_clicks(workspace, dataset, ClickRun("tiny", max_clicks=4, device="cpu"))
    for jitter in (0, 20):
        for seed in (0, 1):
            run_box_prompts(workspace, dataset, BoxRun("tiny", jitter=jitter, seed=seed, device="cpu"))
    run_box_prompts(workspace, dataset, BoxRun("tiny", source="good", device="cpu"))
    return workspace


def _open(workspace, monkeypatch, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("SAMIS_WORKSPACE", str(workspace.root))
    at = AppTest.from_file(APP, default_timeout=120)
    if query:
        at.query_params.update(query)
    at.run()
    if query:  # the default page rewrote the URL: a browser opening the link on this page keeps its parameters
        at.query_params.update(query)
    at.switch_page("pages/prompts.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_prompts_page_shows_clicks_boxes_and_labels_random_weights(prompt_study, monkeypatch):
    at = _open(prompt_study, monkeypatch)
    assert at.title[0].value == "Prompts"
    assert any("random weights" in w.value for w in at.warning)  # the test-size model is never shown as SAM
    noc = at.dataframe[0].value
    assert list(noc["model"]) == ["sam-tiny-random"] and "random weights" in noc["note"][0]
    boxes = at.dataframe[1].value
    methods = list(boxes["method"])
    assert "sam-tiny-random+box:from=good" in methods  # the ground-truth-free row, without †
    assert "sam-tiny-random+box:jitter=20:seed=1 †" in methods
    assert "good" in methods  # the source beside the rows it prompted
    captions = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "mask after click 1 of" in captions


def test_replay_follows_the_url_and_the_slider(prompt_study, monkeypatch):
    at = _open(prompt_study, monkeypatch, {"click": "3", "image": "img_002"})
    captions = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "img_002" in captions and "mask after click 3 of" in captions
    at.slider(key="pr_k").set_value(2).run()
    assert "mask after click 2 of" in " ".join(c.value for c in at.caption).replace("\\", "")
    assert at.query_params["click"] == ["2"] or at.query_params["click"] == "2"


def test_views_match_the_stored_results(prompt_study):
    dataset = load_dataset(prompt_study, "toy")
    ids = [s.id for s in dataset.samples]
    (run,) = views.stored_click_runs(prompt_study, "toy")
    assert (run.label, run.max_clicks, run.mask_input, run.random_weights) == ("sam-tiny-random", 4, True, True)
    stored = views.stored_click_result(run, dataset, "all", ids)
    fresh = run_clicks(prompt_study, dataset, ClickRun("tiny", max_clicks=4, device="cpu"))  # all cached
    assert fresh.computed == 0 and stored.miou_at() == fresh.miou_at()
    png, iou, total = views.replay_png(dataset.sample("img_001").read_gt().astype("uint8") * 255, run, "img_001", 2)
    assert png.startswith(b"\x89PNG") and iou == fresh.images[1].ious[min(2, total) - 1]
    from samis.html_report import Provenance, html_report_bytes

    page = html_report_bytes("Prompts", [views.rows_section("NoC", views.noc_rows({run: stored})),
                                         views.replay_section(png, "replay")], Provenance("toy", "all"))
    assert b"NoC@85" in page and b"random weights" in page
