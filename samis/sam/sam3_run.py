"""SAM 3 over a dataset on the runner: instances per image (cached, resumable, any engine), then one map each.

Stage 1 (:func:`run_task`): each image's instances — every vocabulary term's (text), the image's own class term's
(text-own, †), those like one ground-truth box (exemplar, †), or one per ground-truth component (box, point, †) —
go to ``workspace.sam_cache_dir(<method>, <dataset>)/<image>.npz`` (the mask cache format, the score in
``predicted_iou`` and each instance's prompt in the provenance). A file is reused when it was made from the same
model, weights, mode, prompts and threshold; files are written atomically, so a killed run resumes.

What each image's unit carries is all its computation sees: a deployable text unit holds the image path and the
vocabulary, never the ground-truth path or the class label. On Ray the driver reads and writes, workers compute, so
the files have the same bytes as a local run.

Stage 2 (:func:`write_sam3_maps`): instances → map (:func:`samis.sam.text_prompts.instances_to_map`) → the
prediction store, with a manifest naming the vocabulary and whether the method is an upper bound.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import DatasetError, SamError
from samis.imageio import read_mask, read_rgb
from samis.methods import sam_method_id
from samis.models import ModelSpec, get_model
from samis.result_cache import FileStore
from samis.runner import EngineSpec, Task, Unit, check_engine, run_task
from samis.runs import ProgressCallback, Report
from samis.sam.engine import load_sam, weights_seed
from samis.sam.masks import MaskSet, encode_mask_set, read_mask_set, read_resumable_provenance
from samis.sam.prompts import component_prompts
from samis.sam.text_prompts import Sam3Request, check_same_vocabulary, class_term, instances_to_map
from samis.store import read_manifest, write_manifest, write_prediction
from samis.workspace import Workspace


@dataclass
class Sam3Report(Report):
    """What a SAM 3 run did."""

    dataset: str
    method: str
    split: str
    total: int
    computed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: float = 0.0
    instances: int = 0
    upper_bound: bool = False
    cache_dir: Path | None = None

    def summary(self) -> str:
        bound = "  [upper bound: uses the label or ground truth]" if self.upper_bound else ""
        return (f"wrote {self.method} on {self.dataset} ({self.split}): {self.total} maps, {len(self.computed)} images "
                f"computed, {len(self.cached)} cached, {self.instances} instances kept{bound}")


def sam3_method_id(model: ModelSpec, request: Sam3Request) -> str:
    """``<label>+<how>``: ``sam3-tiny-random+text-1a2b3c4d``, ``sam3+exemplar`` …"""
    return f"{sam_method_id(model.key)}+{request.how()}"


def _prompt_of(sample: Sample, request: Sam3Request):
    """What one image's unit carries: the terms (text; the class's term for text-own) or the ground-truth path."""
    if request.mode == "text":
        return request.vocabulary  # every term, the same for every image: nothing of this image
    if request.mode == "text-own":
        return (class_term(sample.cls),)  # the image's label (†)
    return str(sample.gt_path)  # exemplar, box, point (†)


def read_sam3_input(job: tuple):
    """(image, prompt): the image, and the terms or the ground-truth mask (the prompt modes that use it)."""
    image_path, mode, prompt = job
    image = read_rgb(image_path)
    if mode in ("text", "text-own"):
        return image, prompt
    try:
        gt = read_mask(prompt)[0]
    except (OSError, DatasetError) as error:
        raise SamError(f"{mode} prompts come from the ground truth, but {prompt} cannot be read ({error})") from None
    return image, gt


def _instance_set(found: list, shape: tuple[int, int]) -> tuple[MaskSet, list]:
    """A :class:`MaskSet` of (prompt, masks, scores, boxes XYXY) found for one image, and each instance's prompt."""
    if not found:
        return MaskSet.empty(shape), []
    masks = np.concatenate([m for _, m, _, _ in found]).astype(bool)
    scores = np.concatenate([s for _, _, s, _ in found]).astype(np.float32)
    boxes = np.concatenate([b for _, _, _, b in found]).reshape(-1, 4)
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    n = len(scores)
    full = np.tile(np.array([0, 0, shape[1], shape[0]], np.int64), (n, 1))
    prompts = [prompt for prompt, m, _, _ in found for _ in range(len(m))]
    return MaskSet(masks, scores, np.zeros(n, np.float32), masks.reshape(n, -1).sum(1).astype(np.int64),
                   np.round(xywh).astype(np.int64), np.zeros((n, 2)), full), prompts


