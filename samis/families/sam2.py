"""SAM 2.1 (Ravi et al. 2024, the official ``sam2`` package): Hiera-T/S/B+/L and the test-size SAM 2.

Exact byte sizes and hashes were not found in public sources, so only the approximate size is known: a download
is checked for completeness (Content-Length) and for loadable weights of the right type. Width and blocks:
embed_dim and sum(stages) of the sam2 package's configs/sam2.1/sam2.1_hiera_*.yaml (checked against sam2 1.1.0:
t 96/[1,2,7,2], s 96/[1,2,11,2], b+ 112/Hiera's default [2,3,16,3], l 144/[2,6,36,4]). Parameter counts from
sam2's README; the test-size model's counted on its seeded build.
"""

from __future__ import annotations

from samis.families.base import ModelFamily, ModelSpec, register
from samis.sam.params import Sam2AmgParams

SAM2_DOWNLOAD_BASE = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"

SAM2_FAMILY = ModelFamily("sam2", "SAM 2.1", "sam2", "samis.sam.sam2_backend:build_sam2_network", Sam2AmgParams,
                          "sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator", SAM2_DOWNLOAD_BASE,
                          (".pt", ".pth"), backend="samis.sam.sam2_backend", licence="Apache-2.0",
                          source="https://github.com/facebookresearch/sam2",
                          key_marker="image_encoder.trunk.patch_embed.proj.weight",
                          marker_text="image_encoder.trunk of a Hiera-T/S/B+/L",
                          detector="samis.sam.checkpoints:detect_sam2_model_type", order=20, release_name="sam2.1",
                          code_title="SAM 2")


def _sam2(key: str, title: str, checkpoint: str, approx: int, config: str, shape: tuple[int, int],
          params_m: float) -> ModelSpec:
    return ModelSpec(key, f"sam2.1-{key}", title, SAM2_FAMILY, checkpoint=checkpoint, approx_bytes=approx,
                     encoder_shape=shape, config=config, params_m=params_m)


SAM2_MODELS: dict[str, ModelSpec] = {
    "hiera_t": _sam2("hiera_t", "SAM 2.1 Hiera-T", "sam2.1_hiera_tiny.pt", 149_000_000,
                     "configs/sam2.1/sam2.1_hiera_t.yaml", (96, 12), 38.9),
    "hiera_s": _sam2("hiera_s", "SAM 2.1 Hiera-S", "sam2.1_hiera_small.pt", 176_000_000,
                     "configs/sam2.1/sam2.1_hiera_s.yaml", (96, 16), 46.0),
    "hiera_b+": _sam2("hiera_b+", "SAM 2.1 Hiera-B+", "sam2.1_hiera_base_plus.pt", 309_000_000,
                      "configs/sam2.1/sam2.1_hiera_b+.yaml", (112, 24), 80.8),
    "hiera_l": _sam2("hiera_l", "SAM 2.1 Hiera-L", "sam2.1_hiera_large.pt", 857_000_000,
                     "configs/sam2.1/sam2.1_hiera_l.yaml", (144, 48), 224.4),
}
#: the test-size SAM 2 (random weights): hiera_t's config with every size shrunk (see samis.sam.sam2_backend)
TINY_SAM2_MODEL = ModelSpec("tiny-sam2", "sam2-tiny-random", "test-size SAM 2, random weights (not SAM 2.1)",
                            SAM2_FAMILY, random_weights=True, config="configs/sam2.1/sam2.1_hiera_t.yaml",
                            params_m=1.33)
#: SAM 2.1 official file name → its model
OFFICIAL_SAM2_CHECKPOINTS = {m.checkpoint: m for m in SAM2_MODELS.values()}

register(SAM2_FAMILY, [TINY_SAM2_MODEL, *SAM2_MODELS.values()])
