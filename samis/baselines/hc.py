"""Histogram-based contrast (HC): M.-M. Cheng, G.-X. Zhang, N. J. Mitra, X. Huang, S.-M. Hu,
"Global Contrast based Salient Region Detection", CVPR 2011.

A pixel's saliency is the contrast of its colour to all other colours of the image, weighted by
how often they occur:  S(c_i) = sum_j f_j * D(c_i, c_j),  D = Euclidean distance in CIE Lab.
Following the authors' released code (CmSaliencyRC::GetHC):

1. quantise each RGB channel to 12 levels (12^3 = 1728 bins);
2. keep the most frequent bins that cover 95 % of the pixels (at least 10, at most 256); each
   dropped bin joins the kept bin nearest in quantised RGB;
3. a bin's colour is the mean colour of its pixels, converted to Lab; its weight its pixel share;
4. colour-space smoothing: each bin's saliency becomes the distance-weighted mean over its
   m = max(round(bins / 4), 2) nearest bins (itself included);
5. map back to pixels, 3x3 Gaussian blur, scale to [0, 1].

Grayscale form: for a gray image R = G = B, so the 1728 bins collapse to the 12 gray levels and
Lab to L*; the algorithm is otherwise unchanged. That coarse 12-level quantisation is what gives
HC maps their blocky look on low-contrast steel.
"""

from __future__ import annotations

import cv2
import numpy as np

from samis.baselines._image import is_constant, normalize_map, to_rgb, to_uint8

LEVELS = 12
COVERAGE = 0.95
MIN_BINS, MAX_BINS = 10, 256
SMOOTHING_DELTA = 4.0

#: settings recorded in each prediction manifest
SETTINGS = {"levels_per_channel": LEVELS, "coverage": COVERAGE, "bins": [MIN_BINS, MAX_BINS],
            "smoothing_delta": SMOOTHING_DELTA, "final_blur": "Gaussian 3x3"}


def _quantise(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin index per pixel, bin mean colour (float BGR in [0, 1]) and bin pixel counts."""
    pixels = bgr.reshape(-1, 3).astype(np.float32) / np.float32(255.0)
    levels = (pixels * np.float32(LEVELS - 0.0001)).astype(np.int64)
    codes = levels[:, 0] * LEVELS * LEVELS + levels[:, 1] * LEVELS + levels[:, 2]
    colours, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    # most frequent first; ties broken by the larger code, as the reference's sort does
    order = np.lexsort((-colours, -counts))
    colours, counts = colours[order], counts[order]
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(order.size)
    ranks = rank_of[inverse.ravel()]

    # drop the rarest bins while together they hold less than 5 % of the pixels
    drop_budget = int(round(pixels.shape[0] * (1.0 - COVERAGE)))
    kept = colours.size
    dropped_sum = int(counts[-1])
    while dropped_sum < drop_budget and kept > 1:
        dropped_sum += int(counts[kept - 2])
        kept -= 1
    kept = min(kept, MAX_BINS)
    if kept <= MIN_BINS:
        kept = min(MIN_BINS, colours.size)

    target = np.arange(colours.size)
    if kept < colours.size:
        rgb_levels = np.stack([colours // (LEVELS * LEVELS), colours % (LEVELS * LEVELS) // LEVELS,
                               colours % LEVELS], axis=1)
        distances = ((rgb_levels[kept:, None, :] - rgb_levels[None, :kept, :]) ** 2).sum(axis=2)
        target[kept:] = distances.argmin(axis=1)  # first nearest kept bin wins, as in the reference
    bins = target[ranks]
    bin_counts = np.bincount(bins, minlength=kept).astype(np.float64)
    bin_colours = np.stack([np.bincount(bins, weights=pixels[:, c], minlength=kept) for c in range(3)], axis=1)
    bin_colours = (bin_colours / bin_counts[:, None]).astype(np.float32)
    return bins, bin_colours, bin_counts


def _smooth(saliency: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Colour-space smoothing: distance-weighted mean over each bin's nearest bins."""
    n_bins = saliency.size
    if n_bins < 2:
        return saliency
    m = max(int(round(n_bins / SMOOTHING_DELTA)), 2)
    order = np.argsort(distances, axis=1, kind="stable")[:, :m]  # itself first (distance 0)
    near = np.take_along_axis(distances, order, axis=1)
    near[:, 0] = 0.0
    total = near[:, 1:].sum(axis=1)
    weighted = (saliency[order] * (total[:, None] - near)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = weighted / ((m - 1) * total)
    # bins whose neighbours all share their colour have nothing to smooth with
    return np.where(total > 0, smoothed, saliency)


def histogram_contrast_saliency(image: np.ndarray) -> np.ndarray:
    """HC saliency of one image.

    Args:
        image: grayscale (H, W) or colour (H, W, 3/4) array, uint8, 16-bit, bool or float.

    Returns:
        float32 (H, W) map in [0, 1]; all zeros for a constant image.

    Raises:
        ValueError: ``image`` is not an image array.
    """
    image = to_uint8(image)
    if is_constant(image):
        return np.zeros(image.shape[:2], dtype=np.float32)
    bgr = to_rgb(image)[:, :, ::-1]  # the reference quantises in OpenCV's BGR order
    bins, colours, counts = _quantise(bgr)
    lab = cv2.cvtColor(colours[None, :, :], cv2.COLOR_BGR2Lab)[0].astype(np.float64)
    weights = counts / counts.sum()
    distances = np.sqrt(((lab[:, None, :] - lab[None, :, :]) ** 2).sum(axis=2))
    saliency = _smooth((distances * weights[None, :]).sum(axis=1), distances)
    pixel_map = saliency[bins].reshape(image.shape[:2]).astype(np.float32)
    pixel_map = cv2.GaussianBlur(pixel_map, (3, 3), 0)
    return normalize_map(pixel_map)
