"""Mask selection: the oracle equals brute force, never loses to best-single; other strategies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from samis.datasets import Sample, register_dataset
from samis.errors import SamError
from samis.sam.masks import MaskSet, write_mask_set
from samis.sam.select_run import select_over_dataset
from samis.sam.selection import (
    EXACT_MAX_MASKS,
    _otsu,
    choose_best_single,
    choose_contrast,
    choose_inside_gt,
    choose_oracle,
    choose_small_union,
    contrast_scores,
    iou,
    render_choice,
)
from samis.store import read_manifest, prediction_files


def brute_force_best_iou(masks: np.ndarray, gt: np.ndarray) -> float:
    """Best IoU over every union of masks and complements, all 2^(2n) subsets, on 64-pixel images.

    Each candidate is one uint64 (8x8 pixels); unions of all subsets are built by doubling.
    """
    assert gt.size == 64
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    as_bits = lambda m: np.uint64(np.sum(weights[m.reshape(-1)], dtype=np.uint64))  # noqa: E731
    candidates = [as_bits(m) for m in masks] + [as_bits(~m) for m in masks]
    unions = np.zeros(1, np.uint64)
    for candidate in candidates:
        unions = np.concatenate([unions, unions | candidate])
    g = as_bits(gt)
    tp = np.bitwise_count(unions & g).astype(np.float64)
    union = np.bitwise_count(unions | g).astype(np.float64)
    scores = np.where(union > 0, tp / np.maximum(union, 1), 1.0)
    return float(scores.max())


def _random_masks(rng, n, shape):
    return rng.random((n, *shape)) < rng.uniform(0.1, 0.6, (n, 1, 1))


@pytest.mark.parametrize("n", range(0, EXACT_MAX_MASKS + 1))
def test_oracle_equals_brute_force(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(3 if n < 9 else 1):
        masks = _random_masks(rng, n, (8, 8))
        gt = rng.random((8, 8)) < rng.uniform(0.1, 0.5)
        selection = choose_oracle(masks, gt)
        assert selection.details["exact_search"]
        assert selection.score == pytest.approx(brute_force_best_iou(masks, gt), abs=1e-12)
        assert iou(render_choice(masks, selection.choice, gt.shape), gt) == pytest.approx(selection.score, abs=1e-12)


def test_oracle_uses_unions_and_complements():
    gt = np.zeros((10, 10), bool)
    gt[:, :3] = True
    gt[:, 7:] = True
    middle = np.zeros((10, 10), bool)
    middle[:, 3:7] = True
    left = np.zeros((10, 10), bool)
    left[:, :3] = True
    selection = choose_oracle(np.stack([middle, left]), gt)
    choice = selection.choice
    # not(middle) is exact: mask 0 chosen, as its complement, and nothing else
    assert selection.score == 1.0 and choice.chosen == [0] and choice.negated == [0] and not choice.whole_image
    assert choose_oracle(np.zeros((0, 10, 10), bool), gt).score == 0.0
    assert choose_oracle(np.zeros((0, 10, 10), bool), np.zeros((10, 10), bool)).score == 1.0


@pytest.mark.parametrize("n", [11, 16, 40])
def test_oracle_never_worse_than_best_single_on_large_sets(n):
    rng = np.random.default_rng(n)
    for _ in range(2):
        masks = _random_masks(rng, n, (30, 30))
        gt = np.zeros((30, 30), bool)
        gt[5:15, 8:25] = True
        selection = choose_oracle(masks, gt)
        assert not selection.details["exact_search"]
        best_single = iou(render_choice(masks, choose_best_single(masks, gt).choice, gt.shape), gt)
        assert selection.score >= best_single - 1e-12
        assert iou(render_choice(masks, selection.choice, gt.shape), gt) == pytest.approx(selection.score, abs=1e-12)


def test_best_single_and_inside_gt():
    gt = np.zeros((10, 10), bool)
    gt[2:8, 2:8] = True
    inner = np.zeros_like(gt)
    inner[3:6, 3:6] = True
    outer = np.zeros_like(gt)
    outer[0:2, :] = True  # entirely outside: its complement overlaps gt well
    mostly = np.zeros_like(gt)
    mostly[2:8, 2:9] = True  # 36 of 42 pixels inside: below 90 %
    masks = np.stack([inner, outer, mostly])
    best = render_choice(masks, choose_best_single(masks, gt).choice, gt.shape)
    assert iou(best, gt) == pytest.approx(max(iou(m, gt) for m in (inner, outer, mostly, ~inner, ~outer, ~mostly)))
    np.testing.assert_array_equal(render_choice(masks, choose_inside_gt(masks, gt).choice, gt.shape), inner)


def _mask_set(masks: np.ndarray) -> MaskSet:
    n = len(masks)
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()] if len(xs) else [0, 0, 0, 0])
    return MaskSet(masks, np.linspace(0.9, 0.5, n).astype(np.float32), np.ones(n, np.float32),
                   masks.sum(axis=(1, 2)), np.array(boxes, np.int64).reshape(-1, 4),
                   np.zeros((n, 2)), np.tile([0, 0, masks.shape[2], masks.shape[1]], (n, 1)))


def test_small_union_skips_big_and_spanning_masks():
    h, w = 40, 40
    small = np.zeros((h, w), bool)
    small[5:9, 5:9] = True
    big = np.zeros((h, w), bool)
    big[:, :30] = True
    frame = np.zeros((h, w), bool)  # thin, spans the image, small area
    frame[0, :] = frame[-1, :] = frame[:, 0] = frame[:, -1] = True
    mask_set = _mask_set(np.stack([small, big, frame]))
    result = render_choice(mask_set.masks, choose_small_union(mask_set, max_area_fraction=0.2).choice, (h, w))
    np.testing.assert_array_equal(result, small)


def test_contrast_keeps_masks_that_stand_out():
    h, w = 40, 40
    gray = np.full((h, w), 100, np.uint8)
    gray[10:16, 10:16] = 200  # a bright defect
    defect = np.zeros((h, w), bool)
    defect[10:16, 10:16] = True
    flat = np.zeros((h, w), bool)
    flat[25:32, 25:32] = True
    half = np.zeros((h, w), bool)
    half[20:30, 2:8] = True
    masks = _mask_set(np.stack([defect, flat, half]))
    scores = contrast_scores(masks, gray, ring=2)
    assert scores[0] > 2.0 and scores[1] == 0.0 and scores[2] == 0.0
    result = render_choice(masks.masks, choose_contrast(masks, gray, ring=2, max_area_fraction=0.5).choice, (h, w))
    np.testing.assert_array_equal(result > 0, defect)
    assert result.max() == 1.0


def test_otsu_splits_like_opencv():
    """The cut of a 1-D sample splits it as OpenCV's Otsu threshold does (``cv2.THRESH_OTSU`` on the same
    values as 8-bit gray levels; OpenCV puts values <= its threshold below). Distinct levels: the scores
    samis cuts are real-valued, and OpenCV's histogram cannot tell tied values apart anyway."""
    import cv2

    rng = np.random.default_rng(11)
    for trial in range(200):
        n = int(rng.integers(2, 80))
        if trial % 2:  # two groups of various sizes and spreads, as mask scores are
            centers = rng.choice(256, size=2, replace=False)
            levels = np.concatenate([rng.normal(c, rng.uniform(3, 40), size=n) for c in centers])
            levels = np.unique(np.clip(np.round(levels), 0, 255))
        else:
            levels = rng.choice(256, size=n, replace=False)
        levels = levels.astype(np.uint8)
        if len(levels) < 2:
            continue
        threshold, _ = cv2.threshold(levels.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        scores = levels / 255.0
        cut = _otsu(rng.permutation(scores))
        np.testing.assert_array_equal(scores < cut, levels <= threshold, err_msg=f"trial {trial}: {levels}")


def _cached_dataset(workspace, tmp_path, n=6, with_gt=True, free=0):
    """A folder dataset of n images with hand-made cached masks (one mask equals the GT); the last ``free``
    images are good parts (empty ground truth, a bright spot and noise masks only)."""
    from PIL import Image

    rng = np.random.default_rng(7)
    root = tmp_path / "selds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    label = "sam-tiny-random"
    folder = workspace.sam_cache_dir(label, "selds")
    for i in range(n):
        gt = np.zeros((24, 32), bool)
        gt[4 + i: 10 + i, 6:14] = True
        if i >= n - free:
            spot = gt.copy()
            gt[:] = False
            image = (rng.normal(100, 5, gt.shape) + spot * 80).clip(0, 255).astype(np.uint8)
            gt_for_masks = spot
        else:
            image = (rng.normal(100, 5, gt.shape) + gt * 80).clip(0, 255).astype(np.uint8)
            gt_for_masks = gt
        Image.fromarray(image).save(root / "images" / f"im{i}.png")
        Image.fromarray(gt.astype(np.uint8) * 255).save(root / "masks" / f"im{i}.png")
        noise = rng.random((3, *gt.shape)) < 0.2
        masks = np.concatenate([gt_for_masks[None], noise])
        write_mask_set(folder / f"im{i}.npz", _mask_set(masks), {"model": label, "params": {"points_per_side": 4},
                                                                   "checkpoint_md5": None})
    return register_dataset(workspace, "selds", root, "folder"), label


@pytest.mark.parametrize("strategy", ["oracle", "best-single", "inside-gt", "small-union", "contrast"])
def test_select_over_dataset_writes_labelled_maps(workspace, tmp_path, strategy):
    dataset, label = _cached_dataset(workspace, tmp_path)
    report = select_over_dataset(workspace, dataset, label, strategy)
    method = f"{label}+{strategy}"
    assert report.method == method and report.images == 6
    assert sorted(prediction_files(workspace, "selds", method)) == [f"im{i}" for i in range(6)]
    manifest = read_manifest(workspace, "selds", method)
    assert manifest["upper_bound"] is (strategy in ("oracle", "best-single", "inside-gt"))
    assert manifest["model"] == label and manifest["strategy"] == strategy
    if strategy in ("oracle", "best-single", "inside-gt"):
        assert report.mean_iou == pytest.approx(1.0)  # one cached mask equals the ground truth
        assert "upper bound" in manifest["note"]
    else:
        chosen = manifest["strategy_parameters"]
        assert chosen["chosen_on"] == "train" and chosen["train_images"] == 4  # folder split: 60 % train
        json.dumps(manifest)


def test_selections_run_on_good_parts(workspace, tmp_path):
    from samis.datasets import get_split
    from samis.image_level import evaluate_image_level
    from samis.imageio import read_map
    from samis.methods import describe

    dataset, label = _cached_dataset(workspace, tmp_path, n=10, free=4)
    free = [s.id for s in dataset.samples if not s.read_gt().any()]
    assert len(free) == 4
    for strategy in ("oracle", "best-single", "inside-gt", "small-union", "contrast"):
        report = select_over_dataset(workspace, dataset, label, strategy)
        assert report.images == 10
        maps = prediction_files(workspace, "selds", f"{label}+{strategy}")
        assert set(free) <= set(maps)
        if strategy == "oracle":  # on an empty mask the oracle chooses nothing
            assert all(read_map(maps[i]).max() == 0 for i in free)
        if strategy in ("small-union", "contrast"):
            chosen = read_manifest(workspace, "selds", f"{label}+{strategy}")["strategy_parameters"]
            train = get_split(workspace, dataset, "train")
            left_out = sum(s.id in free for s in train)
            # chosen on the defect images of the train split; good parts would reward empty maps
            assert chosen["train_defect_free_left_out"] == left_out and chosen["train_images"] == len(train) - left_out
        assert describe(f"{label}+{strategy}").upper_bound is (strategy in ("oracle", "best-single", "inside-gt"))
    result = evaluate_image_level(workspace, dataset)
    assert set(result.methods) == {f"{label}+{s}" for s in ("oracle", "best-single", "inside-gt", "small-union",
                                                             "contrast")}
    oracle = result.to_json_dict()["methods"][f"{label}+oracle"]
    assert oracle["false_alarm_rate"] == 0.0 and oracle["n_free"] == 4


def test_ground_truth_strategies_refuse_images_without_it(workspace, tmp_path):
    dataset, label = _cached_dataset(workspace, tmp_path, n=2)
    sample = dataset.samples[0]
    missing = Sample(sample.id, sample.image_path, tmp_path / "gone.png", sample.cls)
    with pytest.raises(SamError, match="strategy 'oracle' needs ground truth.*im0.*small-union or contrast"):
        select_over_dataset(workspace, dataset, label, "oracle", samples=[missing])
    with pytest.raises(SamError, match="unknown selection strategy"):
        select_over_dataset(workspace, dataset, label, "magic")


def test_missing_cache_file_is_one_clear_error(workspace, tmp_path):
    dataset, _ = _cached_dataset(workspace, tmp_path, n=2)
    with pytest.raises(SamError, match="mask cache file missing; run `python -m samis sam` first"):
        select_over_dataset(workspace, dataset, "sam-vit_b", "oracle")
