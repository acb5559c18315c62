"""Images too small for the metrics' definitions, and scores outside their documented ranges.

pysodmetrics' E-measure divides by H·W − 1 (a 1 × 1 image scored maxEm = adpEm = 4.5e15 per image) and
its S-measure splits the image in four at the centroid (one row or column leaves quadrants empty: NaN).
"""

from __future__ import annotations

import numpy as np
import pytest

from samis.cli import main
from samis.errors import DatasetError, MetricError
from samis.metrics import IMAGE_METRICS, MIN_IMAGE_SIDE, VALUE_RANGES, aggregate, score_image
from tests.conftest import write_gray


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1)])
def test_score_image_refuses_an_image_below_two_by_two(shape):
    gt = np.zeros(shape, np.uint8)
    gt.flat[0] = 255
    with pytest.raises(MetricError, match="too small to score"):
        score_image(gt.copy(), gt)


def test_the_smallest_allowed_image_scores_inside_the_ranges():
    side = MIN_IMAGE_SIDE
    for gt_on in (False, True):
        gt = np.zeros((side, side), np.uint8)
        gt[0, 0] = 255 if gt_on else 0
        for pred in (gt.copy(), np.zeros_like(gt), np.full_like(gt, 255)):
            scores = score_image(pred, gt)
            result = aggregate(scores.scalars[None], scores.curves[None])  # raises when outside
            assert result["maxEm"] <= VALUE_RANGES["maxEm"][1]


def test_aggregate_refuses_values_outside_their_range_naming_images():
    good = score_image(np.full((4, 4), 200, np.uint8), np.eye(4, dtype=np.uint8) * 255)
    scalars = np.stack([good.scalars, good.scalars])
    curves = np.stack([good.curves, good.curves])
    scalars[1, IMAGE_METRICS.index("adpEm")] = 9.0e14
    with pytest.raises(MetricError, match=r"adpEm outside its range .* 1 image\(s\), e.g. b"):
        aggregate(scalars, curves, ["a", "b"])
    scalars[1] = good.scalars
    curves[0, 3, 7] = 4.5e15
    with pytest.raises(MetricError, match="em outside"):
        aggregate(scalars, curves, ["a", "b"])
    curves[0] = good.curves
    scalars[0, IMAGE_METRICS.index("Sa")] = np.nan
    with pytest.raises(MetricError, match="centroid lies on the last row"):
        aggregate(scalars, curves)


def test_evaluate_names_an_image_whose_s_measure_is_undefined(workspace, make_folder_dataset, capsys):
    from samis.datasets import load_dataset, register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=4)
    edge = np.zeros((48, 64), np.uint8)
    edge[-1, 10:20] = 255  # the defect on the last row: pysodmetrics' S is NaN
    write_gray(root / "masks" / "img_002.png", edge)
    register_dataset(workspace, "toy", root)
    import_predictions(workspace, load_dataset(workspace, "toy"), "good", preds["good"])
    assert main(["evaluate", "toy", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Sa outside its range" in err and "img_002" in err


def test_datasets_add_refuses_one_pixel_images_in_one_line(tmp_path, workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=6)
    for stem in ("img_001", "img_004"):
        write_gray(root / "images" / f"{stem}.png", np.full((1, 1), 90, np.uint8))
        write_gray(root / "masks" / f"{stem}.png", np.full((1, 1), 255, np.uint8))
    assert main(["datasets", "add", "toy", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "toy: 2 image(s) or mask(s) smaller than 2x2" in err and "img_001 (1x1), img_004 (1x1)" in err
    assert workspace.registered_datasets() == {}


def test_survey_refuses_a_one_row_mask(make_folder_dataset):
    from samis.datasets import open_dataset, survey_masks

    root, _ = make_folder_dataset(n=3)
    write_gray(root / "masks" / "img_000.png", np.full((1, 64), 255, np.uint8))
    with pytest.raises(DatasetError, match=r"img_000 \(64x1\)"):
        survey_masks(open_dataset(root, "folder", "toy"))