def find_instances(predictor, image: np.ndarray, mode: str, prompt, threshold: float) -> tuple[MaskSet, list]:
    """SAM 3's instances in one image for one mode, those scoring below ``threshold`` dropped (concept prompts).

    Args:
        predictor: a :class:`samis.sam.sam3_backend.Sam3Predictor`.
        prompt: the terms (text, text-own) or the ground-truth mask (exemplar, box, point).
    """
    predictor.set_image(image)
    found = []
    if mode in ("text", "text-own"):
        for term in prompt:
            got = predictor.text(term)
            keep = got.scores >= threshold
            found.append((term, got.masks[keep], got.scores[keep], got.boxes[keep]))
        return _instance_set(found, image.shape[:2])
    boxes, points = component_prompts(prompt)
    if mode == "exemplar" and len(boxes):
        areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
        box = boxes[int(np.argmax(areas))]  # the largest component's box: one exemplar
        got = predictor.exemplar(box)
        keep = got.scores >= threshold
        found.append((f"exemplar box {[int(v) for v in box]}", got.masks[keep], got.scores[keep], got.boxes[keep]))
    elif mode in ("box", "point"):
        for box, point in zip(boxes, points):
            mask = predictor.instance(box=box) if mode == "box" else predictor.instance(point=point)
            where = box if mode == "box" else point
            ys, xs = np.nonzero(mask)
            bounds = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] if len(xs) else [0, 0, 0, 0]
            found.append((f"{mode} {[int(v) for v in where]}", mask[None], np.ones(1, np.float32),
                          np.array([bounds], np.float32)))
    return _instance_set(found, image.shape[:2])


def sam3_worker(model: ModelSpec, checkpoint: str | None, device: str, request: Sam3Request,
                checkpoint_md5: str | None):
    """The per-image work, wherever it runs: loads SAM 3 once; ``compute((image, prompt), base) -> file bytes``."""
    # the backend imports sam3 and torch: only in the process that computes
    from samis.sam.sam3_backend import Sam3Predictor

    loaded = load_sam(model, checkpoint, device)
    if loaded.checkpoint_md5 != checkpoint_md5:
        raise SamError(f"{checkpoint}: this worker's file has MD5 {loaded.checkpoint_md5}, the driver's "
                       f"{checkpoint_md5}; put the same checkpoint at this path on every machine")
    predictor = Sam3Predictor(loaded.model)
    provenance = loaded.provenance()

    def compute(payload):
        (image, prompt), base = payload
        with loaded.lock:
            found, prompts = find_instances(predictor, image, request.mode, prompt, request.threshold)
        record = {**base, **provenance, "image_size": list(image.shape[:2]), "n_masks": len(found),
                  "instance_prompts": prompts}
        return encode_mask_set(found, record)

    return compute


def _load_unit(job):
    inputs, base = job
    return read_sam3_input(inputs), base


