"""Run SAM's automatic mask generator over a dataset into the mask cache, resumably.

Cache: ``workspace.sam_cache_dir(<model label>, <dataset>)/<stem>.npz`` (see :mod:`samis.sam.masks`).
An image is done when its file exists, reads, and was made by the same model (checkpoint MD5)
with the same mask-deciding parameters; a run starts again at the first image not done. Files are
written atomically, so killing a run at any point leaves only whole files (plus, at worst, a hidden
temp file that the next run removes).

Optional embedding cache: ``.../embeddings/<stem>.<crop>.npz`` holds the image-encoder output, so a
second run with other thresholds skips the encoder.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import DatasetError, SamError
from samis.imageio import read_rgb, write_bytes_atomic
from samis.file_hashes import md5_cache_file
from samis.methods import PROMPT_KINDS
from samis.result_cache import FileStore
from samis.runner import EngineSpec, Task, Unit, check_engine, run_task
from samis.runs import ProgressCallback, Report
from samis.models import ModelSpec, get_model
from samis.sam.checkpoints import check_checkpoint_file, checkpoint_md5 as md5_of
from samis.sam.params import AmgParams, as_model_params
from samis.sam.engine import SamEngine, load_sam, model_label, weights_seed
from samis.sam.masks import encode_mask_set, read_resumable_provenance
from samis.sam.prompts import run_prompted_over_dataset
from samis.sam.select_run import select_over_dataset
from samis.workspace import Workspace

@dataclass
class RunReport(Report):
    """What a run over a dataset did."""

    dataset: str
    model: str
    split: str
    total: int
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)
    cache_dir: Path | None = None

    derived = ("images_per_second",)

    @property
    def images_per_second(self) -> float:
        return len(self.computed) / self.seconds if self.seconds > 0 and self.computed else 0.0

    def summary(self) -> str:
        rate = f", {self.images_per_second:.2f} images/s" if self.computed else ""
        return (f"{self.model} on {self.dataset} ({self.split}): {len(self.computed)} images computed, "
                f"{len(self.skipped)} already cached, {self.total} in split{rate}; masks in {self.cache_dir}")


def hash_cache_file(workspace: Workspace) -> Path:
    """Where checkpoint MD5s are remembered (by path, size and mtime)."""
    return md5_cache_file(workspace)


def cache_key(model_type: str, checkpoint_md5: str | None, params: AmgParams) -> dict:
    """What must match for a cached mask file to count as done."""
    return {"model": model_label(model_type), "checkpoint_md5": checkpoint_md5,
            "seed": weights_seed(model_type), "params": params.result_key()}


def _embedding_tag(label: str, checkpoint_md5: str | None, params: AmgParams) -> str:
    """What a cached embedding must have been computed with (the model, its weights, the crops)."""
    return json.dumps({"model": label, "checkpoint_md5": checkpoint_md5,
                       "crop": [params.crop_n_layers, params.crop_overlap_ratio]}, sort_keys=True)


def embedding_bytes(features: torch.Tensor, input_size, tag: str) -> bytes:
    """One crop's image-encoder output as the ``.npz`` bytes of the embedding cache."""
    buffer = io.BytesIO()
    np.savez(buffer, features=features.float().cpu().numpy(), input_size=np.array(input_size), key=np.array(tag))
    return buffer.getvalue()


