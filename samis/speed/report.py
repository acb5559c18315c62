"""The speed report: gather what samis can run here (baselines, SAM), time it on some images, beside Table 7.

Subjects come from the built-in baselines (``samis.baselines.BASELINES``; parameters 0) and from SAM
(``samis.sam.engine.sam_speed_subject``). SAM ViT-B/L/H are timed only with a checkpoint; without
one, only their parameter count is shown, counted on PyTorch's ``meta`` device (no weights, no
memory, see :mod:`samis.speed.sam_accounting`). The test-size SAM (``sam-tiny-random``) is timed and
labelled as random weights. SAM 2.1 (``sam2.1-hiera_*``) is timed with a checkpoint through the official
``SAM2AutomaticMaskGenerator``; without one its parameters are counted from the ``sam2`` package's
config on the meta device. The test-size SAM 2 (``sam2-tiny-random``) is timed, labelled random weights.
"""

from __future__ import annotations

import dataclasses

import os

import numpy as np

from samis.counts import check_count
from samis.datasets import load_dataset
from samis.errors import ReportError
from samis.imageio import read_rgb
from samis.speed.sam_accounting import (
    OFFICIAL_CHECKPOINT_BYTES, SAM_TYPES, explain_parameter_gap, printed_sam_params, sam_parameter_breakdown,
)
from samis.methods import sam_model_of
from samis.models import SAM2_MODELS, SAM_MODELS, TINY_MODEL, find_model
from samis.runs import ProgressCallback
from samis.speed.table import SpeedTable, speed_table
from samis.speed.timing import SpeedRow, SpeedSubject, TimingProtocol, cpu_name, size_text

TINY_SAM = TINY_MODEL.label
SYNTHETIC_SIZE = (200, 200)

# -- subjects --------------------------------------------------------------------------------------

def _baseline_registry() -> dict:
    """``samis.baselines.BASELINES``, looked up when called: the registry in ``sys.modules`` then is the
    one timed (tests swap in a fake one), and OpenCV stays off the import path of this module."""
    # looked up when called: tests swap in a fake registry, and OpenCV stays off this module's import path
    from samis.baselines import BASELINES

    return BASELINES

def baseline_subjects(names: list[str] | None = None) -> tuple[list[SpeedSubject], list[str]]:
    """Speed subjects for the built-in baselines (parameters 0, run on the CPU).

    Returns:
        (subjects, notes): the notes are empty; the pair matches :func:`sam_subjects`, so the report
        gathers both kinds the same way.

    Raises:
        ReportError: a requested baseline does not exist.
    """
    baselines = _baseline_registry()
    wanted = list(baselines) if names is None else names
    unknown = [n for n in wanted if n not in baselines]
    if unknown:
        raise ReportError(f"unknown baseline {unknown[0]!r} (choose from {', '.join(baselines)})")
    device = cpu_name()
    subjects = []
    for name in wanted:
        baseline = baselines[name]
        subjects.append(SpeedSubject(method=name, label=getattr(baseline, "title", name) or name, params_m=0.0,
                                     size_mb=None, run=baseline.function, device=device,
                                     note="classical method, no learned parameters"))
    return subjects, []

