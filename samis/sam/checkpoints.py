"""SAM checkpoints: check a file before loading it, identify its model type, hash it once.

The facts of the official files (names, sizes, MD5 prefixes, encoder shapes) live in :mod:`samis.models`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from samis.errors import SamError
from samis.file_hashes import file_md5
from samis.models import (
    EVIT_FAMILY,
    EVIT_MODELS,
    HQ_FAMILY,
    HQ_MODELS,
    OFFICIAL_CHECKPOINTS,
    OFFICIAL_FILES,
    RUNNABLE_MODELS,
    SAM2_FAMILY,
    SAM2_MODELS,
    SAM3_FAMILY,
    SAM3_MODELS,
    SAM_CHECKPOINTS_HELP,
    SAM_FAMILY,
    SAM_MODELS,
    SAM_TYPES,
)

#: every model type that takes a checkpoint: SAM's, SAM 2.1's, HQ-SAM's, EfficientViT-SAM's
MODEL_TYPES = SAM_TYPES + tuple(SAM2_MODELS) + tuple(HQ_MODELS) + tuple(EVIT_MODELS) + tuple(SAM3_MODELS)
#: an official SAM 2.1 file smaller than this share of its approximate size is cut short
SAM2_MIN_SIZE_SHARE = 0.9


def check_checkpoint_file(path: str | os.PathLike, model_type) -> Path:
    """Check a checkpoint exists, is readable and (for an official name) has the official size.

    Args:
        model_type: the :class:`~samis.models.ModelSpec` or its key the file is for.

    Returns:
        the resolved path.

    Raises:
        SamError: one line saying what is wrong and what to do.
    """
    model_type = getattr(model_type, "key", model_type)
    if model_type not in MODEL_TYPES:
        raise SamError(f"unknown SAM model type {model_type!r}; choose one of {', '.join(MODEL_TYPES)}, "
                       "'tiny' or 'tiny-sam2'")
    path = Path(path).expanduser()
    if not path.exists():
        if model_type not in SAM_MODELS:
            raise SamError(f"{path}: {RUNNABLE_MODELS[model_type].family_title} checkpoint not found (download {_official_name(model_type)} with "
                           f"`python -m samis checkpoints download {model_type}`)")
        raise SamError(f"{path}: SAM checkpoint not found (download {_official_name(model_type)} "
                       f"from {SAM_CHECKPOINTS_HELP})")
    if path.is_dir():
        raise SamError(f"{path}: is a folder; give the checkpoint file ({_official_name(model_type)})")
    if not os.access(path, os.R_OK):
        raise SamError(f"{path}: SAM checkpoint is not readable (permission denied)")
    size = path.stat().st_size
    official = OFFICIAL_FILES.get(path.name)
    if official and official.key != model_type:
        raise SamError(f"{path}: this is the official {official.key} checkpoint, but --model {model_type} was "
                       f"given; use --model {official.key}")
    if official and not official.checkpoint_bytes:
        if size < SAM2_MIN_SIZE_SHARE * official.approx_bytes:
            raise SamError(f"{path}: {size:,} bytes but the official {path.name} has about "
                           f"{official.approx_bytes / 1e6:.0f} MB: the download is truncated; download it again")
    elif official:
        official_type, official_size = official.key, official.checkpoint_bytes
        if official_type != model_type:
            raise SamError(f"{path}: this is the official {official_type} checkpoint, but --model {model_type} was "
                           f"given; use --model {official_type}")
        if size != official_size:
            raise SamError(f"{path}: {size:,} bytes but the official {path.name} has {official_size:,}: "
                           "the download is truncated or damaged; download it again")
    return path.resolve()


def _official_name(model_type: str) -> str:
    model = RUNNABLE_MODELS.get(model_type)
    return (model.checkpoint if model else None) or "a SAM checkpoint"


def load_state_dict(path: Path, model_type: str) -> dict:
    """Read a checkpoint's state dict onto the CPU (tensors only: ``weights_only=True``), checking its family
    and variant before any weights are loaded.

    Args:
        model_type: a model key with a checkpoint (``vit_h``, ``hiera_l``, ``hq_vit_b``, ``evit_l0`` …).

    Raises:
        SamError: not a PyTorch file, truncated, not a state dict, of another family or of another variant
            (one line naming the file, what it holds and the ``--model`` to use).
    """
    state = _read_state(path)
    check_family(state, RUNNABLE_MODELS[model_type], path)
    return state


def check_family(state: dict, model, where) -> None:
    """Refuse a state dict (or a key → shape map) of another family or variant than ``model``'s.

    Raises:
        SamError: one line: ``WHERE: a SAM vit_b checkpoint, not HQ-SAM hq_vit_b; use --model vit_b``.
    """
    family, detected = detect_family(state)
    wanted = model.code
    if family is None:
        raise SamError(f"{where}: not a {wanted.title} checkpoint (no {_marker_text(wanted)}; weights of no model "
                       "samis knows)")
    if family is not wanted:
        use = f"; use --model {detected}" if detected else ""
        raise SamError(f"{where}: a {family.title} {detected or ''} checkpoint, not {wanted.title} {model.key}{use}"
                       .replace("  ", " "))
    if detected is None:
        raise SamError(f"{where}: a {family.title} checkpoint of no variant samis knows, not {model.key}")
    if detected != model.key:
        raise SamError(f"{where}: this checkpoint holds a {family.title} {detected} model, not {model.key}; "
                       f"use --model {detected}")


def _marker_text(family) -> str:
    return {SAM_FAMILY: "image_encoder.pos_embed / patch_embed of a ViT-B/L/H",
            SAM2_FAMILY: "image_encoder.trunk of a Hiera-T/S/B+/L",
            HQ_FAMILY: "mask_decoder.hf_token (HQ output token) beside a ViT-B/L/H",
            EVIT_FAMILY: "image_encoder.backbone of an EfficientViT",
            SAM3_FAMILY: "detector.* weights of a SAM 3 image model"}[family]


def detect_family(state: dict):
    """The family and model key of a state dict or key → shape map: ``(HQ_FAMILY, "hq_vit_b")``; ``(None, None)``
    for weights of no family samis knows; the key is None where the family is known but no variant fits."""
    if any(key.startswith(SAM3_FAMILY.key_marker) for key in state):
        # sam3: only for a SAM 3-shaped file (its key → shape map is built on the meta device)
        from samis.sam.sam3_assembly import detect_sam3_variant

        return SAM3_FAMILY, detect_sam3_variant(state)
    if HQ_FAMILY.key_marker in state:
        sam_type = _vit_type(state)
        return HQ_FAMILY, (f"hq_{sam_type}" if sam_type else None)
    if SAM2_FAMILY.key_marker in state:
        return SAM2_FAMILY, detect_sam2_model_type(state)
    if any(key.startswith(EVIT_FAMILY.key_marker) for key in state):
        # efficientsam: only for an EfficientViT-SAM-shaped file (its variants are built on the meta device)
        from samis.sam.evit_shapes import detect_evit_variant

        return EVIT_FAMILY, detect_evit_variant(state)
    sam_type = _vit_type(state)
    return (SAM_FAMILY, sam_type) if sam_type else (None, None)


def _read_state(path: Path) -> dict:
    """A checkpoint's tensors by parameter name, read onto the CPU with ``weights_only=True``.

    Raises:
        SamError: not a PyTorch file, truncated, or not a mapping of names to tensors.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch.load fails in many ways on foreign or cut files (IndexError, UnpicklingError …)
        # torch's own message (e.g. the long weights_only explanation) is about pickles, not about this file
        raise SamError(f"{path}: not a readable PyTorch checkpoint ({_what_file_is(path)})") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # SAM 2's files and some training scripts wrap the weights
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SamError(f"{path}: does not hold a SAM state dict (a mapping of parameter names to tensors)")
    return state


