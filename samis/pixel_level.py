"""Inspection metrics: pooled pixel AUROC / AP / F1-max, AUPRO, a calibrated operating point, results by size.

The anomaly-detection community (MVTec AD, anomalib) reads maps through these numbers; samis computes
them on the same stored maps as the saliency metrics, with intervals.

**Sufficient statistics.** Maps are 8-bit, so every threshold ``score ≥ t`` (t = 0…256; t = 256 flags
nothing) is exact from histograms of the raw stored values (0–255, *not* min-max normalised). The
per-image cache entry (:func:`image_histograms`) is

- ``hist``: two 256-bin histograms, defect pixels and non-defect pixels of the ground truth;
- ``regions``: one 256-bin histogram per ground-truth region (8-connected), whose sum is its area.

Any split, subset or bootstrap resample is then a weighted sum of per-image rows: pooled pixel counts
are ``weights @ hist``, and PRO(t) is ``(weights @ overlap_sum(t)) / (weights @ n_regions)``. Nothing
re-reads a map once its entry is stored (``results/<dataset>/pixel_level/<method>.npz``, keyed by the
content hash of the map and of the ground truth, like every per-image result; see :mod:`samis.runner`).

The conventions of each number are in :data:`METRIC_CONVENTIONS` (for the metric card).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from samis.counts import COUNTS
from samis.datasets import Dataset, Sample, get_split, split_names
from samis.errors import DatasetError, EvaluationError
from samis.evaluation import (checked_methods, maps_of_split, missing_maps, on_one_generation, read_pair,
                               split_samples, trust_token)
from samis.image_level import check_min_area, default_min_area, ground_truth_facts
from samis.result_cache import PairStore, RaggedRowCache, stored_images
from samis.runner import EngineSpec, Task, check_engine, run_task
from samis.runs import JoinedProgress, ProgressCallback, Report, jsonable
from samis.store import prediction_paths
from samis.stats import DEFAULT_SEED, check_resamples, check_seed, percentile_interval, resample_chunks, resample_weights
from samis.workspace import Workspace, validate_name

LEVELS = 256
#: FPR limits of AUPRO reported by default (MVTec AD's 0.3, and a stricter 0.05)
DEFAULT_FPR_LIMITS = (0.3, 0.05)
#: the share of the calibration split's non-defect pixels (or defect-free images) allowed to be flagged
DEFAULT_BUDGET = 0.01
DEFAULT_CALIBRATION_SPLIT = "train"
CALIBRATIONS = ("pixel", "image")
#: region size bins: edges in percent of the image area
DEFAULT_SIZE_EDGES = (0.1, 1.0, 10.0)
#: a region counts as found when at least this share of it is flagged
FOUND_OVERLAP = 0.5
CACHE_VERSION = 1
_SUBDIR = "pixel_level"
_PARALLEL_MIN_TASKS = 48
_VALUES = {"hist": ("iu", (LEVELS,)), "regions": ("iu", (LEVELS,))}
#: the operating point's values, in the order of the JSON document
OPERATING_POINT = ("pixel_fpr", "precision", "recall", "f1", "iou", "mean_image_iou", "pro",
                   "image_false_alarm_rate", "miss_rate")
BY_SIZE = ("n_regions", "mean_overlap", "found")

#: what each inspection number is, for the metric card (pooled or per image, thresholds, connectivity)
METRIC_CONVENTIONS: dict[str, dict[str, str]] = {
    "pixel_auroc": {"pooling": "pooled over every pixel of the split", "thresholds": "all 256 raw values",
                    "definition": "ROC AUC, positive = ground-truth defect pixel; ties count one half "
                                  "(Mann-Whitney U / (P·N)); equals sklearn roc_auc_score",
                    "undefined": "a split without defect pixels or without non-defect pixels is refused"},
    "pixel_ap": {"pooling": "pooled over every pixel", "thresholds": "every distinct raw value",
                 "definition": "average precision Σ (R_n − R_{n−1}) P_n, step-wise, as sklearn "
                               "average_precision_score (no interpolation)"},
    "pixel_f1_max": {"pooling": "pooled counts over every pixel", "thresholds": "score ≥ t, t = 0…256",
                     "definition": "largest F1 (β = 1) = 2TP / (2TP + FP + FN); not the saliency maxFm "
                                   "(β² = 0.3, min-max scaled maps, mean of per-image curves)"},
    "aupro": {"pooling": "FPR pooled over the split's non-defect pixels; PRO the mean over every ground-truth "
                         "region of the split (each region weighs the same, whatever its size)",
              "connectivity": "regions are 8-connected components of the ground truth (per image)",
              "thresholds": "score ≥ t, t = 256 (nothing flagged: (0, 0)) down to 0",
              "definition": "trapezoid area under (FPR, PRO) over [0, limit], PRO linearly interpolated at the "
                            "limit, divided by the limit (MVTec AD); exact in float64 (anomalib accumulates in "
                            "float32 and bins thresholds)"},
    "operating_point": {"threshold": "calibrated on the calibration split (default train) per method: "
                                     "'pixel' = smallest t whose pixel FPR there is ≤ budget; 'image' = smallest t "
                                     "flagging ≤ budget of its defect-free images",
                        "image flagged": "at least min_area of its pixels ≥ t (min_area as image-level "
                                         "evaluation: ceil(0.001·H·W) by default); counted pixels, not regions",
                        "pooled": "pixel_fpr, precision, recall, f1, iou from pooled pixel counts; precision is "
                                  "undefined (null) when nothing is flagged",
                        "per image": "mean_image_iou: mean of TP/(TP+FP+FN) over defect images only (defect-free "
                                     "images are judged by image_false_alarm_rate)",
                        "image rates": "image_false_alarm_rate = flagged defect-free images / defect-free images; "
                                       "miss_rate = defect images not flagged / defect images",
                        "pro": "mean overlap of the split's regions at the threshold"},
    "by_size": {"bins": "regions binned by area / image area in percent; keys are the intervals "
                        "'[0,0.1)', '[0.1,1)', '[1,10)', '[10,100]' (last bin closed)",
                "values": "n_regions; mean_overlap = mean flagged share of a region at the operating point; "
                          "found = share of regions with overlap ≥ 0.5"},
    "intervals": {"resampling": "bootstrap over images of the evaluated split (stratified by class, seeds and B "
                                "of samis.stats); the threshold stays the one calibrated on the full calibration "
                                "split; percentile 95 % intervals; paired differences use the same resamples"},
}


# ---- options -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PixelLevelOptions:
    """How inspection metrics are computed (see :func:`evaluate_pixel_level`).

    Attributes:
        fpr_limits: AUPRO limits, each in (0, 1].
        calibrate: ``pixel`` or ``image`` (see :data:`METRIC_CONVENTIONS`).
        budget: in (0, 1): the allowed pixel FPR or defect-free image share on the calibration split.
        calibration_split: the split the threshold is set on.
        size_edges: region size bin edges, percent of the image, increasing, each in (0, 100).
        min_area: the smallest flagged pixel count that flags an image (None: ceil(0.001·H·W)).
        resamples: bootstrap B for intervals (None: no intervals).
        seed: the bootstrap seed.
        allow_missing: score methods on the images they have maps for.
    """

    fpr_limits: tuple[float, ...] = DEFAULT_FPR_LIMITS
    calibrate: str = "pixel"
    budget: float = DEFAULT_BUDGET
    calibration_split: str = DEFAULT_CALIBRATION_SPLIT
    size_edges: tuple[float, ...] = DEFAULT_SIZE_EDGES
    min_area: int | None = None
    resamples: int | None = None
    seed: int = DEFAULT_SEED
    allow_missing: bool = False

    def checked(self) -> "PixelLevelOptions":
        """These options with numbers parsed and checked.

        Raises:
            EvaluationError: a budget outside (0, 1), unsorted or negative size edges, an FPR limit outside
                (0, 1], an unknown calibration, a bad min-area (one line naming it).
        """
        if self.calibrate not in CALIBRATIONS:
            raise EvaluationError(f"--calibrate must be pixel or image, not {self.calibrate!r}")
        budget = _number("--budget", self.budget)
        if not 0.0 < budget < 1.0:
            raise EvaluationError(f"--budget must lie strictly between 0 and 1 (a share, 0.01 = 1 %), not {budget:g}")
        limits = tuple(_number("--fpr-limit", v) for v in _listed(self.fpr_limits))
        if not limits or any(not 0.0 < v <= 1.0 for v in limits):
            raise EvaluationError(f"--fpr-limit values must lie in (0, 1], not {', '.join(f'{v:g}' for v in limits) or 'none'}")
        edges = tuple(_number("--size-edges", v) for v in _listed(self.size_edges))
        if any(v <= 0 or v >= 100 for v in edges):
            raise EvaluationError(f"--size-edges must be percentages between 0 and 100 (exclusive), not "
                                  f"{', '.join(f'{v:g}' for v in edges)}")
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise EvaluationError(f"--size-edges must be increasing, not {', '.join(f'{v:g}' for v in edges)}")
        resamples = None if self.resamples is None else check_resamples(self.resamples, "--ci")
        return replace(self, budget=budget, fpr_limits=tuple(dict.fromkeys(limits)), size_edges=edges,
                       min_area=check_min_area(self.min_area), resamples=resamples, seed=check_seed(self.seed),
                       calibration_split=validate_name("split", str(self.calibration_split)))


def _listed(value) -> list:
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    return list(value)


def _number(flag: str, value) -> float:
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{flag} must be a number, not {str(value)!r}") from None
    if not math.isfinite(number):
        raise EvaluationError(f"{flag} must be a finite number, not {str(value)!r}")
    return number


def size_bin_keys(edges) -> list[str]:
    """The by-size keys: intervals in percent, ``[0,0.1)`` … ``[10,100]`` (the last one closed)."""
    bounds = [0.0, *[float(e) for e in edges], 100.0]
    keys = [f"[{a:g},{b:g})" for a, b in zip(bounds[:-2], bounds[1:-1])]
    return keys + [f"[{bounds[-2]:g},100]"]


# ---- one image -----------------------------------------------------------------------------------
def image_histograms(saliency: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One image's sufficient statistics.

    Args:
        saliency: (H, W) uint8 map as stored.
        gt: (H, W) bool ground truth.

    Returns:
        ``hist``: (2, 256) int64, the histogram of the map's values on defect pixels, then on non-defect
        pixels; ``regions``: (K, 256) int64, one histogram per 8-connected ground-truth region (in the
        order OpenCV labels them).
    """
    import cv2  # OpenCV only where maps are scored

    values = np.asarray(saliency, dtype=np.uint8).ravel()
    defect = np.asarray(gt, dtype=bool).ravel()
    defect_values = values[defect]
    positive = np.bincount(defect_values, minlength=LEVELS)
    negative = np.bincount(values, minlength=LEVELS) - positive
    count, labels = cv2.connectedComponents(np.asarray(gt, dtype=np.uint8), connectivity=8)
    if count <= 1:
        regions = np.zeros((0, LEVELS), np.int64)
    else:
        index = (labels.ravel()[defect].astype(np.int64) - 1) * LEVELS + defect_values
        regions = np.bincount(index, minlength=(count - 1) * LEVELS).reshape(count - 1, LEVELS)
    return np.stack([positive, negative]).astype(np.int64), regions.astype(np.int64)


