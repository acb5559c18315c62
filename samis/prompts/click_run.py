"""The clicks of a dataset as a runner task: per image, the simulated session of :mod:`samis.prompts.clicks`.

Cache: ``<workspace>/cache/clicks/<model label>/<dataset>/max<N>-<mask|nomask>/<image>.npz``, one file per image
with its content key (model, checkpoint MD5, random-weights seed, max clicks, mask input, the image's and the
ground truth's bytes), the clicks, the IoU after each and the masks (bit-packed). A file counts as done when its
key matches; the runner (:mod:`samis.runner`) skips those, so a killed run resumes, and runs locally (the model
loaded once, in this process) or on Ray workers (the driver reads and writes every file).

Images with an empty ground truth (defect-free) get a file that says so; they are skipped and counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samis.datasets import Dataset, Sample, get_split
from samis.errors import DatasetError, SamError
from samis.imageio import read_mask, read_rgb
from samis.models import ModelSpec, get_model
from samis.prompts.adapters import check_clickable, interactive_adapter
from samis.prompts.click_results import ClickResult, ImageClicks
from samis.prompts.clicks import ClickTrace, check_max_clicks, simulate
from samis.prompts.trace_file import key_of_file, read_trace_file, trace_bytes
from samis.result_cache import FileStore, file_hash
from samis.runner import EngineSpec, Task, Unit, check_engine, run_task
from samis.runs import ProgressCallback
from samis.sam.checkpoints import check_checkpoint_file, checkpoint_md5
from samis.sam.engine import load_sam, weights_seed
from samis.sam.run import checkpoint_or_workspace_file, hash_cache_file
from samis.workspace import Workspace

#: bump when the file layout changes (older files are computed again)
CLICK_CACHE_VERSION = 1


def clicks_cache_dir(workspace: Workspace, label: str, dataset_id: str, max_clicks: int, mask_input: bool) -> Path:
    """Where one model's click sessions on one dataset live, per max clicks and mask input."""
    return (workspace.root / "cache" / "clicks" / label / dataset_id
            / f"max{max_clicks}-{'mask' if mask_input else 'nomask'}")


