"""Score methods on a dataset split, with a content-keyed cache of per-image results.

``evaluate(workspace, dataset, methods, split)`` scores every requested method on every image
of the split. Per-image values and curves are stored in ``results/<dataset>/<method>.parquet``
(:mod:`samis.results_store`), keyed
by a hash of the prediction file and of the ground-truth file, so:

- evaluating again after no change reads the cache only (file stats decide whether a file must be
  hashed again, as git's index does; the key itself is the content hash);
- a changed map, a re-import, or a new method re-scores only what changed;
- the dataset score is always aggregated afresh from per-image values (see :mod:`samis.metrics`),
  so any split or class subset is exact.

A method lacking maps for some images of the split is refused with the missing ids, unless
``allow_missing=True``, in which case it is scored on what exists and the count is reported.
Work is spread over the CPU cores, one ground truth read per image for all methods.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from samis.datasets import Dataset, Sample, get_split
from samis.errors import EvaluationError, MetricError, SamisError
from samis.imageio import ImageReadError, read_mask
from samis.metrics import (CURVES, DATASET_METRICS, IMAGE_METRICS, bad_rows, prepare_scorer, range_error,
                           score_image, scores_from_means)
from samis.result_cache import PairStore, file_hash, ground_truth_keys
from samis.results_store import SUFFIX, CurveRows, ParquetRowCache
from samis.runner import EngineSpec, Task, check_engine, default_workers, run_task
from samis.runs import JoinedProgress, ProgressCallback, Report, jsonable
from samis.file_stats import StatPaths
from samis.store import method_generation, prediction_listings, prediction_paths, read_prediction
from samis.workspace import Workspace, validate_name

# 2: ground truth read by samis.imageio.read_mask (0/1, 16-bit and coloured masks were read as
# empty before); the key hashes the mask file, not the rule, so results of version 1 are dropped
CACHE_VERSION = 2
#: rows of curves handled at once by :meth:`MethodResult.curve_chunks` (4096 × 4 × 256 float32: 16 MiB)
CURVE_CHUNK = 4096
_PARALLEL_MIN_TASKS = 48
#: (image, method) rows one evaluation holds in memory before writing them (format 3: two 1 KB histograms and the
#: values each, about 0.9 GB of arrays); more images than this per method are scored one method at a time (see
#: :func:`method_groups`)
ROWS_IN_MEMORY = 400_000
#: (image, method) pairs from which a run lists and stats the maps' folders in several processes
PARALLEL_LISTING_MIN = 100_000


# ---- results -----------------------------------------------------------------------------------
@dataclass
class MethodResult:
    """One method's per-image values on a split (rows in split order, images without maps left out)."""

    method: str
    stems: list[str]
    scalars: np.ndarray  # (N, len(IMAGE_METRICS))
    curves: "np.ndarray | CurveRows"  # (N, len(CURVES), 256): in memory, or read from the store as used
    missing: list[str] = field(default_factory=list)
    _overall: dict | None = field(default=None, init=False, repr=False, compare=False)  # scores() over all rows

    def curve_chunks(self, rows: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The per-image curves of ``rows`` (positions in :attr:`stems`; default all), a bounded block at a time:
        (positions, (k, len(CURVES), 256) float32 curves) pairs that together hold each wanted row once, in any
        order. Memory is one block, whether the curves are in memory or read from the results store
        (:class:`samis.results_store.CurveRows`, one row group at a time)."""
        rows = np.arange(len(self.stems)) if rows is None else np.asarray(rows, np.int64)
        if isinstance(self.curves, CurveRows):
            yield from self.curves.chunks(rows)
            return
        for start in range(0, len(rows), CURVE_CHUNK):
            block = rows[start:start + CURVE_CHUNK]
            yield block, np.asarray(self.curves[block], np.float32)

    def scores(self, stems: list[str] | set[str] | None = None) -> dict:
        """Dataset scores over all images, or over the given subset of image ids."""
        if stems is None:
            if self._overall is None:  # read the curves once
                self._overall = self.grouped_scores([np.arange(len(self.stems))])[0]
            return self._overall
        wanted = set(stems)
        return self.grouped_scores([np.array([i for i, s in enumerate(self.stems) if s in wanted], np.int64)])[0]

    def grouped_scores(self, groups: list[np.ndarray]) -> list[dict]:
        """Dataset scores (:func:`samis.metrics.aggregate`'s) over each of several disjoint groups of rows
        (positions in :attr:`stems`), reading the curves once, a block at a time.

        Raises:
            MetricError: a group holds a per-image value outside its range (see :func:`samis.metrics.check_ranges`).
        """
        groups = [np.asarray(rows, np.int64) for rows in groups]
        total = self._stored_total(groups)
        if total is not None:  # every row of the store, whose writer summed (and range-checked) the curves
            return [self._group_scores(groups[0], total, {})]
        label = np.full(len(self.stems), -1, np.int64)
        for g, rows in enumerate(groups):
            label[rows] = g
        sums = np.zeros((len(groups), len(CURVES), 256))
        bad: dict[str, list[np.ndarray]] = {}
        for positions, block in self.curve_chunks(np.flatnonzero(label >= 0)):
            for name, rows in bad_rows(None, block).items():
                bad.setdefault(name, []).append(positions[rows])
            labels = label[positions]
            for g in np.unique(labels):
                sums[g] += block[labels == g].sum(axis=0, dtype=np.float64)
        return [self._group_scores(rows, sums[g], bad) for g, rows in enumerate(groups)]

    def _stored_total(self, groups: list[np.ndarray]) -> np.ndarray | None:
        """The stored sum of every curve when ``groups`` is one group of all rows and they are all of the store's."""
        if len(groups) != 1 or len(groups[0]) != len(self.stems) or not isinstance(self.curves, CurveRows):
            return None
        if not np.array_equal(np.sort(groups[0]), np.arange(len(self.stems))):
            return None
        return self.curves.total()

    def _group_scores(self, rows: np.ndarray, curve_sum: np.ndarray, bad: dict[str, list[np.ndarray]]) -> dict:
        scalars = self.scalars[rows]
        found = bad_rows(scalars, None)
        for name, positions in bad.items():
            inside = np.flatnonzero(np.isin(rows, np.concatenate(positions)))
            if len(inside):
                found[name] = inside
        error = range_error(found, scalars, [self.stems[i] for i in rows])
        if error is not None:
            raise error
        n = max(len(rows), 1)
        return scores_from_means(scalars, {name: curve_sum[i] / n for i, name in enumerate(CURVES)})

    def per_image(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.scalars, columns=list(IMAGE_METRICS))
        frame.insert(0, "image", self.stems)
        return frame


@dataclass
class EvaluationResult(Report):
    """Scores of several methods on one dataset split."""

    dataset: str
    split: str
    methods: dict[str, MethodResult]
    image_classes: dict[str, str]  # image id -> defect class, for every image of the split
    computed: int = 0  # per-image evaluations done in this call (0 = all from cache)
    left_out: str | None = None  # images left out after scoring, and why (see :meth:`without`)

    @property
    def scores(self) -> dict[str, dict]:
        """Each method's dataset scores; the methods' curves are read side by side (threads: reading and
        decompressing a store and summing its curves leave the interpreter free)."""
        with ThreadPoolExecutor(max_workers=min(2, max(1, len(self.methods)))) as pool:
            scores = list(pool.map(lambda result: result.scores(), self.methods.values()))
        return dict(zip(self.methods, scores))

    def without(self, images, note: str) -> "EvaluationResult":
        """The same result over the split less ``images`` (e.g. those tagged ``gt error``): exactly what
        scoring the split without them gives, since dataset scores are aggregated from per-image rows.

        Args:
            images: image ids to leave out (ids not in the split are ignored).
            note: one line saying what was left out and why (kept as :attr:`left_out`).
        """
        drop = set(images)
        methods = {}
        for name, result in self.methods.items():
            keep = [i for i, stem in enumerate(result.stems) if stem not in drop]
            methods[name] = MethodResult(name, [result.stems[i] for i in keep], result.scalars[keep],
                                         result.curves[keep], [s for s in result.missing if s not in drop])
        classes = {stem: cls for stem, cls in self.image_classes.items() if stem not in drop}
        return replace(self, methods=methods, image_classes=classes, left_out=note)

    def class_scores(self) -> dict[str, dict[str, dict]]:
        """``{class: {method: scores}}`` over the images of each defect class."""
        classes = sorted(set(self.image_classes.values()))
        out: dict[str, dict[str, dict]] = {cls: {} for cls in classes}
        for name, result in self.methods.items():  # one pass over each method's curves for every class
            of_row = [self.image_classes.get(stem) for stem in result.stems]
            groups = [np.array([i for i, c in enumerate(of_row) if c == cls], np.int64) for cls in classes]
            for cls, scores in zip(classes, result.grouped_scores(groups)):
                out[cls][name] = scores
        return out

    def to_json_dict(self) -> dict:
        """The document ``evaluate --format json`` prints: dataset, split,
        and each method's image count and dataset metrics."""
        methods = {}
        for name, scores in self.scores.items():
            methods[name] = {"n_images": scores["n_images"], **{m: scores[m] for m in DATASET_METRICS}}
        document = {"dataset": self.dataset, "split": self.split, "methods": methods}
        if self.left_out:
            document["left_out"] = self.left_out
        return document

    def summary(self) -> str:
        return (f"{self.dataset} / split {self.split}: {len(self.methods)} methods on {len(self.image_classes)} "
                f"images, {self.computed} image-method pairs scored now, the rest from the cache")

    def as_dict(self) -> dict:
        """This run as a report (:class:`samis.runs.Report`'s ``as_dict``, used when it is written inside
        another JSON document): :meth:`to_json_dict` plus the number of images and of image-method pairs
        scored now instead of read from the cache."""
        return jsonable({**self.to_json_dict(), "n_images": len(self.image_classes), "computed": self.computed})

    def per_image_frame(self) -> pd.DataFrame:
        """Long table: one row per (image, method) with class and every per-image metric."""
        frames = []
        for name, result in self.methods.items():
            frame = result.per_image()
            frame.insert(1, "method", name)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["image", "method", "class", *IMAGE_METRICS])
        frame = pd.concat(frames, ignore_index=True)
        frame.insert(2, "class", frame["image"].map(self.image_classes))
        return frame

    def scores_frame(self) -> pd.DataFrame:
        """Methods × dataset metrics (plus n_images and missing)."""
        rows = []
        for (name, result), scores in zip(self.methods.items(), self.scores.values()):
            rows.append({"method": name, "n_images": scores["n_images"], "missing": len(result.missing),
                         **{m: scores[m] for m in DATASET_METRICS}})
        return pd.DataFrame(rows, columns=["method", "n_images", "missing", *DATASET_METRICS])


# ---- the per-pair task ------------------------------------------------------------------------------
_last_ground_truth: tuple[str, str, np.ndarray] | None = None  # (path, hash, mask): pairs of one image come together


def ground_truth_of_pair(stem: str, path: str, content_hash: str) -> np.ndarray:
    """One image's ground truth (bool), read once for all of its pairs that come one after another."""
    global _last_ground_truth
    if _last_ground_truth is None or _last_ground_truth[:2] != (path, content_hash):
        try:
            mask = read_mask(path)[0]  # bool; score_image gives pysodmetrics 0/255, read back at > 128
        except ImageReadError as error:
            raise EvaluationError(f"ground truth of image {stem}: {error}") from None
        _last_ground_truth = (path, content_hash, mask)
    return _last_ground_truth[2]


def read_pair(job: tuple[str, str, str, str]) -> tuple[np.ndarray, np.ndarray, str]:
    """(map, ground truth, image id) of one (method, image) pair: ``job`` is (image id, ground-truth path and
    hash, map path)."""
    stem, gt_path, gt_hash, pred_path = job
    gt = ground_truth_of_pair(stem, gt_path, gt_hash)
    return read_prediction(Path(pred_path), gt.shape), gt, stem


def scoring_worker():
    """The per-pair work, wherever it runs: ``compute((map, gt)) -> (scalars, histograms)`` (the curves' exact
    integer histograms, (2, 256) uint32: what the results store keeps, a quarter of the curves' bytes to send)."""
    prepare_scorer()  # pysodmetrics imported once per process, before the first pair

    def compute(pair) -> tuple[np.ndarray, np.ndarray]:
        prediction, gt, stem = pair
        try:
            scores = score_image(prediction, gt)
        except MetricError as error:
            raise MetricError(f"image {stem}: {error}") from None
        return scores.scalars, scores.histograms.astype(np.uint32)

    return compute


SCORING = Task("evaluate", read_pair, scoring_worker, unit="image-method pairs", batch_size=64,
               parallel_min=_PARALLEL_MIN_TASKS, count_cached=False)


def method_cache(workspace: Workspace, dataset_id: str, method: str) -> ParquetRowCache:
    """One method's stored per-image values and curves (``results/<dataset>/<method>.parquet``, see
    :mod:`samis.results_store`); an old ``<method>.npz`` cache is migrated on first use."""
    folder = workspace.results_dir(dataset_id)
    name = validate_name("method", method)
    return ParquetRowCache(folder / f"{name}{SUFFIX}", IMAGE_METRICS, CURVES, CACHE_VERSION, legacy=folder / f"{name}.npz")


def checked_methods(workspace: Workspace, dataset: Dataset, methods: list[str] | None) -> list[str]:
    """The methods to score (None: every method with stored maps).

    Raises:
        EvaluationError: no predictions at all, or a method without stored maps.
    """
    available = workspace.prediction_methods(dataset.id)
    methods = list(available if methods is None else methods)
    if not methods:
        raise EvaluationError(f"dataset {dataset.id!r} has no predictions yet; import some with "
                              f"'python -m samis predictions import {dataset.id} METHOD FOLDER'")
    for method in methods:
        validate_name("method", method)
        if method not in available:
            raise EvaluationError(f"dataset {dataset.id!r}: no predictions for method {method!r} "
                                  f"(available: {', '.join(available) or 'none'})")
    return methods


def maps_of_split(workspace: Workspace, dataset: Dataset, split: str, method: str, split_ids: list[str],
                  allow_missing: bool, files: StatPaths | None = None) -> tuple[dict[str, str], list[str]]:
    """A method's map files (path strings) of a split's images (in split order) and the images it has no map for
    (``files``: the method's folder listed with stats already, see :func:`samis.store.prediction_listings`).

    Raises:
        EvaluationError: maps are missing and ``allow_missing`` is False (names the first ten).
    """
    if files is None:
        files = prediction_paths(workspace, dataset.id, method, stats=True)
    missing = missing_maps(dataset, split, method, split_ids, allow_missing, files)
    return files.subset(split_ids), missing  # the maps with the stats of the scan that listed them


def missing_maps(dataset: Dataset, split: str, method: str, split_ids: list[str], allow_missing: bool,
                 files: dict[str, str]) -> list[str]:
    """The images of ``split_ids`` (in order) that ``files`` (a method's listed maps, see
    :func:`samis.store.prediction_paths`) has no map for.

    Raises:
        EvaluationError: some are missing and ``allow_missing`` is False (names the first ten).
    """
    missing = [] if files.keys() >= set(split_ids) else [stem for stem in split_ids if stem not in files]
    if missing and not allow_missing:
        shown = ", ".join(missing[:10]) + (f", … ({len(missing)} in all)" if len(missing) > 10 else "")
        raise EvaluationError(f"method {method!r} has no map for {len(missing)} of {len(split_ids)} images of "
                              f"{dataset.id}/{split}: {shown} (use --allow-missing to score the rest)")
    return missing


def split_samples(workspace: Workspace, dataset: Dataset, split: str) -> list[Sample]:
    """The split's samples.

    Raises:
        EvaluationError: the split has no images.
    """
    samples = get_split(workspace, dataset, split)
    if not samples:
        raise EvaluationError(f"dataset {dataset.id!r}: split {split!r} has no images")
    return samples


# ---- the public entry point ----------------------------------------------------------------------
def evaluate(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None, split: str = "all",
             allow_missing: bool = False, workers: int | None = None,
             progress: ProgressCallback | None = None, engine: EngineSpec | None = None) -> EvaluationResult:
    """Score methods on a dataset split.

    Args:
        workspace: where predictions and the results cache live.
        dataset: a loaded dataset (:func:`samis.datasets.load_dataset`).
        methods: method names; None = every method with stored predictions for the dataset.
        split: split name (``all``, ``train``, ``test``, …).
        allow_missing: score methods on the images they have instead of refusing.
        workers: local processes (default: every core, at most 8).
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage ``evaluate``, unit
            image-method pairs) at the start and as pairs are scored; only pairs not cached count.
        engine: where the scoring runs (default local: a process pool here); with Ray this process reads
            the maps and writes the cache, the workers only score. The results are the same.

    Returns:
        EvaluationResult with per-image values and dataset scores for each method.

    Raises:
        EvaluationError: unknown method, no predictions, missing maps (without allow_missing),
            or a map of the wrong size.
    """
    engine = check_engine(engine)  # an unreachable cluster is refused before anything is written
    samples = split_samples(workspace, dataset, split)
    methods = checked_methods(workspace, dataset, methods)
    return on_one_generation(workspace, dataset.id, methods, lambda: _evaluate_once(
        workspace, dataset, (split, samples), methods, allow_missing,
        dict(workers=workers, progress=progress, engine=engine)))


def _evaluate_once(workspace: Workspace, dataset: Dataset, split_and_samples: tuple[str, list[Sample]], methods: list[str],
                   allow_missing: bool, run_options: dict) -> tuple[EvaluationResult, PairStore, list]:
    """One pass of :func:`evaluate` on ``split_and_samples`` (the split's name and samples): (the result, its store,
    the units computed now)."""
    split, samples = split_and_samples
    (store, maps), _, computed = fill_store(workspace, dataset, split_and_samples, methods, allow_missing, run_options)
    method_results = {}
    for method in methods:
        present, missing = maps[method]
        stems = list(present)
        cache = store.caches[method]
        method_results[method] = MethodResult(method, stems, cache.rows_for(stems, curves=False)["scalars"],
                                              cache.curve_rows(stems), missing)
    result = EvaluationResult(dataset.id, split, method_results, {s.id: s.cls for s in samples}, computed=len(computed))
    return result, store, computed


def method_groups(methods: list[str], images: int, rows: int | None = None) -> list[list[str]]:
    """``methods`` in runs of at most ``rows`` (default :data:`ROWS_IN_MEMORY`) (image, method) rows, at least one
    method each: a run holds its group's new curves in memory until they are written."""
    per_group = max(1, (rows or ROWS_IN_MEMORY) // max(1, images))
    return [methods[i:i + per_group] for i in range(0, len(methods), per_group)]


def fill_store(workspace: Workspace, dataset: Dataset, split_and_samples: tuple[str, list[Sample]], methods: list[str],
               allow_missing: bool, run_options: dict) -> tuple[tuple[PairStore, dict], PairStore, list]:
    """Score what the store lacks for ``split_and_samples``: ((the store, each method's (maps, missing ids)), the
    store, the units computed now), the shape :func:`on_one_generation` runs. Reads no curve from the store.

    Methods are scored a group at a time (:func:`method_groups`): each group's new rows are written before the
    next group starts, so memory is bounded whatever the number of images; within a group, each ground truth
    is read once for all of the group's methods.
    """
    split, samples = split_and_samples
    split_ids = [s.id for s in samples]
    versions = {method: trust_token(workspace, dataset, method) for method in methods}  # before the maps are listed
    # many maps: their folders are listed and stat-ed by processes side by side (a warm run is mostly stat calls)
    many = len(split_ids) * len(methods) >= PARALLEL_LISTING_MIN
    listings = prediction_listings(workspace, dataset.id, methods, (run_options.get("workers") or default_workers())
                                   if many else 1)
    maps = {method: maps_of_split(workspace, dataset, split, method, split_ids, allow_missing, listings[method])
            for method in methods}
    gt_paths = {s.id: s.gt_path for s in samples}
    gt_keys, save_gt_index = ground_truth_keys(workspace.results_dir(dataset.id), gt_paths)
    store = PairStore({method: method_cache(workspace, dataset.id, method) for method in methods},
                      lambda result: {"scalars": result[0], "histograms": result[1]})
    computed, groups, before = [], method_groups(methods, len(split_ids)), 0
    for position, group in enumerate(groups):
        units = store.plan_images({method: maps[method][0] for method in group}, gt_keys, split_ids,
                                  lambda stem, path: (stem, str(gt_paths[stem]), gt_keys[stem], str(path)))

        def checked(group=group) -> None:  # every unit is stored: record the token, written by the run's last flush
            for method in group:
                cache = store.caches[method]
                if set(cache.images()) <= set(maps[method][0]):  # every stored row was checked in this pass
                    cache.set_generation(versions[method])  # (an import since the token was read: another token)

        progress = run_options.get("progress")
        if len(groups) > 1:  # one count over every group
            progress = JoinedProgress(progress, before, len(groups) - position)
        outcome = run_task(SCORING, units, _OnceComplete(store, units, checked), **{**run_options, "progress": progress})
        computed += outcome.computed
        before += getattr(progress, "total", 0)
    save_gt_index()
    return (store, maps), store, computed


class _OnceComplete:
    """A :class:`samis.runner.UnitStore` over ``store`` that calls ``complete()`` once every unit of ``units`` is
    stored (at once when all are), before the runner's last flush: a run that stops early never calls it."""

    def __init__(self, store: PairStore, units: list, complete: Callable[[], None]):
        self.store, self.complete = store, complete
        self.left = sum(1 for unit in units if not store.has(unit))
        if not self.left:
            complete()

    def has(self, unit) -> bool:
        return self.store.has(unit)

    def put(self, unit, result) -> None:
        self.store.put(unit, result)
        self.left -= 1
        if self.left == 0:
            self.complete()

    def flush(self) -> None:
        self.store.flush()


def trust_token(workspace: Workspace, dataset: Dataset, method: str) -> str:
    """The version of a method's maps and of the dataset a store's rows were checked against: the maps'
    generation (:func:`samis.store.method_generation`, new at every import) and the dataset's folder."""
    return f"{method_generation(workspace, dataset.id, method)}|{dataset.root}"


def evaluate_trusting_generation(workspace: Workspace, dataset: Dataset, methods: list[str] | None = None,
                                 split: str = "all", allow_missing: bool = False,
                                 progress: ProgressCallback | None = None) -> EvaluationResult:
    """:func:`evaluate` for views (dashboard pages, ``report``): when every method's stored rows were checked
    against the maps the method holds now (the same :func:`trust_token`) and cover every image of the split,
    they are used as they are, without a look at any map or mask file; otherwise :func:`evaluate` runs.

    What it trusts: maps change only through samis (an import gives them a new generation) and the dataset's
    masks are not edited in place. ``evaluate`` itself checks every file's stat.
    """
    samples = split_samples(workspace, dataset, split)
    methods = checked_methods(workspace, dataset, methods)
    results = {}
    for method in methods:
        cache = method_cache(workspace, dataset.id, method)
        stems = [s.id for s in samples if s.id in cache.index]
        if cache.generation != trust_token(workspace, dataset, method) or len(stems) != len(samples):
            return evaluate(workspace, dataset, methods, split, allow_missing, progress=progress)
        results[method] = MethodResult(method, stems, cache.rows_for(stems, curves=False)["scalars"],
                                       cache.curve_rows(stems))
    return EvaluationResult(dataset.id, split, results, {s.id: s.cls for s in samples})


def on_one_generation(workspace: Workspace, dataset_id: str, methods: list[str], run_once: Callable[[], tuple]):
    """Run an evaluation on one version of each method's maps.

    Each method's generation (:func:`samis.store.method_generation`) is read before ``run_once`` lists its
    maps and again after the run. When an import (or another write of a manifest) replaced a method's maps
    in between, some maps were read from the old version and some from the new: the results computed in that
    pass are forgotten for the replaced methods (their cache rows might pair an old key with new content) and
    the evaluation runs once more, on the new version. A second replacement is refused. A pass that fails
    (a map the replacement removed) while a method was replaced runs again too; results it computed were not
    saved (the store saves at the end of a run, or every 30 s of a long one: those few rows keep an old key
    with the new content until that map changes again).

    Args:
        run_once: one pass: returns (result, the :class:`samis.result_cache.PairStore` it filled, the units
            it computed).

    Raises:
        EvaluationError: the maps of a method were replaced during both passes (one line naming the method).
    """
    changed: list[str] = []
    for _ in range(2):
        before = {method: method_generation(workspace, dataset_id, method) for method in methods}
        try:
            result, store, computed = run_once()
        except SamisError:
            # a map the replacement removed (or resized) fails its read: the answer is the next pass's
            changed = [m for m in methods if method_generation(workspace, dataset_id, m) != before[m]]
            if not changed:
                raise
            continue
        changed = [m for m in methods if method_generation(workspace, dataset_id, m) != before[m]]
        if not changed:
            return result
        store.forget([unit for unit in computed if unit.group in changed])
    raise EvaluationError(f"the maps of method {changed[0]!r} of dataset {dataset_id!r} were replaced twice while "
                          "they were evaluated (an import or a run writing them); evaluate again once it has finished")


def cached_image_scores(workspace: Workspace, dataset_id: str, method: str, sample: Sample,
                        map_path: Path) -> dict[str, float] | None:
    """One image's per-image metrics from the evaluation cache, if they are there and still current.

    Current means the map and the ground truth have the content they were scored with (their hashes
    match the cache's). Nothing is written; None when the image has to be scored.
    """
    cache = method_cache(workspace, dataset_id, method)
    stored = cache.lookup(sample.id)
    if stored is None or stored != (file_hash(map_path), file_hash(sample.gt_path)):
        return None
    scalars = cache.rows_for([sample.id], curves=False)["scalars"]
    return {name: float(value) for name, value in zip(IMAGE_METRICS, scalars[0])}