def pixel_level_worker():
    """The per-pair work, wherever it runs: ``compute((map, gt, id)) -> (hist, regions)``."""
    return lambda pair: image_histograms(pair[0], pair[1])


# ---- curves from histograms (any leading batch dimensions) ---------------------------------------
def at_or_above(hist: np.ndarray) -> np.ndarray:
    """Counts of values ≥ t for t = 0…256 from a (…, 256) histogram: (…, 257), the last column 0."""
    hist = np.asarray(hist, dtype=np.float64)
    above = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]
    return np.concatenate([above, np.zeros((*hist.shape[:-1], 1))], axis=-1)


def pooled_auroc(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """ROC AUC from defect / non-defect histograms (…, 256): P(pos > neg) + ½ P(tie)."""
    positive, negative = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    below = np.cumsum(negative, axis=-1) - negative
    u = (positive * (below + 0.5 * negative)).sum(axis=-1)
    return u / (positive.sum(axis=-1) * negative.sum(axis=-1))


def pooled_ap(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Average precision Σ (Rₙ − Rₙ₋₁) Pₙ over the distinct values, highest first (scikit-learn's definition)."""
    positive = np.asarray(positive, np.float64)
    tp, fp = at_or_above(positive)[..., :LEVELS], at_or_above(negative)[..., :LEVELS]
    flagged = tp + fp
    precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
    return (positive * precision).sum(axis=-1) / positive.sum(axis=-1)


def pooled_f1_max(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The largest F1 (β = 1) over thresholds ``score ≥ t``, t = 0…256, from pooled counts."""
    tp, fp = at_or_above(positive), at_or_above(negative)
    fn = tp[..., :1] - tp
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.max(axis=-1)


def area_to_limit(fpr: np.ndarray, pro: np.ndarray, limit: float) -> np.ndarray:
    """Normalised area under a curve up to ``limit`` on the x axis.

    Args:
        fpr, pro: (…, K) points in order of increasing ``fpr`` (the first one at (0, 0) for AUPRO).
        limit: the upper end of the integral, in (0, 1].

    Returns:
        (…) trapezoid area over [0, limit], the curve interpolated linearly at ``limit``, divided by ``limit``.
    """
    f0, f1, p0, p1 = fpr[..., :-1], fpr[..., 1:], pro[..., :-1], pro[..., 1:]
    end = np.minimum(f1, limit)
    width = np.clip(end - f0, 0.0, None)
    step = f1 - f0
    share = np.divide(end - f0, step, out=np.zeros_like(step), where=step > 0)
    p_end = p0 + np.clip(share, 0.0, 1.0) * (p1 - p0)
    return (width * (p0 + p_end) / 2.0).sum(axis=-1) / limit


# ---- a method's statistics over a set of images ----------------------------------------------------
@dataclass
class PixelHistograms:
    """One method's per-image sufficient statistics on a set of images (rows in image order).

    Attributes:
        stems: image ids.
        positive, negative: (n, 256) histograms of defect / non-defect pixels.
        regions: (R, 256) histograms of every ground-truth region.
        region_image: (R,) the row of each region's image.
        classes: each image's class (bootstrap strata).
    """

    stems: list[str]
    positive: np.ndarray
    negative: np.ndarray
    regions: np.ndarray
    region_image: np.ndarray
    classes: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(cls, stems: list[str], rows: dict[str, list[np.ndarray]], classes: list[str]) -> "PixelHistograms":
        hist = np.stack(rows["hist"]).astype(np.int64) if stems else np.zeros((0, 2, LEVELS), np.int64)
        counts = [len(r) for r in rows["regions"]]
        regions = np.concatenate(rows["regions"]).astype(np.int64) if sum(counts) else np.zeros((0, LEVELS), np.int64)
        region_image = np.repeat(np.arange(len(stems)), counts)
        return cls(list(stems), hist[:, 0], hist[:, 1], regions, region_image, list(classes))

    @property
    def pixels(self) -> np.ndarray:
        return self.positive.sum(axis=1) + self.negative.sum(axis=1)

    @property
    def free(self) -> np.ndarray:
        """Per image: True when its ground truth is empty."""
        return self.positive.sum(axis=1) == 0

    def subset(self, stems: list[str]) -> "PixelHistograms":
        """The rows of these images (in this order)."""
        position = {s: i for i, s in enumerate(self.stems)}
        rows = np.array([position[s] for s in stems], dtype=np.int64)
        new_row = np.full(len(self.stems), -1)
        new_row[rows] = np.arange(len(rows))
        keep = np.isin(self.region_image, rows)
        order = np.argsort(new_row[self.region_image[keep]], kind="stable")
        return PixelHistograms(list(stems), self.positive[rows], self.negative[rows], self.regions[keep][order],
                               new_row[self.region_image[keep]][order], [self.classes[i] for i in rows])

    def min_areas(self, min_area: int | None) -> np.ndarray:
        """Per image: the flagged pixel count that flags it (at least 1)."""
        if min_area is not None:
            return np.full(len(self.stems), max(1, int(min_area)))
        return np.maximum(1, -(-self.pixels // 1000))  # default_min_area: ceil(0.001·H·W), in integers

    def region_overlaps(self) -> np.ndarray:
        """(R, 257): each region's flagged share at t = 0…256."""
        areas = self.regions.sum(axis=1).astype(np.float64)
        return at_or_above(self.regions) / areas[:, None]

    def region_shares(self) -> np.ndarray:
        """(R,): each region's area in percent of its image."""
        return self.regions.sum(axis=1) / self.pixels[self.region_image] * 100.0

    def roc_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Pooled pixel ROC: (FPR, TPR) for t = 256 … 0 (from (0, 0) to (1, 1))."""
        tp, fp = at_or_above(self.positive.sum(axis=0)), at_or_above(self.negative.sum(axis=0))
        return (fp / fp[0])[::-1], (tp / tp[0])[::-1]

    def pro_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(FPR, PRO) for t = 256 … 0: the curve AUPRO integrates."""
        fp = at_or_above(self.negative.sum(axis=0))
        pro = self.region_overlaps().mean(axis=0) if len(self.regions) else np.zeros(LEVELS + 1)
        return (fp / fp[0])[::-1], pro[::-1]



# ---- every value under weights of images (the full split, or B resamples at once) --------------------
@dataclass
class FeatureTable:
    """One method's per-image columns at one threshold: every value is a ratio of ``weights @ columns``."""

    matrix: np.ndarray  # (n, columns)
    blocks: dict[str, slice]
    limits: tuple[float, ...]
    bin_keys: list[str]


def feature_table(histograms: PixelHistograms, threshold: int, options: PixelLevelOptions) -> FeatureTable:
    """The per-image columns of :func:`weighted_values` (pooled counts, region overlaps, the operating point)."""
    h, n, t = histograms, len(histograms.stems), int(threshold)
    overlaps = h.region_overlaps()
    overlap_sum = np.zeros((n, LEVELS + 1))
    np.add.at(overlap_sum, h.region_image, overlaps)
    n_regions = np.bincount(h.region_image, minlength=n).astype(np.float64)
    tp, fp = h.positive[:, t:].sum(axis=1).astype(np.float64), h.negative[:, t:].sum(axis=1).astype(np.float64)
    defect_pixels = h.positive.sum(axis=1).astype(np.float64)
    free = h.free
    flagged = (tp + fp) >= h.min_areas(options.min_area)
    union = defect_pixels + fp
    iou = np.divide(tp, union, out=np.zeros_like(tp), where=union > 0)
    edges = np.asarray(options.size_edges, dtype=np.float64)
    bins = np.searchsorted(edges, h.region_shares(), side="right") if len(h.regions) else np.zeros(0, np.int64)
    by_size = np.zeros((n, len(edges) + 1, 3))
    at_t = overlaps[:, t] if len(h.regions) else np.zeros(0)
    for k, column in enumerate((np.ones_like(at_t), at_t, (at_t >= FOUND_OVERLAP).astype(np.float64))):
        np.add.at(by_size[:, :, k], (h.region_image, bins), column)
    columns = {"positive": h.positive, "negative": h.negative, "overlap_sum": overlap_sum, "n_regions": n_regions,
               "point": np.stack([tp, fp, defect_pixels, (~free) * iou, ~free, free, flagged & free,
                                  ~flagged & ~free], axis=1),
               "by_size": by_size.reshape(n, -1)}
    blocks, start, parts = {}, 0, []
    for name, column in columns.items():
        column = np.asarray(column, dtype=np.float64).reshape(n, -1)
        blocks[name] = slice(start, start + column.shape[1])
        start += column.shape[1]
        parts.append(column)
    return FeatureTable(np.concatenate(parts, axis=1), blocks, options.fpr_limits, size_bin_keys(options.size_edges))


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def weighted_values(weights: np.ndarray, table: FeatureTable, threshold: int) -> dict[str, np.ndarray]:
    """Every inspection value under each row of image weights (one matrix product).

    Args:
        weights: (B, n) image weights (``np.ones((1, n))``: the split itself).
        table: the method's :func:`feature_table`.
        threshold: the operating threshold the table was built at.

    Returns:
        flat names (``pixel_auroc``, ``aupro/0.3``, ``operating_point/f1``, ``by_size/[0,0.1)/found`` …) →
        (B,) values.
    """
    sums = np.asarray(weights, dtype=np.float64) @ table.matrix
    block = {name: sums[:, s] for name, s in table.blocks.items()}
    positive, negative = block["positive"], block["negative"]
    values = {"pixel_auroc": pooled_auroc(positive, negative), "pixel_ap": pooled_ap(positive, negative),
              "pixel_f1_max": pooled_f1_max(positive, negative)}
    fp_curve = at_or_above(negative)
    fpr = (fp_curve / fp_curve[:, :1])[:, ::-1]
    pro = _ratio(block["overlap_sum"], block["n_regions"])[:, ::-1]
    for limit in table.limits:
        values[f"aupro/{limit:g}"] = area_to_limit(fpr, pro, limit)
    tp, fp, p, iou_sum, n_defect, n_free, false_alarms, misses = block["point"].T
    n_pixels_negative = negative.sum(axis=1)
    point = {"pixel_fpr": _ratio(fp, n_pixels_negative), "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, p),
             "f1": _ratio(2 * tp, tp + fp + p), "iou": _ratio(tp, fp + p), "mean_image_iou": _ratio(iou_sum, n_defect),
             "pro": pro[:, LEVELS - threshold], "image_false_alarm_rate": _ratio(false_alarms, n_free),
             "miss_rate": _ratio(misses, n_defect)}
    values.update({f"operating_point/{k}": v for k, v in point.items()})
    by_size = block["by_size"].reshape(len(sums), len(table.bin_keys), 3)
    for k, key in enumerate(table.bin_keys):
        count = by_size[:, k, 0]
        values[f"by_size/{key}/n_regions"] = count
        values[f"by_size/{key}/mean_overlap"] = _ratio(by_size[:, k, 1], count)
        values[f"by_size/{key}/found"] = _ratio(by_size[:, k, 2], count)
    return values


# ---- the operating point ---------------------------------------------------------------------------
def calibrate_threshold(histograms: PixelHistograms, calibrate: str, budget: float,
                        min_area: int | None = None) -> int:
    """The operating threshold set on a calibration split.

    Args:
        histograms: one method's statistics on the calibration split.
        calibrate: ``pixel``: the smallest t in 0…256 whose pooled pixel FPR is ≤ ``budget``; ``image``:
            the smallest t at which ≤ ``budget`` of the defect-free images are flagged (an image is flagged
            when at least ``min_area`` of its pixels are ≥ t).
        budget: in (0, 1).
        min_area: see :meth:`PixelHistograms.min_areas`.

    Raises:
        EvaluationError: no non-defect pixels (``pixel``) or no defect-free images (``image``).
    """
    if calibrate == "pixel":
        flagged = at_or_above(histograms.negative.sum(axis=0))
        if flagged[0] == 0:
            raise EvaluationError("the calibration split has no non-defect pixels: no pixel FPR to calibrate on")
        rate = flagged / flagged[0]
    else:
        free = histograms.free
        if not free.any():
            raise EvaluationError("--calibrate image needs defect-free images (empty ground truth) in the "
                                  "calibration split, and it has none (register Magnetic Tile with "
                                  "--include-defect-free, or use --calibrate pixel)")
        counts = at_or_above(histograms.positive[free] + histograms.negative[free])
        rate = (counts >= histograms.min_areas(min_area)[free][:, None]).mean(axis=0)
    return int(np.flatnonzero(rate <= budget)[0])


# ---- bootstrap and paired differences -----------------------------------------------------------------
def bootstrap_values(tables: list[FeatureTable], threshold_of: list[int], resamples: int, seed: int,
                     strata: list[str] | None = None) -> list[dict[str, np.ndarray]]:
    """Every value of several methods on the same B resamples of their (common) images.

    Args:
        tables: one :func:`feature_table` per method, rows for the same images in the same order.
        threshold_of: each table's threshold.
        resamples, seed: B and the seed (as :func:`samis.stats.bootstrap` draws them).
        strata: each image's class: resampled within classes when there is more than one.

    Returns:
        per table: flat name → (B,) values.
    """
    n = tables[0].matrix.shape[0]
    stratified = strata is not None and len(set(strata)) > 1
    parts: list[list[dict]] = [[] for _ in tables]
    for indices in resample_chunks(n, resamples, seed, strata if stratified else None):
        weights = resample_weights(indices, n)
        for k, table in enumerate(tables):
            parts[k].append(weighted_values(weights, table, threshold_of[k]))
    return [{name: np.concatenate([p[name] for p in chunks]) for name in chunks[0]} for chunks in parts]


def _interval(samples: np.ndarray) -> list[float]:
    kept = samples[np.isfinite(samples)]
    if kept.size < samples.size or kept.size == 0:
        return [float("nan"), float("nan")]
    return [float(v) for v in percentile_interval(kept)]


# ---- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MethodSummary:
    """What views show of a method's inspection values once its per-image histograms are gone."""

    n_images: int
    roc: tuple[np.ndarray, np.ndarray]
    pro: tuple[np.ndarray, np.ndarray]
    worst: pd.DataFrame  # :meth:`PixelLevelResult.worst_regions` rows, the most a view asks for


@dataclass
class PixelLevelMethod:
    """One method's inspection values on the evaluated split.

    Attributes:
        histograms: its per-image statistics on the evaluated split (the images it has maps for).
        threshold: the operating threshold calibrated on the calibration split (t = 0…256, flag ``score ≥ t``).
        values: flat name → value (see :func:`weighted_values`).
        intervals: flat name → [low, high] 95 % percentile interval, when intervals were asked for.
        missing: images of the split without a map.
    """

    method: str
    histograms: PixelHistograms | None  # None once summarized (:meth:`summarized`)
    threshold: int
    values: dict[str, float]
    intervals: dict[str, list[float]] | None = None
    missing: list[str] = field(default_factory=list)
    summary: MethodSummary | None = None

    @property
    def n_images(self) -> int:
        """The images it is scored on."""
        return self.summary.n_images if self.histograms is None else len(self.histograms.stems)

    def summarized(self, worst_regions: int) -> "PixelLevelMethod":
        """This method without its per-image histograms (images × 2 × 256 counts: 600 MB at 150,000 images):
        the pooled curves, the image count and its ``worst_regions`` worst missed regions."""
        if self.histograms is None:
            return self
        h = self.histograms
        return replace(self, histograms=None, summary=MethodSummary(len(h.stems), h.roc_curve(), h.pro_curve(),
                                                                    self.worst_regions(worst_regions)))

    def worst_regions(self, n: int = 8) -> pd.DataFrame:
        """Its ``n`` worst missed ground-truth regions (see :meth:`PixelLevelResult.worst_regions`); once
        summarized, the rows it kept (as many as a view asks for at most)."""
        if self.histograms is None:
            return self.summary.worst.head(max(0, int(n))).reset_index(drop=True)
        h = self.histograms
        columns = ["image", "region", "area", "share", "overlap"]
        if not len(h.regions):
            return pd.DataFrame(columns=columns)
        overlap = h.region_overlaps()[:, self.threshold]
        area = h.regions.sum(axis=1)
        local = np.arange(len(h.regions)) - np.searchsorted(h.region_image, h.region_image, side="left")
        order = np.lexsort((-area, overlap))[:max(0, int(n))]  # the last key sorts first
        return pd.DataFrame({"image": [h.stems[i] for i in h.region_image[order]], "region": local[order],
                             "area": area[order], "share": h.region_shares()[order], "overlap": overlap[order]},
                            columns=columns).reset_index(drop=True)

    def iou_frame(self, min_area: int | None) -> pd.DataFrame:
        """One row per image: its IoU at the operating threshold (defect images; a defect-free image reads 1 when
        nothing is flagged, else 0) and whether it is flagged (``min_area``: see :class:`PixelLevelOptions`)."""
        h, t = self.needs_histograms("the per-image IoU"), self.threshold
        tp, fp = at_or_above(h.positive)[:, t], at_or_above(h.negative)[:, t]
        union = h.positive.sum(axis=1) + fp
        iou = np.divide(tp, union, out=(fp == 0).astype(np.float64), where=union > 0)
        return pd.DataFrame({"image": h.stems, "method": self.method, "defect_free": h.free, "iou_at_t": iou,
                             "flagged": (tp + fp) >= h.min_areas(min_area)})

    def needs_histograms(self, what: str) -> PixelHistograms:
        """The per-image histograms, or an error naming ``what`` needs them when they were summarized away."""
        if self.histograms is None:
            raise EvaluationError(f"{what} needs the per-image histograms of {self.method!r}, which this result "
                                  "summarized away (evaluate it again with evaluate_pixel_level)")
        return self.histograms

    def document(self, budget: float) -> dict:
        """This method's part of the JSON document (``*_ci`` beside each value when there are intervals)."""
        out: dict = {}
        for name, value in self.values.items():
            *path, leaf = name.split("/")
            node = out
            for part in path:
                node = node.setdefault(part, {} if part != "operating_point" else {"budget": budget,
                                                                                  "threshold": self.threshold})
            node[leaf] = int(value) if leaf == "n_regions" else value
            if self.intervals is not None and leaf != "n_regions":
                node[f"{leaf}_ci"] = self.intervals[name]
        return out


@dataclass
class PixelLevelResult(Report):
    """Inspection metrics of several methods on one split, with the threshold set on the calibration split."""

    dataset: str
    split: str
    calibration_split: str
    options: PixelLevelOptions
    methods: dict[str, PixelLevelMethod]
    image_classes: dict[str, str]
    calibration_overlap: bool = False
    computed: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict:
        """The ``evaluate --pixel-level --format json`` document."""
        document = {"dataset": self.dataset, "split": self.split, "calibration_split": self.calibration_split}
        if self.calibration_overlap:
            document["calibration_overlap"] = True
        document["methods"] = {name: m.document(self.options.budget) for name, m in self.methods.items()}
        return document

    def as_dict(self) -> dict:
        return jsonable({**self.to_json_dict(), "calibrate": self.options.calibrate, "computed": self.computed,
                         "notes": self.notes})

    def summary(self) -> str:
        return (f"{self.dataset} / split {self.split}: {len(self.methods)} methods on {len(self.image_classes)} images, "
                f"thresholds calibrated on split {self.calibration_split} ({self.options.calibrate} budget "
                f"{self.options.budget:g}), {self.computed} image-method pairs scored now, the rest from the cache")

    def scores_frame(self) -> pd.DataFrame:
        """Methods × (pooled metrics, AUPRO at each limit, threshold, the operating point's values)."""
        limits = [f"aupro/{limit:g}" for limit in self.options.fpr_limits]
        names = ["pixel_auroc", "pixel_ap", "pixel_f1_max", *limits, *(f"operating_point/{k}" for k in OPERATING_POINT)]
        rows = []
        for method, m in self.methods.items():
            row = {"method": method, "n_images": m.n_images, "threshold": m.threshold}
            row.update({name.replace("operating_point/", "").replace("aupro/", "aupro@"): m.values[name] for name in names})
            rows.append(row)
        return pd.DataFrame(rows)

    def by_size_frame(self) -> pd.DataFrame:
        """Long table: one row per (method, size bin) with n_regions, mean_overlap and found."""
        rows = []
        for method, m in self.methods.items():
            for key in size_bin_keys(self.options.size_edges):
                rows.append({"method": method, "size": key,
                             **{k: m.values[f"by_size/{key}/{k}"] for k in BY_SIZE}})
        return pd.DataFrame(rows, columns=["method", "size", *BY_SIZE])

    def curves(self) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """method → ``{"roc": (FPR, TPR), "pro": (FPR, PRO)}``, pooled over the split (t = 256 … 0)."""
        return {method: ({"roc": m.summary.roc, "pro": m.summary.pro} if m.histograms is None else
                         {"roc": m.histograms.roc_curve(), "pro": m.histograms.pro_curve()})
                for method, m in self.methods.items()}

    def summarized(self, worst_regions: int) -> "PixelLevelResult":
        """This result without the per-image histograms (see :meth:`PixelLevelMethod.summarized`), keeping each
        method's ``worst_regions`` worst missed regions; what needs the histograms (per-image IoU, paired
        differences) then raises :class:`samis.errors.EvaluationError`."""
        return replace(self, methods={name: m.summarized(worst_regions) for name, m in self.methods.items()})

    def per_image_iou_frame(self) -> pd.DataFrame:
        """One row per (image, method): the image's IoU at the method's operating threshold (defect images;
        a defect-free image reads 1 when nothing is flagged, else 0) and whether it is flagged."""
        frames = [m.iou_frame(self.options.min_area) for m in self.methods.values()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["image", "method", "defect_free", "iou_at_t", "flagged"])

    def worst_regions(self, method: str, n: int = 8) -> pd.DataFrame:
        """The ground-truth regions one method misses most at its operating threshold.

        Args:
            method: an evaluated method.
            n: how many regions (at most all of them).

        Returns:
            up to ``n`` rows, lowest overlap first and, among equal overlaps, the largest area first (then split
            order): ``image``, ``region`` (its index among the image's 8-connected regions, in the order OpenCV
            labels them, as :func:`image_histograms`), ``area`` (pixels), ``share`` (% of the image) and
            ``overlap`` (its flagged share at the threshold).

        Raises:
            EvaluationError: an unknown method.
        """
        if method not in self.methods:
            raise EvaluationError(f"method {method!r} was not evaluated here ({', '.join(self.methods)})")
        return self.methods[method].worst_regions(n)

    def paired_difference(self, a: str, b: str, resamples: int = 1000, seed: int = DEFAULT_SEED) -> dict[str, dict]:
        """A − B of every value, with a 95 % interval from the same resamples (over the images both have).

        Returns:
            flat name → ``{"a", "b", "difference", "ci"}``.

        Raises:
            EvaluationError: an unknown method, or fewer than 2 images in common.
        """
        for name in (a, b):
            if name not in self.methods:
                raise EvaluationError(f"method {name!r} was not evaluated here ({', '.join(self.methods)})")
        resamples, seed = check_resamples(resamples, "--b"), check_seed(seed)
        have_b = set(self.methods[b].needs_histograms("a paired difference").stems)
        common = [s for s in self.methods[a].needs_histograms("a paired difference").stems if s in have_b]
        if len(common) < 2:
            raise EvaluationError(f"a paired difference needs at least 2 images both methods have; there are {len(common)}")
        parts = [self.methods[m].histograms.subset(common) for m in (a, b)]
        thresholds = [self.methods[a].threshold, self.methods[b].threshold]
        tables = [feature_table(h, t, self.options) for h, t in zip(parts, thresholds)]
        point = [weighted_values(np.ones((1, len(common))), tb, t) for tb, t in zip(tables, thresholds)]
        samples = bootstrap_values(tables, thresholds, resamples, seed, parts[0].classes)
        return {name: {"a": float(point[0][name][0]), "b": float(point[1][name][0]),
                       "difference": float(point[0][name][0] - point[1][name][0]),
                       "ci": _interval(samples[0][name] - samples[1][name])}
                for name in point[0] if not name.endswith("/n_regions")}


# ---- the per-pair task ---------------------------------------------------------------------------------
def cache_path(workspace: Workspace, dataset_id: str, method: str) -> Path:
    """Where one method's per-image histograms live."""
    return workspace.results_dir(dataset_id) / _SUBDIR / f"{validate_name('method', method)}.npz"


PIXEL_LEVEL = Task("pixel-level", read_pair, pixel_level_worker, unit="image-method pairs", batch_size=64,
                   parallel_min=_PARALLEL_MIN_TASKS, count_cached=False)


def unscored_pairs(workspace: Workspace, dataset: Dataset, methods: list[str], split: str,
                   calibration_split: str = DEFAULT_CALIBRATION_SPLIT) -> int:
    """How many (method, image) pairs with a map, of ``split`` and the calibration split, have no stored histograms
    yet: what :func:`evaluate_pixel_level` would read and compute now. Reads only the stores' image ids and the
    map folders' listings (no map, mask or row), so a page can decide to send a large job to the CLI instead."""
    wanted = {s.id for s in get_split(workspace, dataset, split)}
    if calibration_split in split_names(dataset):
        wanted |= {s.id for s in get_split(workspace, dataset, calibration_split)}
    total = 0
    for method in methods:
        stored = stored_images(cache_path(workspace, dataset.id, method), CACHE_VERSION)
        total += len((wanted & prediction_paths(workspace, dataset.id, method).keys()) - stored)
    return total


# ---- the public entry point ----------------------------------------------------------------------------
def evaluate_pixel_level(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None,
                         split: str = "test", options: PixelLevelOptions | None = None, workers: int | None = None,
                         progress: ProgressCallback | None = None, engine: EngineSpec | None = None) -> PixelLevelResult:
    """Inspection metrics of every requested method on a split, at a threshold calibrated on another split.

    Args:
        workspace: where predictions and the results cache live.
        dataset: a loaded dataset.
        methods: method names; None = every method with stored predictions.
        split: the evaluated split (default ``test``).
        options: limits, calibration, budget, size edges, intervals (:class:`PixelLevelOptions`).
        workers: local processes (default: all cores, at most 8).
        progress: optional callback, sent :class:`samis.runs.RunProgress` events (stage ``pixel-level``).
        engine: where the histograms are computed (local by default, or Ray); the same values either way.

    Returns:
        a :class:`PixelLevelResult`; ``notes`` warns when the calibration split overlaps the evaluated one.

    Raises:
        EvaluationError: bad options; an empty split or calibration split; no defect pixels or no non-defect
            pixels in the split; no defect-free images in the calibration split with ``calibrate="image"``;
            unknown methods, missing maps (without ``allow_missing``), a map of the wrong size.
    """
    return _pixel_level(workspace, dataset, methods, split, options,
                        dict(workers=workers, progress=progress, engine=engine), trusting=False)


#: the worst missed regions a summarized result keeps per method: the most the Inspection page shows
SUMMARY_REGIONS = COUNTS["grid_images"].high


def evaluate_pixel_level_summarized(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None,
                                    split: str = "test", options: PixelLevelOptions | None = None,
                                    workers: int | None = None, progress: ProgressCallback | None = None,
                                    engine: EngineSpec | None = None) -> PixelLevelResult:
    """:func:`evaluate_pixel_level` holding one method's per-image histograms at a time: each method is
    summarized (:meth:`PixelLevelMethod.summarized`, keeping :data:`SUMMARY_REGIONS` regions) as soon as it is
    measured, intervals included. What a report prints needs no more; a paired difference does (use
    :func:`evaluate_pixel_level`). At 150,000 images × 12 methods the full result held 16 GB."""
    return _pixel_level(workspace, dataset, methods, split, options,
                        dict(workers=workers, progress=progress, engine=engine), trusting=False,
                        keep=lambda method: method.summarized(SUMMARY_REGIONS))


def pixel_level_trusting_generation(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None,
                                    split: str = "test", options: PixelLevelOptions | None = None,
                                    progress: ProgressCallback | None = None,
                                    keep: Callable[[PixelLevelMethod], PixelLevelMethod] | None = None
                                    ) -> PixelLevelResult:
    """:func:`evaluate_pixel_level` for views (dashboard pages): a method whose stored histograms were all checked
    against the maps it holds now (their :func:`samis.evaluation.trust_token`) and that holds every image asked
    for is read without a look at any of its maps (the trust of
    :func:`samis.evaluation.evaluate_trusting_generation`); the others are checked and scored as usual.

    ``keep``, when given, replaces each method's result as soon as it is measured, before the next method's
    histograms are read (e.g. ``lambda m: m.summarized(8)``, after taking what it needs from them): a view then
    holds one method's per-image histograms at most (600 MB at 150,000 images)."""
    return _pixel_level(workspace, dataset, methods, split, options, dict(progress=progress), trusting=True,
                        keep=keep)


def _pixel_level(workspace: Workspace, dataset: Dataset, methods: list[str] | None, split: str,
                 options: PixelLevelOptions | None, run_options: dict, trusting: bool,
                 keep: Callable[[PixelLevelMethod], PixelLevelMethod] | None = None) -> PixelLevelResult:
    options = (options or PixelLevelOptions()).checked()
    engine = check_engine(run_options.get("engine"))  # an unreachable cluster is refused before anything is written
    samples = split_samples(workspace, dataset, split)
    try:
        calibration = split_samples(workspace, dataset, options.calibration_split)
    except (EvaluationError, DatasetError) as error:
        raise EvaluationError(f"calibration split: {error}") from None
    methods = checked_methods(workspace, dataset, methods)
    ids = {s.id for s in samples}
    union = samples + [s for s in calibration if s.id not in ids]
    gt_keys, _, empty = ground_truth_facts(workspace, dataset, union)
    _check_kinds(dataset.id, split, options, [empty[s.id] for s in samples], [empty[s.id] for s in calibration])
    plan = (split, samples, [s.id for s in calibration], union, gt_keys, trusting, keep)
    return on_one_generation(workspace, dataset.id, methods, lambda: _pixel_level_once(
        workspace, dataset, plan, methods, options, {**run_options, "engine": engine}))


def _check_kinds(dataset_id: str, split: str, options: PixelLevelOptions, empty: list[bool],
                 calibration_empty: list[bool]) -> None:
    if all(empty):
        raise EvaluationError(f"dataset {dataset_id!r} / split {split!r} has no defect pixels (every ground truth "
                              "is empty): pixel AUROC, AP and AUPRO are undefined")
    if options.calibrate == "image" and not any(calibration_empty):
        raise EvaluationError(f"--calibrate image needs defect-free images (empty ground truth) in the calibration "
                              f"split {options.calibration_split!r}, and it has none (register Magnetic Tile with "
                              "--include-defect-free, or use --calibrate pixel)")


def _pixel_level_once(workspace: Workspace, dataset: Dataset, plan: tuple, methods: list[str],
                      options: PixelLevelOptions, run_options: dict) -> tuple[PixelLevelResult, PairStore, list]:
    """One pass of :func:`evaluate_pixel_level`; ``plan`` is (split, its samples, calibration ids, every sample
    needed, ground-truth keys, whether a view trusts stores checked against the maps' version, and what replaces each
    method's result as soon as it is measured, or None to keep its histograms)."""
    split, samples, calibration_ids, union, gt_keys, trusting, keep = plan
    union_ids = [s.id for s in union]
    class_of = {s.id: s.cls for s in union}
    gt_paths = {s.id: s.gt_path for s in union}
    if not options.allow_missing:  # refused before any method is scored (a listing of names only)
        for method in methods:
            missing_maps(dataset, split, method, union_ids, False, prediction_paths(workspace, dataset.id, method))
    split_ids, results, computed, before = [s.id for s in samples], {}, [], 0
    for position, method in enumerate(methods):  # one method's listing and rows in memory at a time
        versions = {method: trust_token(workspace, dataset, method)}  # before its maps are listed
        present = maps_of_split(workspace, dataset, split, method, union_ids, options.allow_missing)[0]
        store = _method_store(workspace, dataset.id, method)
        units = store.plan_images({method: present}, gt_keys, union_ids,
                                  lambda stem, path: (stem, str(gt_paths[stem]), gt_keys[stem], str(path)),
                                  trust=versions if trusting else None)
        progress = run_options.get("progress")
        if len(methods) > 1:
            progress = JoinedProgress(progress, before, len(methods) - position)  # one count over every method
        computed += run_task(PIXEL_LEVEL, units, store, **{**run_options, "progress": progress}).computed
        store.mark_checked({method: present}, versions)
        store.flush()
        before += getattr(progress, "total", 0)
        present = list(present)
        every = PixelHistograms.from_rows(present, store.caches[method].rows_for(present), [class_of[s] for s in present])
        del store, units  # the rows go before the next method's are read
        have = set(present)
        results[method] = _measure_method(method, every.subset([s for s in split_ids if s in have]),
                                          every.subset([s for s in calibration_ids if s in have]), options,
                                          [s for s in split_ids if s not in have])
        if keep is not None:
            results[method] = keep(results[method])
        del every
    overlap = bool(set(split_ids) & set(calibration_ids))
    notes = []
    if overlap:
        notes.append(f"the calibration split {options.calibration_split!r} overlaps the evaluated split {split!r}: "
                     "the operating point is measured on images its threshold was set on")
    result = PixelLevelResult(dataset.id, split, options.calibration_split, options, results,
                              {s.id: s.cls for s in samples}, overlap, computed=len(computed), notes=notes)
    return result, _Reopened(lambda method: _method_store(workspace, dataset.id, method)), computed


def _method_store(workspace: Workspace, dataset_id: str, method: str) -> PairStore:
    """The pair store of one method's per-image histograms."""
    return PairStore({method: RaggedRowCache(cache_path(workspace, dataset_id, method), _VALUES, CACHE_VERSION)},
                     lambda result: {"hist": result[0], "regions": result[1]})


class _Reopened:
    """What :func:`samis.evaluation.on_one_generation` forgets through once a pass is over: each method's store,
    opened again (a pass keeps no method's rows in memory)."""

    def __init__(self, open_store):
        self.open_store = open_store

    def forget(self, units: list) -> None:
        for method in sorted({unit.group for unit in units}):
            self.open_store(method).forget([unit for unit in units if unit.group == method])


def _measure_method(method: str, evaluated: PixelHistograms, calibration: PixelHistograms,
                    options: PixelLevelOptions, missing: list[str]) -> PixelLevelMethod:
    if evaluated.negative.sum() == 0:
        raise EvaluationError(f"method {method!r}: the split has no non-defect pixels (every pixel is a defect): "
                              "pixel AUROC and FPR are undefined")
    if evaluated.positive.sum() == 0:
        raise EvaluationError(f"method {method!r}: the images it has maps for hold no defect pixels: pixel AUROC "
                              "is undefined")
    if not calibration.stems:
        raise EvaluationError(f"method {method!r} has no map on the calibration split {options.calibration_split!r}")
    threshold = calibrate_threshold(calibration, options.calibrate, options.budget, options.min_area)
    table = feature_table(evaluated, threshold, options)
    values = {k: float(v[0]) for k, v in weighted_values(np.ones((1, len(evaluated.stems))), table, threshold).items()}
    intervals = None
    if options.resamples is not None:
        if len(evaluated.stems) < 2:
            raise EvaluationError("intervals need at least 2 images")
        with warnings.catch_warnings():  # a resample without a region of some size: NaN, reported as no interval
            warnings.simplefilter("ignore", RuntimeWarning)
            samples = bootstrap_values([table], [threshold], options.resamples, options.seed, evaluated.classes)[0]
        intervals = {name: _interval(s) for name, s in samples.items()}
    return PixelLevelMethod(method, evaluated, threshold, values, intervals, missing)
