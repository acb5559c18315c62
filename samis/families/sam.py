"""SAM (Kirillov et al. 2023, ``segment_anything``): ViT-H/L/B and the test-size SAM, run by samis's own engine.

Checkpoint hashes (``../shared/README.md``): the 6 hex digits in each SAM file name are the start of the file's
MD5; no full hash is published by its authors (the segment-anything README gives URLs only), so samis records
"prefix only" and never calls a prefix match verified. Parameter counts: segment_anything's builders on the meta
device; the test-size model's counted on its seeded build (tests/test_model_families.py checks each).
"""

from __future__ import annotations

from samis.families.base import HASH_PREFIX_ONLY, ModelFamily, ModelSpec, register
from samis.sam.params import AmgParams

SAM_DOWNLOAD_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
SAM_CHECKPOINTS_HELP = "https://github.com/facebookresearch/segment-anything#model-checkpoints"

SAM_FAMILY = ModelFamily("sam", "SAM", "segment_anything", "samis.sam.engine:build_sam_network", AmgParams,
                         "samis engine", SAM_DOWNLOAD_BASE, (".pth",), licence="Apache-2.0",
                         source="https://github.com/facebookresearch/segment-anything", hash_status=HASH_PREFIX_ONLY,
                         key_marker="image_encoder.pos_embed",
                         marker_text="image_encoder.pos_embed / patch_embed of a ViT-B/L/H",
                         detector="samis.sam.checkpoints:detect_model_type", order=10, embedding_cache=True)


def _sam(key: str, title: str, checkpoint: str, size: int, shape: tuple[int, int], params_m: float) -> ModelSpec:
    return ModelSpec(key, f"sam-{key}", title, SAM_FAMILY, checkpoint=checkpoint, checkpoint_bytes=size,
                     approx_bytes=size, encoder_shape=shape, params_m=params_m)


TINY_MODEL = ModelSpec("tiny", "sam-tiny-random", "test-size SAM, random weights (not SAM)", SAM_FAMILY,
                       random_weights=True, params_m=0.34)
SAM_MODELS: dict[str, ModelSpec] = {
    "vit_h": _sam("vit_h", "SAM ViT-H", "sam_vit_h_4b8939.pth", 2_564_550_879, (1280, 32), 641.1),
    "vit_l": _sam("vit_l", "SAM ViT-L", "sam_vit_l_0b3195.pth", 1_249_524_607, (1024, 24), 312.3),
    "vit_b": _sam("vit_b", "SAM ViT-B", "sam_vit_b_01ec64.pth", 375_042_383, (768, 12), 93.7),
    "tiny": TINY_MODEL,
}
#: the real SAM types (each with an official checkpoint), largest first
SAM_TYPES = tuple(key for key, model in SAM_MODELS.items() if not model.random_weights)
#: official checkpoint file name → its model
OFFICIAL_CHECKPOINTS = {m.checkpoint: m for m in SAM_MODELS.values() if m.checkpoint}

register(SAM_FAMILY, SAM_MODELS.values())
