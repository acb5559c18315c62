"""Good parts: false alarms on defect-free images and image-level detection.

On a production line most parts are good. This module answers, for every method with stored maps,
how often it flags a good part and whether its maps sort good parts from bad ones at all.

An image is *defect-free* when its ground-truth mask is empty (by the mask rule of
:func:`samis.imageio.read_mask`), a *defect image* otherwise. From each stored map (values 0–255 as
stored, **not** min-max normalised):

- regions: pixels ≥ 128 (:data:`REGION_THRESHOLD`), 8-connected, keeping regions of at least
  ``min_area`` pixels (default ``ceil(0.001 × H × W)`` of the image, :func:`default_min_area`);
- ``area`` score: kept pixels / (H × W); ``max`` score: the map's maximum / 255;
- ``false_alarm_rate``: share of defect-free images with area > 0; ``miss_rate``: share of defect
  images with area = 0;
- ``auroc_area``, ``auroc_max``: image-level ROC AUC, defect images positive, defect-free negative,
  ties counted one half (the Mann–Whitney count U / (n_defect · n_free), :func:`mann_whitney_auc`);
- ``fpr_at_tpr95``: the lowest false-positive rate on defect-free images among area thresholds
  (an image is flagged when its area ≥ the threshold) that flag at least 95 % of the defect images;
- the same per defect class: the defect images of each class against all defect-free images.

Per-image values are cached like the pixel metrics (:mod:`samis.evaluation`): in
``results/<dataset>/image_level/<method>.min-<N|default>.npz``, keyed by the content hash of the
map and of the ground truth, written atomically; a damaged cache file is moved aside
(:func:`samis.recovery.move_aside`) and computed again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from samis.datasets import Dataset, Sample, get_split
from samis.errors import EvaluationError
from samis.evaluation import checked_methods, maps_of_split, on_one_generation, split_samples, trust_token
from samis.imageio import ImageReadError, read_mask
from samis.metrics import IMAGE_LEVEL_METRICS
from samis.result_cache import PairStore, RowCache, ground_truth_keys, read_table, stored_images, write_table
from samis.runner import EngineSpec, Task, check_engine, run_task
from samis.runs import ProgressCallback, Report, jsonable
from samis.store import prediction_files, prediction_paths, read_prediction
from samis.workspace import Workspace, validate_name

#: a map pixel belongs to a region at this value or above (of 0–255)
REGION_THRESHOLD = 128
#: the detection rate fpr_at_tpr95 asks for
TARGET_TPR = 0.95
#: the default min-area rule, as ``evaluate --image-level --format json`` states it
DEFAULT_MIN_AREA_RULE = "ceil(0.001*H*W)"
CACHE_VERSION = 1
_SUBDIR = "image_level"
_GT_TABLE = "_ground_truth.npz"
_PARALLEL_MIN_TASKS = 48
#: per-image values in the cache, in this order
VALUES = ("area", "max", "regions")

_VALUES = {"values": ("f", (len(VALUES),))}
_GT_LAYOUT = {"stems": ("U", ("n",)), "hash": ("U", ("n",)), "shape": ("iu", ("n", 2)), "empty": ("b", ("n",))}


# ---- one image -----------------------------------------------------------------------------------
def default_min_area(shape: tuple[int, int]) -> int:
    """``ceil(0.001 × H × W)`` in exact integer arithmetic (e.g. 40 for 200×200, 1 below 1000 pixels)."""
    pixels = int(shape[0]) * int(shape[1])
    return max(1, -(-pixels // 1000))


def check_min_area(value) -> int | None:
    """A ``--min-area`` value as an int (None = the default rule).

    Raises:
        EvaluationError: a negative number, or anything that is not a whole number (one line).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise EvaluationError(f"--min-area must be a whole number of pixels ≥ 0, not {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+").isdigit():
            raise EvaluationError(f"--min-area must be a whole number of pixels ≥ 0, not {value!r}")
        return int(text)
    if isinstance(value, (int, np.integer)):
        if value < 0:
            raise EvaluationError(f"--min-area must be a whole number of pixels ≥ 0, not {value!r}")
        return int(value)
    raise EvaluationError(f"--min-area must be a whole number of pixels ≥ 0, not {value!r}")


