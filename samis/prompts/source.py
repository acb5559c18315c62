"""Boxes that need no ground truth: the regions of another method's stored map.

A region is what image-level evaluation flags (:func:`samis.image_level.flagged_regions`): pixels ≥ 128,
8-connected, at least the minimum area (``ceil(0.001 × H × W)`` by default). Each region's bounding box prompts the
model; an image where the source flags nothing gets an empty map (counted). Only the source's maps are read —
never a ground-truth file of the images evaluated.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from samis.errors import SamError
from samis.image_level import flagged_regions
from samis.store import prediction_files, read_prediction
from samis.workspace import Workspace


def region_boxes(saliency: np.ndarray, min_area: int | None = None) -> np.ndarray:
    """(K, 4) ``x0, y0, x1, y1`` (inclusive pixels) of the flagged regions of one stored map, row-major order."""
    labels, _ = ndimage.label(flagged_regions(saliency, min_area), structure=np.ones((3, 3), bool))
    boxes = [[cols.start, rows.start, cols.stop - 1, rows.stop - 1]
             for rows, cols in (s for s in ndimage.find_objects(labels) if s is not None)]
    return np.array(boxes, np.float64).reshape(-1, 4)


def source_maps(workspace: Workspace, dataset_id: str, source: str, image_ids: list[str]) -> dict:
    """The source method's map file of each image.

    Raises:
        SamError: the source has no maps on this dataset, or lacks some of the images (named, one line).
    """
    files = prediction_files(workspace, dataset_id, source)
    if not files:
        raise SamError(f"--prompt-source {source}: no maps of {source!r} on dataset {dataset_id!r} "
                       f"(compute or import them first: `baseline`, `sam`, `predictions import`)")
    missing = [i for i in image_ids if i not in files]
    if missing:
        raise SamError(f"--prompt-source {source}: {len(missing)} of {len(image_ids)} images have no map of {source!r} "
                       f"(first: {missing[0]}); compute them for this split first")
    return {i: files[i] for i in image_ids}


def read_source_boxes(path: str) -> tuple[np.ndarray, tuple[int, int]]:
    """(boxes, map shape) of one stored source map (the output is written at the map's size, the store's size)."""
    saliency = read_prediction(path)
    return region_boxes(saliency), saliency.shape
