"""Run a built-in baseline over a dataset split and keep its maps in the prediction store.

Maps go to ``predictions/<dataset>/<baseline>/<stem>.png`` (8-bit, ground-truth size), one atomic
write per image, with a ``manifest.json`` that records the method, its citation, its settings,
the algorithm version and the splits computed. The manifest is written before the first map, so
a run that is killed resumes where it stopped: images already stored under the same settings are
skipped; maps made with other settings (an older algorithm version) are discarded and redone.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from samis.baselines import ALGORITHM_VERSION, Baseline, get_baseline
from samis.datasets import Dataset, Sample, get_split, load_dataset
from samis.engines import EngineSpec
from samis.errors import StoreError
from samis.imageio import image_size, read_rgb
from samis.runs import ProgressCallback, ProgressTracker, Report, map_jobs
from samis.store import delete_method, prediction_files, read_manifest, resize_map, to_uint8_map, write_manifest, write_prediction
from samis.workspace import Workspace

#: below this many images a process pool costs more than it saves
PARALLEL_MIN_IMAGES = 24


@dataclass
class BaselineRun(Report):
    """What one :func:`compute_baseline` call did."""

    dataset: str
    method: str
    split: str
    n_images: int
    computed: int
    skipped: int
    seconds: float  # wall time of the whole call
    compute_seconds: float  # time spent inside the baseline function, summed over images
    resized: list[str] = field(default_factory=list)  # ids whose mask differs in size from the image

    @property
    def ms_per_image(self) -> float | None:
        """Mean time of the baseline function per computed image (None when nothing was computed)."""
        return 1000.0 * self.compute_seconds / self.computed if self.computed else None

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "method": self.method, "split": self.split, "n_images": self.n_images,
                "computed": self.computed, "skipped": self.skipped, "seconds": round(self.seconds, 3),
                "ms_per_image": None if self.ms_per_image is None else round(self.ms_per_image, 2),
                "resized_to_ground_truth": len(self.resized)}

    def summary(self) -> str:
        speed = f", {self.ms_per_image:.1f} ms per image" if self.computed else ""
        resized = (f"; {len(self.resized)} maps resized to their ground truth's size (e.g. {', '.join(self.resized[:3])})"
                   if self.resized else "")
        return (f"{self.method:<5} on {self.dataset}/{self.split}: {self.computed} computed, {self.skipped} already "
                f"stored, {self.n_images} images, {self.seconds:.1f} s{speed}{resized}")


def _provenance(baseline: Baseline) -> dict:
    """Manifest fields that decide whether stored maps can be reused."""
    return {"source": "baseline", "baseline": baseline.name, "title": baseline.title,
            "reference": baseline.reference, "settings": baseline.settings,
            "algorithm_version": ALGORITHM_VERSION, "input": "samis.imageio.read_rgb (gray images use one channel)"}


def _reusable(manifest: dict, provenance: dict) -> bool:
    keys = ("source", "baseline", "settings", "algorithm_version")
    return all(manifest.get(k) == provenance[k] for k in keys)


def baseline_map(method: str, image, gt_shape: tuple[int, int]) -> tuple[object, float, bool]:
    """The per-image work, wherever it runs: one baseline's 8-bit map at ground-truth size.

    Returns:
        (the uint8 map, seconds spent in the baseline function, whether the map was resized to a
        ground truth of another size than the image).
    """
    baseline = get_baseline(method)
    started = time.perf_counter()
    saliency = baseline.function(image)
    elapsed = time.perf_counter() - started
    saliency = to_uint8_map(saliency)
    if saliency.shape != gt_shape:
        # maps are stored at ground-truth size, like imported ones
        saliency = resize_map(saliency, gt_shape)
    return saliency, elapsed, saliency.shape != image.shape[:2]


def _compute_one(job: tuple[str, str, str, str, str, str]) -> tuple[float, bool]:
    """Compute and store one map; returns the seconds spent in the baseline function, and whether
    the map was resized to a ground truth of another size than the image."""
    workspace_root, dataset_id, method, stem, image_path, gt_path = job
    saliency, elapsed, resized = baseline_map(method, read_rgb(image_path), image_size(gt_path))
    write_prediction(Workspace(workspace_root), dataset_id, method, stem, saliency)
    return elapsed, resized


def baseline_worker(method: str):
    """A Ray worker's compute function: ``compute((image, gt_shape)) -> (map, seconds, resized)``."""
    get_baseline(method)  # an unknown name fails at start, not on the first image
    return lambda payload: baseline_map(method, *payload)