def run_sam3_over_dataset(workspace: Workspace, dataset: Dataset, model: str | ModelSpec, request: Sam3Request, *,
                          split: str = "all", load: tuple[str | None, str] = (None, "auto"),
                          engine: EngineSpec | None = None, progress: ProgressCallback | None = None) -> Sam3Report:
    """Find SAM 3's instances in every image of a split (cached, resumable) and write the method's maps.

    Args:
        load: (checkpoint, device): the checkpoint file (None: the workspace's ``sam3.pt``; none for the test-size
            model) and ``auto``, ``cpu``, ``cuda[:N]``.
        engine: local (default) or Ray: the driver reads and writes, workers compute.

    Raises:
        SamError: a mode the model lacks, bad request values, a vocabulary other than the method's stored one,
            a checkpoint problem, unreadable ground truth in a mode that uses it (nothing half-written).
        DatasetError: the split has no images.
    """
    from samis.sam.run import checkpoint_or_workspace_file, hash_cache_file  # run imports the SAM engine: torch
    from samis.sam.checkpoints import check_checkpoint_file, checkpoint_md5  # (the same reason)

    checkpoint, device = load
    model = get_model(model)
    request = request.checked()
    model.check_mode("text" if request.mode == "text-own" else request.mode)
    method = sam3_method_id(model, request)
    check_same_vocabulary(read_manifest(workspace, dataset.id, method), request, method)
    engine_spec = check_engine(engine)
    samples = get_split(workspace, dataset, split)
    if not samples:
        raise DatasetError(f"dataset {dataset.id!r} has no images in split {split!r}; nothing for SAM 3 to do")
    md5 = None
    if model.random_weights:
        if checkpoint:
            raise SamError(f"--model {model.key} is a test-size model with random weights and takes no checkpoint "
                           f"(got {checkpoint}); drop --checkpoint or choose {', '.join(model.real_keys())}")
    else:
        checkpoint = checkpoint_or_workspace_file(workspace, model, checkpoint)
        md5 = checkpoint_md5(check_checkpoint_file(checkpoint, model), hash_cache_file(workspace))
    key = {"model": model.label, "checkpoint_md5": md5, "seed": weights_seed(model), "mode": request.mode,
           "threshold": float(request.threshold)}
    units = []
    for sample in samples:
        prompt = _prompt_of(sample, request)
        unit_key = {**key, "prompt": list(prompt) if isinstance(prompt, tuple) else _file_signature(prompt)}
        base = {**unit_key, "image": str(sample.image_path), "samis_version": __version__}
        units.append(Unit(sample.id, unit_key, ((str(sample.image_path), request.mode, prompt), base)))
    folder = workspace.sam_cache_dir(method, dataset.id)
    store = FileStore(folder, ".npz", lambda path, _keys=tuple(units[0].key): _key_of(path, _keys),
                      lambda unit, data: data)
    task = Task(f"{method} instances", _load_unit, sam3_worker, (model, checkpoint, device, request, md5),
                batch_size=4, in_process=True, uses_gpu=True)
    outcome = run_task(task, units, store, engine=engine_spec, progress=progress)
    kept = write_sam3_maps(workspace, dataset, method, request, samples, folder, split)
    return Sam3Report(dataset.id, method, split, len(samples), [u.id for u in outcome.computed],
                      [u.id for u in outcome.cached], outcome.seconds, kept, request.upper_bound, folder)


def _file_signature(path: str) -> dict:
    """A ground-truth file as a cache key: path, size and modification time (an edited mask is prompted again)."""
    try:
        stat = os.stat(path)
    except OSError:
        return {"path": path}  # unreadable: the unit's load names it
    return {"path": path, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _key_of(path: Path, keys: tuple) -> dict | None:
    provenance = read_resumable_provenance(path)
    return None if provenance is None else {k: provenance.get(k) for k in keys}


def write_sam3_maps(workspace: Workspace, dataset: Dataset, method: str, request: Sam3Request,
                    samples: list[Sample], folder: Path, split: str) -> int:
    """Instances → one map per image → the prediction store, then the manifest; returns the instances kept."""
    kept = 0
    provenance: dict = {}
    for sample in samples:
        found, provenance = read_mask_set(folder / f"{sample.id}.npz")
        combine = "union" if request.mode in ("box", "point") else request.combine
        saliency = instances_to_map(found.masks, found.predicted_iou, request.threshold, combine, found.shape)
        kept += int((found.predicted_iou >= request.threshold).sum())
        write_prediction(workspace, dataset.id, method, sample.id, saliency)
    run = {k: provenance.get(k) for k in ("model", "model_type", "checkpoint", "checkpoint_md5", "weights", "device",
                                          "package", "generator")}
    write_manifest(workspace, dataset.id, method, {
        "source": "sam3", "prompt": request.mode, "upper_bound": request.upper_bound, "uses": request.uses(),
        "vocabulary": list(request.vocabulary) if request.mode == "text" else None,
        "score_threshold": float(request.threshold), "combine": request.combine, "split": split,
        "images": len(samples), "instances": kept, **run, "samis_version": __version__,
    })
    return kept
