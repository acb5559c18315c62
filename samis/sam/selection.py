"""From an image's cached SAM masks to one saliency map: the paper's oracle and other strategies.

Strategies (``sam-<model>+<strategy>`` in the prediction store):

* ``oracle`` (paper, uses ground truth — an upper bound): the union of masks and mask complements
  with the highest IoU with the ground truth. Exact for up to :data:`EXACT_MAX_MASKS` masks: the
  masks cut the image into cells ("atoms", pixels with the same membership pattern), and every
  union is decided by choosing, for each mask, *not used / mask / complement* (choosing both a mask
  and its complement gives the whole image, also tried): 3^n unions, scored on the atoms at once.
  Beyond that, a documented heuristic: the exact search over the :data:`EXACT_MAX_MASKS` masks whose
  best single IoU (mask or complement) is highest, then greedy forward selection over all candidates
  (add the candidate that raises IoU most, until none does) and a backward pass (drop a candidate
  while that raises IoU), repeated until stable. It starts from a set that contains the best single
  candidate and only ever raises IoU, so it is never worse than ``best-single``.
* ``best-single`` (uses ground truth): the one mask or complement with the highest IoU.
* ``inside-gt`` (uses ground truth): union of masks lying at least 90 % inside the ground truth.
* ``small-union`` (no ground truth): union of masks below an area fraction, skipping masks whose box
  spans the image; the fraction is chosen on the train split.
* ``contrast`` (no ground truth): masks ranked by how far their mean intensity is from a ring around
  them (in image standard deviations); masks above the Otsu cut of these scores are kept, each
  pixel scored by the best kept mask covering it. Ring width and maximum area are chosen on the
  train split.

Ties are broken deterministically (fewer candidates, then lower index).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import SamError
from samis.imageio import ImageReadError, read_gray
from samis.methods import SELECTION_STRATEGIES, sam_method_id
from samis.runs import ProgressCallback, ProgressTracker, Report
from samis.sam.masks import MaskSet, read_mask_set
from samis.sam.records import SelectionRecord, write_selection_record
from samis.store import resize_map, write_manifest, write_prediction
from samis.workspace import Workspace

EXACT_MAX_MASKS = 10
INSIDE_FRACTION = 0.9
SPAN_FRACTION = 0.95  # a mask whose box covers this much of both sides "spans the image"
SMALL_UNION_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
CONTRAST_RING_GRID = (2, 5, 10)
CONTRAST_AREA_GRID = (0.1, 0.3, 0.6)


def iou(prediction: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(prediction, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, gt).sum() / union)


# ---- oracle ----------------------------------------------------------------------------------
@dataclass
class OracleChoice:
    """The oracle's answer: which masks (and complements) to unite, and how it was found."""

    masks: list[int]
    complements: list[int]
    whole_image: bool
    iou: float
    exact: bool

    def render(self, mask_set_masks: np.ndarray, shape) -> np.ndarray:
        if self.whole_image:
            return np.ones(shape, bool)
        out = np.zeros(shape, bool)
        for i in self.masks:
            out |= mask_set_masks[i]
        for i in self.complements:
            out |= ~mask_set_masks[i]
        return out


def _atoms(masks: np.ndarray, gt: np.ndarray):
    """Cells of equal membership: (membership bools (K, n), pixel counts (K,), GT counts (K,))."""
    n = masks.shape[0]
    flat = masks.reshape(n, -1).T  # (pixels, n)
    packed = np.packbits(flat, axis=1)
    view = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    # float64 counts: exact below 2**53 and lets numpy use BLAS for the many products below
    sizes = np.bincount(inverse).astype(np.float64)
    gt_counts = np.bincount(inverse, weights=gt.reshape(-1)).astype(np.float64)
    return flat[first], sizes, gt_counts