def flagged_regions(saliency: np.ndarray, min_area: int | None = None) -> np.ndarray:
    """The kept regions of one map: pixels ≥ 128, 8-connected, regions of at least ``min_area`` pixels.

    Args:
        saliency: (H, W) uint8 map as stored.
        min_area: smallest region kept, in pixels (None: :func:`default_min_area`).

    Returns:
        (H, W) bool mask of the kept regions.
    """

    min_area = default_min_area(saliency.shape) if min_area is None else int(min_area)
    binary = (np.asarray(saliency) >= REGION_THRESHOLD).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


def image_scores(saliency: np.ndarray, min_area: int | None = None) -> tuple[float, float, int]:
    """``(area, max, regions)`` of one map: kept pixels / (H × W), maximum / 255, kept regions.

    Args:
        saliency: (H, W) uint8 map as stored (not min-max normalised).
        min_area: smallest region kept (None: :func:`default_min_area`).
    """
    saliency = np.asarray(saliency)
    min_area = default_min_area(saliency.shape) if min_area is None else int(min_area)
    binary = (saliency >= REGION_THRESHOLD).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    kept = areas[areas >= min_area]
    return float(kept.sum()) / saliency.size, float(saliency.max()) / 255.0, int(kept.size)


# ---- image-level statistics -------------------------------------------------------------------------
def mann_whitney_auc(positive, negative) -> float:
    """ROC AUC as the Mann–Whitney count: P(positive > negative) + ½ P(tie); NaN when a side is empty.

    Vectorised: the negatives are sorted once and each positive is placed with two binary searches.
    """
    positive = np.asarray(positive, dtype=float)
    negative = np.sort(np.asarray(negative, dtype=float))
    if positive.size == 0 or negative.size == 0:
        return float("nan")
    below = np.searchsorted(negative, positive, side="left")
    at_or_below = np.searchsorted(negative, positive, side="right")
    u = below.sum() + 0.5 * (at_or_below - below).sum()
    return float(u) / (positive.size * negative.size)


def fpr_at_tpr(positive, negative, tpr: float = TARGET_TPR) -> float:
    """Lowest false-positive rate among thresholds t (flag when score ≥ t) that flag ≥ ``tpr`` of the positives.

    The best threshold is the largest one that still flags enough positives: the k-th largest positive
    score, k = ceil(tpr · n_positive); raising t never raises the false-positive rate.
    NaN when a side is empty.
    """
    positive = np.sort(np.asarray(positive, dtype=float))[::-1]
    negative = np.sort(np.asarray(negative, dtype=float))
    if positive.size == 0 or negative.size == 0:
        return float("nan")
    needed = max(1, math.ceil(tpr * positive.size - 1e-9))
    threshold = positive[needed - 1]
    flagged = negative.size - np.searchsorted(negative, threshold, side="left")
    return float(flagged) / negative.size


