"""Sloppy boxes: each side of a ground-truth box moved by a uniform draw in ±P % of the box's width or height.

A box is ``x0, y0, x1, y1`` in image pixels (inclusive, as :func:`samis.sam.prompts.component_prompts` gives it);
its width is ``x1 - x0 + 1``, its height ``y1 - y0 + 1``. ``x0`` and ``x1`` move by draws in ±P % of the width,
``y0`` and ``y1`` in ±P % of the height; the result is clipped to the image (and its sides put back in order).

The draws of an image come from ``numpy.random.default_rng([seed, crc32(image id)])``: the same seed gives the
same boxes for an image whatever the order or the machine the images run in.
"""

from __future__ import annotations

import zlib

import numpy as np

from samis.errors import SamError

#: the jitters of the robustness curve (percent of the box's width / height)
JITTER_STEPS = (0.0, 5.0, 10.0, 20.0)
#: the largest jitter accepted: beyond ±100 % a side can leave the box's own span twice over
MAX_JITTER = 100.0


def check_jitter(value) -> float:
    """``--box-jitter`` as a percentage in [0, 100].

    Raises:
        SamError: not a number, below 0 or above 100 (one line).
    """
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise SamError(f"--box-jitter takes a percentage of the box's size (0-100), not {text!r}") from None
    if not 0.0 <= number <= MAX_JITTER:  # NaN fails too
        raise SamError(f"--box-jitter must lie in [0, {MAX_JITTER:g}] percent, not {text}")
    return number


def image_rng(seed: int, image_id: str) -> np.random.Generator:
    """The generator of one image's draws: from the seed and the image id only."""
    return np.random.default_rng([int(seed), zlib.crc32(image_id.encode("utf-8"))])


def jitter_boxes(boxes: np.ndarray, percent: float, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Boxes (K, 4) with each side moved by a uniform draw in ±``percent`` % of the box's width / height.

    Args:
        boxes: (K, 4) ``x0, y0, x1, y1`` inclusive image pixels.
        percent: the jitter P (0: the boxes unchanged).
        rng: the image's generator (:func:`image_rng`); four draws per box, in the boxes' order.
        shape: the image's (H, W): the boxes are clipped to ``[0, W - 1] × [0, H - 1]``.

    Returns:
        (K, 4) float boxes inside the image, ``x0 ≤ x1`` and ``y0 ≤ y1``.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    draws = rng.uniform(-1.0, 1.0, boxes.shape) * (percent / 100.0)
    width = boxes[:, 2] - boxes[:, 0] + 1
    height = boxes[:, 3] - boxes[:, 1] + 1
    moved = boxes + draws * np.stack([width, height, width, height], axis=1)
    height_px, width_px = shape
    moved[:, [0, 2]] = moved[:, [0, 2]].clip(0, width_px - 1)
    moved[:, [1, 3]] = moved[:, [1, 3]].clip(0, height_px - 1)
    x0, x1 = np.minimum(moved[:, 0], moved[:, 2]), np.maximum(moved[:, 0], moved[:, 2])
    y0, y1 = np.minimum(moved[:, 1], moved[:, 3]), np.maximum(moved[:, 1], moved[:, 3])
    return np.stack([x0, y0, x1, y1], axis=1)