def _iou_of(covered: np.ndarray, sizes: np.ndarray, gt_counts: np.ndarray, gt_total: int) -> np.ndarray:
    tp = covered @ gt_counts
    predicted = covered @ sizes
    union = predicted + gt_total - tp
    return np.where(union > 0, tp / np.maximum(union, 1), 1.0)


def _exact(member: np.ndarray, sizes, gt_counts, gt_total, subset: list[int]) -> tuple[float, tuple]:
    """Best union over masks in ``subset``: returns (iou, assignment per subset mask: 0/1/2)."""
    n = len(subset)
    # merge atoms that the subset cannot tell apart
    packed = np.packbits(member[:, subset], axis=1) if n else np.zeros((len(member), 1), np.uint8)
    view = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    sub = member[first][:, subset]  # (K', n)
    sizes = np.bincount(inverse, weights=sizes)
    gt_counts = np.bincount(inverse, weights=gt_counts)
    assignments = _assignments(n)
    counts_all = (assignments != 0).sum(1)
    sub_f, comp_f = sub.astype(np.float32), (~sub).astype(np.float32)
    best_score, best_index = -1.0, 0
    for start in range(0, len(assignments), 16384):
        chunk = assignments[start:start + 16384]
        covered = ((sub_f @ (chunk == 1).T.astype(np.float32)) + (comp_f @ (chunk == 2).T.astype(np.float32))) > 0
        covered = covered.astype(np.float64)
        tp, predicted = gt_counts @ covered, sizes @ covered
        union = predicted + gt_total - tp
        scores = np.where(union > 0, tp / np.maximum(union, 1), 1.0)
        top = float(scores.max())
        if top > best_score + 1e-12:
            best_score = top
            tied = np.flatnonzero(scores >= top - 1e-12)
            best_index = start + int(tied[np.argmin(counts_all[start + tied])])  # fewest candidates, then first
        elif top >= best_score - 1e-12:
            tied = start + np.flatnonzero(scores >= best_score - 1e-12)
            candidate = int(tied[np.argmin(counts_all[tied])])
            if counts_all[candidate] < counts_all[best_index]:
                best_index = candidate
    return best_score, tuple(int(v) for v in assignments[best_index])


_ASSIGNMENTS: dict[int, np.ndarray] = {}