def roc_points(positive, negative, drop_intermediate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve (false-positive rate, true-positive rate) over every distinct score, from (0, 0) to (1, 1).

    ``drop_intermediate`` leaves out the points that lie on a straight segment between their neighbours (as
    scikit-learn's ``roc_curve`` does): the same polyline and area with its corners only, for drawing (150,000
    images have up to 150,000 distinct scores, mostly on straight runs)."""
    positive = np.asarray(positive, dtype=float)
    negative = np.asarray(negative, dtype=float)
    if positive.size == 0 or negative.size == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    cuts = np.unique(np.concatenate([positive, negative]))[::-1]
    pos, neg = np.sort(positive), np.sort(negative)
    tps = np.concatenate([[0], pos.size - np.searchsorted(pos, cuts, side="left")])
    fps = np.concatenate([[0], neg.size - np.searchsorted(neg, cuts, side="left")])
    if drop_intermediate and tps.size > 2:  # on the integer counts, so a straight run is exactly straight
        corner = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps = tps[corner], fps[corner]
    return fps / neg.size, tps / pos.size


def detection_summary(area, max_score, free) -> dict:
    """The image-level scores of one group of images.

    Args:
        area, max_score: per-image scores.
        free: per-image True for defect-free images.

    Returns:
        ``n_defect``, ``n_free`` and every :data:`samis.metrics.IMAGE_LEVEL_METRICS` value (NaN where
        a side is empty).
    """
    area, max_score, free = np.asarray(area, float), np.asarray(max_score, float), np.asarray(free, bool)
    defect = ~free
    n_defect, n_free = int(defect.sum()), int(free.sum())
    return {
        "n_defect": n_defect, "n_free": n_free,
        "false_alarm_rate": float((area[free] > 0).mean()) if n_free else float("nan"),
        "miss_rate": float((area[defect] == 0).mean()) if n_defect else float("nan"),
        "auroc_area": mann_whitney_auc(area[defect], area[free]),
        "auroc_max": mann_whitney_auc(max_score[defect], max_score[free]),
        "fpr_at_tpr95": fpr_at_tpr(area[defect], area[free]),
    }


# ---- results -------------------------------------------------------------------------------------
@dataclass
class ImageLevelMethod:
    """One method's per-image scores on a split (rows in split order; images without a map left out)."""

    method: str
    stems: list[str]
    area: np.ndarray
    max_score: np.ndarray
    regions: np.ndarray
    free: np.ndarray  # bool: the image's ground truth is empty
    classes: list[str]
    missing: list[str] = field(default_factory=list)
    # what summary() and roc() computed, kept (the per-image arrays above are not changed after scoring)
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def summary(self) -> dict:
        """Scores over all images, with ``per_class`` (each defect class against every defect-free image); computed
        once and kept (the result is read-only: a page shows it three times per rerun)."""
        if "summary" not in self._memo:
            self._memo["summary"] = self._summary()
        return self._memo["summary"]

    def _summary(self) -> dict:
        scores = detection_summary(self.area, self.max_score, self.free)
        per_class = {}
        classes = np.array(self.classes, dtype=object)
        for cls in sorted({c for c, f in zip(self.classes, self.free) if not f}):
            rows = self.free | (classes == cls)
            per_class[cls] = detection_summary(self.area[rows], self.max_score[rows], self.free[rows])
        return {**scores, "per_class": per_class}

    def roc(self, score: str = "area", cls: str | None = None,
            drop_intermediate: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr) of the ``area`` or ``max`` score, over all defect images or one class's (see
        :func:`roc_points`); kept once computed (read-only)."""
        key = ("roc", score, cls, drop_intermediate)
        if key not in self._memo:
            values = self.area if score == "area" else self.max_score
            defect = ~self.free if cls is None else (~self.free & (np.array(self.classes, dtype=object) == cls))
            self._memo[key] = roc_points(values[defect], values[self.free], drop_intermediate)
        return self._memo[key]

    def frame(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """One row per image (of positions ``rows``; default all): image, class, defect_free, area, max, regions."""
        if rows is None:
            return pd.DataFrame({"image": self.stems, "class": self.classes, "defect_free": self.free,
                                 "area": self.area, "max": self.max_score, "regions": self.regions.astype(int)})
        return pd.DataFrame({"image": [self.stems[i] for i in rows], "class": [self.classes[i] for i in rows],
                             "defect_free": self.free[rows], "area": self.area[rows], "max": self.max_score[rows],
                             "regions": self.regions[rows].astype(int)})


@dataclass
class ImageLevelResult(Report):
    """Image-level detection scores of several methods on one dataset split."""

    dataset: str
    split: str
    min_area: int | None  # None: ceil(0.001·H·W) per image
    methods: dict[str, ImageLevelMethod]
    image_classes: dict[str, str]
    free_ids: list[str]  # images of the split whose ground truth is empty
    computed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def min_area_text(self) -> str:
        return DEFAULT_MIN_AREA_RULE if self.min_area is None else str(self.min_area)

    def to_json_dict(self) -> dict:
        """The ``evaluate --image-level --format json`` document."""
        return {"dataset": self.dataset, "split": self.split,
                "min_area": DEFAULT_MIN_AREA_RULE if self.min_area is None else self.min_area,
                "methods": {name: result.summary() for name, result in self.methods.items()}}

    def as_dict(self) -> dict:
        return jsonable({**self.to_json_dict(), "computed": self.computed, "notes": self.notes})

    def summary(self) -> str:
        n_free = len(self.free_ids)
        return (f"{self.dataset} / split {self.split}: {len(self.methods)} methods on {len(self.image_classes) - n_free} "
                f"defect and {n_free} defect-free images (min area {self.min_area_text}), {self.computed} "
                "image-method pairs scored now, the rest from the cache")

    def scores_frame(self) -> pd.DataFrame:
        """Methods × (n_defect, n_free, missing, every image-level metric)."""
        rows = []
        for name, result in self.methods.items():
            scores = result.summary()
            rows.append({"method": name, "n_defect": scores["n_defect"], "n_free": scores["n_free"],
                         "missing": len(result.missing), **{m: scores[m] for m in IMAGE_LEVEL_METRICS}})
        return pd.DataFrame(rows, columns=["method", "n_defect", "n_free", "missing", *IMAGE_LEVEL_METRICS])

    def per_class_frame(self) -> pd.DataFrame:
        """Long table: one row per (method, defect class) with n_defect, n_free and every metric."""
        rows = []
        for name, result in self.methods.items():
            for cls, scores in result.summary()["per_class"].items():
                rows.append({"method": name, "class": cls, **scores})
        return pd.DataFrame(rows, columns=["method", "class", "n_defect", "n_free", *IMAGE_LEVEL_METRICS])

    def per_image_frame(self) -> pd.DataFrame:
        """Long table: one row per (image, method) with class, defect_free, area, max, regions."""
        frames = []
        for name, result in self.methods.items():
            frame = result.frame()
            frame.insert(1, "method", name)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["image", "method", "class", "defect_free", "area", "max", "regions"])
        return pd.concat(frames, ignore_index=True)

    def worst_false_alarms(self, method: str, n: int = 12) -> pd.DataFrame:
        """The defect-free images with the largest flagged area of one method (area > 0 only), largest first."""
        scores = self.methods[method]
        frame = scores.frame(np.flatnonzero(scores.free & (scores.area > 0)))
        return frame.sort_values(["area", "image"], ascending=[False, True]).head(max(0, int(n))).reset_index(drop=True)


# ---- ground truth: empty or not, and its size ------------------------------------------------------
def _read_gt_facts(job: tuple[str, str]) -> tuple[str, tuple[int, int], bool]:
    stem, path = job
    try:
        mask = read_mask(path)[0]
    except ImageReadError as error:
        raise EvaluationError(f"ground truth of image {stem}: {error}") from None
    return stem, tuple(mask.shape), not bool(mask.any())


def ground_truth_facts(workspace: Workspace, dataset: Dataset, samples: list[Sample]) -> tuple[dict, dict, dict]:
    """Each sample's ground-truth hash, size and emptiness; sizes and emptiness cached by the mask's content hash.

    Returns:
        (id → hash, id → (H, W), id → True when the mask is empty).
    """
    keys, save_index = ground_truth_keys(workspace.results_dir(dataset.id), {s.id: s.gt_path for s in samples})
    path = workspace.results_dir(dataset.id) / _SUBDIR / _GT_TABLE
    known = read_table(path, _GT_LAYOUT, CACHE_VERSION)  # id -> (hash, (H, W), empty)
    todo = [(s.id, str(s.gt_path)) for s in samples if known.get(s.id, ("",))[0] != keys[s.id]]
    for stem, shape, empty in map(_read_gt_facts, todo):
        known[stem] = (keys[stem], shape, empty)
    save_index()
    if todo:
        write_table(path, CACHE_VERSION, _GT_LAYOUT, known)
    ids = [s.id for s in samples]
    return keys, {i: known[i][1] for i in ids}, {i: known[i][2] for i in ids}


def require_both_kinds(dataset_id: str, split: str, n_defect: int, n_free: int) -> None:
    """Refuse a split that lacks defect-free or defect images (one line naming what is missing).

    Raises:
        EvaluationError: no defect-free (empty ground truth) or no defect image in the split.
    """
    where = f"dataset {dataset_id!r} / split {split!r}"
    if n_free == 0:
        hint = " (register Magnetic Tile with --include-defect-free to add MT_Free)"
        raise MissingImageKind(f"{where} has no defect-free images (empty ground-truth masks) among its {n_defect} "
                              f"images; image-level results need defect-free and defect images{hint}", "defect-free")
    if n_defect == 0:
        raise MissingImageKind(f"{where} has no defect images (non-empty ground-truth masks) among its {n_free} "
                               "images; image-level results need defect and defect-free images", "defect")


class MissingImageKind(EvaluationError):
    """A split lacks defect-free or defect images; ``missing`` says which (``defect-free`` or ``defect``)."""

    def __init__(self, message: str, missing: str):
        super().__init__(message)
        self.missing = missing


# ---- the per-pair task -------------------------------------------------------------------------------
def cache_path(workspace: Workspace, dataset_id: str, method: str, min_area: int | None) -> Path:
    """Where one method's per-image image-level values live for one min-area setting."""
    key = "default" if min_area is None else str(int(min_area))
    return workspace.results_dir(dataset_id) / _SUBDIR / f"{validate_name('method', method)}.min-{key}.npz"