def _compute_on_ray(jobs: list, spec: EngineSpec, tracker: ProgressTracker,
                    before_first=lambda: None) -> tuple[float, list[str]]:
    """As :func:`_compute_many`, on Ray workers: this process reads the images and writes the maps
    (``before_first()`` once the workers have started, before any map is written)."""
    from samis.engines.ray_engine import run_on_actors

    compute_seconds = 0.0
    resized = []
    items = [(job[3], job) for job in jobs]
    method = jobs[0][2]

    def load(job):
        return read_rgb(job[4]), image_size(job[5])

    def started(*_) -> None:
        before_first()
        tracker.restart_clock()  # starting workers is not work on images

    job_of = dict(items)
    results = run_on_actors(spec, baseline_worker, (method,), items, load, batch_size=16, on_ready=started)
    with contextlib.closing(results):  # Ctrl-C between two writes still stops the workers at once
        for stem, (saliency, seconds, was_resized) in results:
            workspace_root, dataset_id = job_of[stem][:2]
            write_prediction(Workspace(workspace_root), dataset_id, method, stem, saliency)
            compute_seconds += seconds
            if was_resized:
                resized.append(stem)
            tracker.advance()
    order = {job[3]: i for i, job in enumerate(jobs)}
    return compute_seconds, sorted(resized, key=order.__getitem__)


def _compute_many(jobs: list, workers: int, tracker: ProgressTracker) -> tuple[float, list[str]]:
    """Compute every job (in a process pool when there are enough).

    Returns:
        the summed compute seconds, and the ids whose map was resized to the ground truth's size.
    """
    compute_seconds = 0.0
    resized = []
    workers = workers if len(jobs) >= PARALLEL_MIN_IMAGES else 1
    chunk = max(1, min(16, len(jobs) // (workers * 4)))
    for job, (seconds, was_resized) in zip(jobs, map_jobs(_compute_one, jobs, workers, chunksize=chunk)):
        compute_seconds += seconds
        if was_resized:
            resized.append(job[3])
        tracker.advance()
    return compute_seconds, resized


def default_workers() -> int:
    """Processes for a baseline run: every core, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def compute_baseline(workspace: Workspace, dataset: Dataset | str, method: str, split: str = "all",
                     progress: ProgressCallback | None = None, workers: int | None = None,
                     engine: EngineSpec | None = None) -> BaselineRun:
    """Compute a built-in baseline on every image of a split that does not have its map yet.

    Args:
        workspace: the workspace holding the dataset registry and the prediction store.
        dataset: a loaded dataset or the id of a registered one.
        method: a baseline name (``ft``, ``sr``, ``hc``, ``mbd``, ``otsu``).
        split: split name (``all``, ``train``, ``test``, …).
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage: the baseline's
            name) at the start and after each image; stored images count as done, not toward the rate.
        workers: processes (default: all cores, at most 8); small runs stay in this process. With Ray,
            the engine spec's workers count instead.
        engine: where the maps are computed (default local: a process pool here); with Ray this process
            reads the images and writes the maps, the workers only compute.

    Returns:
        A :class:`BaselineRun` with counts and timings.

    Raises:
        SamisError: unknown baseline; WorkspaceError / DatasetError: unknown dataset or split;
        StoreError: the method's folder holds maps that are not this baseline's (e.g. an import
        under the same name); ImageReadError: an image cannot be read.
    """
    started = time.perf_counter()
    engine = (engine or EngineSpec()).checked()  # an unreachable cluster is refused before anything is written
    baseline = get_baseline(method)
    if isinstance(dataset, str):
        dataset = load_dataset(workspace, dataset)
    samples: list[Sample] = get_split(workspace, dataset, split)
    provenance = _provenance(baseline)
    folder = workspace.method_dir(dataset.id, baseline.name)

    manifest = read_manifest(workspace, dataset.id, baseline.name)
    stored = prediction_files(workspace, dataset.id, baseline.name)
    if (stored or manifest) and manifest.get("source") != "baseline":
        raise StoreError(
            f"{folder} holds maps that are not samis's {baseline.name!r} baseline "
            f"(source: {manifest.get('source', 'unknown')}); move or delete that folder first"
        )
    splits_done: list[str] = []
    if manifest and not _reusable(manifest, provenance):
        # made by another version of the algorithm: those maps would mix two methods
        delete_method(workspace, dataset.id, baseline.name)
        stored = {}
    elif manifest:
        splits_done = list(manifest.get("splits", []))

    wanted = [s for s in samples if s.id not in stored]
    def mark_computing() -> None:
        write_manifest(workspace, dataset.id, baseline.name,
                       {**provenance, "status": f"computing split {split}", "splits": splits_done})

    jobs = [(str(workspace.root), dataset.id, baseline.name, s.id, str(s.image_path), str(s.gt_path)) for s in wanted]
    skipped = len(samples) - len(wanted)
    tracker = ProgressTracker(progress, len(samples), baseline.name, done=skipped).start()
    if engine.is_local or not jobs:
        mark_computing()
        compute_seconds, resized = _compute_many(jobs, workers or default_workers(), tracker)
    else:  # the manifest waits for the workers: a cluster that never answers leaves the store as it was
        compute_seconds, resized = _compute_on_ray(jobs, engine, tracker, mark_computing)

    splits_done = sorted(set(splits_done) | {split})
    n_stored = len(prediction_files(workspace, dataset.id, baseline.name))
    run = BaselineRun(dataset.id, baseline.name, split, len(samples), len(wanted), skipped,
                      time.perf_counter() - started, compute_seconds, resized)
    write_manifest(workspace, dataset.id, baseline.name,
                   {**provenance, "status": "complete", "splits": splits_done, "maps": n_stored,
                    "last_run": run.as_dict(), "dataset_root": str(Path(dataset.root))})
    return run
