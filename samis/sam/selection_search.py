"""Choosing a GT-free selection strategy's parameters on the train split, and reading one image's inputs.

:func:`choose_parameters` scores every candidate of a strategy's grid (:mod:`samis.sam.selection`) by
mean IoU on the cached masks of the train split's defect images. The readers beside it (the mask
cache file of an image, its masks at ground-truth size, its gray image at that size) serve it and
:func:`samis.sam.select_run.select_over_dataset` alike.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from samis.datasets import Dataset, Sample, get_split
from samis.errors import SamError
from samis.imageio import read_gray
from samis.sam.masks import MaskSet, read_mask_set
from samis.sam.selection import SelectionInput, get_strategy, iou
from samis.store import resize_map
from samis.workspace import Workspace


def read_cached_masks(workspace: Workspace, dataset_id: str, label: str, sample: Sample) -> tuple[MaskSet, dict]:
    """An image's cached masks and their provenance (:func:`samis.sam.masks.read_mask_set`).

    Raises:
        SamError: the cache file is missing or damaged.
    """
    return read_mask_set(workspace.sam_cache_dir(label, dataset_id) / f"{sample.id}.npz")


def fit_masks(mask_set: MaskSet, shape) -> MaskSet:
    """Masks at ground-truth size (nearest neighbour) when the image and its GT differ in size.

    Only the masks are resized: areas and boxes stay the cache's (image pixels).
    """
    if mask_set.shape == tuple(shape) or len(mask_set) == 0:
        if len(mask_set) == 0:
            return MaskSet.empty(tuple(shape))
        return mask_set
    h, w = mask_set.shape
    rows = (np.arange(shape[0]) * h // shape[0]).clip(0, h - 1)
    cols = (np.arange(shape[1]) * w // shape[1]).clip(0, w - 1)
    return MaskSet(mask_set.masks[:, rows][:, :, cols], mask_set.predicted_iou, mask_set.stability_score,
                   mask_set.area, mask_set.bbox, mask_set.point_coords, mask_set.crop_box)


def gray_at(sample: Sample, shape) -> np.ndarray:
    """The sample's image in gray, resized to ``shape`` when it differs."""
    gray = read_gray(sample.image_path)
    if gray.shape != tuple(shape):
        gray = resize_map(gray, tuple(shape))
    return gray


def selection_input(mask_set: MaskSet, gt: np.ndarray | None, sample: Sample,
                    keep_scores: bool = False) -> SelectionInput:
    """One image as a strategy sees it: ``mask_set`` fitted to the map's size, the gray image read on demand."""
    shape = tuple(gt.shape) if gt is not None else tuple(mask_set.shape)
    return SelectionInput(fit_masks(mask_set, shape), gt, partial(gray_at, sample, shape), keep_scores)


def choose_parameters(workspace: Workspace, dataset: Dataset, label: str, strategy: str) -> dict:
    """Pick a GT-free strategy's parameters by mean IoU on the cached masks of the train split's defect images.

    Args:
        strategy: a strategy with a parameter grid (``small-union``, ``contrast``).

    Returns:
        the chosen parameters, with how they were chosen (train images, mean IoU, grid, criterion).

    Raises:
        SamError: unknown strategy, or no train-split image has cached masks.
    """
    spec = get_strategy(strategy)
    train = get_split(workspace, dataset, "train")
    folder = workspace.sam_cache_dir(label, dataset.id)
    cached = [s for s in train if (folder / f"{s.id}.npz").is_file()]
    if not cached:
        raise SamError(f"strategy {strategy!r} chooses its parameters on the train split of {dataset.id!r}, but no "
                       f"train image has {label} masks; run sam with --split train (or all) first")
    items = []
    left_out = 0
    for sample in cached:
        gt = sample.read_gt()
        if not gt.any():
            # a defect-free image (e.g. MT_Free): its IoU rewards choosing nothing, so good parts in the
            # train split would pull the choice toward empty maps; the parameters are chosen on defect
            # images, and stay what they are without the good parts
            left_out += 1
            continue
        mask_set = read_cached_masks(workspace, dataset.id, label, sample)[0]
        items.append(selection_input(mask_set, gt, sample, keep_scores=True))
    if not items:
        raise SamError(f"strategy {strategy!r} chooses its parameters on the defect images of the train split of "
                       f"{dataset.id!r}, but none of its {len(cached)} train images with {label} masks has a defect")
    best, best_score = None, -1.0
    for candidate in spec.grid:
        score = float(np.mean([iou(item.render(spec.select(item, candidate)) > 0, item.gt) for item in items]))
        if score > best_score + 1e-12:
            best, best_score = candidate, score
    return {**best, "chosen_on": "train", "train_images": len(items), "train_defect_free_left_out": left_out,
            "train_mean_iou": round(best_score, 6),
            "grid": [dict(c) for c in spec.grid], "criterion": "mean IoU of the binary map with the ground truth"}