def sam_subjects(requests: dict[str, str | None], device: str = "auto") -> tuple[list[SpeedSubject], list[SpeedRow], list[str]]:
    """SAM speed subjects for the requested models, and parameter-only rows where nothing can be timed.

    Args:
        requests: model key → checkpoint path or None; keys ``tiny`` / ``tiny-sam2`` (test-size SAM / SAM 2,
            random weights), ``vit_h`` / ``vit_l`` / ``vit_b`` and ``hiera_t`` … ``hiera_l`` (timed only
            with a checkpoint).
        device: ``auto``, ``cpu``, ``cuda``, … (passed to the engine).

    Returns:
        (subjects to time, rows with parameters only, notes).

    Raises:
        ReportError: an unknown model key. SamError passes through from the engine.
    """
    # lazy: the engine imports torch and segment_anything (seconds), needed only when SAM is timed
    from samis.sam import engine

    subjects: list[SpeedSubject] = []
    rows: list[SpeedRow] = []
    notes: list[str] = []
    printed_sam = printed_sam_params()
    for key, checkpoint in requests.items():
        model = find_model(key)
        if model is not None and model.random_weights:  # every family's test-size model: timed, labelled
            subjects.append(engine.sam_speed_subject(key, None, device))
            continue
        if model is not None and model.code.backend and not model.runs_on_sam2:  # HQ-SAM, EfficientViT-SAM
            subjects.append(engine.sam_speed_subject(key, checkpoint, device)) if checkpoint \
                else rows.append(_declared_parameter_row(model))
            continue
        if key in SAM2_MODELS:
            if checkpoint:
                subjects.append(engine.sam_speed_subject(key, checkpoint, device))
            else:
                rows.append(_sam2_parameter_row(key))
            continue
        if key not in SAM_TYPES:
            raise ReportError(f"unknown SAM model {key!r} (choose from tiny, {', '.join(SAM_TYPES)}, tiny-sam2, "
                              f"{', '.join(SAM2_MODELS)})")
        if checkpoint:
            subjects.append(engine.sam_speed_subject(key, checkpoint, device))
            continue
        breakdown = sam_parameter_breakdown(key)
        official = OFFICIAL_CHECKPOINT_BYTES[key] / 1e6
        note = f"not timed: no checkpoint given (the official file is {official:.1f} MB)"
        rows.append(SpeedRow(method=SAM_MODELS[key].label, label=f"{SAM_MODELS[key].title}, built without weights",
                             source="measured", device="none (parameters counted on the meta device)",
                             params_m=breakdown["total"], note=note))
        if key == "vit_h" and printed_sam is not None:
            notes.append("SAM ViT-H parameters: " + explain_parameter_gap(breakdown, printed_sam))
    return subjects, rows, notes

def _declared_parameter_row(model) -> SpeedRow:
    """A model's parameters as the registry declares them (counted from its package's constructor on the meta
    device, see tests/test_model_families.py), untimed."""
    return SpeedRow(method=model.label, label=f"{model.title}, built without weights", source="measured",
                    device="none (parameters of the package's constructor, no weights)", params_m=model.params_m,
                    note=f"not timed: no checkpoint given (the weights are about {model.approx_bytes / 1e6:.0f} MB)")


def _sam2_parameter_row(key: str) -> SpeedRow:
    """A SAM 2.1 model's parameters, built from the ``sam2`` package's config with random weights on the CPU.

    (Hiera calls ``Tensor.item()`` while it is built, which PyTorch's meta device cannot do.)
    """
    # torch, hydra and sam2: only when a SAM 2 model's parameters are counted
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    # sam2 is optional: only when a SAM 2 model's parameters are counted
    from samis.sam.sam2_backend import _import_sam2

    _import_sam2()  # initialises hydra with the package's configs
    from hydra import compose

    model = SAM2_MODELS[key]
    config = compose(config_name=model.config)
    OmegaConf.resolve(config)
    with torch.no_grad():
        network = instantiate(config.model, _recursive_=True)
    params_m = sum(p.numel() for p in network.parameters()) / 1e6
    del network
    return SpeedRow(method=model.label, label=f"{model.title}, built without weights", source="measured",
                    device="none (parameters counted on a model built without its weights)", params_m=params_m,
                    note=f"not timed: no checkpoint given (the official file is about {model.approx_bytes / 1e6:.0f} MB)")

# -- images ----------------------------------------------------------------------------------------

def synthetic_image(size: tuple[int, int] = SYNTHETIC_SIZE, seed: int = 0) -> np.ndarray:
    """A seeded grey texture with a bright line, uint8 RGB, for timing when no dataset is named."""
    rng = np.random.default_rng(seed)
    height, width = size
    gray = rng.normal(128, 20, size=(height, width)).clip(0, 255)
    gray[height // 2, width // 4: 3 * width // 4] = 230  # something salient, so no method sees a constant image
    gray = gray.astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)

def dataset_images(workspace, dataset_id: str, count: int = 5) -> tuple[list[np.ndarray], str]:
    """The first ``count`` images of a registered dataset as uint8 RGB, at their own size.

    Returns:
        (images, a description for the table).

    Raises:
        DatasetError: the dataset is not registered or an image cannot be read.
    """
    dataset = load_dataset(workspace, dataset_id)
    samples = dataset.samples[: max(1, count)]
    images = [read_rgb(s.image_path) for s in samples]
    return images, f"the first {len(images)} images of dataset {dataset_id!r} at their own size ({size_text(images)})"

# -- options ---------------------------------------------------------------------------------------

