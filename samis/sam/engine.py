"""The SAM engine: load a model, run automatic mask generation on images.

A model is a :class:`samis.models.ModelSpec`; :func:`load_model` builds it through its family's loader
(no cache), :func:`load_sam` takes it from the :class:`~samis.sam.model_cache.ModelCache` made active
with ``cache.using()`` (the dashboard's, or the CLI run's) and loads it afresh where none is active.
A :class:`LoadedSam`'s lock makes sure two dashboard sessions never run the same model at once.

``--model tiny`` is the test-size SAM of :mod:`samis.sam.tiny` (random weights), labelled
``sam-tiny-random`` everywhere; real types are ``vit_h``, ``vit_l``, ``vit_b`` with a checkpoint.

SAM 2.1 (``hiera_t`` … ``hiera_l`` with a checkpoint, ``tiny-sam2`` with random weights) loads and
runs through :mod:`samis.sam.sam2_backend` behind the same :class:`LoadedSam` and :class:`SamEngine`:
callers see one interface and the spec's family decides which generator runs.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from segment_anything import sam_model_registry
from segment_anything.modeling import Sam

from samis.errors import SamError
from samis.models import SAM_FAMILY, ModelSpec, get_model
from samis.sam.amg import FastMaskGenerator
from samis.sam.checkpoints import (
    check_checkpoint_file,
    check_official_hash,
    checkpoint_md5,
    load_state_dict,
)
from samis.sam.masks import MaskSet
from samis.sam.model_cache import take_from_active_cache
from samis.sam.params import AmgParams, as_model_params
from samis.sam.tiny import TINY_SEED, build_tiny_sam
from samis.speed.timing import SpeedSubject, cpu_name

DTYPES = ("fp32", "bf16")


def model_label(model: str | ModelSpec) -> str:
    """The name a model's masks and methods carry: ``sam-vit_h`` …, ``sam-tiny-random``, ``sam2.1-hiera_l``,
    ``sam2-tiny-random``.

    Raises:
        SamError: unknown model (one line).
    """
    return get_model(model).label


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` = CUDA, then Apple MPS, then CPU; else the named device, checked to exist.

    Raises:
        SamError: the named device is not available here.
    """
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SamError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SamError(f"device {name!r} requested but CUDA is not available on this machine; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise SamError(f"device {name!r} does not exist (this machine has {torch.cuda.device_count()} CUDA devices)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SamError(f"device {name!r} requested but Apple MPS is not available; use --device cpu")
    return device


def device_name(device: torch.device) -> str:
    """Human name of a device, e.g. ``cuda:0 (NVIDIA H200)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        return cpu_name()  # the same CPU description as the baselines' rows
    return device.type


def weights_seed(model: str | ModelSpec) -> int | None:
    """The seed of a test-size model's random weights (``tiny``, ``tiny-sam2``); None for a checkpoint."""
    spec = get_model(model)
    if not spec.random_weights:
        return None
    if spec.code.backend:
        return family_backend(spec).weights_seed()
    return TINY_SEED


def family_backend(spec: ModelSpec):
    """The module running a family through its own package (``samis.sam.sam2_backend`` …), imported on first use:
    each family's package (sam2, segment_anything_hq, efficientsam) loads only when one of its models runs."""
    return importlib.import_module(spec.code.backend)


@dataclass
class LoadedSam:
    """A SAM or SAM 2 model on a device, with what it is and a lock for exclusive use."""

    model: Sam  # or sam2's SAM2Base for a SAM 2 model
    spec: ModelSpec
    checkpoint: Path | None
    checkpoint_md5: str | None
    device: torch.device
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_type(self) -> str:
        """The ``--model`` key."""
        return self.spec.key

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def params_m(self) -> float:
        return sum(p.numel() for p in self.model.parameters()) / 1e6

    @property
    def nbytes(self) -> int:
        """Bytes of the model's parameters and buffers (what a :class:`~samis.sam.model_cache.ModelCache` counts)."""
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def size_mb(self) -> float | None:
        return self.checkpoint.stat().st_size / 1e6 if self.checkpoint else None

    def provenance(self) -> dict:
        """Where masks from this model come from."""
        seed = weights_seed(self.spec)
        weights = ("checkpoint" if seed is None
                   else f"random (seed {seed}); speed and code paths only, not {self.spec.family_title}'s accuracy")
        record = {
            "model": self.label,
            "model_type": self.model_type,
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "checkpoint_md5": self.checkpoint_md5,
            "weights": weights,
            "device": device_name(self.device),
        }
        if self.spec.code.backend:
            record["package"] = family_backend(self.spec).package_version()
            record["generator"] = self.spec.code.generator
        return record


def build_sam_network(spec: ModelSpec, path: Path | None) -> Sam:
    """The SAM family's loader: the test-size SAM (``path`` None) or a checked checkpoint's weights, on the CPU.

    Raises:
        SamError: the weights do not fit the model (one line naming the file).
    """
    if path is None:
        return build_tiny_sam()
    state = load_state_dict(path, spec.key)
    network = sam_model_registry[spec.key](checkpoint=None)  # build on the CPU, no torch.load inside
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise SamError(f"{path}: weights do not fit SAM {spec.key} ({first[:160]})") from None
    return network


def _checked_checkpoint(spec: ModelSpec, checkpoint: str | Path | None) -> Path | None:
    """The resolved checkpoint of a model (None for a test-size one), refusing a missing or extra one."""
    if spec.random_weights:
        if checkpoint:
            raise SamError(f"--model {spec.key} is a test-size model with random weights and takes no checkpoint")
        return None
    if not checkpoint:
        raise SamError(f"--model {spec.key} needs --checkpoint PATH (the official {spec.family_title} {spec.key} weights)")
    return check_checkpoint_file(checkpoint, spec.key)


def load_model(model: str | ModelSpec, checkpoint: str | Path | None = None, device: str = "auto",
               hash_cache: Path | None = None) -> LoadedSam:
    """Load a model afresh (no cache): its family's loader, the checkpoint's weights, moved to the device.

    Args, Raises: as :func:`load_sam`.
    """
    spec = get_model(model)
    torch_device = resolve_device(device)
    path = _checked_checkpoint(spec, checkpoint)
    md5 = None
    if path is not None:
        md5 = checkpoint_md5(path, hash_cache)
        check_official_hash(path, md5)
    network = spec.loader()(spec, path)
    return LoadedSam(network.to(torch_device).eval(), spec, path, md5, torch_device)


def load_sam(model: str | ModelSpec, checkpoint: str | Path | None = None, device: str = "auto",
             hash_cache: Path | None = None) -> LoadedSam:
    """The loaded model for (model, checkpoint, device): from the cache made active with
    :meth:`ModelCache.using <samis.sam.model_cache.ModelCache.using>` (leased until that block ends), else
    loaded afresh.

    Args:
        model: a :class:`~samis.models.ModelSpec` or its key (``tiny``, ``vit_h`` …, ``tiny-sam2``, ``hiera_l`` …).
        checkpoint: the checkpoint file (required for real models, refused for test-size ones).
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        hash_cache: JSON file remembering checkpoint hashes (see :func:`checkpoint_md5`).

    Raises:
        SamError: unknown model, missing/truncated/wrong-type checkpoint, unavailable device.
    """
    spec = get_model(model)
    torch_device = resolve_device(device)
    path = _checked_checkpoint(spec, checkpoint)
    key = (spec.key, str(path), str(torch_device))
    return take_from_active_cache(key, lambda: load_model(spec, path, str(torch_device), hash_cache))


def _is_out_of_memory(error: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    return isinstance(error, oom) or "out of memory" in str(error).lower()


def _mask_generator(loaded: LoadedSam, params: AmgParams, notify=None):
    """samis's generator for SAM; the family's own (wrapped) for the others (``SAM2AutomaticMaskGenerator`` …)."""
    if loaded.spec.code.backend:
        return family_backend(loaded.spec).mask_generator(loaded.model, params, notify)
    return FastMaskGenerator(loaded.model, params)


class SamEngine:
    """Automatic mask generation with one loaded model and one parameter set.

    Args:
        loaded: from :func:`load_sam`.
        params: generator parameters (a SAM 2 model takes :class:`~samis.sam.params.Sam2AmgParams`;
            plain :class:`AmgParams` are read as such, with SAM 2's own extra parameters at their defaults).
        dtype: ``fp32`` or ``bf16`` (autocast on CUDA; for speed runs — masks may differ slightly).
        notify: callable receiving one-line notices (e.g. the out-of-memory retry).
    """

    def __init__(self, loaded: LoadedSam, params: AmgParams, dtype: str = "fp32", notify=None):
        if dtype not in DTYPES:
            raise SamError(f"unknown dtype {dtype!r}; choose {' or '.join(DTYPES)}")
        if dtype == "bf16" and loaded.device.type != "cuda":
            raise SamError("--dtype bf16 needs a CUDA device")
        self.loaded = loaded
        self.dtype = dtype
        self.notify = notify or (lambda message: None)
        self.params = as_model_params(loaded.spec, params)
        self._generator = _mask_generator(loaded, self.params, self.notify)

    def _autocast(self):
        if self.dtype == "bf16":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def generate(self, image: np.ndarray, embeddings=None, on_embedding=None) -> MaskSet:
        """Masks of one RGB uint8 image; on CUDA out-of-memory, retries with half the prompt batch.

        Raises:
            SamError: bad image, or out of memory even with one prompt per batch.
        """
        with self.loaded.lock:
            while True:
                try:
                    with self._autocast():
                        return self._generator.generate(image, embeddings, on_embedding)
                except (RuntimeError, MemoryError) as error:
                    if not _is_out_of_memory(error):
                        raise
                    if self.loaded.device.type == "cuda":
                        torch.cuda.empty_cache()
                    batch = self._generator.params.points_per_batch
                    if batch <= 1:
                        raise SamError(f"{self.loaded.label}: out of memory on {device_name(self.loaded.device)} "
                                       "even with one prompt per batch; use a smaller model or --device cpu") from None
                    smaller = max(1, batch // 2)
                    self.notify(f"out of memory on {device_name(self.loaded.device)} with points_per_batch={batch}; "
                                f"retrying with points_per_batch={smaller}")
                    self.params = replace(self.params, points_per_batch=smaller)
                    self._generator = _mask_generator(self.loaded, self.params, self.notify)


def sam_speed_subject(model: str | ModelSpec, checkpoint: str | None, device: str = "auto"):
    """A :class:`samis.speed.timing.SpeedSubject` running full automatic mask generation (the family's defaults).

    SAM runs samis's engine, SAM 2.1 the official ``SAM2AutomaticMaskGenerator``.

    Raises:
        SamError: as :func:`load_sam`.
    """
    loaded = load_sam(model, checkpoint, device)
    spec = loaded.spec
    if "automatic" not in spec.prompt_modes:  # SAM 3: timed on its deployable mode, a text prompt
        return family_backend(spec).speed_subject(loaded)
    engine = SamEngine(loaded, as_model_params(spec, None))
    synchronize = torch.cuda.synchronize if loaded.device.type == "cuda" else None
    cuda_memory = None
    if loaded.device.type == "cuda":
        device = loaded.device
        cuda_memory = (lambda: torch.cuda.reset_peak_memory_stats(device), lambda: torch.cuda.max_memory_allocated(device))
    if spec.random_weights:
        family = spec.family_title
        short = "SAM 2" if spec.runs_on_sam2 else ("SAM" if spec.code is SAM_FAMILY else family)
        note = f"test-size {short}, random weights: speed and code paths only, not {family}'s accuracy"
        what = "SAM 2" if spec.runs_on_sam2 else ("model" if spec.code is SAM_FAMILY else family)
        label = f"{spec.label}: test-size {what}, random weights (not {family})"
    else:
        note = f"checkpoint {loaded.checkpoint.name}"
        label = f"SAM {spec.key.replace('_', '-').upper()}" if spec.code is SAM_FAMILY else spec.title
    generator = "sam2 SAM2AutomaticMaskGenerator" if spec.runs_on_sam2 else spec.code.generator
    return SpeedSubject(
        method=loaded.label,
        label=label,
        params_m=loaded.params_m,
        size_mb=loaded.size_mb,
        run=engine.generate,
        device=device_name(loaded.device),
        synchronize=synchronize,
        cuda_memory=cuda_memory,
        note=note + f"; automatic mask generation, 32x32 points, {generator}",
    )