def embedding_from_bytes(data: bytes, tag: str):
    """(features, input_size) from embedding-cache bytes; None when damaged or computed otherwise."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            if str(arrays["key"]) != tag:
                return None
            return torch.from_numpy(arrays["features"].copy()), tuple(int(v) for v in arrays["input_size"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def _embedding_path(folder: Path, stem: str, crop_index: int) -> Path:
    return folder / f"{stem}.{crop_index}.npz"


def _embedding_callables(cached: dict[int, bytes], new: dict[int, bytes], tag: str):
    """(load, save) callables of the embedding cache for one image (see :meth:`SamEngine.generate`): ``load`` reads
    ``cached`` (the bytes the driver read, by crop), ``save`` puts the bytes of a computed one into ``new``."""

    def load(crop_index: int):
        return embedding_from_bytes(cached[crop_index], tag) if crop_index in cached else None

    def save(crop_index: int, features: torch.Tensor, input_size) -> None:
        new[crop_index] = embedding_bytes(features, input_size, tag)

    return load, save


def checkpoint_or_workspace_file(workspace: Workspace, model: str | ModelSpec, checkpoint: str | None,
                                 notify=None) -> str:
    """The checkpoint a run of a model with official weights uses: ``checkpoint`` when given, else the
    official file in the workspace's ``checkpoints/`` folder (where ``checkpoints download`` puts it).

    Raises:
        SamError: no checkpoint given and none in the workspace (says where it goes and how to get it).
    """
    if checkpoint:
        return checkpoint
    facts = get_model(model)
    path = workspace.checkpoints_dir / facts.checkpoint
    if not path.is_file():
        raise SamError(f"--model {facts.key} needs --checkpoint PATH (the official {facts.family_title} {facts.key} "
                       f"weights), or {facts.checkpoint} in {workspace.checkpoints_dir}: "
                       f"python -m samis checkpoints download {facts.key}")
    if notify is not None:
        notify(f"checkpoint {path} (the workspace's; --checkpoint names another)")
    return str(path)


def mask_file_bytes(engine: SamEngine, image: np.ndarray, base: dict, embeddings=None,
                    on_embedding=None) -> tuple[bytes, int]:
    """The per-image work of a run, wherever it runs: SAM's masks of one image as cache-file bytes.

    Args:
        engine: the loaded model and parameters.
        image: RGB uint8.
        base: provenance fields the driver knows (cache key, image path, samis version).
        embeddings, on_embedding: the optional embedding cache (see :meth:`SamEngine.generate`).

    Returns:
        (the ``.npz`` bytes, the number of masks). The bytes depend only on the image, the model, the
        parameters and ``base`` — no clock — so every engine writes the same file.
    """
    mask_set = engine.generate(image, embeddings=embeddings, on_embedding=on_embedding)
    provenance = {
        **base,
        **engine.loaded.provenance(),
        "params": engine.params.result_key(),
        "points_per_batch": engine.params.points_per_batch,
        "image_size": list(image.shape[:2]),
        "n_masks": len(mask_set),
    }
    return encode_mask_set(mask_set, provenance), len(mask_set)


def sam_worker(run: SamRun, checkpoint_md5: str | None, hash_cache: str | None = None, threads: int | None = None):
    """The per-image work, wherever it runs: loads ``run.model`` once; ``compute((image, base, embedding)) -> (bytes,
    notices, new embeddings)``. ``embedding`` is None (no embedding cache) or ``(tag, {crop: bytes})``, the
    cached embeddings the driver read; the embeddings computed instead come back as ``{crop: bytes}``.
    ``hash_cache``: the workspace's file of checkpoint MD5s (a local run; a Ray worker hashes the file itself).
    ``threads``: torch's CPU threads, the driver's (:func:`same_threads`), so a Ray worker (one thread by
    default) sums a convolution in the same order as a local run and writes the same bytes.

    Raises:
        SamError: the model cannot load here, or the checkpoint at this path differs from the driver's.
    """
    same_threads(threads)
    loaded = load_sam(run.model, run.checkpoint, run.device, Path(hash_cache) if hash_cache else None)
    if loaded.checkpoint_md5 != checkpoint_md5:
        raise SamError(f"{run.checkpoint}: this worker's file has MD5 {loaded.checkpoint_md5}, the driver's "
                       f"{checkpoint_md5}; put the same checkpoint at this path on every machine")
    notices: list[str] = []
    engine = SamEngine(loaded, run.params, dtype=run.dtype, notify=notices.append)

    def compute(payload):
        image, base, embedding = payload
        new: dict[int, bytes] = {}
        load = save = None
        if embedding is not None:  # (tag, cached bytes by crop): what the driver holds; new ones go back to it
            tag, cached = embedding
            load, save = _embedding_callables(cached, new, tag)
        data, _ = mask_file_bytes(engine, image, base, embeddings=load, on_embedding=save)
        told = notices[:]
        notices.clear()
        return data, told, new

    return compute


def same_threads(threads: int | None) -> None:
    """Run torch on ``threads`` CPU threads (None: as it is). A CPU kernel splits its sums by thread count
    (EfficientViT-SAM's convolutions: the last float32 bits of its predicted IoUs moved with it), so every worker
    of one run uses the driver's count."""
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def read_sam_input(job: tuple[str, dict, tuple[str, str, str] | None]):
    """What :func:`sam_worker`'s compute takes for one image: ``job`` is (image path, provenance base, the
    embedding cache's (folder, image id, tag) or None); the image's cached embeddings (``<id>.<crop>.npz``) are
    read as bytes, by crop (what a Ray worker is sent)."""
    image_path, base, embedding_cache = job
    if embedding_cache is None:
        return read_rgb(image_path), base, None
    folder, stem, tag = embedding_cache
    stored = {}
    for path in Path(folder).glob(f"{glob.escape(stem)}.*.npz"):
        index = path.name[len(stem) + 1:-len(".npz")]
        if index.isdigit():
            with contextlib.suppress(OSError):
                stored[int(index)] = path.read_bytes()
    return read_rgb(image_path), base, (tag, stored)


class _MaskFiles(FileStore):
    """The mask cache as the runner's store: writes each image's file and the embeddings computed with it."""

    def __init__(self, folder: Path, key: dict, embedding_folder: Path, tell):
        super().__init__(folder, ".npz", lambda path: _key_of(read_resumable_provenance(path), key),
                         lambda unit, data: data)
        self.embedding_folder, self.tell = embedding_folder, tell

    def put(self, unit: Unit, result) -> None:
        data, told, new = result
        for message in told:
            self.tell(message)
        for crop_index, embedding in sorted(new.items()):
            write_bytes_atomic(_embedding_path(self.embedding_folder, unit.id, crop_index), embedding)
        super().put(unit, data)


def _key_of(provenance: dict | None, key: dict) -> dict | None:
    """The fields of ``key`` as a cache file's provenance has them (None: no whole file)."""
    return None if provenance is None else {k: provenance.get(k) for k in key}


@dataclass(frozen=True)
class SamRun:
    """What a SAM run over a dataset computes, and how (see :func:`run_sam_over_dataset`).

    Attributes:
        model: ``tiny``, ``vit_h``, ``vit_l``, ``vit_b``; ``tiny-sam2``, ``hiera_t`` … ``hiera_l`` (SAM 2.1); a
            model spec or its key.
        params: generator parameters (default: the model family's; see :func:`samis.sam.params.as_model_params`).
        checkpoint, device, dtype: see :func:`samis.sam.engine.load_sam` and :class:`SamEngine`; no checkpoint:
            the workspace's official file (:func:`checkpoint_or_workspace_file`).
        cache_embeddings: also keep image embeddings so later runs with other thresholds skip the encoder
            (on Ray, the driver keeps them and sends them along).
        batch_size: images per call to a Ray worker.
    """

    model: str | ModelSpec
    params: AmgParams | None = None
    checkpoint: str | None = None
    device: str = "auto"
    dtype: str = "fp32"
    cache_embeddings: bool = False
    batch_size: int = 4


def run_sam_over_dataset(workspace: Workspace, dataset: Dataset, run: SamRun, split: str = "all", *,
                         samples: list[Sample] | None = None, engine: EngineSpec | None = None,
                         progress: ProgressCallback | None = None, notify=None) -> RunReport:
    """Generate and cache SAM's masks for every image of a split that is not cached yet.

    Args:
        run: the model, its parameters and how it runs (:class:`SamRun`).
        split: split name (see :func:`samis.datasets.split_names`).
        samples: run on these samples instead of the split.
        engine: where the masks are computed (default local, in this process); with Ray, this process
            reads the images and writes the cache files, workers only compute (see :mod:`samis.engines`).
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage ``<label> masks``) once
            at the start and after each image; cached images count as done, not toward the rate.
        notify: callable receiving one-line notices (out-of-memory retries, the Ray workers started).

    Returns:
        a :class:`RunReport`.

    Raises:
        DatasetError: the split has no images.
        SamError: checkpoint, device or image problems (the cache is left as it was).
        EngineError: the Ray cluster cannot be reached, or images were lost with their workers (named).
    """
    model = get_model(run.model)  # unknown model: one line before anything else
    engine = check_engine(engine)  # an unreachable cluster is refused before anything is written
    notices: list[str] = []

    def tell(message: str) -> None:
        notices.append(message)
        if notify:
            notify(message)

    samples = list(samples) if samples is not None else get_split(workspace, dataset, split)
    if not samples:
        raise DatasetError(f"dataset {dataset.id!r} has no images in split {split!r}; nothing for SAM to do")
    if model.random_weights and run.checkpoint:
        # checked before the cache: a fully cached run would otherwise never look at the path
        *others, last = model.real_keys()
        raise SamError(f"--model {model.key} is a test-size model with random weights and takes no checkpoint "
                       f"(got {run.checkpoint}); drop --checkpoint or choose {', '.join(others)} or {last}")
    if run.cache_embeddings and not model.supports_embedding_cache:
        raise SamError(f"--cache-embeddings is for SAM models only; {model.family_title} ({model.key}) runs its own "
                       "package's generator")
    run, checkpoint_md5 = replace(run, model=model, params=as_model_params(model, run.params)), None
    if not model.random_weights:
        run = replace(run, checkpoint=checkpoint_or_workspace_file(workspace, model, run.checkpoint, tell))
        checkpoint_md5 = md5_of(check_checkpoint_file(run.checkpoint, model), hash_cache_file(workspace))
    key = cache_key(model, checkpoint_md5, run.params)
    folder = workspace.sam_cache_dir(model.label, dataset.id)
    embedding_folder, tag = folder / "embeddings", _embedding_tag(model.label, checkpoint_md5, run.params)
    # no clock in the file: the same inputs give the same bytes on every engine (the mtime says when)
    units = [Unit(s.id, key, (str(s.image_path), {**key, "image": str(s.image_path), "samis_version": __version__},
                              (str(embedding_folder), s.id, tag) if run.cache_embeddings else None)) for s in samples]
    hash_cache = str(hash_cache_file(workspace)) if engine.is_local else None  # a worker's disk may differ
    task = Task(f"{model.label} masks", read_sam_input, sam_worker,
                (run, checkpoint_md5, hash_cache, torch.get_num_threads()),
                batch_size=run.batch_size, in_process=True, uses_gpu=True)
    outcome = run_task(task, units, _MaskFiles(folder, key, embedding_folder, tell), engine=engine,
                       progress=progress, notify=tell)
    return RunReport(dataset.id, model.label, split, len(samples), [u.id for u in outcome.computed],
                     [u.id for u in outcome.cached], outcome.seconds, notices, folder)


def write_sam_maps(workspace: Workspace, dataset: Dataset, model: str | ModelSpec, how: str, *, split: str = "all",
                   checkpoint: str | None = None, device: str = "auto",
                   progress: ProgressCallback | None = None) -> Report:
    """The maps of method ``sam-<model>+<how>``: a selection strategy over the mask cache, or SAM prompted again.

    Args:
        model: ``tiny``, ``tiny-sam2`` or a SAM / SAM 2.1 type (its masks must be cached for a selection strategy).
        how: a selection strategy (``oracle`` …) or a prompt kind (``box``, ``point``), see :mod:`samis.methods`.
        split, progress: as for :func:`run_sam_over_dataset`.
        checkpoint, device: load the model for a prompt kind (a selection strategy loads nothing); no
            checkpoint: the workspace's official file (:func:`checkpoint_or_workspace_file`).

    Returns:
        the :class:`~samis.sam.select_run.SelectionReport` or :class:`~samis.sam.prompts.PromptReport`.

    Raises:
        SamError: unknown strategy or prompt kind, missing masks or ground truth, a bad checkpoint.
    """
    model = get_model(model)
    if how in PROMPT_KINDS:
        if not model.random_weights:
            checkpoint = checkpoint_or_workspace_file(workspace, model, checkpoint)
        loaded = load_sam(model, checkpoint, device, hash_cache_file(workspace))
        return run_prompted_over_dataset(workspace, dataset, loaded, how, split=split, progress=progress)
    return select_over_dataset(workspace, dataset, model_label(model), how, split=split, progress=progress)