def unscored_pairs(workspace: Workspace, dataset: Dataset, methods: list[str], split: str,
                   min_area: int | None = None) -> int:
    """How many (method, image) pairs with a map of ``split`` have no stored image-level values for ``min_area``
    yet: what :func:`evaluate_image_level` would compute now. Reads only the stores' image ids and the map
    folders' listings, so a page can send a large job to the CLI instead."""
    wanted = {s.id for s in get_split(workspace, dataset, split)}
    return sum(len((wanted & prediction_paths(workspace, dataset.id, method).keys())
                   - stored_images(cache_path(workspace, dataset.id, method, min_area), CACHE_VERSION))
               for method in methods)


def read_map(job: tuple[str, tuple[int, int]]) -> np.ndarray:
    """One stored map: ``job`` is (map path, ground-truth shape)."""
    path, shape = job
    return read_prediction(Path(path), shape)


def image_level_worker(min_area: int | None):
    """The per-pair work, wherever it runs: ``compute(map) -> (area, max, regions)``."""
    return lambda saliency: image_scores(saliency, min_area)


# ---- the public entry point ----------------------------------------------------------------------
def evaluate_image_level(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None,
                         split: str = "all", min_area: int | None = None, allow_missing: bool = False,
                         progress: ProgressCallback | None = None,
                         engine: EngineSpec | None = None) -> ImageLevelResult:
    """Image-level detection of every requested method: false alarms on defect-free images, ROC AUC, per class.

    Args:
        workspace: where predictions and the results cache live.
        dataset: a loaded dataset.
        methods: method names; None = every method with stored predictions.
        split: split name.
        min_area: smallest region kept, in pixels (None: ``ceil(0.001 × H × W)`` of each image).
        allow_missing: score methods on the images they have maps for instead of refusing.
        progress: optional callback, sent :class:`samis.runs.RunProgress` events (stage ``image-level``).
        engine: where the scoring runs (default local: a process pool of ``engine.workers`` processes, by
            default every core, at most 8); with Ray this process reads every map and writes the cache, the
            workers score — the same values either way.

    Returns:
        an :class:`ImageLevelResult`.

    Raises:
        EvaluationError: a bad ``min_area``; no defect-free or no defect image in the split; unknown
            method, no predictions, missing maps (without ``allow_missing``); a map of the wrong size.
    """
    return _image_level(workspace, dataset, methods, split, (min_area, allow_missing),
                        dict(progress=progress, engine=engine), trusting=False)


