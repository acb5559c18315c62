"""The Masks page through AppTest: renders the test-size SAM's masks (random weights), the URL restores
image, model, strategy and shown masks, and bad links or files give a notice or one error line."""

from __future__ import annotations

from tests.test_dashboard import assert_clean, open_page, texts

LABEL = "sam-tiny-random"


def test_masks_page_renders_masks_choice_map_and_table(masks_workspace):
    at = open_page("masks", {"dataset": "toy"})
    assert_clean(at)
    assert [t.value for t in at.title] == ["Masks"]
    assert at.selectbox(key="masks_model").value == LABEL
    assert at.selectbox(key="masks_image").value == "img_000"
    assert at.selectbox(key=f"masks_strategy::{LABEL}").value == "oracle"
    assert any("random weights" in w for w in texts(at.warning))
    assert len(at.get("image")) == 4  # all masks, chosen masks, resulting map, ground truth
    table = at.dataframe[-1].value
    assert {"mask", "predicted IoU", "stability", "area", "IoU with GT †", "chosen by"} <= set(table.columns)
    assert [b.label for b in at.get("download_button")] == ["Download the Fig. 4 figure (PNG)"]
    assert at.query_params.get("image") in (None, "img_000", ["img_000"])


def test_url_restores_image_model_strategy_and_shown_masks(masks_workspace):
    at = open_page("masks", {"dataset": "toy", "image": "img_003", "model": "tiny", "strategy": "contrast",
                             "shown": "0,2"})
    assert_clean(at)
    assert at.selectbox(key="masks_image").value == "img_003"
    assert at.selectbox(key="masks_model").value == LABEL
    assert at.selectbox(key=f"masks_strategy::{LABEL}").value == "contrast"
    assert at.multiselect(key=f"masks_shown::{LABEL}::img_003").value == [0, 2]
    assert list(at.dataframe[-1].value["mask"]) == [0, 2]
    assert at.query_params["image"] in ("img_003", ["img_003"])
    assert at.query_params["strategy"] in ("contrast", ["contrast"])
    at.selectbox(key="masks_image").select("img_001").run()
    assert_clean(at)
    assert at.query_params["image"] in ("img_001", ["img_001"])


def test_unknown_image_and_model_fall_back_with_a_notice(masks_workspace):
    at = open_page("masks", {"dataset": "toy", "image": "nope", "model": "vit_q"})
    assert_clean(at)
    notices = " ".join(texts(at.info))
    assert "nope" in notices and "vit_q" in notices
    assert at.selectbox(key="masks_image").value == "img_000"
    assert at.selectbox(key="masks_model").value == LABEL


def test_damaged_mask_file_is_one_error_line_not_an_empty_view(masks_workspace):
    path = masks_workspace.sam_cache_dir(LABEL, "toy") / "img_002.npz"
    path.write_bytes(path.read_bytes()[:200])
    at = open_page("masks", {"dataset": "toy", "image": "img_002"})
    assert_clean(at)
    errors = texts(at.error)
    assert len(errors) == 1 and "damaged mask cache file" in errors[0] and "\n" not in errors[0]
    assert not at.get("image")


def test_no_cached_masks_names_the_command(make_study):
    make_study(6)
    at = open_page("masks", {"dataset": "toy"})
    assert_clean(at)
    assert any("python -m samis sam toy" in t for t in texts(at.info))
