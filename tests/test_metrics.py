"""samis.metrics equals pysodmetrics computed plainly, image by image and over a dataset."""

import numpy as np
import pytest
from reference import pysodmetrics_scores

from samis.metrics import CURVES, DATASET_METRICS, IMAGE_METRICS, aggregate, score_image


def _pairs(seed=0, n=8, shape=(37, 53), empty=1):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        gt = np.zeros(shape, np.uint8)
        if i >= empty:
            y, x = rng.integers(0, shape[0] - 10), rng.integers(0, shape[1] - 10)
            gt[y:y + rng.integers(3, 10), x:x + rng.integers(3, 10)] = 255
        pred = rng.integers(0, 256, shape).astype(np.uint8)
        pred[gt > 0] = np.clip(pred[gt > 0].astype(int) + 100, 0, 255)
        pairs.append((pred, gt))
    pairs.append((np.full(shape, 7, np.uint8), pairs[-1][1]))  # constant map
    return pairs


def test_dataset_scores_equal_plain_pysodmetrics():
    pairs = _pairs()
    images = [score_image(p, g) for p, g in pairs]
    ours = aggregate(np.stack([s.scalars for s in images]), np.stack([s.curves for s in images]))
    plain = pysodmetrics_scores(pairs)
    assert ours["n_images"] == len(pairs)
    for name in DATASET_METRICS:
        assert ours[name] == pytest.approx(plain[name], abs=1e-12), name


def test_max_f_is_max_of_mean_curve_not_mean_of_maxima():
    pairs = _pairs(seed=3, n=6, empty=0)
    images = [score_image(p, g) for p, g in pairs]
    scalars = np.stack([s.scalars for s in images])
    ours = aggregate(scalars, np.stack([s.curves for s in images]))
    mean_of_maxima = scalars[:, IMAGE_METRICS.index("maxFm")].mean()
    assert ours["maxFm"] < mean_of_maxima  # averaging curves first is never above the mean of maxima


def test_empty_ground_truth_conventions():
    shape = (20, 20)
    gt = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    pred[5:10, 5:10] = 200
    scores = dict(zip(IMAGE_METRICS, score_image(pred, gt).scalars))
    assert scores["Fw"] == 0 and scores["adpFm"] == 0 and scores["IoU"] == 0
    assert scores["Sa"] == pytest.approx(1 - 25 / 400)  # 1 - mean of the min-max scaled map
    assert scores["MAE"] == pytest.approx(25 / 400)


def test_iou_and_dice_at_adaptive_threshold():
    gt = np.zeros((10, 10), np.uint8)
    gt[2:6, 2:6] = 255  # 16 px
    pred = np.zeros((10, 10), np.uint8)
    pred[2:6, 2:8] = 255  # 24 px, 16 overlap
    scores = dict(zip(IMAGE_METRICS, score_image(pred, gt).scalars))
    assert scores["IoU"] == pytest.approx(16 / 24)
    assert scores["Dice"] == pytest.approx(2 * 16 / 40)
    assert score_image(pred, gt).curves.shape == (len(CURVES), 256)
