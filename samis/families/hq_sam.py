"""HQ-SAM (Ke et al. 2023, the official ``segment-anything-hq`` package): SAM's ViT encoders with the HQ decoder.

Sizes are the float32 state dicts built from the package's own builders on the meta device
(tests/test_model_families.py recomputes them), not published file sizes; no hash is published.
"""

from __future__ import annotations

from samis.families.base import ModelFamily, ModelSpec, register
from samis.sam.params import HqAmgParams

# segment-anything-hq 0.3 lists no URLs; the SysCV/sam-hq README links its files on this Hugging Face repository
HQ_DOWNLOAD_BASE = "https://huggingface.co/lkeab/hq-sam/resolve/main/"

HQ_FAMILY = ModelFamily("hq-sam", "HQ-SAM", "segment_anything_hq", "samis.sam.hq_backend:build_hq_network",
                        HqAmgParams, "segment_anything_hq.SamAutomaticMaskGenerator", HQ_DOWNLOAD_BASE, (".pth",),
                        backend="samis.sam.hq_backend", licence="Apache-2.0 (the SysCV/sam-hq repository); the "
                        "segment-anything-hq 0.3 wheel's metadata says MIT", source="https://github.com/SysCV/sam-hq",
                        key_marker="mask_decoder.hf_token.weight",
                        marker_text="mask_decoder.hf_token (HQ output token) beside a ViT-B/L/H",
                        detector="samis.sam.checkpoints:detect_hq_model_type", refines="sam", order=30)


def _hq(size: str, approx: int, shape: tuple[int, int], params_m: float) -> ModelSpec:
    return ModelSpec(f"hq_vit_{size}", f"hq-sam-vit_{size}", f"HQ-SAM ViT-{size.upper()}", HQ_FAMILY,
                     checkpoint=f"sam_hq_vit_{size}.pth", approx_bytes=approx, encoder_shape=shape,
                     config=f"vit_{size}", params_m=params_m)


HQ_MODELS: dict[str, ModelSpec] = {m.key: m for m in (
    _hq("h", 2_570_745_024, (1280, 32), 642.7), _hq("l", 1_254_705_344, (1024, 24), 313.7),
    _hq("b", 379_227_328, (768, 12), 94.8))}
#: the test-size HQ-SAM (random weights): segment_anything_hq's modules at tiny sizes (samis.sam.hq_backend)
TINY_HQ_MODEL = ModelSpec("tiny-hq", "hq-sam-tiny-random", "test-size HQ-SAM, random weights (not HQ-SAM)",
                          HQ_FAMILY, random_weights=True, params_m=0.37)

register(HQ_FAMILY, [TINY_HQ_MODEL, *HQ_MODELS.values()])
