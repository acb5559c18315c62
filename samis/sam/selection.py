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

Each strategy is one pure function of an image's masks (and its ground truth or gray image, and its
parameters) that returns a :class:`Selection`: the :class:`MaskChoice` (which masks the map unites)
and why (the fields of its :class:`~samis.sam.records.SelectionRecord`). :func:`render_choice` makes
the map of a choice; :func:`union_of_masks` is the one union of chosen masks. Running a strategy over
a dataset is :mod:`samis.sam.select_run`; choosing a GT-free strategy's parameters on the train
split is :mod:`samis.sam.selection_search`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable

import cv2
import numpy as np

from samis.errors import SamError
from samis.methods import SELECTION_STRATEGIES
from samis.sam.masks import MaskSet

EXACT_MAX_MASKS = 10
INSIDE_FRACTION = 0.9
SPAN_FRACTION = 0.95  # a mask whose box covers this much of both sides "spans the image"
SMALL_UNION_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
CONTRAST_RING_GRID = (2, 5, 10)
CONTRAST_AREA_GRID = (0.1, 0.3, 0.6)
IOU_WITH_GT = "IoU with the ground truth"


def iou(prediction: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(prediction, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, gt).sum() / union)


# ---- a choice, its record, its map ---------------------------------------------------------------
@dataclass
class MaskChoice:
    """Which cached masks make an image's map.

    Attributes:
        chosen: indices of the masks the map unites (ascending where a strategy sorts them).
        negated: the subset of ``chosen`` taken as complements (everything but the mask).
        whole_image: the map is the whole image (``chosen`` is then empty).
        weights: graded maps only: kept mask -> weight in [0, 1]; each pixel takes the largest weight
            of a kept mask covering it. None: a binary union.
    """

    chosen: list[int] = field(default_factory=list)
    negated: list[int] = field(default_factory=list)
    whole_image: bool = False
    weights: dict[int, float] | None = None


@dataclass
class Selection:
    """A strategy's answer for one image: the choice, and why (the fields of its selection record).

    Attributes:
        choice: the masks the map is made of.
        score_name, score: what decided the choice and its value (the oracle's IoU, contrast's Otsu cut …).
        uses_ground_truth: the choice looked at the ground truth.
        per_mask_name, per_mask: a per-mask value behind the choice (str(mask index) -> value), if any.
        details: anything else worth keeping (the oracle's ``exact_search``, contrast's ``weights`` …).
    """

    choice: MaskChoice
    score_name: str
    score: float | None
    uses_ground_truth: bool
    per_mask_name: str = ""
    per_mask: dict[str, float] = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def record_fields(self) -> dict:
        """The keyword arguments of a :class:`~samis.sam.records.SelectionRecord` that say what was chosen and why."""
        return {"chosen": self.choice.chosen, "negated": self.choice.negated, "whole_image": self.choice.whole_image,
                "score_name": self.score_name, "score": self.score, "uses_ground_truth": self.uses_ground_truth,
                "per_mask_name": self.per_mask_name, "per_mask": self.per_mask, "details": self.details}


def union_of_masks(masks: np.ndarray, shape: tuple[int, int], chosen: Iterable[int] | None = None,
                   negated: Collection[int] = ()) -> np.ndarray:
    """The union of chosen masks, some of them as complements.

    Args:
        masks: (n, H, W) bool, H x W == ``shape``.
        chosen: indices to unite (None: every mask).
        negated: indices in ``chosen`` whose complement is united instead of the mask.

    Returns:
        (H, W) bool (all False when nothing is chosen).
    """
    out = np.zeros(shape, bool)
    for index in range(len(masks)) if chosen is None else chosen:
        out |= ~masks[index] if index in negated else masks[index]
    return out


def render_weighted(masks: np.ndarray, weights: dict[int, float], shape: tuple[int, int]) -> np.ndarray:
    """Each pixel the largest weight of a mask covering it (0 elsewhere); float64."""
    out = np.zeros(shape, np.float64)
    for index, weight in weights.items():
        out = np.maximum(out, masks[int(index)] * weight)
    return out


def render_choice(masks: np.ndarray, choice: MaskChoice, shape: tuple[int, int]) -> np.ndarray:
    """The map of a choice: bool (a union, or the whole image), float64 in [0, 1] when ``choice.weights`` is set.

    Args:
        masks: the (n, H, W) bool masks the choice indexes, H x W == ``shape``.
    """
    if choice.whole_image:
        return np.ones(shape, bool)
    if choice.weights is not None:
        return render_weighted(masks, choice.weights, shape)
    return union_of_masks(masks, shape, choice.chosen, choice.negated)


# ---- oracle ----------------------------------------------------------------------------------
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


