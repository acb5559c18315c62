"""Box-prompted maps as a protocol: jittered ground-truth boxes (†) or boxes from another method's maps (deployable).

Method ids (:func:`samis.methods.box_method_id`): ``<model>+box:jitter=<P>:seed=<N>`` and ``<model>+box:from=<source>``.
Maps go to the prediction store like every method's (``predictions/<dataset>/<method>/<image>.png`` and a
``manifest.json`` written before the first map): a killed run resumes at the first image without a map; maps made
with another model, checkpoint or source version are discarded and made again. The work is a runner task (local,
the model loaded once here; or Ray workers).

A run from a prompt source reads the source's stored maps and the images, never a ground-truth file: its maps are
written at the source map's size (the store's, the ground truth's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import DatasetError, SamError
from samis.imageio import read_mask, read_rgb
from samis.methods import box_method_id, describe
from samis.models import ModelSpec, get_model
from samis.prompts.adapters import check_promptable, interactive_adapter
from samis.prompts.jitter import check_jitter, image_rng, jitter_boxes
from samis.prompts.source import read_source_boxes, source_maps
from samis.runner import EngineSpec, Task, Unit, check_engine, run_task
from samis.runs import ProgressCallback, Report
from samis.sam.checkpoints import check_checkpoint_file, checkpoint_md5
from samis.sam.engine import load_sam, weights_seed
from samis.sam.prompts import component_prompts
from samis.sam.run import checkpoint_or_workspace_file, hash_cache_file
from samis.store import delete_method, method_generation, prediction_files, read_manifest, resize_map, write_manifest, write_prediction
from samis.workspace import Workspace

#: the manifest's source of these maps (and the version of how they are made)
BOX_SOURCE = "sam-box-protocol"
BOX_VERSION = 1


@dataclass
class BoxRun:
    """One box-prompted method: a model with jittered ground-truth boxes (``jitter``, ``seed``) or ``source``'s boxes."""

    model: ModelSpec
    jitter: float | None = None
    seed: int = 0
    source: str | None = None
    checkpoint: str | None = None
    device: str = "auto"
    engine: EngineSpec | None = None


@dataclass
class BoxReport(Report):
    """What a box run wrote; ``empty`` names the images where the prompt source flagged no region (empty maps)."""

    method: str
    images: int
    computed: int
    cached: int
    upper_bound: bool
    empty: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        kind = "upper bound: boxes from the ground truth" if self.upper_bound else "no ground truth used"
        why = "no ground-truth region" if self.upper_bound else "the source flagged nothing"
        empty = f", {len(self.empty)} empty ({why})" if self.empty else ""
        return f"wrote {self.method}: {self.images} maps ({self.computed} computed, {self.cached} kept{empty})  [{kind}]"


def check_box_run(workspace: Workspace, run: BoxRun) -> tuple[BoxRun, str | None]:
    """The run checked (nothing is read or written): the model has box prompts, the jitter lies in [0, 100], a
    source is named or a jitter given (not both), the checkpoint is there; and the checkpoint's MD5.

    Raises:
        SamError: one line naming what is wrong.
    """
    model = get_model(run.model)
    check_promptable(model, "box", "--prompts box")
    if (run.jitter is None) == (run.source is None):
        raise SamError("--prompts box takes --box-jitter P (ground-truth boxes moved at random) or --prompt-source "
                       "METHOD (boxes of another method's maps), not both")
    jitter = None if run.jitter is None else check_jitter(run.jitter)
    checkpoint, md5 = run.checkpoint, None
    if model.random_weights and checkpoint:
        raise SamError(f"--model {model.key} is a test-size model with random weights and takes no checkpoint")
    if not model.random_weights:
        checkpoint = checkpoint_or_workspace_file(workspace, model, checkpoint)
        md5 = checkpoint_md5(check_checkpoint_file(checkpoint, model), hash_cache_file(workspace))
    return BoxRun(model, jitter, int(run.seed), run.source, checkpoint, run.device, check_engine(run.engine)), md5


