"""EfficientViT-SAM (Zhang et al. 2024, ``efficientsam`` 1.0.0, Apache-2.0): l0, l1, l2, xl0, xl1.

Not EfficientSAM (a different model): labelled "EfficientViT-SAM" everywhere. Names are
``create_efficientvit_sam_model``'s; sizes and parameter counts from the package's constructors on the meta
device (float32), as for HQ-SAM; no hash is published.
"""

from __future__ import annotations

from samis.families.base import ModelFamily, ModelSpec, register
from samis.sam.params import AmgParams

# efficientsam 1.0.0's own list (efficientsam/cached_sam_model.py SAM_MODEL_REGISTRY)
EVIT_DOWNLOAD_BASE = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/"

EVIT_FAMILY = ModelFamily("efficientvit-sam", "EfficientViT-SAM", "efficientsam",
                          "samis.sam.evit_backend:build_evit_network", AmgParams,
                          "efficientsam EfficientViTSamAutomaticMaskGenerator", EVIT_DOWNLOAD_BASE, (".pt",),
                          backend="samis.sam.evit_backend", licence="Apache-2.0",
                          source="https://github.com/mit-han-lab/efficientvit",
                          key_marker="image_encoder.backbone.", marker_text="image_encoder.backbone of an EfficientViT",
                          detector="samis.sam.evit_shapes:detect_evit_variant", order=40)


def _evit(name: str, approx: int, params_m: float) -> ModelSpec:
    return ModelSpec(f"evit_{name}", f"efficientvit-sam-{name}", f"EfficientViT-SAM-{name.upper()}", EVIT_FAMILY,
                     checkpoint=f"efficientvit_sam_{name}.pt", approx_bytes=approx,
                     config=f"efficientvit-sam-{name}", params_m=params_m)


EVIT_MODELS: dict[str, ModelSpec] = {m.key: m for m in (
    _evit("l0", 139_264_208, 34.8), _evit("l1", 190_730_504, 47.7), _evit("l2", 245_488_976, 61.3),
    _evit("xl0", 468_047_088, 117.0), _evit("xl1", 813_763_960, 203.3))}
#: the test-size EfficientViT-SAM (random weights): efficientsam's modules at tiny sizes (samis.sam.evit_backend)
TINY_EVIT_MODEL = ModelSpec("tiny-evit", "efficientvit-sam-tiny-random",
                            "test-size EfficientViT-SAM, random weights (not EfficientViT-SAM)", EVIT_FAMILY,
                            random_weights=True, params_m=0.27)

register(EVIT_FAMILY, [TINY_EVIT_MODEL, *EVIT_MODELS.values()])