def _assignments(n: int) -> np.ndarray:
    """All 3**n choices (0 unused, 1 mask, 2 complement), as an (3**n, n) int8 array."""
    if n not in _ASSIGNMENTS:
        codes = np.arange(3 ** n, dtype=np.int64)
        _ASSIGNMENTS[n] = ((codes[:, None] // (3 ** np.arange(n - 1, -1, -1))) % 3).astype(np.int8)
    return _ASSIGNMENTS[n]


def select_oracle(masks: np.ndarray, gt: np.ndarray) -> OracleChoice:
    """The union of masks and complements closest (IoU) to the ground truth.

    Args:
        masks: (n, H, W) bool.
        gt: (H, W) bool.

    Returns:
        an :class:`OracleChoice` (``exact`` says whether the search was exhaustive).
    """
    n = masks.shape[0]
    gt = gt.astype(bool)
    gt_total = int(gt.sum())
    empty_iou = 1.0 if gt_total == 0 else 0.0
    if n == 0:
        return OracleChoice([], [], False, empty_iou, True)
    member, sizes, gt_counts = _atoms(masks, gt)
    whole_iou = float(gt_total / sizes.sum()) if sizes.sum() else 1.0
    if n <= EXACT_MAX_MASKS:
        score, assignment = _exact(member, sizes, gt_counts, gt_total, list(range(n)))
        choice = OracleChoice([i for i in range(n) if assignment[i] == 1], [i for i in range(n) if assignment[i] == 2],
                              False, score, True)
    else:
        choice = _heuristic(member, sizes, gt_counts, gt_total)
    if whole_iou > choice.iou + 1e-12:
        choice = OracleChoice([], [], True, whole_iou, choice.exact)
    return choice


def _heuristic(member, sizes, gt_counts, gt_total) -> OracleChoice:
    n = member.shape[1]
    # candidate c < n: mask c; c >= n: complement of mask c - n
    candidates = np.concatenate([member, ~member], axis=1).T  # (2n, K)
    single = _iou_of(candidates.astype(np.float64), sizes, gt_counts, gt_total)
    per_mask = np.maximum(single[:n], single[n:])
    top = sorted(np.argsort(-per_mask, kind="stable")[:EXACT_MAX_MASKS].tolist())
    _, assignment = _exact(member, sizes, gt_counts, gt_total, top)
    chosen = set()
    for mask_index, value in zip(top, assignment):
        if value == 1:
            chosen.add(mask_index)
        elif value == 2:
            chosen.add(mask_index + n)

    def score(selection: set) -> float:
        if not selection:
            return 1.0 if gt_total == 0 else 0.0
        covered = candidates[sorted(selection)].any(0)
        return float(_iou_of(covered[None].astype(np.float64), sizes, gt_counts, gt_total)[0])

    current = score(chosen)
    for _ in range(4 * n):
        changed = False
        covered = candidates[sorted(chosen)].any(0) if chosen else np.zeros(candidates.shape[1], bool)
        tp0, pred0 = covered @ gt_counts, covered @ sizes
        fresh = (candidates & ~covered).astype(np.float64)
        gain_tp = fresh @ gt_counts
        gain_pred = fresh @ sizes
        tp, pred = tp0 + gain_tp, pred0 + gain_pred
        union = pred + gt_total - tp
        scores = np.where(union > 0, tp / np.maximum(union, 1), 1.0)
        scores[sorted(chosen)] = -1.0
        best = int(np.argmax(scores))
        if scores[best] > current + 1e-12:
            chosen.add(best)
            current = float(scores[best])
            changed = True
        for candidate in sorted(chosen):
            trial = score(chosen - {candidate})
            if trial > current + 1e-12:
                chosen.discard(candidate)
                current = trial
                changed = True
        if not changed:
            break
    return OracleChoice(sorted(c for c in chosen if c < n), sorted(c - n for c in chosen if c >= n), False, current, False)


# ---- other strategies -------------------------------------------------------------------------
def best_single_choice(masks: np.ndarray, gt: np.ndarray) -> tuple[int | None, bool, float]:
    """The one mask or complement with the highest IoU: (mask index or None, negated, IoU).

    None when no candidate beats the empty map (e.g. no masks); ties keep the first candidate, a mask
    before its complement.
    """
    best_index, negated, best_iou = None, False, iou(np.zeros(gt.shape, bool), gt)
    for index, mask in enumerate(masks):
        for complement, candidate in ((False, mask), (True, ~mask)):
            value = iou(candidate, gt)
            if value > best_iou + 1e-12:
                best_index, negated, best_iou = index, complement, value
    return best_index, negated, best_iou


def select_best_single(masks: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The single mask or complement with the highest IoU (empty map when there are no masks)."""
    index, negated, _ = best_single_choice(masks, gt)
    if index is None:
        return np.zeros(gt.shape, bool)
    return ~masks[index] if negated else masks[index].copy()


def inside_gt_choice(masks: np.ndarray, gt: np.ndarray, fraction: float = INSIDE_FRACTION) -> tuple[list[int], dict[int, float]]:
    """The masks lying at least ``fraction`` inside the ground truth, and every non-empty mask's inside fraction."""
    chosen, inside = [], {}
    for index, mask in enumerate(masks):
        area = mask.sum()
        if area:
            inside[index] = float(np.logical_and(mask, gt).sum() / area)
            if np.logical_and(mask, gt).sum() >= fraction * area:
                chosen.append(index)
    return chosen, inside


def select_inside_gt(masks: np.ndarray, gt: np.ndarray, fraction: float = INSIDE_FRACTION) -> np.ndarray:
    """Union of the masks lying at least ``fraction`` inside the ground truth."""
    out = np.zeros(gt.shape, bool)
    for index in inside_gt_choice(masks, gt, fraction)[0]:
        out |= masks[index]
    return out


def _spans_image(mask_set: MaskSet, index: int) -> bool:
    h, w = mask_set.shape
    _, _, bw, bh = mask_set.bbox[index]
    return bw + 1 >= SPAN_FRACTION * w and bh + 1 >= SPAN_FRACTION * h


def small_union_choice(mask_set: MaskSet, max_area_fraction: float) -> list[int]:
    """Indices of the masks smaller than ``max_area_fraction`` of the image that do not span it."""
    h, w = mask_set.shape
    return [i for i in range(len(mask_set))
            if mask_set.area[i] < max_area_fraction * h * w and not _spans_image(mask_set, i)]


def select_small_union(mask_set: MaskSet, max_area_fraction: float) -> np.ndarray:
    """Union of masks smaller than ``max_area_fraction`` of the image that do not span it."""
    out = np.zeros(mask_set.shape, bool)
    for i in small_union_choice(mask_set, max_area_fraction):
        out |= mask_set.masks[i]
    return out


def _otsu(values: np.ndarray) -> float:
    """Otsu threshold of a 1-D sample (between-class variance maximised over the sorted cuts)."""
    values = np.sort(values.astype(np.float64))
    if len(values) < 2 or values[0] == values[-1]:
        return float(values[0]) - 1e-9 if len(values) else 0.0
    best, cut = -1.0, values[0]
    for k in range(1, len(values)):
        low, high = values[:k], values[k:]
        variance = k * (len(values) - k) * (low.mean() - high.mean()) ** 2
        if variance > best:
            best, cut = variance, (values[k - 1] + values[k]) / 2
    return float(cut)


def contrast_scores(mask_set: MaskSet, gray: np.ndarray, ring: int) -> np.ndarray:
    """|mean inside - mean of a ``ring``-pixel band around it| / image std, per mask.

    The band is the mask dilated by a (2 ring + 1) square minus the mask, computed in a window
    around the mask only.
    """
    import cv2

    std = float(gray.std()) or 1.0
    image = gray.astype(np.float64)
    height, width = gray.shape
    kernel = np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)
    scores = np.zeros(len(mask_set))
    for i, mask in enumerate(mask_set.masks):
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if len(rows) == 0:
            continue
        y0, y1 = max(rows[0] - ring, 0), min(rows[-1] + ring + 1, height)
        x0, x1 = max(cols[0] - ring, 0), min(cols[-1] + ring + 1, width)
        window = mask[y0:y1, x0:x1]
        band = cv2.dilate(window.astype(np.uint8), kernel).astype(bool) & ~window
        if not band.any():
            continue
        patch = image[y0:y1, x0:x1]
        scores[i] = abs(patch[window].mean() - patch[band].mean()) / std
    return scores


def _eligible(mask_set: MaskSet, max_area_fraction: float) -> list[int]:
    h, w = mask_set.shape
    return [i for i in range(len(mask_set))
            if mask_set.area[i] < max_area_fraction * h * w and not _spans_image(mask_set, i)]


@dataclass
class ContrastChoice:
    """What :func:`contrast_choice` decided: kept mask → weight (score / best score), the cut, every eligible score."""

    kept: dict[int, float]
    cut: float | None
    scores: dict[int, float]


def contrast_choice(mask_set: MaskSet, gray: np.ndarray | None, ring: int, max_area_fraction: float,
                    scores: np.ndarray | None = None) -> ContrastChoice:
    """The masks the contrast strategy keeps (see :func:`select_contrast`)."""
    eligible = _eligible(mask_set, max_area_fraction)
    if not eligible:
        return ContrastChoice({}, None, {})
    if scores is None:
        scores = contrast_scores(mask_set.subset(eligible), gray, ring)
    else:
        scores = scores[eligible]
    by_mask = {eligible[i]: float(scores[i]) for i in range(len(eligible))}
    if scores.max() <= 0:
        return ContrastChoice({}, None, by_mask)
    cut = _otsu(scores) if len(scores) > 1 else -1.0
    kept = {eligible[i]: float(scores[i] / scores.max()) for i in np.flatnonzero(scores > cut)}
    return ContrastChoice(kept, float(cut), by_mask)


def render_weighted(mask_set_masks: np.ndarray, weights: dict[int, float], shape) -> np.ndarray:
    """Each pixel the largest weight of a mask covering it (0 elsewhere)."""
    out = np.zeros(shape, np.float64)
    for index, weight in weights.items():
        out = np.maximum(out, mask_set_masks[int(index)] * weight)
    return out


def select_contrast(mask_set: MaskSet, gray: np.ndarray, ring: int, max_area_fraction: float,
                    scores: np.ndarray | None = None) -> np.ndarray:
    """Graded map: masks above the Otsu cut of their contrast scores, each pixel its best kept score.

    Args:
        scores: precomputed :func:`contrast_scores` of all masks for this ``ring`` (optional).
    """
    choice = contrast_choice(mask_set, gray, ring, max_area_fraction, scores)
    return render_weighted(mask_set.masks, choice.kept, mask_set.shape)


# ---- the strategies, by name ---------------------------------------------------------------------
@dataclass
class SelectionInput:
    """One image as a strategy sees it: its masks at ground-truth size, the ground truth, the image.

    Attributes:
        mask_set: the cached masks, resized to ``shape``.
        gt: the ground truth (None when the image has none readable and the strategy needs none).
        sample: the image.
        shape: the map's (height, width): the ground truth's, else the masks'.
        keep_scores: keep every mask's contrast score per ring (pays when the image is scored for
            many parameter candidates, as on the train split).
        exact_search: set by strategies whose search may be a heuristic (the oracle): was it exact?
        choice: set by every strategy: what it chose, as fields of a
            :class:`~samis.sam.records.SelectionRecord` (chosen, negated, score …).
    """

    mask_set: MaskSet
    gt: np.ndarray | None
    sample: Sample
    keep_scores: bool = False
    exact_search: bool | None = None
    choice: dict | None = None
    _gray: np.ndarray | None = field(default=None, init=False, repr=False)
    _scores: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.gt.shape) if self.gt is not None else tuple(self.mask_set.shape)

    def gray(self) -> np.ndarray:
        """The image in gray at ``shape`` (read once)."""
        if self._gray is None:
            self._gray = _gray_at(self.sample, self.shape)
        return self._gray

    def contrast_scores(self, ring: int) -> np.ndarray | None:
        """Every mask's :func:`contrast_scores` for ``ring`` when ``keep_scores``, else None (computed per use)."""
        if not self.keep_scores:
            return None
        if ring not in self._scores:
            self._scores[ring] = contrast_scores(self.mask_set, self.gray(), ring)
        return self._scores[ring]


def _oracle_map(item: SelectionInput, parameters: dict) -> np.ndarray:
    choice = select_oracle(item.mask_set.masks, item.gt)
    item.exact_search = choice.exact
    item.choice = {"chosen": sorted(choice.masks + choice.complements), "negated": list(choice.complements),
                   "whole_image": choice.whole_image, "score_name": "IoU with the ground truth", "score": choice.iou,
                   "uses_ground_truth": True, "details": {"exact_search": choice.exact}}
    return choice.render(item.mask_set.masks, item.shape)


def _best_single_map(item: SelectionInput, parameters: dict) -> np.ndarray:
    index, negated, value = best_single_choice(item.mask_set.masks, item.gt)
    item.choice = {"chosen": [] if index is None else [index], "negated": [index] if negated else [],
                   "score_name": "IoU with the ground truth", "score": value, "uses_ground_truth": True}
    if index is None:
        return np.zeros(item.shape, bool)
    return ~item.mask_set.masks[index] if negated else item.mask_set.masks[index].copy()


def _inside_gt_map(item: SelectionInput, parameters: dict) -> np.ndarray:
    chosen, inside = inside_gt_choice(item.mask_set.masks, item.gt)
    out = np.zeros(item.shape, bool)
    for index in chosen:
        out |= item.mask_set.masks[index]
    item.choice = {"chosen": chosen, "score_name": "fraction of the mask inside the ground truth (cut)",
                   "score": INSIDE_FRACTION, "uses_ground_truth": True, "per_mask_name": "fraction inside the ground truth",
                   "per_mask": {str(k): round(v, 6) for k, v in inside.items()}, "details": {"iou": iou(out, item.gt)}}
    return out


def _small_union_map(item: SelectionInput, parameters: dict) -> np.ndarray:
    fraction = parameters["max_area_fraction"]
    chosen = small_union_choice(item.mask_set, fraction)
    out = np.zeros(item.shape, bool)
    for index in chosen:
        out |= item.mask_set.masks[index]
    h, w = item.mask_set.shape
    item.choice = {"chosen": chosen, "score_name": "largest area fraction kept (chosen on the train split)",
                   "score": fraction, "uses_ground_truth": False, "per_mask_name": "area fraction",
                   "per_mask": {str(i): round(float(item.mask_set.area[i]) / (h * w), 6) for i in range(len(item.mask_set))}}
    return out


def _contrast_map(item: SelectionInput, parameters: dict) -> np.ndarray:
    ring, area = parameters["ring"], parameters["max_area_fraction"]
    scores = item.contrast_scores(ring)
    choice = contrast_choice(item.mask_set, None if scores is not None else item.gray(), ring, area, scores=scores)
    item.choice = {"chosen": sorted(choice.kept), "score_name": "Otsu cut of the contrast scores", "score": choice.cut,
                   "uses_ground_truth": False, "per_mask_name": "contrast (inside vs ring, in image standard deviations)",
                   "per_mask": {str(k): round(v, 6) for k, v in choice.scores.items()},
                   "details": {"weights": {str(k): v for k, v in choice.kept.items()}}}
    return render_weighted(item.mask_set.masks, choice.kept, item.shape)


@dataclass(frozen=True)
class SelectionStrategy:
    """What a strategy name means.

    Attributes:
        name: the name in method ids (``sam-vit_h+<name>``).
        select: ``select(item, parameters) -> map`` (bool or graded in [0, 1]) for one image.
        grid: parameter candidates, chosen by mean IoU on the train split; empty: no parameters.
        heuristic_search: its search is exhaustive only up to :data:`EXACT_MAX_MASKS` masks, so runs
            count the images searched exactly and heuristically.
    """

    name: str
    select: Callable[[SelectionInput, dict], np.ndarray]
    grid: tuple[dict, ...] = ()
    heuristic_search: bool = False

    @property
    def needs_ground_truth(self) -> bool:
        """It looks at the ground truth: an upper bound, not a practical result (:mod:`samis.methods` says which)."""
        return SELECTION_STRATEGIES[self.name]


STRATEGY_REGISTRY: dict[str, SelectionStrategy] = {strategy.name: strategy for strategy in (
    SelectionStrategy("oracle", _oracle_map, heuristic_search=True),
    SelectionStrategy("best-single", _best_single_map),
    SelectionStrategy("inside-gt", _inside_gt_map),
    SelectionStrategy("small-union", _small_union_map,
                      grid=tuple({"max_area_fraction": a} for a in SMALL_UNION_GRID)),
    SelectionStrategy("contrast", _contrast_map,
                      grid=tuple({"ring": r, "max_area_fraction": a} for r in CONTRAST_RING_GRID
                                 for a in CONTRAST_AREA_GRID)),
)}
STRATEGIES = tuple(STRATEGY_REGISTRY)
NEEDS_GROUND_TRUTH = {name for name, strategy in STRATEGY_REGISTRY.items() if strategy.needs_ground_truth}


def get_strategy(name: str) -> SelectionStrategy:
    """The registry entry of a strategy name.

    Raises:
        SamError: unknown name.
    """
    try:
        return STRATEGY_REGISTRY[name]
    except KeyError:
        raise SamError(f"unknown selection strategy {name!r}; choose from {', '.join(STRATEGIES)}") from None


# ---- over a dataset ----------------------------------------------------------------------------
@dataclass
class SelectionReport(Report):
    """What a selection pass wrote."""

    method: str
    strategy: str
    images: int
    upper_bound: bool
    parameters: dict = field(default_factory=dict)
    mean_iou: float | None = None
    seconds: float = 0.0
    oracle_exact: int = 0
    oracle_heuristic: int = 0
    resized: list[str] = field(default_factory=list)  # ids whose ground truth differs in size from the image

    def summary(self) -> str:
        miou = f"mean IoU {self.mean_iou:.4f}" if self.mean_iou is not None else "no ground truth"
        bound = "  [upper bound: uses ground truth]" if self.upper_bound else ""
        chosen = {k: v for k, v in self.parameters.items() if k != "grid"}
        extra = f"  parameters (train split): {chosen}" if chosen else ""
        resized = (f"  [{len(self.resized)} images' masks resized (nearest) to their ground truth's size, "
                   f"e.g. {', '.join(self.resized[:3])}]" if self.resized else "")
        return f"wrote {self.method}: {self.images} maps, {miou}, {self.seconds:.1f} s{bound}{extra}{resized}"


def _read_gt(sample: Sample, strategy: str) -> np.ndarray:
    try:
        return sample.read_gt()
    except (ImageReadError, OSError) as error:
        raise SamError(f"strategy {strategy!r} needs ground truth, but image {sample.id} has none readable "
                       f"({error}); use small-union or contrast") from None


def _fit_masks(mask_set: MaskSet, shape) -> MaskSet:
    """Masks at ground-truth size (nearest neighbour) when the image and its GT differ in size."""
    if mask_set.shape == tuple(shape) or len(mask_set) == 0:
        if len(mask_set) == 0:
            return MaskSet.empty(tuple(shape))
        return mask_set
    h, w = mask_set.shape
    rows = (np.arange(shape[0]) * h // shape[0]).clip(0, h - 1)
    cols = (np.arange(shape[1]) * w // shape[1]).clip(0, w - 1)
    return MaskSet(mask_set.masks[:, rows][:, :, cols], mask_set.predicted_iou, mask_set.stability_score,
                   mask_set.area, mask_set.bbox, mask_set.point_coords, mask_set.crop_box)


def _load(workspace: Workspace, dataset_id: str, label: str, sample: Sample) -> tuple[MaskSet, dict]:
    return read_mask_set(workspace.sam_cache_dir(label, dataset_id) / f"{sample.id}.npz")


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
        mask_set = _load(workspace, dataset.id, label, sample)[0]
        items.append(SelectionInput(_fit_masks(mask_set, gt.shape), gt, sample, keep_scores=True))
    if not items:
        raise SamError(f"strategy {strategy!r} chooses its parameters on the defect images of the train split of "
                       f"{dataset.id!r}, but none of its {len(cached)} train images with {label} masks has a defect")
    best, best_score = None, -1.0
    for candidate in spec.grid:
        score = float(np.mean([iou(spec.select(item, candidate) > 0, item.gt) for item in items]))
        if score > best_score + 1e-12:
            best, best_score = candidate, score
    return {**best, "chosen_on": "train", "train_images": len(items), "train_defect_free_left_out": left_out,
            "train_mean_iou": round(best_score, 6),
            "grid": [dict(c) for c in spec.grid], "criterion": "mean IoU of the binary map with the ground truth"}


def _gray_at(sample: Sample, shape) -> np.ndarray:
    gray = read_gray(sample.image_path)
    if gray.shape != tuple(shape):
        gray = resize_map(gray, tuple(shape))
    return gray


def select_over_dataset(workspace: Workspace, dataset: Dataset, label: str, strategy: str, split: str = "all",
                        progress: ProgressCallback | None = None,
                        samples: list[Sample] | None = None) -> SelectionReport:
    """Turn cached masks into saliency maps of method ``<label>+<strategy>`` for a split.

    Args:
        label: the model label whose mask cache to read (``sam-vit_h``, ``sam-tiny-random`` …).
        strategy: one of :data:`STRATEGIES`.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage: the method) at the
            start and after each image.
        samples: select on these samples instead of the split.

    Returns:
        a :class:`SelectionReport`.

    Raises:
        SamError: unknown strategy, a mask file missing or damaged, ground truth missing for a
            strategy that needs it.
    """
    spec = get_strategy(strategy)
    samples = list(samples) if samples is not None else get_split(workspace, dataset, split)
    method = sam_method_id(label, strategy)
    upper_bound = spec.needs_ground_truth
    parameters = choose_parameters(workspace, dataset, label, strategy) if spec.grid else {}
    report = SelectionReport(method, strategy, len(samples), upper_bound, parameters)
    tracker = ProgressTracker(progress, len(samples), method).start()
    started = time.perf_counter()
    ious = []
    provenance = None
    for sample in samples:
        mask_set, provenance = _load(workspace, dataset.id, label, sample)
        if upper_bound:
            gt = _read_gt(sample, strategy)
        else:
            gt = None
            try:
                gt = sample.read_gt()
            except (ImageReadError, OSError):
                pass
        item = SelectionInput(mask_set, gt, sample)
        if mask_set.shape != tuple(item.shape):
            report.resized.append(sample.id)
        item.mask_set = _fit_masks(mask_set, item.shape)
        prediction = spec.select(item, parameters)
        if item.exact_search is not None:
            report.oracle_exact += item.exact_search
            report.oracle_heuristic += not item.exact_search
        if gt is not None:
            ious.append(iou(prediction > 0, gt))
        write_prediction(workspace, dataset.id, method, sample.id, prediction)
        write_selection_record(workspace, dataset.id, SelectionRecord(
            method, sample.id, strategy, "selection", n_masks=len(mask_set),
            parameters={k: v for k, v in parameters.items() if k != "grid"},
            **{**(item.choice or {}), "details": {**(item.choice or {}).get("details", {}),
                                                   "resized_to_ground_truth": sample.id in report.resized}}))
        tracker.advance()
    report.seconds = time.perf_counter() - started
    report.mean_iou = float(np.mean(ious)) if ious else None
    manifest = {
        "source": "sam",
        "strategy": strategy,
        "upper_bound": upper_bound,
        "note": ("uses the ground truth to pick masks: an upper bound, not a result a factory could get"
                 if upper_bound else "ground-truth free; parameters chosen on the train split only"),
        "strategy_parameters": parameters,
        "split": split,
        "images": len(samples),
        "mean_iou": report.mean_iou,
        "resized_to_ground_truth": len(report.resized),
        "model": (provenance or {}).get("model", label),
        "model_type": (provenance or {}).get("model_type"),
        "checkpoint_md5": (provenance or {}).get("checkpoint_md5"),
        "weights": (provenance or {}).get("weights"),
        "amg_params": (provenance or {}).get("params"),
        "samis_version": __version__,
        "selection_records": "records/<stem>.json: the cached mask indices chosen, negated ones, the deciding score",
    }
    if spec.heuristic_search:
        manifest["oracle_search"] = {"exact_images": report.oracle_exact, "heuristic_images": report.oracle_heuristic,
                                     "exact_max_masks": EXACT_MAX_MASKS}
    write_manifest(workspace, dataset.id, method, manifest)
    return report
