"""The click simulator (issue 24) against hand-made masks and a reference written here, and its results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from samis.errors import SamError
from samis.prompts.click_results import ClickResult, ImageClicks
from samis.prompts.clicks import (Click, check_max_clicks, check_targets, clicks_to_reach, first_click, iou,
                                  next_click, simulate)


# ---- a reference of the rule, written out here ------------------------------------------------------
def _reference_centre(region: np.ndarray) -> tuple[float, int, int]:
    """(max distance, x, y): scipy's EDT of the region padded by one zero pixel; ties: the first pixel row by row."""
    padded = np.zeros((region.shape[0] + 2, region.shape[1] + 2), bool)
    padded[1:-1, 1:-1] = region
    distance = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
    best = distance.max()
    for y in range(region.shape[0]):  # row-major scan: the first maximum
        for x in range(region.shape[1]):
            if distance[y, x] == best:
                return float(best), x, y
    raise AssertionError("unreachable")


def _reference_next(gt: np.ndarray, pred: np.ndarray) -> Click:
    fn_d, fn_x, fn_y = _reference_centre(gt & ~pred)
    fp_d, fp_x, fp_y = _reference_centre(pred & ~gt)
    return Click(fn_x, fn_y, True) if fn_d > fp_d else Click(fp_x, fp_y, False)


def _brute_distance(region: np.ndarray, x: int, y: int) -> float:
    """Distance of (x, y) to the nearest pixel outside ``region`` (the image border is outside)."""
    padded = np.pad(region, 1)
    ys, xs = np.nonzero(~padded)
    return float(np.sqrt((ys - (y + 1)) ** 2 + (xs - (x + 1)) ** 2).min())


# ---- hand-made masks ---------------------------------------------------------------------------------
def test_first_click_is_the_farthest_pixel_first_in_row_major_order():
    gt = np.zeros((10, 15), bool)
    gt[2:7, 3:12] = True  # rows 2-6, columns 3-11: row 4 is 3 px from the top and bottom outside rows
    # along row 4 every column 5 … 9 is 3 px from the outside: a tie, and the first in row-major order wins
    assert first_click(gt) == Click(5, 4, True)
    assert _brute_distance(gt, 5, 4) == 3.0 and _brute_distance(gt, 9, 4) == 3.0


def test_first_click_counts_the_image_border_as_boundary():
    gt = np.ones((5, 7), bool)  # the whole image: without the padding every pixel would be "infinitely" inside
    assert first_click(gt) == Click(2, 2, True)  # 3 px from the border above/below (row 2), columns 2 … 4 tie
    with pytest.raises(SamError, match="defect-free"):
        first_click(np.zeros((5, 5), bool))


def test_false_negative_click_is_positive_at_the_centre_of_what_is_missed():
    gt = np.zeros((20, 20), bool)
    gt[4:15, 2:18] = True
    pred = gt.copy()
    pred[:, 10:] = False  # the right part missed: columns 10 … 17, rows 4 … 14
    click = next_click(gt, pred)
    assert click.positive and click == _reference_next(gt, pred)
    assert gt[click.y, click.x] and not pred[click.y, click.x]
    assert (click.x, click.y) == (13, 7)  # 4 px from the left, right and top edges of the missed block: first such


def test_false_positive_click_is_negative_at_the_centre_of_the_extra_region():
    gt = np.zeros((30, 30), bool)
    gt[2:6, 2:6] = True
    pred = gt.copy()
    pred[10:25, 10:25] = True  # a large false positive, no false negative
    click = next_click(gt, pred)
    assert click == Click(17, 17, False) == _reference_next(gt, pred)


def test_equal_maxima_give_a_negative_click():
    gt = np.zeros((20, 40), bool)
    gt[5:10, 5:10] = True  # wholly missed: the false negative
    pred = np.zeros_like(gt)
    pred[5:10, 25:30] = True  # wholly extra: a false positive of the same shape, the same maximum
    click = next_click(gt, pred)
    assert click == Click(27, 7, False) == _reference_next(gt, pred)


def test_exact_prediction_needs_no_click():
    gt = np.zeros((8, 8), bool)
    gt[2:5, 2:6] = True
    assert next_click(gt, gt.copy()) is None


@pytest.mark.parametrize("seed", range(6))
def test_simulator_matches_the_reference_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    gt = ndimage.binary_dilation(rng.random((24, 31)) > 0.93, iterations=2)
    pred = ndimage.binary_dilation(rng.random((24, 31)) > 0.93, iterations=2)
    _, x, y = _reference_centre(gt)
    assert first_click(gt) == Click(x, y, True)
    if (gt != pred).any():
        assert next_click(gt, pred) == _reference_next(gt, pred)


def test_iou_is_intersection_over_union():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert iou(a, b) == pytest.approx(4 / 12)
    assert iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0