def choose_oracle(masks: np.ndarray, gt: np.ndarray) -> Selection:
    """The union of masks and complements closest (IoU) to the ground truth.

    Args:
        masks: (n, H, W) bool.
        gt: (H, W) bool.

    Returns:
        a :class:`Selection` scored by its IoU; ``details["exact_search"]`` says whether the search was
        exhaustive.
    """
    n = masks.shape[0]
    gt = gt.astype(bool)
    gt_total = int(gt.sum())
    if n == 0:
        return Selection(MaskChoice(), IOU_WITH_GT, 1.0 if gt_total == 0 else 0.0, True, details={"exact_search": True})
    member, sizes, gt_counts = _atoms(masks, gt)
    exact = n <= EXACT_MAX_MASKS
    if exact:
        score, assignment = _exact(member, sizes, gt_counts, gt_total, list(range(n)))
        used = [i for i in range(n) if assignment[i] == 1]
        complements = [i for i in range(n) if assignment[i] == 2]
    else:
        used, complements, score = _heuristic(member, sizes, gt_counts, gt_total)
    choice = MaskChoice(sorted(used + complements), list(complements))
    whole_iou = float(gt_total / sizes.sum()) if sizes.sum() else 1.0
    if whole_iou > score + 1e-12:
        choice, score = MaskChoice(whole_image=True), whole_iou
    return Selection(choice, IOU_WITH_GT, score, True, details={"exact_search": exact})


def _heuristic(member, sizes, gt_counts, gt_total) -> tuple[list[int], list[int], float]:
    """Beyond :data:`EXACT_MAX_MASKS` masks: (masks, complements, IoU) of the module docstring's heuristic."""
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
    return sorted(c for c in chosen if c < n), sorted(c - n for c in chosen if c >= n), current


# ---- other strategies -------------------------------------------------------------------------
def choose_best_single(masks: np.ndarray, gt: np.ndarray) -> Selection:
    """The one mask or complement with the highest IoU with the ground truth.

    Nothing is chosen (an empty map) when no candidate beats the empty map (e.g. no masks); ties keep
    the first candidate, a mask before its complement.
    """
    best_index, negated, best_iou = None, False, iou(np.zeros(gt.shape, bool), gt)
    for index, mask in enumerate(masks):
        for complement, candidate in ((False, mask), (True, ~mask)):
            value = iou(candidate, gt)
            if value > best_iou + 1e-12:
                best_index, negated, best_iou = index, complement, value
    choice = MaskChoice([] if best_index is None else [best_index], [best_index] if negated else [])
    return Selection(choice, IOU_WITH_GT, best_iou, True)


def choose_inside_gt(masks: np.ndarray, gt: np.ndarray, fraction: float = INSIDE_FRACTION) -> Selection:
    """The union of the masks lying at least ``fraction`` inside the ground truth.

    Every non-empty mask's inside fraction is the per-mask value; the map's IoU is in ``details``.
    """
    chosen, inside = [], {}
    for index, mask in enumerate(masks):
        area = mask.sum()
        if area:
            inside[index] = float(np.logical_and(mask, gt).sum() / area)
            if np.logical_and(mask, gt).sum() >= fraction * area:
                chosen.append(index)
    choice = MaskChoice(chosen)
    return Selection(choice, "fraction of the mask inside the ground truth (cut)", fraction, True,
                     "fraction inside the ground truth", {str(k): round(v, 6) for k, v in inside.items()},
                     {"iou": iou(render_choice(masks, choice, gt.shape), gt)})


def _spans_image(mask_set: MaskSet, index: int) -> bool:
    h, w = mask_set.shape
    _, _, bw, bh = mask_set.bbox[index]
    return bw + 1 >= SPAN_FRACTION * w and bh + 1 >= SPAN_FRACTION * h


def _small_masks(mask_set: MaskSet, max_area_fraction: float) -> list[int]:
    """Indices of the masks smaller than ``max_area_fraction`` of the image that do not span it."""
    h, w = mask_set.shape
    return [i for i in range(len(mask_set))
            if mask_set.area[i] < max_area_fraction * h * w and not _spans_image(mask_set, i)]


def choose_small_union(mask_set: MaskSet, max_area_fraction: float) -> Selection:
    """The union of the masks smaller than ``max_area_fraction`` of the image that do not span it.

    Every mask's area fraction is the per-mask value.
    """
    h, w = mask_set.shape
    return Selection(MaskChoice(_small_masks(mask_set, max_area_fraction)),
                     "largest area fraction kept (chosen on the train split)", max_area_fraction, False,
                     "area fraction", {str(i): round(float(mask_set.area[i]) / (h * w), 6) for i in range(len(mask_set))})


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


