"""Score methods on a dataset split, with a content-keyed cache of per-image results.

``evaluate(workspace, dataset, methods, split)`` scores every requested method on every image
of the split. Per-image values and curves are cached in ``results/<dataset>/<method>.npz``, keyed
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

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from samis.datasets import Dataset, Sample, get_split
from samis.engines import EngineSpec
from samis.errors import EvaluationError, MetricError
from samis.imageio import ImageReadError, read_mask, write_bytes_atomic
from samis.metrics import CURVES, DATASET_METRICS, IMAGE_METRICS, aggregate, prepare_scorer, score_image
from samis.recovery import move_aside
from samis.runs import ProgressCallback, ProgressTracker, Report, jsonable, map_jobs
from samis.store import prediction_files, read_prediction
from samis.workspace import Workspace, validate_name

# 2: ground truth read by samis.imageio.read_mask (0/1, 16-bit and coloured masks were read as
# empty before); the key hashes the mask file, not the rule, so results of version 1 are dropped
CACHE_VERSION = 2
_GT_INDEX = "_ground_truth_index.npz"
_PARALLEL_MIN_TASKS = 48


# ---- results -----------------------------------------------------------------------------------
@dataclass
class MethodResult:
    """One method's per-image values on a split (rows in split order, images without maps left out)."""

    method: str
    stems: list[str]
    scalars: np.ndarray  # (N, len(IMAGE_METRICS))
    curves: np.ndarray  # (N, len(CURVES), 256)
    missing: list[str] = field(default_factory=list)

    def scores(self, stems: list[str] | set[str] | None = None) -> dict:
        """Dataset scores over all images, or over the given subset of image ids."""
        if stems is None:
            return aggregate(self.scalars, self.curves, self.stems)
        wanted = set(stems)
        rows = [i for i, s in enumerate(self.stems) if s in wanted]
        return aggregate(self.scalars[rows], self.curves[rows], [self.stems[i] for i in rows])

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

    @property
    def scores(self) -> dict[str, dict]:
        return {name: result.scores() for name, result in self.methods.items()}

    def class_scores(self) -> dict[str, dict[str, dict]]:
        """``{class: {method: scores}}`` over the images of each defect class."""
        by_class: dict[str, list[str]] = {}
        for stem, cls in self.image_classes.items():
            by_class.setdefault(cls, []).append(stem)
        return {cls: {m: r.scores(stems) for m, r in self.methods.items()} for cls, stems in sorted(by_class.items())}

    def to_json_dict(self) -> dict:
        """The ``evaluate --format json`` document."""
        methods = {}
        for name, result in self.methods.items():
            scores = result.scores()
            methods[name] = {"n_images": scores["n_images"], **{m: scores[m] for m in DATASET_METRICS}}
        return {"dataset": self.dataset, "split": self.split, "methods": methods}

    def summary(self) -> str:
        return (f"{self.dataset} / split {self.split}: {len(self.methods)} methods on {len(self.image_classes)} "
                f"images, {self.computed} image-method pairs scored now, the rest from the cache")

    def as_dict(self) -> dict:
        """The ``evaluate --format json`` document plus the image count and the pairs scored now."""
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
        for name, result in self.methods.items():
            scores = result.scores()
            rows.append({"method": name, "n_images": scores["n_images"], "missing": len(result.missing),
                         **{m: scores[m] for m in DATASET_METRICS}})
        return pd.DataFrame(rows, columns=["method", "n_images", "missing", *DATASET_METRICS])