def _nearest(mask: np.ndarray, shape) -> np.ndarray:
    rows = (np.arange(shape[0]) * mask.shape[0] // shape[0]).clip(0, mask.shape[0] - 1)
    cols = (np.arange(shape[1]) * mask.shape[1] // shape[1]).clip(0, mask.shape[1] - 1)
    return mask[rows][:, cols]


def read_click_input(job: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, bool ground truth at the image's size) of one unit; ``job`` is (image path, mask path)."""
    image_path, gt_path = job
    image = read_rgb(image_path)
    gt = read_mask(gt_path)[0]
    return image, gt if gt.shape == image.shape[:2] else _nearest(gt, image.shape[:2])


def session_of(adapter, image: np.ndarray, gt: np.ndarray, max_clicks: int, mask_input: bool) -> ClickTrace | None:
    """One image's clicks with an adapter (its image embedded once); None for an empty ground truth."""
    if not gt.any():
        return None
    adapter.embed(image)
    try:
        return simulate(gt, adapter.predict, max_clicks, mask_input)
    finally:
        adapter.reset()


def click_worker(model: ModelSpec, checkpoint: str | None, device: str, max_clicks: int, mask_input: bool,
                 md5: str | None):
    """Loads the model once; ``compute((image, gt)) -> trace or None`` (see :func:`session_of`).

    Raises:
        SamError: the model cannot load here, or this worker's checkpoint differs from the driver's.
    """
    loaded = load_sam(model, checkpoint, device)
    if loaded.checkpoint_md5 != md5:
        raise SamError(f"{checkpoint}: this worker's file has MD5 {loaded.checkpoint_md5}, the driver's {md5}; "
                       "put the same checkpoint at this path on every machine")
    adapter = interactive_adapter(loaded)

    def compute(payload):
        image, gt = payload
        with loaded.lock:
            return session_of(adapter, image, gt, max_clicks, mask_input)

    return compute


@dataclass
class ClickRun:
    """What to run: a model, how many clicks, with or without the mask input (and where the model runs)."""

    model: ModelSpec
    max_clicks: int = 20
    mask_input: bool = True
    checkpoint: str | None = None
    device: str = "auto"
    engine: EngineSpec | None = None


def check_click_run(workspace: Workspace, run: ClickRun) -> tuple[ClickRun, str | None]:
    """The run with its model and checkpoint resolved and checked, and the checkpoint's MD5; nothing is written.

    Raises:
        SamError: a model without point prompts, a bad --max-clicks, a missing or extra checkpoint.
    """
    model = get_model(run.model)
    check_clickable(model)
    max_clicks = check_max_clicks(run.max_clicks)
    checkpoint, md5 = run.checkpoint, None
    if model.random_weights and checkpoint:
        raise SamError(f"--model {model.key} is a test-size model with random weights and takes no checkpoint")
    if not model.random_weights:
        checkpoint = checkpoint_or_workspace_file(workspace, model, checkpoint)
        md5 = checkpoint_md5(check_checkpoint_file(checkpoint, model), hash_cache_file(workspace))
    engine = check_engine(run.engine)
    return ClickRun(model, max_clicks, bool(run.mask_input), checkpoint, run.device, engine), md5


def run_clicks(workspace: Workspace, dataset: Dataset, run: ClickRun, split: str = "all",
               progress: ProgressCallback | None = None, samples: list[Sample] | None = None,
               notify=None) -> ClickResult:
    """Simulate the clicks on every defect image of a split (cached images are read, not computed again).

    Returns:
        the :class:`~samis.prompts.click_results.ClickResult` (NoC, NoF, mIoU after k clicks, per image).

    Raises:
        SamError: see :func:`check_click_run`; DatasetError: the split has no images, or none with a defect.
    """
    run, md5 = check_click_run(workspace, run)
    samples = list(samples) if samples is not None else get_split(workspace, dataset, split)
    if not samples:
        raise DatasetError(f"dataset {dataset.id!r} has no images in split {split!r}")
    label = run.model.label
    base = {"version": CLICK_CACHE_VERSION, "model": label, "checkpoint_md5": md5, "seed": weights_seed(run.model),
            "max_clicks": run.max_clicks, "mask_input": run.mask_input}
    units = [Unit(s.id, {**base, "image": file_hash(s.image_path), "gt": file_hash(s.gt_path)},
                  (str(s.image_path), str(s.gt_path))) for s in samples]
    folder = clicks_cache_dir(workspace, label, dataset.id, run.max_clicks, run.mask_input)
    store = FileStore(folder, ".npz", key_of_file, lambda unit, trace: trace_bytes(unit.key, trace))
    task = Task(f"{label} clicks", read_click_input, click_worker,
                (run.model, run.checkpoint, run.device, run.max_clicks, run.mask_input, md5),
                batch_size=4, in_process=True, uses_gpu=True)
    started = time.perf_counter()
    outcome = run_task(task, units, store, engine=run.engine, progress=progress, notify=notify)
    images, skipped = [], []
    for sample in samples:
        stored = read_trace_file(folder / f"{sample.id}.npz")
        if stored is None:
            raise SamError(f"{folder / sample.id}.npz: the click file of image {sample.id} cannot be read back")
        if not stored["clicks"]:
            skipped.append(sample.id)
            continue
        images.append(ImageClicks(sample.id, sample.cls, stored["clicks"], stored["ious"]))
    if not images:
        raise DatasetError(f"{dataset.id} ({split}): no image has a defect in its ground truth; "
                           f"clicks need one ({len(skipped)} defect-free images skipped)")
    return ClickResult(dataset.id, split, label, run.max_clicks, run.mask_input, images, skipped,
                       random_weights=run.model.random_weights, computed=len(outcome.computed),
                       cached=len(outcome.cached), seconds=time.perf_counter() - started)
