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
    OFFICIAL_CHECKPOINTS,
    OFFICIAL_SAM2_CHECKPOINTS,
    SAM2_MODELS,
    SAM_CHECKPOINTS_HELP,
    SAM_MODELS,
    SAM_TYPES,
)

#: every model type that takes a checkpoint: SAM's, then SAM 2.1's
MODEL_TYPES = SAM_TYPES + tuple(SAM2_MODELS)
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
        if model_type in SAM2_MODELS:
            raise SamError(f"{path}: SAM 2.1 checkpoint not found (download {_official_name(model_type)} with "
                           f"`python -m samis checkpoints download {model_type}`)")
        raise SamError(f"{path}: SAM checkpoint not found (download {_official_name(model_type)} "
                       f"from {SAM_CHECKPOINTS_HELP})")
    if path.is_dir():
        raise SamError(f"{path}: is a folder; give the checkpoint file ({_official_name(model_type)})")
    if not os.access(path, os.R_OK):
        raise SamError(f"{path}: SAM checkpoint is not readable (permission denied)")
    size = path.stat().st_size
    official = OFFICIAL_CHECKPOINTS.get(path.name) or OFFICIAL_SAM2_CHECKPOINTS.get(path.name)
    if official and official.key != model_type:
        raise SamError(f"{path}: this is the official {official.key} checkpoint, but --model {model_type} was "
                       f"given; use --model {official.key}")
    if official and official.key in SAM2_MODELS:
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
    model = SAM_MODELS.get(model_type) or SAM2_MODELS.get(model_type)
    return (model.checkpoint if model else None) or "a SAM checkpoint"


def load_state_dict(path: Path, model_type: str) -> dict:
    """Read a checkpoint's state dict onto the CPU (tensors only: ``weights_only=True``).

    Args:
        model_type: a SAM type (``vit_h`` …) or a SAM 2.1 one (``hiera_l`` …).

    Raises:
        SamError: not a PyTorch file, truncated, not a state dict, or of another model type (one line).
    """
    state = _read_state(path)
    detected_sam, detected_sam2 = detect_model_type(state), detect_sam2_model_type(state)
    if model_type in SAM2_MODELS:
        if detected_sam:
            raise SamError(f"{path}: a SAM {detected_sam} checkpoint, not SAM 2.1 {model_type}; use --model {detected_sam}")
        if detected_sam2 is None:
            raise SamError(f"{path}: not a SAM 2.1 checkpoint (no image_encoder.trunk of a Hiera-T/S/B+/L)")
        if detected_sam2 != model_type:
            raise SamError(f"{path}: this checkpoint holds a SAM 2.1 {detected_sam2} model, not {model_type}; "
                           f"use --model {detected_sam2}")
        return state
    if detected_sam is None and detected_sam2:
        raise SamError(f"{path}: a SAM 2.1 {detected_sam2} checkpoint, not SAM {model_type}; use --model {detected_sam2}")
    if detected_sam is None:
        raise SamError(f"{path}: not a SAM checkpoint (no image_encoder.pos_embed / patch_embed of a ViT-B/L/H)")
    if detected_sam != model_type:
        raise SamError(f"{path}: this checkpoint holds a SAM {detected_sam} model, not {model_type}; use --model {detected_sam}")
    return state


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
    detected = detect_model_type(state) or detect_sam2_model_type(state)
    if detected is None:
        raise SamError(f"{path}: neither a SAM nor a SAM 2.1 checkpoint (no image encoder of a known shape)")
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
    """The SAM type a state dict belongs to, from its encoder width and number of blocks (None if not SAM)."""
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
