"""Run a built-in baseline over a dataset split and keep its maps in the prediction store.

Maps go to ``predictions/<dataset>/<baseline>/<stem>.png`` (8-bit, ground-truth size), one atomic
write per image, with a ``manifest.json`` that records the method, its citation, its settings,
the algorithm version and the splits computed. The manifest is written before the first map, so
a run that is killed resumes where it stopped: images already stored under the same settings are
skipped; maps made with other settings (an older algorithm version) are discarded and redone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from samis.baselines import ALGORITHM_VERSION, Baseline, get_baseline
from samis.datasets import Dataset, Sample, get_split, load_dataset
from samis.errors import StoreError
from samis.imageio import image_size, read_rgb
from samis.runner import EngineSpec, Task, Unit, UnitStore, check_engine, run_task
from samis.runs import ProgressCallback, Report
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


def read_image_and_size(job: tuple[str, str]) -> tuple[object, tuple[int, int]]:
    """(RGB image, ground-truth (H, W)) of one image: ``job`` is (image path, ground-truth path)."""
    image_path, gt_path = job
    return read_rgb(image_path), image_size(gt_path)


def baseline_worker(method: str):
    """The per-image work, wherever it runs: ``compute((image, gt_shape)) -> (map, seconds, resized)``."""
    get_baseline(method)  # an unknown name fails at start, not on the first image
    return lambda payload: baseline_map(method, *payload)


class _BaselineMaps(UnitStore):
    """The prediction store as the runner's store of a baseline's maps: a unit is done when its map is
    stored; the manifest says "computing" (``computing``) before the first map is written (on Ray: once workers
    run)."""

    def __init__(self, workspace: Workspace, dataset_id: str, method: str, stored: set[str], computing: dict):
        self.workspace, self.dataset_id, self.method, self.stored = workspace, dataset_id, method, stored
        self.computing: dict | None = computing
        self.compute_seconds = 0.0
        self.resized: set[str] = set()

    def has(self, unit: Unit) -> bool:
        return unit.id in self.stored

    def put(self, unit: Unit, result) -> None:
        if self.computing is not None:
            write_manifest(self.workspace, self.dataset_id, self.method, self.computing)
            self.computing = None
        saliency, seconds, was_resized = result
        write_prediction(self.workspace, self.dataset_id, self.method, unit.id, saliency)
        self.compute_seconds += seconds
        if was_resized:
            self.resized.add(unit.id)


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
    engine = check_engine(engine)  # an unreachable cluster is refused before anything is written
    baseline = get_baseline(method)
    if isinstance(dataset, str):
        dataset = load_dataset(workspace, dataset)
    samples: list[Sample] = get_split(workspace, dataset, split)
    provenance = _provenance(baseline)
    manifest = read_manifest(workspace, dataset.id, baseline.name)
    stored = prediction_files(workspace, dataset.id, baseline.name)
    if (stored or manifest) and manifest.get("source") != "baseline":
        raise StoreError(f"{workspace.method_dir(dataset.id, baseline.name)} holds maps that are not samis's "
                         f"{baseline.name!r} baseline (source: {manifest.get('source', 'unknown')}); move or delete "
                         "that folder first")
    splits_done: list[str] = []
    if manifest and not _reusable(manifest, provenance):
        # made by another version of the algorithm: those maps would mix two methods
        delete_method(workspace, dataset.id, baseline.name)
        stored = {}
    elif manifest:
        splits_done = list(manifest.get("splits", []))
    maps = _BaselineMaps(workspace, dataset.id, baseline.name, set(stored),
                         {**provenance, "status": f"computing split {split}", "splits": splits_done})
    task = Task(baseline.name, read_image_and_size, baseline_worker, (baseline.name,), parallel_min=PARALLEL_MIN_IMAGES)
    units = [Unit(s.id, job=(str(s.image_path), str(s.gt_path))) for s in samples]
    outcome = run_task(task, units, maps, engine=engine, workers=workers, progress=progress)
    resized = [unit.id for unit in outcome.computed if unit.id in maps.resized]
    run = BaselineRun(dataset.id, baseline.name, split, len(samples), len(outcome.computed), len(outcome.cached),
                      time.perf_counter() - started, maps.compute_seconds, resized)
    write_manifest(workspace, dataset.id, baseline.name,
                   {**provenance, "status": "complete", "splits": sorted(set(splits_done) | {split}),
                    "maps": len(prediction_files(workspace, dataset.id, baseline.name)), "last_run": run.as_dict(),
                    "dataset_root": str(Path(dataset.root))})
    return run
