"""Minimum barrier distance saliency (MB): J. Zhang, S. Sclaroff, Z. Lin, X. Shen, B. Price,
R. Mech, "Minimum Barrier Salient Object Detection at 80 FPS", ICCV 2015.

The barrier of a path is the highest minus the lowest intensity along it; a pixel's minimum
barrier distance (MBD) to the image boundary is the smallest barrier over all paths that reach
it from a boundary pixel. Background connects to the boundary through flat paths, a defect does
not, so the MBD map is a saliency map. It is computed with the paper's FastMBD (Algorithm 1):
seeds = the one-pixel image border (distance 0), then raster scans that relax each pixel from
its two already-visited 4-neighbours, keeping the running maximum U and minimum L of the best
path: forward (up, left), backward (down, right), forward again — K = 3 passes, the paper's choice.

As in the paper, colour images are processed per CIE Lab channel and the channel maps summed
(a gray image has L* only), and images are resized so the longer side is at most 300 pixels.
This is the plain MB map: the paper's post-processing (centre bias, morphological smoothing,
sigmoid contrast) is left out — a centre prior is wrong for defects, which lie anywhere, and the
others only reshape the map's values.

A raster scan visits pixel (i, j) after (i-1, j) and (i, j-1); both lie on the anti-diagonal
i + j - 1, so processing anti-diagonals in order gives exactly the raster-scan result while each
diagonal is one vectorised numpy step (H + W - 1 steps per pass instead of H * W).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from samis.baselines._image import is_constant, is_gray, normalize_map, srgb_lightness, to_lab, to_uint8

PASSES = 3
MAX_SIDE = 300

#: settings recorded in each prediction manifest
SETTINGS = {"passes": PASSES, "seeds": "image border (1 pixel)", "channels": "CIE Lab, summed (L* for gray)",
            "max_side": MAX_SIDE, "post_processing": "none (min-max scaling only)"}


@lru_cache(maxsize=16)
def _skew_indices(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Where pixel (i, j) lives in the skewed layout: row i + j, column i + 1.

    Columns 0 and height + 1 are sentinels, so the neighbours of every cell are plain slices.
    """
    rows, cols = np.indices((height, width))
    return rows + cols, rows + 1


def _skew(values: np.ndarray, fill: float, indices) -> np.ndarray:
    height, width, channels = values.shape
    diagonal, column = indices
    skewed = np.full((height + width - 1, height + 2, channels), fill, dtype=np.float32)
    skewed[diagonal, column] = values
    return skewed


def minimum_barrier_distance(channels: np.ndarray, passes: int = PASSES) -> np.ndarray:
    """FastMBD from the image border, per channel.

    Args:
        channels: float (H, W, C) image.
        passes: raster scans, alternating forward and backward, starting forward.

    Returns:
        float32 (H, W, C) approximate minimum barrier distance of each pixel to the border.
    """
    channels = np.asarray(channels, dtype=np.float32)
    height, width, n_channels = channels.shape
    indices = _skew_indices(height, width)
    border = np.full(channels.shape, np.inf, dtype=np.float32)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = 0.0
    # Cells outside the image: image NaN, so they are never updated (NaN < x is False), and
    # U = +inf, L = -inf, so a path through them costs +inf and is never taken.
    image = _skew(channels, np.nan, indices)
    upper = _skew(channels, np.inf, indices)
    lower = _skew(channels, -np.inf, indices)
    distance = _skew(border, np.inf, indices)
    upper[np.isnan(image)] = np.inf
    lower[np.isnan(image)] = -np.inf

    shape = (height, n_channels)
    first_upper, first_lower, first_cost = (np.empty(shape, np.float32) for _ in range(3))
    second_upper, second_lower, second_cost = (np.empty(shape, np.float32) for _ in range(3))
    take_second, better = np.empty(shape, bool), np.empty(shape, bool)
    n_diagonals = height + width - 1
    cells = slice(1, height + 1)
    for scan in range(passes):
        if scan % 2 == 0:
            # forward: diagonal d from d - 1; up (i-1, j) is column i, left (i, j-1) column i + 1
            order, step, first, second = range(1, n_diagonals), -1, slice(0, height), slice(1, height + 1)
        else:
            # backward: diagonal d from d + 1; down (i+1, j) is column i + 2, right (i, j+1) column i + 1
            order, step, first, second = range(n_diagonals - 2, -1, -1), 1, slice(2, height + 2), slice(1, height + 1)
        for d in order:
            here = image[d, cells]
            source_upper, source_lower = upper[d + step], lower[d + step]
            np.maximum(source_upper[first], here, out=first_upper)
            np.minimum(source_lower[first], here, out=first_lower)
            np.subtract(first_upper, first_lower, out=first_cost)
            np.maximum(source_upper[second], here, out=second_upper)
            np.minimum(source_lower[second], here, out=second_lower)
            np.subtract(second_upper, second_lower, out=second_cost)
            # the reference relaxes from the first neighbour, then the second only if strictly better
            np.less(second_cost, first_cost, out=take_second)
            np.copyto(first_upper, second_upper, where=take_second)
            np.copyto(first_lower, second_lower, where=take_second)
            np.copyto(first_cost, second_cost, where=take_second)
            current = distance[d, cells]
            np.less(first_cost, current, out=better)
            np.copyto(current, first_cost, where=better)
            np.copyto(upper[d, cells], first_upper, where=better)
            np.copyto(lower[d, cells], first_lower, where=better)
    diagonal, column = indices
    return distance[diagonal, column]


def minimum_barrier_saliency(image: np.ndarray) -> np.ndarray:
    """MB saliency of one image.

    Args:
        image: grayscale (H, W) or colour (H, W, 3/4) array, uint8, 16-bit, bool or float.

    Returns:
        float32 (H, W) map in [0, 1]; all zeros for a constant image.

    Raises:
        ValueError: ``image`` is not an image array.
    """
    image = to_uint8(image)
    height, width = image.shape[:2]
    if is_constant(image):
        return np.zeros((height, width), dtype=np.float32)
    scale = MAX_SIDE / max(height, width)
    if scale < 1.0:
        size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if is_gray(image):
        channels = srgb_lightness(image if image.ndim == 2 else image[:, :, 0])[:, :, None]
    else:
        channels = to_lab(image)
    saliency = minimum_barrier_distance(channels).sum(axis=2)
    if saliency.shape != (height, width):
        saliency = cv2.resize(saliency, (width, height), interpolation=cv2.INTER_LINEAR)
    return normalize_map(saliency)