def image_level_trusting_generation(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None,
                                    split: str = "all", min_area: int | None = None, allow_missing: bool = False,
                                    progress: ProgressCallback | None = None) -> ImageLevelResult:
    """:func:`evaluate_image_level` for views (dashboard pages): a method whose stored values were all checked
    against the maps it holds now (their :func:`samis.evaluation.trust_token`) and that holds every image of the
    split is read without a look at any of its maps (the trust of
    :func:`samis.evaluation.evaluate_trusting_generation`); the others are checked and scored as usual."""
    return _image_level(workspace, dataset, methods, split, (min_area, allow_missing), dict(progress=progress),
                        trusting=True)


def _image_level(workspace: Workspace, dataset: Dataset, methods: list[str] | None, split: str, settings: tuple,
                 run_options: dict, trusting: bool) -> ImageLevelResult:
    min_area, allow_missing = settings
    min_area = check_min_area(min_area)
    engine = check_engine(run_options.get("engine"))  # an unreachable cluster is refused before anything is written
    samples = split_samples(workspace, dataset, split)
    gt_keys, shapes, empty = ground_truth_facts(workspace, dataset, samples)
    n_free = sum(empty.values())
    require_both_kinds(dataset.id, split, len(samples) - n_free, n_free)
    methods = checked_methods(workspace, dataset, methods)
    return on_one_generation(workspace, dataset.id, methods, lambda: _image_level_once(
        workspace, dataset, (split, samples), methods, (min_area, allow_missing, (gt_keys, shapes, empty), trusting),
        {**run_options, "engine": engine}))


