"""Prompted SAM: prompts from ground-truth components, union per image, labelled upper bounds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from segment_anything import SamPredictor

from samis.datasets import Sample, register_dataset
from samis.errors import SamError
from samis.sam.engine import load_sam
from samis.sam.prompts import component_prompts, prompted_mask, run_prompted_over_dataset
from samis.store import prediction_files, read_manifest


def test_component_prompts():
    gt = np.zeros((20, 30), bool)
    gt[2:5, 3:9] = True
    # an L-shaped component whose centroid lies outside it
    gt[10:18, 20] = True
    gt[17, 20:28] = True
    boxes, points = component_prompts(gt)
    np.testing.assert_array_equal(boxes, [[3, 2, 8, 4], [20, 10, 27, 17]])
    for x, y in points.astype(int):
        assert gt[y, x]  # every point lies on its defect
    assert component_prompts(np.zeros((5, 5), bool))[0].shape == (0, 4)


@pytest.mark.parametrize("kind", ["box", "point"])
def test_prompted_mask_unions_components(kind):
    loaded = load_sam("tiny")
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    predictor = SamPredictor(loaded.model)
    predictor.set_image(image)
    gt = np.zeros((40, 60), bool)
    gt[5:12, 5:15] = True
    gt[25:35, 40:55] = True
    mask = prompted_mask(predictor, gt, kind)
    assert mask.shape == gt.shape and mask.dtype == bool
    assert not prompted_mask(predictor, np.zeros_like(gt), kind).any()  # no component, no prompt
    # the union of what the stock predictor gives for each component's own prompt
    boxes, points = component_prompts(gt)
    assert len(boxes) == 2
    per_component = []
    for box, point in zip(boxes, points):
        if kind == "box":
            masks, _, _ = predictor.predict(box=box, multimask_output=False)
            per_component.append(masks[0])
        else:
            masks, scores, _ = predictor.predict(point_coords=point[None], point_labels=np.ones(1), multimask_output=True)
            per_component.append(masks[int(np.argmax(scores))])
    union = per_component[0] | per_component[1]
    assert union.sum() > 0 and not np.array_equal(per_component[0], per_component[1])
    np.testing.assert_array_equal(mask, union)
    assert all(not np.array_equal(mask, one) for one in per_component)  # both components count


def test_run_prompted_writes_upper_bounds(workspace, tmp_path):
    root = tmp_path / "pr"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(2):
        gt = np.zeros((32, 48), np.uint8)
        gt[8:16, 10 + i:20 + i] = 255
        Image.fromarray(np.full((32, 48), 90 + i, np.uint8)).save(root / "images" / f"p{i}.png")
        Image.fromarray(gt).save(root / "masks" / f"p{i}.png")
    dataset = register_dataset(workspace, "pr", root, "folder")
    loaded = load_sam("tiny")
    report = run_prompted_over_dataset(workspace, dataset, loaded, "box")
    assert report.method == "sam-tiny-random+box"
    assert sorted(prediction_files(workspace, "pr", report.method)) == ["p0", "p1"]
    manifest = read_manifest(workspace, "pr", report.method)
    assert manifest["upper_bound"] is True and manifest["prompt"] == "box" and "upper bound" in manifest["note"]
    missing = Sample("p0", dataset.samples[0].image_path, tmp_path / "none.png", "all")
    with pytest.raises(SamError, match="prompts come from the ground truth"):
        run_prompted_over_dataset(workspace, dataset, loaded, "point", samples=[missing])
    with pytest.raises(SamError, match="unknown prompt kind"):
        run_prompted_over_dataset(workspace, dataset, loaded, "scribble")