# ---- content keys ------------------------------------------------------------------------------
def _file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _stat_key(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _content_keys(paths: dict[str, Path], known: dict[str, tuple[tuple[int, int], str]]) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """Hash of each file; files whose (size, mtime) match ``known`` keep their known hash unread."""
    keys, stats = {}, {}
    for stem, path in paths.items():
        try:
            stat = _stat_key(path)
        except FileNotFoundError:
            raise EvaluationError(f"{path}: file not found (it disappeared during evaluation)") from None
        cached = known.get(stem)
        keys[stem] = cached[1] if cached and cached[0] == stat else _file_hash(path)
        stats[stem] = stat
    return keys, stats


# ---- cache files ---------------------------------------------------------------------------------
class _DamagedCache(Exception):
    """A cache file reads but does not hold what samis wrote (cut, foreign or hand-edited)."""


#: what each cache file must hold: array name -> (dtype kinds, shape with "n" for the row count)
_METHOD_CACHE_LAYOUT = {
    "stems": ("U", ("n",)), "pred_stat": ("iu", ("n", 2)), "pred_hash": ("U", ("n",)), "gt_hash": ("U", ("n",)),
    "scalars": ("f", ("n", len(IMAGE_METRICS))), "curves": ("f", ("n", len(CURVES), 256)),
}
_GT_INDEX_LAYOUT = {"stems": ("U", ("n",)), "stat": ("iu", ("n", 2)), "hash": ("U", ("n",))}


def _check_layout(data: dict, layout: dict) -> None:
    """Raise :class:`_DamagedCache` unless every array is there with the right kind and shape."""
    rows = None
    for name, (kinds, shape) in layout.items():
        if name not in data:
            raise _DamagedCache(f"no '{name}' array")
        array = data[name]
        if array.dtype.kind not in kinds or array.ndim != len(shape):
            raise _DamagedCache(f"'{name}' is {array.dtype} {array.shape}")
        rows = array.shape[0] if rows is None else rows
        expected = tuple(rows if size == "n" else size for size in shape)
        if array.shape != expected:
            raise _DamagedCache(f"'{name}' has shape {array.shape}, expected {expected}")
    if "stems" in layout and len(set(data["stems"].tolist())) != rows:
        raise _DamagedCache("an image id occurs twice")


def _load_npz(path: Path, layout: dict, version: int = CACHE_VERSION) -> dict | None:
    """A cache file's arrays, or None when it must be computed (again).

    A missing file or one of another cache version is simply recomputed; a file that cannot be read
    or does not match ``layout`` is moved aside (see :func:`samis.recovery.move_aside`) first, so it
    never blocks a command and nothing is lost.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if "version" not in data.files:
                raise _DamagedCache("no version")
            if int(data["version"]) != version:
                return None
            arrays = {k: data[k] for k in data.files}
        _check_layout(arrays, layout)
        return arrays
    except FileNotFoundError:
        return None
    except PermissionError:
        raise  # not damage: the CLI says which file cannot be read
    except (_DamagedCache, OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as error:
        move_aside(path, str(error) if isinstance(error, _DamagedCache) else error.__class__.__name__,
                   then="computed again")
        return None


def _save_npz(path: Path, version: int = CACHE_VERSION, **arrays) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, version=np.array(version), **arrays)
    write_bytes_atomic(path, buffer.getvalue())


class _MethodCache:
    """Cached per-image rows of one method, as arrays indexed by image id."""

    def __init__(self, data: dict | None):
        if data is None:
            data = {"stems": np.array([], dtype=str), "pred_stat": np.empty((0, 2), np.int64),
                    "pred_hash": np.array([], dtype=str), "gt_hash": np.array([], dtype=str),
                    "scalars": np.empty((0, len(IMAGE_METRICS))), "curves": np.empty((0, len(CURVES), 256))}
        self.stems: list[str] = data["stems"].tolist()
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = data["pred_stat"]
        self.pred_hash: list[str] = data["pred_hash"].tolist()
        self.gt_hash: list[str] = data["gt_hash"].tolist()
        self.scalars = data["scalars"]
        self.curves = data["curves"]
        self.dirty = False
        self._new: dict[str, tuple] = {}

    @classmethod
    def load(cls, path: Path) -> "_MethodCache":
        return cls(_load_npz(path, _METHOD_CACHE_LAYOUT))

    def known(self) -> dict[str, tuple[tuple[int, int], str]]:
        stats = self.pred_stat.tolist()
        return {stem: ((stats[i][0], stats[i][1]), self.pred_hash[i]) for i, stem in enumerate(self.stems)}

    def lookup(self, stem: str) -> tuple[str, str] | None:
        i = self.index.get(stem)
        return None if i is None else (self.pred_hash[i], self.gt_hash[i])

    def touch(self, stem: str, stat: tuple[int, int]) -> None:
        """Same content under a new file stat: remember the stat so the file is not hashed again."""
        self.pred_stat[self.index[stem]] = stat
        self.dirty = True

    def put(self, stem: str, stat, pred_hash: str, gt_hash: str, scalars: np.ndarray, curves: np.ndarray) -> None:
        self._new[stem] = (stat, pred_hash, gt_hash, scalars, curves)
        self.dirty = True

    def _merge(self) -> None:
        if not self._new:
            return
        keep = [i for i, stem in enumerate(self.stems) if stem not in self._new]
        new_stems = list(self._new)
        rows = [self._new[s] for s in new_stems]
        self.stems = [self.stems[i] for i in keep] + new_stems
        self.index = {stem: i for i, stem in enumerate(self.stems)}
        self.pred_stat = np.concatenate([self.pred_stat[keep], np.array([r[0] for r in rows], np.int64).reshape(-1, 2)])
        self.pred_hash = [self.pred_hash[i] for i in keep] + [r[1] for r in rows]
        self.gt_hash = [self.gt_hash[i] for i in keep] + [r[2] for r in rows]
        self.scalars = np.concatenate([self.scalars[keep], np.stack([r[3] for r in rows])])
        self.curves = np.concatenate([self.curves[keep], np.stack([r[4] for r in rows])])
        self._new = {}

    def rows_for(self, stems: list[str]) -> tuple[np.ndarray, np.ndarray]:
        self._merge()
        rows = [self.index[s] for s in stems]
        return self.scalars[rows], self.curves[rows]

    def save(self, path: Path) -> None:
        self._merge()
        _save_npz(path, stems=np.array(self.stems, dtype=str), pred_stat=self.pred_stat.astype(np.int64),
                  pred_hash=np.array(self.pred_hash, dtype=str), gt_hash=np.array(self.gt_hash, dtype=str),
                  scalars=self.scalars, curves=self.curves,
                  metric_names=np.array(IMAGE_METRICS), curve_names=np.array(CURVES))
        self.dirty = False


def _ground_truth_keys(workspace: Workspace, dataset: Dataset, samples: list[Sample]) -> tuple[dict[str, str], object]:
    """Content hash of each ground truth, and a function that saves the updated index (called on success)."""
    index_path = workspace.results_dir(dataset.id) / _GT_INDEX
    data = _load_npz(index_path, _GT_INDEX_LAYOUT)
    known = {}
    if data is not None:
        for i, stem in enumerate(data["stems"].tolist()):
            known[stem] = ((int(data["stat"][i, 0]), int(data["stat"][i, 1])), str(data["hash"][i]))
    paths = {s.id: s.gt_path for s in samples}
    keys, stats = _content_keys(paths, known)

    def save() -> None:
        if any(known.get(stem) != (stats[stem], keys[stem]) for stem in keys):
            merged = {**known, **{stem: (stats[stem], keys[stem]) for stem in keys}}
            stems = sorted(merged)
            _save_npz(index_path, stems=np.array(stems, dtype=str),
                      stat=np.array([merged[s][0] for s in stems], dtype=np.int64).reshape(-1, 2),
                      hash=np.array([merged[s][1] for s in stems], dtype=str))

    return keys, save


# ---- scoring work --------------------------------------------------------------------------------
def _read_image_group(stem: str, gt_path: str, predictions: list[tuple[str, str]]):
    """One image's ground truth (bool) and its methods' maps, read: ``(stem, gt, [(method, map), …])``."""
    try:
        gt = read_mask(gt_path)[0]  # bool; score_image gives pysodmetrics 0/255, read back at > 128
    except ImageReadError as error:
        raise EvaluationError(f"ground truth of image {stem}: {error}") from None
    return stem, gt, [(method, read_prediction(Path(pred_path), gt.shape)) for method, pred_path in predictions]


def score_read_group(loaded) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """The per-image work, wherever it runs: score one image's read maps → ``[(method, stem, scalars, curves)]``."""
    stem, gt, predictions = loaded
    out = []
    for method, pred in predictions:
        try:
            scores = score_image(pred, gt)
        except MetricError as error:
            raise MetricError(f"image {stem}: {error}") from None
        out.append((method, stem, scores.scalars, scores.curves))
    return out


def _score_group(group: list[tuple[str, str, list[tuple[str, str]]]]) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """Score one chunk of images: [(stem, gt_path, [(method, pred_path), …])] → rows."""
    out = []
    for stem, gt_path, predictions in group:
        out.extend(score_read_group(_read_image_group(stem, gt_path, predictions)))
    return out


def scoring_worker():
    """A Ray worker's compute function (see :func:`score_read_group`)."""
    prepare_scorer()
    return score_read_group


def _run_groups_on_ray(groups, spec: EngineSpec, tracker: ProgressTracker) -> list:
    """As :func:`_run_groups`, on Ray workers: this process reads the maps, the workers score them.

    Rows come back as workers finish; they are put back in the order of ``groups``, as a local run gives them.
    """
    from samis.engines.ray_engine import run_on_actors

    def started(*_) -> None:
        tracker.restart_clock()

    by_stem: dict[str, list] = {}
    items = [(group[0], group) for group in groups]
    for stem, rows in run_on_actors(spec, scoring_worker, (), items, lambda group: _read_image_group(*group),
                                    batch_size=32, on_ready=started):
        by_stem[stem] = rows
        tracker.advance(len(rows))
    return [row for group in groups for row in by_stem[group[0]]]


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _run_groups(groups, workers: int, tracker: ProgressTracker) -> list:
    """Score the groups (in a process pool when there are enough tasks), advancing per image-method pair."""
    parallel = workers > 1 and tracker.total >= _PARALLEL_MIN_TASKS
    size = max(1, min(32, len(groups) // (workers * 8) or 1)) if parallel else 8
    rows: list = []
    if parallel:
        prepare_scorer()  # forked workers inherit pysodmetrics instead of each importing it
    for part in map_jobs(_score_group, _chunks(groups, size), workers if parallel else 1):
        rows.extend(part)
        tracker.advance(len(part))
    return rows


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
        workers: processes to use (default: all cores).
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
    engine = (engine or EngineSpec()).checked()  # an unreachable cluster is refused before anything is written
    samples = get_split(workspace, dataset, split)
    if not samples:
        raise EvaluationError(f"dataset {dataset.id!r}: split {split!r} has no images")
    available = workspace.prediction_methods(dataset.id)
    if methods is None:
        methods = available
    if not methods:
        raise EvaluationError(
            f"dataset {dataset.id!r} has no predictions yet; import some with "
            f"'python -m samis predictions import {dataset.id} METHOD FOLDER'"
        )
    for method in methods:
        validate_name("method", method)
        if method not in available:
            raise EvaluationError(
                f"dataset {dataset.id!r}: no predictions for method {method!r} "
                f"(available: {', '.join(available) or 'none'})"
            )

    results_dir = workspace.results_dir(dataset.id)
    split_ids = [s.id for s in samples]
    files_of: dict[str, dict[str, Path]] = {}
    missing_of: dict[str, list[str]] = {}
    for method in methods:
        files = files_of[method] = prediction_files(workspace, dataset.id, method)
        missing = missing_of[method] = [stem for stem in split_ids if stem not in files]
        if missing and not allow_missing:
            shown = ", ".join(missing[:10]) + (f", … ({len(missing)} in all)" if len(missing) > 10 else "")
            raise EvaluationError(
                f"method {method!r} has no map for {len(missing)} of {len(split_ids)} images of "
                f"{dataset.id}/{split}: {shown} (use --allow-missing to score the rest)"
            )
    gt_keys, save_gt_index = _ground_truth_keys(workspace, dataset, samples)
    plan: dict[str, dict] = {}
    todo: dict[str, list[tuple[str, str]]] = {}
    for method in methods:
        files, missing = files_of[method], missing_of[method]
        present = {stem: files[stem] for stem in split_ids if stem in files}
        cache = _MethodCache.load(results_dir / f"{method}.npz")
        known = cache.known()
        pred_keys, pred_stats = _content_keys(present, known)
        for stem, path in present.items():
            cached = cache.lookup(stem)
            if cached is None or cached != (pred_keys[stem], gt_keys[stem]):
                todo.setdefault(stem, []).append((method, str(path)))
            elif known[stem][0] != pred_stats[stem]:
                cache.touch(stem, pred_stats[stem])
        plan[method] = {"cache": cache, "present": present, "missing": missing,
                        "pred_keys": pred_keys, "pred_stats": pred_stats}

    by_id = dataset.by_id()
    groups = [(stem, str(by_id[stem].gt_path), todo[stem]) for stem in split_ids if stem in todo]
    n_tasks = sum(len(g[2]) for g in groups)
    tracker = ProgressTracker(progress, n_tasks, "evaluate", unit="image-method pairs").start()
    if not groups:
        computed_rows = []
    elif engine.is_local:
        computed_rows = _run_groups(groups, workers or default_workers(), tracker)
    else:
        computed_rows = _run_groups_on_ray(groups, engine, tracker)
    for method, stem, scalars, curves in computed_rows:
        entry = plan[method]
        entry["cache"].put(stem, entry["pred_stats"][stem], entry["pred_keys"][stem], gt_keys[stem], scalars, curves)

    save_gt_index()
    method_results = {}
    for method in methods:
        entry = plan[method]
        cache: _MethodCache = entry["cache"]
        if cache.dirty:
            cache.save(results_dir / f"{method}.npz")
        stems = [stem for stem in split_ids if stem in entry["present"]]
        scalars, curves = cache.rows_for(stems)
        method_results[method] = MethodResult(method, stems, scalars, curves, entry["missing"])
    return EvaluationResult(dataset.id, split, method_results, {s.id: s.cls for s in samples}, computed=n_tasks)


def cached_image_scores(workspace: Workspace, dataset_id: str, method: str, sample: Sample,
                        map_path: Path) -> dict[str, float] | None:
    """One image's per-image metrics from the evaluation cache, if they are there and still current.

    Current means the map and the ground truth have the content they were scored with (their hashes
    match the cache's). Nothing is written; None when the image has to be scored.
    """
    cache = _MethodCache.load(workspace.results_dir(dataset_id) / f"{validate_name('method', method)}.npz")
    stored = cache.lookup(sample.id)
    if stored is None or stored != (_file_hash(map_path), _file_hash(sample.gt_path)):
        return None
    scalars, _ = cache.rows_for([sample.id])
    return {name: float(value) for name, value in zip(IMAGE_METRICS, scalars[0])}
