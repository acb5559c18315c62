"""EfficientViT-SAM through the ``efficientsam`` package (MIT Han lab, 1.0.0): build, generate masks, prompt.

Not EfficientSAM (Xiong et al.), a different model: samis calls this family "EfficientViT-SAM" everywhere.

* Real models (``evit_l0`` … ``evit_xl1``): ``create_efficientvit_sam_model(name, pretrained=False)`` (never a
  download), then the checkpoint's weights with ``strict=True``, after :mod:`samis.sam.checkpoints` checked the
  file's family and variant against the package's constructors built on the meta device.
* ``--model tiny-evit``: the package's own modules (``EfficientViTLargeBackbone``, ``SamNeck``,
  ``EfficientViTSamImageEncoder``, its ``PromptEncoder``/``MaskDecoder``/``TwoWayTransformer``, ``EfficientViTSam``)
  at small sizes, seeded random weights; its masks say nothing about EfficientViT-SAM.
* Automatic masks: the package's ``EfficientViTSamAutomaticMaskGenerator`` (SAM's parameters); prompts: its
  ``EfficientViTSamPredictor``.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from samis.errors import SamError
from samis.models import ModelSpec
from samis.sam.checkpoints import load_state_dict
from samis.sam.evit_shapes import import_package
from samis.sam.masks import MaskSet

TINY_EVIT_SEED = 20240504
#: (prompt/mask frame, encoder input) of the test-size model; the real L models use (1024, 512), XL (1024, 1024)
TINY_EVIT_IMAGE_SIZE = (256, 128)
TINY_EVIT_EMBEDDING = 64  # width of the image embedding (real: 256)
TINY_EVIT_GRID = 16       # side of the image embedding (real: 64, written into the package's SamNeck)


def evit_version() -> str:
    """The installed ``efficientsam`` package's version (``1.0.0``), for provenance."""
    try:
        return metadata.version("efficientsam")
    except metadata.PackageNotFoundError:
        return "unknown"


def package_version() -> str:
    """``efficientsam 1.0.0``: the package that ran the model, for provenance."""
    return f"efficientsam {evit_version()}"


def weights_seed() -> int:
    """The seed of the test-size EfficientViT-SAM's random weights."""
    return TINY_EVIT_SEED


def build_tiny_evit_sam(seed: int = TINY_EVIT_SEED):
    """The test-size EfficientViT-SAM with random weights drawn from ``seed`` (deterministic on CPU).

    Returns:
        an eval-mode ``EfficientViTSam`` on the CPU, about 0.4 M parameters.
    """
    _, backbone_module, sam_module, modeling, evit_nn = import_package()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        backbone = backbone_module.EfficientViTLargeBackbone(width_list=[8, 8, 16, 16, 32], depth_list=[1, 1, 1, 1, 1],
                                                             qkv_dim=8)
        width, grid = TINY_EVIT_EMBEDDING, TINY_EVIT_GRID
        neck = sam_module.SamNeck(fid_list=["stage4", "stage3", "stage2"], in_channel_list=[32, 16, 16], head_width=32,
                                  head_depth=1, expand_ratio=1, middle_op="fmb", out_dim=width)
        for branch in neck.input_ops:  # the package writes a 64x64 grid here; the package's own layer, smaller
            branch.op_list[1] = evit_nn.UpSampleLayer(size=(grid, grid))
        encoder = sam_module.EfficientViTSamImageEncoder(backbone, neck)
        encoder.norm = evit_nn.build_norm("ln2d", width)  # the package writes 256 here
        frame, _ = TINY_EVIT_IMAGE_SIZE
        model = sam_module.EfficientViTSam(
            image_encoder=encoder,
            prompt_encoder=modeling.PromptEncoder(embed_dim=width, image_embedding_size=(grid, grid),
                                                  input_image_size=(frame, frame), mask_in_chans=8),
            mask_decoder=modeling.MaskDecoder(
                num_multimask_outputs=3, transformer_dim=width, iou_head_depth=3, iou_head_hidden_dim=64,
                transformer=modeling.TwoWayTransformer(depth=2, embedding_dim=width, mlp_dim=128, num_heads=4)),
            image_size=TINY_EVIT_IMAGE_SIZE)
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


def build_evit_network(spec: ModelSpec, path: Path | None):
    """The EfficientViT-SAM family's loader: the test-size model (``path`` None) or a checked checkpoint, ``strict=True``.

    Raises:
        SamError: not an EfficientViT-SAM file of this variant, or weights that do not fit (one line).
    """
    if path is None:
        return build_tiny_evit_sam()
    sam_model_zoo, _, _, _, _ = import_package()
    state = load_state_dict(path, spec.key)
    network = sam_model_zoo.create_efficientvit_sam_model(spec.config, pretrained=False)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = str(error).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(error)
        raise SamError(f"{path}: weights do not fit EfficientViT-SAM {spec.key} ({first[:160]})") from None
    return network.eval()


def image_predictor(model):
    """The package's ``EfficientViTSamPredictor`` for a loaded model."""
    _, _, sam_module, _, _ = import_package()
    return sam_module.EfficientViTSamPredictor(model)


class EvitMaskGenerator:
    """Automatic masks of EfficientViT-SAM: the package's generator, its records as a :class:`MaskSet`."""

    def __init__(self, model, params, notify=None):
        _, _, sam_module, _, _ = import_package()
        self.params = params
        self._generator = sam_module.EfficientViTSamAutomaticMaskGenerator(model, output_mode="binary_mask",
                                                                           **params.as_dict())

    def generate(self, image: np.ndarray, embeddings=None, on_embedding=None) -> MaskSet:
        """Masks of one RGB uint8 image, in the generator's order.

        Raises:
            SamError: the embedding cache was asked for (SAM's engine only), or a bad image.
        """
        if embeddings is not None or on_embedding is not None:
            raise SamError("the embedding cache (--cache-embeddings) is for SAM models only, not EfficientViT-SAM")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SamError(f"EfficientViT-SAM needs an RGB uint8 image, got shape {image.shape} {image.dtype}")
        with torch.inference_mode():
            records = self._generator.generate(image)
        return MaskSet.from_stock(records, image.shape[:2])


def mask_generator(model, params, notify=None) -> EvitMaskGenerator:
    """The family's automatic mask generator (what :mod:`samis.sam.engine` asks every backend for)."""
    return EvitMaskGenerator(model, params, notify)