# ---- the loop and its results with stand-in models ---------------------------------------------------
def _masks(n: int = 5, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        gt = np.zeros((32, 40), bool)
        y, x = rng.integers(2, 20), rng.integers(2, 28)
        gt[y:y + rng.integers(4, 10), x:x + rng.integers(4, 10)] = True
        out.append(gt)
    return out


def _result(traces, max_clicks, classes=None) -> ClickResult:
    images = [ImageClicks(f"i{n}", (classes or ["a"] * len(traces))[n], [c.as_list() for c in t.clicks],
                          t.ious) for n, t in enumerate(traces)]
    return ClickResult("toy", "all", "stand-in", max_clicks, True, images)


def test_a_model_returning_the_ground_truth_needs_one_click_everywhere():
    masks = _masks()
    traces = [simulate(gt, lambda p, l, m, multi, gt=gt: (gt, None), max_clicks=20) for gt in masks]
    result = _result(traces, 20)
    assert all(len(t.clicks) == 1 for t in traces)
    assert result.noc(0.85) == result.noc(0.9) == 1.0
    assert result.nof(0.85) == result.nof(0.9) == 0
    np.testing.assert_allclose(result.miou_at(), np.ones(20))


def test_a_model_returning_nothing_fails_everywhere():
    masks = _masks()
    traces = [simulate(gt, lambda p, l, m, multi, gt=gt: (np.zeros_like(gt), None), max_clicks=7) for gt in masks]
    result = _result(traces, 7)
    assert result.nof(0.85) == result.nof(0.9) == len(masks)
    assert result.noc(0.9) == 7.0
    assert all(len(t.clicks) == 7 and all(c.positive for c in t.clicks) for t in traces)  # every miss is positive


def test_the_model_gets_every_click_so_far_and_its_previous_logits():
    gt = _masks(1)[0]
    seen = []

    def predict(points, labels, mask_input, multimask):
        seen.append((points.copy(), labels.copy(), None if mask_input is None else mask_input.copy(), multimask))
        mask = np.zeros_like(gt)
        mask[: len(seen)] = True  # a wrong mask growing by one row: errors on both sides
        return mask, np.full((1, 4, 4), float(len(seen)))

    trace = simulate(gt, predict, max_clicks=4)
    assert [len(p) for p, _, _, _ in seen] == [1, 2, 3, 4]
    assert [multi for *_, multi in seen] == [True, False, False, False]
    assert seen[0][2] is None and [m[0, 0, 0] for _, _, m, _ in seen[1:]] == [1.0, 2.0, 3.0]
    for k, (points, labels, _, _) in enumerate(seen):
        assert points.tolist() == [[c.x, c.y] for c in trace.clicks[: k + 1]]
        assert labels.tolist() == [int(c.positive) for c in trace.clicks[: k + 1]]
    no_input = []
    simulate(gt, lambda p, l, m, multi: (no_input.append(m), (np.zeros_like(gt), np.ones((1, 4, 4))))[1],
             max_clicks=3, mask_input=False)
    assert no_input == [None, None, None]


def test_noc_counts_the_first_click_reaching_the_target():
    assert clicks_to_reach([0.5, 0.86, 0.95], 0.85, 20) == 2
    assert clicks_to_reach([0.5, 0.86, 0.95], 0.9, 20) == 3
    assert clicks_to_reach([0.5, 0.6], 0.9, 20) == 20


def test_intervals_are_bootstrap_percentiles_within_classes():
    rng = np.random.default_rng(0)
    images = [ImageClicks(f"i{n}", "ab"[n % 2], [[0, 0, 1]] * 3, rng.uniform(0.5, 1.0, 3).tolist()) for n in range(30)]
    result = ClickResult("toy", "all", "m", 3, True, images)
    low, high = result.noc_interval(0.85, resamples=500, seed=1)
    assert low <= result.noc(0.85) <= high and low < high
    # an independent computation: resample within each class, mean NoC, 2.5 / 97.5 percentiles
    from samis.stats import resample_indices

    noc = np.array([clicks_to_reach(i.ious, 0.85, 3) for i in images], float)
    means = noc[resample_indices(30, 500, 1, [i.cls for i in images])].mean(axis=1)
    assert [low, high] == pytest.approx(np.percentile(means, [2.5, 97.5]).tolist())
    bands = result.miou_interval(resamples=500, seed=1)
    assert len(bands) == 3 and all(lo <= m <= hi for (lo, hi), m in zip(bands, result.miou_at()))


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5", "101", ""])
def test_bad_max_clicks_is_one_line(value):
    with pytest.raises(SamError, match="--max-clicks"):
        check_max_clicks(value)


@pytest.mark.parametrize("value", ["0", "1.01", "-0.5", "nan", "x", "0.9,1.2", ""])
def test_iou_targets_outside_0_1_are_one_line(value):
    with pytest.raises(SamError, match="--iou"):
        check_targets(value)
    assert check_targets("0.85,0.9,1") == (0.85, 0.9, 1.0)