def read_box_input(job: tuple) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(image, boxes, output shape) of one unit. ``job``: ``("gt", image, mask, image id, P, seed)`` or
    ``("source", image, source map)``."""
    image = read_rgb(job[1])
    if job[0] == "source":
        boxes, shape = read_source_boxes(job[2])
        return image, _scaled(boxes, shape, image.shape[:2]), shape
    _, _, gt_path, image_id, percent, seed = job
    gt = read_mask(gt_path)[0]
    boxes, _ = component_prompts(gt)
    boxes = jitter_boxes(boxes, percent, image_rng(seed, image_id), gt.shape)
    return image, _scaled(boxes, gt.shape, image.shape[:2]), gt.shape


def _scaled(boxes: np.ndarray, shape: tuple[int, int], image_shape: tuple[int, int]) -> np.ndarray:
    """Boxes on a map of ``shape`` as image pixels (the same boxes when the sizes agree)."""
    if tuple(shape) == tuple(image_shape):
        return boxes
    scale = np.array([image_shape[1] / shape[1], image_shape[0] / shape[0]] * 2)
    return boxes * scale


def box_worker(model: ModelSpec, checkpoint: str | None, device: str, md5: str | None):
    """Loads the model once; ``compute((image, boxes, shape)) -> (uint8 map, regions)``."""
    loaded = load_sam(model, checkpoint, device)
    if loaded.checkpoint_md5 != md5:
        raise SamError(f"{checkpoint}: this worker's file has MD5 {loaded.checkpoint_md5}, the driver's {md5}")
    adapter = interactive_adapter(loaded)

    def compute(payload):
        image, boxes, shape = payload
        if len(boxes) == 0:
            return np.zeros(shape, np.uint8), 0
        with loaded.lock:
            adapter.embed(image)
            try:
                mask = adapter.predict_boxes(boxes)
            finally:
                adapter.reset()
        saliency = mask.astype(np.uint8) * 255
        return (saliency if saliency.shape == tuple(shape) else resize_map(saliency, shape)), len(boxes)

    return compute


class _BoxMaps:
    """The prediction store as the runner's store: a unit is done when its map is stored."""

    def __init__(self, workspace: Workspace, dataset_id: str, method: str, stored: set[str], start):
        self.workspace, self.dataset_id, self.method, self.stored, self.start = workspace, dataset_id, method, stored, start
        self.empty: list[str] = []

    def has(self, unit: Unit) -> bool:
        return unit.id in self.stored

    def put(self, unit: Unit, result) -> None:
        if self.start is not None:
            self.start()
            self.start = None
        saliency, regions = result
        if regions == 0:
            self.empty.append(unit.id)
        write_prediction(self.workspace, self.dataset_id, self.method, unit.id, saliency)

    def flush(self) -> None:
        """Each map is written when it is put."""


def _provenance(workspace: Workspace, dataset_id: str, run: BoxRun, md5: str | None, method: str) -> dict:
    info = describe(method)
    return {"source": BOX_SOURCE, "version": BOX_VERSION, "prompt": "box", "model": run.model.label,
            "checkpoint_md5": md5, "weights_seed": weights_seed(run.model), "box_jitter": run.jitter,
            "seed": run.seed if run.jitter is not None else None, "prompt_source": run.source,
            "prompt_source_generation": (method_generation(workspace, dataset_id, run.source) if run.source else None),
            "upper_bound": info.uses_ground_truth}


def run_box_prompts(workspace: Workspace, dataset: Dataset, run: BoxRun, split: str = "all",
                    progress: ProgressCallback | None = None, samples: list[Sample] | None = None) -> BoxReport:
    """Write the maps of one box-prompted method over a split (see the module docstring).

    Raises:
        SamError: see :func:`check_box_run`; a prompt source without maps of these images.
        DatasetError: the split has no images.
    """
    run, md5 = check_box_run(workspace, run)
    samples = list(samples) if samples is not None else get_split(workspace, dataset, split)
    if not samples:
        raise DatasetError(f"dataset {dataset.id!r} has no images in split {split!r}")
    if run.source is not None:
        maps = source_maps(workspace, dataset.id, run.source, [s.id for s in samples])
        method = box_method_id(run.model, source=run.source)
        jobs = {s.id: ("source", str(s.image_path), str(maps[s.id])) for s in samples}
    else:
        method = box_method_id(run.model, jitter=run.jitter, seed=run.seed)
        jobs = {s.id: ("gt", str(s.image_path), str(s.gt_path), s.id, run.jitter, run.seed) for s in samples}
    provenance = _provenance(workspace, dataset.id, run, md5, method)
    manifest = read_manifest(workspace, dataset.id, method)
    stored = set(prediction_files(workspace, dataset.id, method))
    if (stored or manifest) and {k: manifest.get(k) for k in provenance} != provenance:
        delete_method(workspace, dataset.id, method)  # made otherwise: two versions must not mix
        stored = set()
    done_before = manifest.get("images", []) if stored else []
    empty_before = [i for i in manifest.get("empty_prompt_images", []) if i in stored] if stored else []

    def start() -> None:
        write_manifest(workspace, dataset.id, method, {**provenance, "status": "computing", "images": done_before})

    store = _BoxMaps(workspace, dataset.id, method, stored, start)
    task = Task(f"{method} maps", read_box_input, box_worker, (run.model, run.checkpoint, run.device, md5),
                batch_size=4, in_process=True, uses_gpu=True)
    started = time.perf_counter()
    outcome = run_task(task, [Unit(s.id, None, jobs[s.id]) for s in samples], store, engine=run.engine,
                       progress=progress)
    images = sorted(set(done_before) | {s.id for s in samples})
    write_manifest(workspace, dataset.id, method, {**provenance, "status": "done", "images": images, "split": split,
                                                   "empty_prompt_images": sorted({*empty_before, *store.empty}), "samis_version": __version__})
    empty = [s.id for s in samples if s.id in set(empty_before) | set(store.empty)]
    return BoxReport(method, len(samples), len(outcome.computed), len(outcome.cached), provenance["upper_bound"],
                     empty, time.perf_counter() - started)