def _image_level_once(workspace: Workspace, dataset: Dataset, split_and_samples: tuple[str, list[Sample]],
                      methods: list[str], options: tuple, run_options: dict) -> tuple[ImageLevelResult, PairStore, list]:
    """One pass of :func:`evaluate_image_level`: (the result, its store, the units computed now); ``options`` is
    (min_area, allow_missing, (ground-truth keys, shapes, empty), whether a view trusts stores checked against the
    maps' version)."""
    split, samples = split_and_samples
    min_area, allow_missing, (gt_keys, shapes, empty), trusting = options
    split_ids = [s.id for s in samples]
    class_of = {s.id: s.cls for s in samples}
    versions = {method: trust_token(workspace, dataset, method) for method in methods}  # before the maps are listed
    maps = {method: maps_of_split(workspace, dataset, split, method, split_ids, allow_missing) for method in methods}
    store = PairStore({method: RowCache(cache_path(workspace, dataset.id, method, min_area), _VALUES, CACHE_VERSION,
                                        {"value_names": np.array(VALUES)}) for method in methods},
                      lambda values: {"values": np.array(values, dtype=float)})
    present = {method: maps[method][0] for method in methods}
    units = store.plan_images(present, gt_keys, split_ids, lambda stem, path: (str(path), shapes[stem]),
                              trust=versions if trusting else None)
    task = Task("image-level", read_map, image_level_worker, (min_area,), unit="image-method pairs",
                batch_size=64, parallel_min=_PARALLEL_MIN_TASKS, count_cached=False)
    outcome = run_task(task, units, store, **run_options)
    store.mark_checked(present, versions)
    store.flush()
    results = {}
    for method in methods:
        present, missing = maps[method]
        stems = list(present)
        values = store.caches[method].rows_for(stems)["values"].reshape(-1, len(VALUES))
        results[method] = ImageLevelMethod(
            method, stems, values[:, 0], values[:, 1], values[:, 2].astype(int),
            np.array([empty[s] for s in stems], dtype=bool), [class_of[s] for s in stems], missing)
    result = ImageLevelResult(dataset.id, split, min_area, results, class_of, [s for s in split_ids if empty[s]],
                              computed=len(outcome.computed), notes=_empty_mask_notes(samples, empty))
    return result, store, outcome.computed


def _empty_mask_notes(samples: list[Sample], empty: dict[str, bool]) -> list[str]:
    """A note when images of a class that holds defect images have an empty mask (they count as defect-free)."""
    with_defects = {s.cls for s in samples if not empty[s.id]}
    odd: dict[str, int] = {}
    for sample in samples:
        if empty[sample.id] and sample.cls in with_defects:
            odd[sample.cls] = odd.get(sample.cls, 0) + 1
    if not odd:
        return []
    listed = ", ".join(f"{cls} {n}" for cls, n in sorted(odd.items()))
    return [f"{sum(odd.values())} images of defect classes have an empty ground-truth mask and count as "
            f"defect-free ({listed})"]