def identify_weights(path: str | os.PathLike) -> str:
    """The model a checkpoint's weights belong to: a SAM type (``vit_b`` …) or a SAM 2.1 one (``hiera_l`` …).

    Raises:
        SamError: unreadable, not a state dict, or weights of no model samis knows (one line).
    """
    path = Path(path)
    state = _read_state(path)
    _, detected = detect_family(state)
    if detected is None:
        raise SamError(f"{path}: not a checkpoint of SAM, SAM 2.1, HQ-SAM, EfficientViT-SAM or SAM 3 (no image "
                       "encoder of a known shape)")
    return detected


def detect_sam2_model_type(state: dict) -> str | None:
    """The SAM 2.1 model of a state dict, from its Hiera trunk's width and number of blocks (None if none fits)."""
    patch = state.get("image_encoder.trunk.patch_embed.proj.weight")
    if patch is None:
        return None
    blocks = {int(key.split(".")[3]) for key in state
              if key.startswith("image_encoder.trunk.blocks.") and key.split(".")[3].isdigit()}
    shape = (patch.shape[0], max(blocks) + 1 if blocks else 0)
    return next((m.key for m in SAM2_MODELS.values() if m.encoder_shape == shape), None)


def _what_file_is(path: Path) -> str:
    """A few words on what a file that torch cannot load looks like, from its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return "cannot be read"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive: truncated, damaged or not a PyTorch file"
    if not head:
        return "an empty file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "truncated, damaged or another kind of file"
    return "a text file, not model weights"


def detect_model_type(state: dict) -> str | None:
    """The SAM type a state dict belongs to, from its encoder width and number of blocks (None if not SAM: an
    HQ-SAM file, with its HQ output token, is not SAM)."""
    if HQ_FAMILY.key_marker in state:
        return None
    return _vit_type(state)


def _vit_type(state: dict) -> str | None:
    """``vit_b`` / ``vit_l`` / ``vit_h`` from a SAM-style ViT encoder's width and depth (SAM's and HQ-SAM's)."""
    pos = state.get("image_encoder.pos_embed")
    patch = state.get("image_encoder.patch_embed.proj.weight")
    width = pos.shape[-1] if pos is not None else (patch.shape[0] if patch is not None else None)
    if width is None:
        return None
    blocks = {int(key.split(".")[2]) for key in state if key.startswith("image_encoder.blocks.")}
    depth = max(blocks) + 1 if blocks else 0
    shapes = {t: SAM_MODELS[t].encoder_shape for t in SAM_TYPES}
    for model_type, (type_width, type_depth) in shapes.items():
        if width == type_width and depth == type_depth:
            return model_type
    for model_type, (type_width, _) in shapes.items():
        if width == type_width:
            return model_type  # width decides; a wrong depth then fails load_state_dict with a named error
    return None


#: MD5 of a checkpoint, remembered by path, size and mtime (torch-free, shared with the downloader)
checkpoint_md5 = file_md5


def check_official_hash(path: Path, md5: str) -> None:
    """An official file name promises an MD5 prefix; refuse a file that breaks it.

    Raises:
        SamError: the file's MD5 does not start with the digits in its official name.
    """
    if path.name in OFFICIAL_CHECKPOINTS:
        expected = OFFICIAL_CHECKPOINTS[path.name].md5_prefix
        if not md5.startswith(expected):
            raise SamError(f"{path}: MD5 {md5[:6]}… does not match the official {path.name} (starts {expected}); "
                           "the file is damaged or not the official one; download it again")
