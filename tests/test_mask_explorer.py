"""Mask explorer: the table equals the cache, every selection is there with its record and metrics,
the Fig. 4 figure has five panels of the image's shape, bad input is one clear error; CLI png/json.
Masks come from the test-size SAM (random weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from samis.cli import main
from samis.errors import DatasetError, SamError
from samis.mask_explorer import (FIG4_TITLES, GT_COLUMN, all_masks_overlay, cached_images, cached_models,
                                 chosen_overlay, display_shape, explore_masks, fig4_figure, fig4_layout)
from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES
from samis.sam.masks import MaskSet, read_mask_set, write_mask_set
from samis.sam.records import record_path

LABEL = "sam-tiny-random"


def test_table_equals_the_cache_and_every_selection_is_there(masks_workspace):
    explorer = explore_masks(masks_workspace, "toy", "img_002", "tiny")
    mask_set, _ = read_mask_set(masks_workspace.sam_cache_dir(LABEL, "toy") / "img_002.npz")
    table = explorer.table
    assert len(table) == len(mask_set) > 0
    assert list(table["mask"]) == list(range(len(mask_set)))
    np.testing.assert_allclose(table["predicted IoU"], mask_set.predicted_iou.astype(np.float64))
    np.testing.assert_allclose(table["stability"], mask_set.stability_score.astype(np.float64))
    np.testing.assert_array_equal(table["area"], mask_set.area)
    np.testing.assert_array_equal(table[["box x", "box y", "box w", "box h"]].to_numpy(), mask_set.bbox)
    gt = explorer.gt
    for i in range(len(mask_set)):
        inter = (mask_set.masks[i] & gt).sum()
        union = (mask_set.masks[i] | gt).sum()
        assert table[GT_COLUMN][i] == pytest.approx(inter / union if union else 1.0)
    assert [v.how for v in explorer.selections] == [*SELECTION_STRATEGIES, *PROMPT_KINDS]
    for view in explorer.selections:
        assert view.record is not None and view.saliency.shape == gt.shape
        assert set(view.metrics) >= {"Sa", "MAE", "Fw", "IoU", "Dice"}
        assert "random weights" in view.note
    oracle = explorer.selection("oracle")
    for index in oracle.record.chosen:
        assert "oracle" in table["chosen by"][index]
    assert explorer.model.random_weights


def test_map_without_record_says_so(masks_workspace):
    record_path(masks_workspace, "toy", f"{LABEL}+oracle", "img_001").unlink()
    view = explore_masks(masks_workspace, "toy", "img_001", LABEL, metrics=False).selection("oracle")
    assert view.record is None and "before samis kept them" in view.record_note
    grey = chosen_overlay(np.full((10, 20, 3), 100, np.uint8), np.zeros((0, 10, 20), bool), None, max_side=40)
    assert grey.shape == (20, 40, 3) and (grey == 100).all()  # no record: the plain image, nothing chosen


def test_fig4_has_five_panels_of_the_image_shape(masks_workspace):
    explorer = explore_masks(masks_workspace, "toy", "img_003", "tiny", metrics=False)
    figure = fig4_figure(explorer, "oracle", panel=128)
    size, boxes = fig4_layout(explorer.mask_set.shape, 128)
    assert figure.size == size and len(boxes) == len(FIG4_TITLES) == 5
    ph, pw = display_shape(explorer.mask_set.shape, 128)
    assert (ph, pw) == (96, 128)  # the toy images are 64 wide, 48 high
    for x0, y0, x1, y1 in boxes:
        assert (x1 - x0, y1 - y0) == (pw, ph)
    pixels = np.asarray(figure)
    x0, y0, x1, y1 = boxes[4]
    gt_panel = pixels[y0:y1, x0:x1, 0] > 127
    expected = np.asarray(Image.fromarray(explorer.gt).resize((pw, ph), Image.NEAREST))
    np.testing.assert_array_equal(gt_panel, expected)
    x0, y0, x1, y1 = boxes[3]
    map_panel = pixels[y0:y1, x0:x1, 0]
    saliency = explorer.selection("oracle").saliency
    np.testing.assert_array_equal(map_panel, np.asarray(Image.fromarray(saliency).resize((pw, ph), Image.NEAREST)))


def test_overlays_any_size_and_hidden_masks(rng=np.random.default_rng(0)):
    image = rng.integers(0, 255, (300, 1000, 3), dtype=np.uint8)
    masks = np.zeros((3, 300, 1000), bool)
    masks[0, :100], masks[1, 150:], masks[2, :, :50] = True, True, True
    full = all_masks_overlay(image, masks, max_side=200)
    assert full.shape == (60, 200, 3)
    assert all_masks_overlay(image[:30, :100], masks[:, :30, :100]).shape == (30, 100, 3)  # never enlarged
    hidden = all_masks_overlay(image, masks, shown=[0], max_side=200)
    plain = all_masks_overlay(image, masks, shown=[], max_side=200)
    assert (hidden[50:] == plain[50:]).all() and not (hidden[:10] == plain[:10]).all()


def test_bad_input_is_one_clear_error(masks_workspace):
    with pytest.raises(DatasetError, match="no image with id 'nope'"):
        explore_masks(masks_workspace, "toy", "nope", "tiny")
    with pytest.raises(SamError, match="unknown SAM model"):
        explore_masks(masks_workspace, "toy", "img_000", "vit_x")
    with pytest.raises(SamError, match=r"no cached sam-vit_b masks; compute them with: python -m samis sam toy --model vit_b"):
        explore_masks(masks_workspace, "toy", "img_000", "vit_b")
    path = masks_workspace.sam_cache_dir(LABEL, "toy") / "img_000.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 40] = b"\x00" * 40
    path.write_bytes(bytes(data))
    with pytest.raises(SamError, match="damaged mask cache file") as caught:
        explore_masks(masks_workspace, "toy", "img_000", "tiny")
    assert "\n" not in str(caught.value)
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(SamError, match="damaged mask cache file"):
        explore_masks(masks_workspace, "toy", "img_000", "tiny")


def test_cached_models_and_images(masks_workspace):
    assert cached_models(masks_workspace, "toy") == [LABEL]
    assert cached_images(masks_workspace, "toy", LABEL) == [f"img_{i:03d}" for i in range(6)]


def test_an_image_with_no_masks_at_all_is_drawn(masks_workspace):
    path = masks_workspace.sam_cache_dir(LABEL, "toy") / "img_004.npz"
    _, provenance = read_mask_set(path)
    write_mask_set(path, MaskSet.empty((48, 64)), provenance)
    explorer = explore_masks(masks_workspace, "toy", "img_004", "tiny", metrics=False)
    assert len(explorer.table) == 0
    assert fig4_figure(explorer, "oracle", panel=64).size == fig4_layout((48, 64), 64)[0]


# ---- CLI -------------------------------------------------------------------------------------------------
def test_cli_png_and_json(masks_workspace, tmp_path, capsys):
    out = tmp_path / "fig4.png"
    code = main(["--workspace", str(masks_workspace.root), "masks", "toy", "img_002", "--model", "tiny",
                 "--strategy", "best-single", "--format", "png", "-o", str(out), "--panel", "100"])
    assert code == 0, capsys.readouterr().err
    assert "random weights" in capsys.readouterr().err
    with Image.open(out) as picture:
        assert picture.size == fig4_layout((48, 64), 100)[0]
    code = main(["--workspace", str(masks_workspace.root), "masks", "toy", "img_002", "--format", "json",
                 "--strategy", "oracle"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert document["model"] == LABEL and document["random_weights"] is True
    assert document["n_masks"] == len(document["masks"]) > 0
    assert {"mask", "predicted IoU", "stability", "area", "iou_with_gt", "box x"} <= set(document["masks"][0])
    (selection,) = document["selections"]
    assert selection["how"] == "oracle" and selection["record"]["chosen"] is not None
    assert selection["metrics"]["IoU"] >= 0


def test_cli_bad_input_is_one_line(masks_workspace, capsys):
    root = str(masks_workspace.root)
    assert main(["--workspace", root, "masks", "toy", "img_002", "--model", "vit_h"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "python -m samis sam toy --model vit_h" in err
    assert main(["--workspace", root, "masks", "toy", "img_002", "--strategy", "nope"]) == 2
    assert "unknown strategy or prompt kind 'nope'" in capsys.readouterr().err
    assert main(["--workspace", root, "masks", "toy", "img_002", "--format", "png"]) == 2
    assert "needs -o FILE" in capsys.readouterr().err


def test_metrics_come_from_the_evaluation_cache_when_current_and_equal_a_fresh_scoring(masks_workspace):
    from samis.datasets import load_dataset
    from samis.evaluation import cached_image_scores, evaluate
    from samis.metrics import IMAGE_METRICS, score_image
    from samis.store import prediction_files, read_prediction

    fresh = explore_masks(masks_workspace, "toy", "img_002", "tiny").selection("oracle").metrics
    dataset = load_dataset(masks_workspace, "toy")
    sample = dataset.by_id()["img_002"]
    map_path = prediction_files(masks_workspace, "toy", "sam-tiny-random+oracle")["img_002"]
    assert cached_image_scores(masks_workspace, "toy", "sam-tiny-random+oracle", sample, map_path) is None
    evaluate(masks_workspace, dataset, methods=["sam-tiny-random+oracle"], workers=1)
    cached = cached_image_scores(masks_workspace, "toy", "sam-tiny-random+oracle", sample, map_path)
    gt = sample.read_gt()
    plain = dict(zip(IMAGE_METRICS, score_image(read_prediction(map_path, gt.shape), gt).scalars))
    assert cached == pytest.approx(plain, abs=1e-12) and fresh == pytest.approx(plain, abs=1e-12)
    assert explore_masks(masks_workspace, "toy", "img_002", "tiny").selection("oracle").metrics == cached
