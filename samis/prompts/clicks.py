"""The standard click simulator of interactive segmentation (RITM, SimpleClick, SAM's paper), and its results.

Per image, on the ground truth G (every defect region together):

- **first click**: positive, at the pixel of G farthest from G's boundary: the maximum of the Euclidean distance
  transform of G padded by one zero pixel (so the image border counts as boundary); ties: the first pixel in
  row-major order (``numpy.argmax``);
- **next click**, given the current prediction P: the false-negative region G∖P and the false-positive region
  P∖G, each padded by one zero pixel and distance-transformed (``scipy.ndimage.distance_transform_edt``); the
  region with the larger maximum gets the click, at that maximum (ties as above) — positive in a false negative,
  negative in a false positive; equal maxima give a negative click, as RITM does;
- when P equals G there is nothing left to correct: no further click is given and the IoU stays (1.0).

Clicks are ``(x, y, positive)`` in image pixels. Results: NoC@t (the clicks needed to reach IoU ≥ t; an image that
never does counts as ``max_clicks``), NoF@t (how many never do) and the mean IoU after k clicks.

Nothing here knows a model: :func:`simulate` takes ``predict(points, labels, mask_input, multimask) -> (mask,
low-res logits)`` (see :mod:`samis.prompts.adapters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import ndimage

from samis.errors import SamError

#: the clicks a run gives at most per image, by default
DEFAULT_MAX_CLICKS = 20
#: the most clicks per image accepted (a typo such as 2000 would run for hours)
MAX_MAX_CLICKS = 100
#: the IoU targets of NoC, by default
DEFAULT_TARGETS = (0.85, 0.9)

Predict = Callable[[np.ndarray, np.ndarray, "np.ndarray | None", bool], tuple[np.ndarray, "np.ndarray | None"]]


@dataclass(frozen=True)
class Click:
    """One simulated click: image pixel ``(x, y)``; ``positive`` (on the defect) or negative (background)."""

    x: int
    y: int
    positive: bool

    def as_list(self) -> list[int]:
        return [self.x, self.y, int(self.positive)]


def _farthest(region: np.ndarray) -> tuple[float, int, int]:
    """(distance, x, y) of the pixel of ``region`` farthest from its boundary, the image border included."""
    padded = np.pad(region.astype(bool), 1)
    distance = ndimage.distance_transform_edt(padded)
    flat = int(np.argmax(distance))  # the first maximum in row-major order
    row, col = divmod(flat, padded.shape[1])
    return float(distance.flat[flat]), col - 1, row - 1


def first_click(gt: np.ndarray) -> Click:
    """The first click: positive, at the ground-truth pixel farthest from its boundary.

    Raises:
        SamError: the ground truth is empty (a defect-free image has nothing to click on).
    """
    gt = np.asarray(gt, bool)
    if not gt.any():
        raise SamError("a defect-free image has no first click (its ground truth is empty)")
    _, x, y = _farthest(gt)
    return Click(x, y, True)


def next_click(gt: np.ndarray, pred: np.ndarray) -> Click | None:
    """The click correcting ``pred`` most: at the farther-inside pixel of the false negatives or false positives.

    Returns:
        the click, or None when ``pred`` equals ``gt`` (nothing to correct).
    """
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    false_negative, false_positive = gt & ~pred, pred & ~gt
    if not false_negative.any() and not false_positive.any():
        return None
    fn_distance, fn_x, fn_y = _farthest(false_negative)
    fp_distance, fp_x, fp_y = _farthest(false_positive)
    if fn_distance > fp_distance:
        return Click(fn_x, fn_y, True)
    return Click(fp_x, fp_y, False)  # equal maxima: negative, as RITM


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """|P ∩ G| / |P ∪ G| of two binary masks (1.0 when both are empty)."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


