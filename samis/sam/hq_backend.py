"""HQ-SAM through the official ``segment_anything_hq`` package: build a model, generate masks, prompt it.

* Real models (``hq_vit_b``, ``hq_vit_l``, ``hq_vit_h``): the package's ``sam_model_registry`` builder with no
  checkpoint, then the file's weights with ``strict=True``. The package's own loader uses ``strict=False`` (and
  prints what it skipped), so a plain SAM checkpoint would load with random HQ layers; samis checks the file's
  family first (:mod:`samis.sam.checkpoints`) and refuses a SAM file in one line.
* ``--model tiny-hq``: the package's own modules (``ImageEncoderViT``, ``PromptEncoder``, ``MaskDecoderHQ``,
  ``TwoWayTransformer``, ``Sam``) at the test-size SAM's sizes, seeded random weights. Its masks say nothing
  about HQ-SAM.
* Automatic masks: the package's ``SamAutomaticMaskGenerator`` (SAM's parameters) with ``hq_token_only``
  passed to its predictor; its records become samis's :class:`~samis.sam.masks.MaskSet` unchanged.
* Prompts: the package's ``SamPredictor`` (``predict_torch`` takes ``hq_token_only``).
"""

from __future__ import annotations

import functools
import warnings
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from samis.errors import SamError
from samis.models import ModelSpec
from samis.sam.checkpoints import load_state_dict
from samis.sam.masks import MaskSet
from samis.sam.params import HqAmgParams

TINY_HQ_SEED = 20240503
TINY_HQ_IMAGE_SIZE = 256  # as the test-size SAM: 16x16 embedding, 64x64 low-res masks
TINY_HQ_PROMPT_DIM = 64


def hq_version() -> str:
    """The installed ``segment-anything-hq`` package's version (``0.3``), for provenance."""
    try:
        return metadata.version("segment-anything-hq")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def _package():
    """``segment_anything_hq`` (imported once: it registers timm models and warns about timm's old paths)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # timm's deprecated import paths and its model registry, inside the package
            # segment_anything_hq is optional: imported when an HQ-SAM model is built, a one-line error when missing
            import segment_anything_hq
            from segment_anything_hq import modeling
    except ImportError as error:
        raise SamError(f"HQ-SAM needs the segment-anything-hq package and timm (pip install segment-anything-hq==0.3 "
                       f"timm): {error}") from None
    return segment_anything_hq, modeling


def build_tiny_hq_sam(seed: int = TINY_HQ_SEED):
    """The test-size HQ-SAM with random weights drawn from ``seed`` (deterministic on CPU).

    Returns:
        an eval-mode ``segment_anything_hq.modeling.Sam`` on the CPU, about 0.5 M parameters.
    """
    _, modeling = _package()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        embedding = TINY_HQ_IMAGE_SIZE // 16
        encoder = modeling.ImageEncoderViT(
            img_size=TINY_HQ_IMAGE_SIZE, patch_size=16, embed_dim=64, depth=2, num_heads=2, mlp_ratio=2,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=(1,), window_size=4, out_chans=TINY_HQ_PROMPT_DIM)
        prompt = modeling.PromptEncoder(embed_dim=TINY_HQ_PROMPT_DIM, image_embedding_size=(embedding, embedding),
                                        input_image_size=(TINY_HQ_IMAGE_SIZE, TINY_HQ_IMAGE_SIZE), mask_in_chans=8)
        decoder = modeling.MaskDecoderHQ(
            num_multimask_outputs=3, transformer_dim=TINY_HQ_PROMPT_DIM, iou_head_depth=3, iou_head_hidden_dim=64,
            transformer=modeling.TwoWayTransformer(depth=2, embedding_dim=TINY_HQ_PROMPT_DIM, mlp_dim=128,
                                                   num_heads=4),
            vit_dim=64)
        sam = modeling.Sam(image_encoder=encoder, prompt_encoder=prompt, mask_decoder=decoder)
        with torch.no_grad():  # as the test-size SAM: spread the zero-initialised relative position tables
            for name, parameter in sam.named_parameters():
                if "rel_pos" in name:
                    parameter.normal_(0.0, 0.5)
    finally:
        torch.random.set_rng_state(state)
    return sam.eval()


def hq_network_on_meta(variant: str):
    """A real HQ-SAM variant (``vit_b`` …) built by the package's own builder on the meta device (no weights)."""
    package, _ = _package()
    with torch.device("meta"):
        return package.sam_model_registry[variant](checkpoint=None)


def build_hq_network(spec: ModelSpec, path: Path | None):
    """The HQ-SAM family's loader: the test-size HQ-SAM (``path`` None) or a checked HQ-SAM checkpoint, ``strict=True``.

    Raises:
        SamError: not an HQ-SAM file of this variant (a plain SAM one included), or weights that do not fit (one line).
    """
    if path is None:
        return build_tiny_hq_sam()
    package, _ = _package()
    state = load_state_dict(path, spec.key)  # checks the family (hf_token) and the ViT size first
    network = package.sam_model_registry[spec.config](checkpoint=None)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = str(error).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(error)
        raise SamError(f"{path}: weights do not fit HQ-SAM {spec.key} ({first[:160]})") from None
    return network.eval()


def image_predictor(model):
    """The package's ``SamPredictor`` for a loaded HQ-SAM."""
    package, _ = _package()
    return package.SamPredictor(model)


class HqMaskGenerator:
    """Automatic masks of HQ-SAM: the package's generator, ``hq_token_only`` given to its predictor.

    Args:
        model: a loaded ``segment_anything_hq.modeling.Sam``.
        params: :class:`~samis.sam.params.HqAmgParams`.
        notify: unused (the same signature as the other families' generators).
    """

    def __init__(self, model, params: HqAmgParams, notify=None):
        package, _ = _package()
        self.params = params
        kwargs = {k: v for k, v in params.as_dict().items() if k != "hq_token_only"}
        self._generator = package.SamAutomaticMaskGenerator(model, output_mode="binary_mask", **kwargs)
        predictor = self._generator.predictor
        predictor.predict_torch = partial(predictor.predict_torch, hq_token_only=params.hq_token_only)

    def generate(self, image: np.ndarray, embeddings=None, on_embedding=None) -> MaskSet:
        """Masks of one RGB uint8 image, in the generator's order.

        Raises:
            SamError: the embedding cache was asked for (SAM's engine only), or a bad image.
        """
        if embeddings is not None or on_embedding is not None:
            raise SamError("the embedding cache (--cache-embeddings) is for SAM models only, not HQ-SAM")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SamError(f"HQ-SAM needs an RGB uint8 image, got shape {image.shape} {image.dtype}")
        with torch.inference_mode():
            records = self._generator.generate(image)
        return MaskSet.from_stock(records, image.shape[:2])


def mask_generator(model, params, notify=None) -> HqMaskGenerator:
    """The family's automatic mask generator (what :mod:`samis.sam.engine` asks every backend for)."""
    return HqMaskGenerator(model, params, notify)


def package_version() -> str:
    """``segment-anything-hq 0.3``: the package that ran the model, for provenance."""
    return f"segment-anything-hq {hq_version()}"


def weights_seed() -> int:
    """The seed of the test-size HQ-SAM's random weights."""
    return TINY_HQ_SEED