def choose_contrast(mask_set: MaskSet, gray: np.ndarray | None, ring: int, max_area_fraction: float,
                    scores: np.ndarray | None = None) -> Selection:
    """A graded map: the masks above the Otsu cut of their contrast scores, each pixel its best kept score.

    Only masks smaller than ``max_area_fraction`` that do not span the image are scored. A kept mask's
    weight is its score over the best score.

    Args:
        gray: the image in gray at the masks' size (unused when ``scores`` is given).
        scores: precomputed :func:`contrast_scores` of all masks for this ``ring`` (optional).

    Returns:
        a :class:`Selection` scored by the Otsu cut (None when nothing stands out); every eligible
        mask's contrast is the per-mask value, the kept masks' weights are in ``details``.
    """
    eligible = _small_masks(mask_set, max_area_fraction)
    kept, cut, by_mask = {}, None, {}
    if eligible:
        if scores is None:
            scores = contrast_scores(mask_set.subset(eligible), gray, ring)
        else:
            scores = scores[eligible]
        by_mask = {eligible[i]: float(scores[i]) for i in range(len(eligible))}
        if scores.max() > 0:
            cut = float(_otsu(scores) if len(scores) > 1 else -1.0)
            kept = {eligible[i]: float(scores[i] / scores.max()) for i in np.flatnonzero(scores > cut)}
    return Selection(MaskChoice(sorted(kept), weights=kept), "Otsu cut of the contrast scores", cut, False,
                     "contrast (inside vs ring, in image standard deviations)",
                     {str(k): round(v, 6) for k, v in by_mask.items()},
                     {"weights": {str(k): v for k, v in kept.items()}})


# ---- the strategies, by name ---------------------------------------------------------------------
@dataclass
class SelectionInput:
    """One image as a strategy sees it: its masks at the map's size, the ground truth, the gray image.

    Attributes:
        mask_set: the cached masks, resized to ``shape``.
        gt: the ground truth (None when the image has none readable and the strategy needs none).
        read_gray: reads the image in gray at ``shape`` (called at most once, by strategies that look
            at the image).
        keep_scores: keep every mask's contrast score per ring (pays when the image is scored for
            many parameter candidates, as on the train split).
    """

    mask_set: MaskSet
    gt: np.ndarray | None
    read_gray: Callable[[], np.ndarray]
    keep_scores: bool = False
    _gray: np.ndarray | None = field(default=None, init=False, repr=False)
    _scores: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """The map's (height, width): the ground truth's, else the masks'."""
        return tuple(self.gt.shape) if self.gt is not None else tuple(self.mask_set.shape)

    def gray(self) -> np.ndarray:
        """The image in gray at ``shape`` (read once)."""
        if self._gray is None:
            self._gray = self.read_gray()
        return self._gray

    def contrast_scores(self, ring: int) -> np.ndarray | None:
        """Every mask's :func:`contrast_scores` for ``ring`` when ``keep_scores``, else None (computed per use)."""
        if not self.keep_scores:
            return None
        if ring not in self._scores:
            self._scores[ring] = contrast_scores(self.mask_set, self.gray(), ring)
        return self._scores[ring]

    def render(self, selection: Selection) -> np.ndarray:
        """The map of ``selection`` at ``shape`` (:func:`render_choice` of these masks)."""
        return render_choice(self.mask_set.masks, selection.choice, self.shape)


def _oracle(item: SelectionInput, parameters: dict) -> Selection:
    return choose_oracle(item.mask_set.masks, item.gt)


def _best_single(item: SelectionInput, parameters: dict) -> Selection:
    return choose_best_single(item.mask_set.masks, item.gt)


def _inside_gt(item: SelectionInput, parameters: dict) -> Selection:
    return choose_inside_gt(item.mask_set.masks, item.gt)


def _small_union(item: SelectionInput, parameters: dict) -> Selection:
    return choose_small_union(item.mask_set, parameters["max_area_fraction"])


def _contrast(item: SelectionInput, parameters: dict) -> Selection:
    ring = parameters["ring"]
    scores = item.contrast_scores(ring)
    return choose_contrast(item.mask_set, None if scores is not None else item.gray(), ring,
                           parameters["max_area_fraction"], scores=scores)


@dataclass(frozen=True)
class SelectionStrategy:
    """What a strategy name means.

    Attributes:
        name: the name in method ids (``sam-vit_h+<name>``).
        select: ``select(item, parameters) -> Selection`` for one image (its ``choose_<name>`` function
            fed from a :class:`SelectionInput`); ``item.render(selection)`` is the map.
        grid: parameter candidates, chosen by mean IoU on the train split; empty: no parameters.
        heuristic_search: its search is exhaustive only up to :data:`EXACT_MAX_MASKS` masks, so runs
            count the images searched exactly and heuristically (``details["exact_search"]``).
    """

    name: str
    select: Callable[[SelectionInput, dict], Selection]
    grid: tuple[dict, ...] = ()
    heuristic_search: bool = False

    @property
    def needs_ground_truth(self) -> bool:
        """It looks at the ground truth: an upper bound, not a practical result (:mod:`samis.methods` says which)."""
        return SELECTION_STRATEGIES[self.name]


STRATEGY_REGISTRY: dict[str, SelectionStrategy] = {strategy.name: strategy for strategy in (
    SelectionStrategy("oracle", _oracle, heuristic_search=True),
    SelectionStrategy("best-single", _best_single),
    SelectionStrategy("inside-gt", _inside_gt),
    SelectionStrategy("small-union", _small_union,
                      grid=tuple({"max_area_fraction": a} for a in SMALL_UNION_GRID)),
    SelectionStrategy("contrast", _contrast,
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