@dataclass
class ClickTrace:
    """One image's simulated session: the clicks in order, the IoU and the mask after each.

    ``masks`` is (k, H, W) bool; when the prediction equalled the ground truth early, fewer than ``max_clicks``
    clicks were given and the last IoU holds for the clicks not needed (:meth:`iou_at`).
    """

    clicks: list[Click]
    ious: list[float]
    masks: np.ndarray

    def iou_at(self, max_clicks: int) -> np.ndarray:
        """The IoU after k = 1 … max_clicks clicks (the last value carried where no click was needed)."""
        values = np.asarray(self.ious, float)
        return np.concatenate([values, np.full(max_clicks - len(values), values[-1])]) if len(values) else values


def simulate(gt: np.ndarray, predict: Predict, max_clicks: int = DEFAULT_MAX_CLICKS,
             mask_input: bool = True) -> ClickTrace:
    """Click up to ``max_clicks`` times on one image's ground truth, the model answering each time.

    Args:
        gt: (H, W) bool ground truth, not empty.
        predict: ``predict(points (k, 2) float xy, labels (k,) int, mask_input or None, multimask) -> (mask (H, W)
            bool, low-res logits)``: the model with the image embedded once; it gets every click so far.
        max_clicks: the most clicks (≥ 1).
        mask_input: give the model its previous low-resolution logits as the mask prompt (SAM's interactive demo).

    Returns:
        the :class:`ClickTrace`.
    """
    gt = np.asarray(gt, bool)
    clicks = [first_click(gt)]
    ious, masks, logits = [], [], None
    while True:
        points = np.array([[c.x, c.y] for c in clicks], np.float64)
        labels = np.array([int(c.positive) for c in clicks], np.int64)
        mask, logits = predict(points, labels, logits if mask_input else None, len(clicks) == 1)
        mask = np.asarray(mask, bool)
        masks.append(mask)
        ious.append(iou(mask, gt))
        if len(clicks) >= max_clicks:
            break
        following = next_click(gt, mask)
        if following is None:
            break
        clicks.append(following)
    return ClickTrace(clicks, ious, np.stack(masks))


# ---- results ---------------------------------------------------------------------------------------
def clicks_to_reach(ious: Sequence[float], target: float, max_clicks: int) -> int:
    """NoC of one image: the first k with IoU ≥ ``target`` after k clicks; ``max_clicks`` when never reached."""
    for k, value in enumerate(ious, start=1):
        if value >= target:
            return k
    return max_clicks


def failed(ious: Sequence[float], target: float) -> bool:
    """The image never reached ``target`` (it counts towards NoF)."""
    return not any(value >= target for value in ious)


def check_max_clicks(value) -> int:
    """``--max-clicks`` as an int in [1, :data:`MAX_MAX_CLICKS`].

    Raises:
        SamError: not a whole number, or out of range (one line).
    """
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("+").isdigit():
        raise SamError(f"--max-clicks must be a whole number from 1 to {MAX_MAX_CLICKS}, not {value!r}")
    number = int(text)
    if not 1 <= number <= MAX_MAX_CLICKS:
        raise SamError(f"--max-clicks must be from 1 to {MAX_MAX_CLICKS}, not {number}")
    return number


def check_targets(values) -> tuple[float, ...]:
    """IoU targets (``--iou 0.85,0.9``) as floats in (0, 1], in order, no repeats.

    Raises:
        SamError: not a number, or outside (0, 1] (one line).
    """
    items = values.split(",") if isinstance(values, str) else list(values)
    out: list[float] = []
    for item in items:
        text = str(item).strip()
        try:
            number = float(text)
        except ValueError:
            raise SamError(f"--iou takes IoU targets in (0, 1] separated by commas, not {text!r}") from None
        if not 0.0 < number <= 1.0:  # NaN fails this too
            raise SamError(f"--iou targets must lie in (0, 1], not {text}")
        if number not in out:
            out.append(number)
    if not out:
        raise SamError("--iou needs at least one IoU target in (0, 1]")
    return tuple(out)
