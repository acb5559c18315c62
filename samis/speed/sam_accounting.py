"""SAM's parameters and size without weights: counted on PyTorch's ``meta`` device, set beside Table 7."""

from __future__ import annotations

import functools

from samis.errors import ReportError
from samis.paper import load_speed_table

from samis.models import SAM_MODELS, SAM_TYPES

#: official checkpoint sizes in bytes (facts kept in samis.models)
OFFICIAL_CHECKPOINT_BYTES = {t: SAM_MODELS[t].checkpoint_bytes for t in SAM_TYPES}


def sam_parameter_breakdown(model_type: str) -> dict[str, float]:
    """Parameters (in millions) of a SAM model built by ``segment_anything``, by part.

    The model is built on PyTorch's ``meta`` device: shapes only, no weights, no memory. Counted once
    per process (building ViT-H takes seconds even without weights).

    Returns:
        dict with ``total``, ``image_encoder``, ``prompt_encoder``, ``mask_decoder`` and ``pos_embed``
        (the image encoder's absolute position embedding, a bare ``nn.Parameter``), in millions.

    Raises:
        ReportError: unknown model type.
    """
    if model_type not in SAM_TYPES:
        raise ReportError(f"unknown SAM model type {model_type!r} (choose from {', '.join(SAM_TYPES)})")
    return dict(_count_sam_parameters(model_type))


@functools.lru_cache(maxsize=None)
def _count_sam_parameters(model_type: str) -> tuple[tuple[str, float], ...]:
    # lazy: torch and segment_anything take seconds to import, and only counting needs them
    import torch
    from segment_anything import sam_model_registry

    with torch.device("meta"):
        model = sam_model_registry[model_type](checkpoint=None)

    def count(module) -> float:
        return sum(p.numel() for p in module.parameters()) / 1e6

    pos_embed = model.image_encoder.pos_embed
    return (
        ("total", count(model)),
        ("image_encoder", count(model.image_encoder)),
        ("prompt_encoder", count(model.prompt_encoder)),
        ("mask_decoder", count(model.mask_decoder)),
        ("pos_embed", (pos_embed.numel() / 1e6) if pos_embed is not None else 0.0),
    )


def explain_parameter_gap(breakdown: dict[str, float], printed_m: float) -> str:
    """One line saying how a built SAM's parameter count relates to the paper's printed one."""
    without_pos = breakdown["total"] - breakdown["pos_embed"]
    return (
        f"built by segment_anything: {breakdown['total']:.1f} M = image encoder {breakdown['image_encoder']:.1f} M "
        f"+ mask decoder {breakdown['mask_decoder']:.2f} M + prompt encoder {breakdown['prompt_encoder']:.3f} M; "
        f"the paper prints {printed_m:g} M. Leaving out the image encoder's absolute position embedding "
        f"(a bare nn.Parameter of {breakdown['pos_embed']:.2f} M) gives {without_pos:.2f} M, "
        f"{abs(without_pos - printed_m):.2f} M from the print: a likely but unconfirmed cause, "
        "as the paper does not say how it counted"
    )


def printed_sam_params() -> float | None:
    """SAM's parameter count (millions) as Table 7 prints it, or None when the table has no SAM row."""
    for row in load_speed_table():
        if row.method == "SAM":
            return row.params_m
    return None