def parse_checkpoint_options(values: list[str] | None) -> dict[str, str]:
    """``["vit_h=/x/sam_vit_h_4b8939.pth", "/y/sam_vit_b_01ec64.pth", "hiera_l=/z/w.pt"]`` → model type → path.

    A bare path names its type in the file name (``vit_h``, ``vit_l`` or ``vit_b``, or an official SAM 2.1
    file name such as ``sam2.1_hiera_large.pt``).

    Raises:
        ReportError: the type cannot be told or is unknown.
    """
    result: dict[str, str] = {}
    for value in values or []:
        if "=" in value and value.split("=", 1)[0] in (*SAM_TYPES, *SAM2_MODELS):
            key, path = value.split("=", 1)
        elif os.path.basename(value) in {m.checkpoint: m for m in SAM2_MODELS.values()}:
            key, path = next(m.key for m in SAM2_MODELS.values() if m.checkpoint == os.path.basename(value)), value
        else:
            found = [t for t in SAM_TYPES if t in os.path.basename(value)]
            if len(found) != 1:
                raise ReportError(f"cannot tell the SAM model type of checkpoint {value!r}; write it as vit_h=PATH")
            key, path = found[0], value
        result[key] = path
    return result

def split_speed_methods(methods: list[str] | None, baseline_names: list[str]) -> tuple[list[str], dict[str, None]]:
    """Split requested ids into baselines and SAM models (``sam-tiny-random``/``tiny``, ``sam-vit_h``/``vit_h``).

    None means every baseline, the test-size SAM and the three SAM types.

    Raises:
        ReportError: an id that is neither.
    """
    if methods is None:
        return list(baseline_names), {"tiny": None, **{t: None for t in SAM_TYPES}}
    baselines, sam = [], {}
    for name in methods:
        key = name.strip()
        model = sam_model_of(key)
        if key in baseline_names:
            baselines.append(key)
        elif model is not None:
            sam[model.key] = None
        else:
            choices = ", ".join([*baseline_names, TINY_SAM, *(SAM_MODELS[t].label for t in SAM_TYPES)])
            raise ReportError(f"unknown method {name!r} for the speed table (choose from {choices})")
    return baselines, sam

def speed_report(workspace=None, methods: list[str] | None = None, dataset: str | None = None,
                 checkpoints: dict[str, str] | None = None, device: str = "auto", *,
                 protocol: TimingProtocol = TimingProtocol(), include_paper: bool = True,
                 progress: ProgressCallback | None = None) -> SpeedTable:
    """Everything samis can run here, timed on a dataset's images (or a synthetic one), beside Table 7.

    Args:
        workspace: the samis workspace (needed with ``dataset``).
        methods: ids (baselines, ``sam-tiny-random``, ``sam-vit_h``…); None = all.
        dataset: registered dataset whose first ``protocol.n_images`` images are used; None = a synthetic
            200×200 image.
        checkpoints: SAM model type → checkpoint path; those types are timed (and added when not requested).
        device: for SAM (``auto`` = CUDA, then MPS, then CPU).
        protocol: images, warm-up, runs and time budget (see :class:`samis.speed.timing.TimingProtocol`).
        include_paper: add Table 7's printed rows.
        progress: optional callback (see :func:`samis.speed.table.speed_table`).

    Returns:
        the :class:`~samis.speed.table.SpeedTable`.

    Raises:
        ReportError: an unknown method; DatasetError/SamError pass through.
        CountError: ``n_images``, ``warmup`` or ``runs`` outside its declared range (:data:`samis.counts.COUNTS`).
    """
    protocol = dataclasses.replace(protocol, n_images=check_count("speed_images", protocol.n_images, "--images"),
                                   warmup=check_count("speed_warmup", protocol.warmup, "--warmup"),
                                   runs=check_count("speed_runs", protocol.runs, "--runs"))
    baselines, sam = split_speed_methods(methods, list(_baseline_registry()))
    for key, path in (checkpoints or {}).items():
        sam[key] = path
    if dataset:
        images, images_text = dataset_images(workspace, dataset, protocol.n_images)
    else:
        images, images_text = [synthetic_image()], "one synthetic 200x200 image (seeded grey noise with a bright line)"
    subjects, notes = baseline_subjects(baselines) if baselines else ([], [])
    sam_list, param_rows, sam_notes = sam_subjects(sam, device) if sam else ([], [], [])
    return speed_table(subjects + sam_list, images, images_text, extra_rows=param_rows, notes=notes + sam_notes,
                       protocol=protocol, include_paper=include_paper, progress=progress)
