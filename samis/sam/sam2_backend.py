"""SAM 2.1 through the official ``sam2`` package: build a model, generate masks, prompt it.

* Real models: ``sam2.build_sam.build_sam2`` with the package's own hydra config
  (``configs/sam2.1/sam2.1_hiera_*.yaml``), then the checkpoint's weights, checked first by
  :mod:`samis.sam.checkpoints` (exists, plausible size, loadable, Hiera of the right width and depth).
* ``--model tiny-sam2``: the same builder and the same config as Hiera-T with every size shrunk
  (16-wide Hiera, 64-wide neck and heads, 256-pixel input) and seeded random weights, so tests and
  the CPU exercise exactly the code a real checkpoint runs. Its masks say nothing about SAM 2.1.
* Automatic masks: ``SAM2AutomaticMaskGenerator`` itself (all its parameters, :class:`Sam2AmgParams`),
  its records turned into samis's :class:`~samis.sam.masks.MaskSet` unchanged.
* Prompts: ``SAM2ImagePredictor`` (see :mod:`samis.sam.prompts`).
"""

from __future__ import annotations

import logging
import warnings
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import torch

from samis.errors import SamError
from samis.models import TINY_SAM2_MODEL, ModelSpec
from samis.sam.masks import MaskSet
from samis.sam.params import Sam2AmgParams
from samis.sam.checkpoints import load_state_dict

TINY_SAM2_SEED = 20240502
TINY_SAM2_IMAGE_SIZE = 256  # input side (SAM 2.1: 1024); 16x16 embedding, 64x64 low-res masks

# hiera_t's config, every width and depth shrunk; image, memory and decoder code stay sam2's own
TINY_SAM2_OVERRIDES = (
    f"++model.image_size={TINY_SAM2_IMAGE_SIZE}",
    "++model.image_encoder.trunk.embed_dim=16",
    "++model.image_encoder.trunk.num_heads=1",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.image_encoder.trunk.window_spec=[8,4,4,2]",
    "++model.image_encoder.trunk.window_pos_embed_bkg_spatial_size=[4,4]",
    "++model.image_encoder.neck.d_model=64",
    "++model.image_encoder.neck.backbone_channel_list=[128,64,32,16]",
    "++model.image_encoder.neck.position_encoding.num_pos_feats=64",
    "++model.memory_attention.d_model=64",
    "++model.memory_attention.num_layers=1",
    "++model.memory_attention.layer.d_model=64",
    "++model.memory_attention.layer.dim_feedforward=128",
    "++model.memory_attention.layer.self_attention.embedding_dim=64",
    "++model.memory_attention.layer.self_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.embedding_dim=64",
    "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.kv_in_dim=16",
    "++model.memory_encoder.out_dim=16",
    "++model.memory_encoder.in_dim=64",
    "++model.memory_encoder.position_encoding.num_pos_feats=16",
    "++model.memory_encoder.mask_downsampler.embed_dim=64",
    "++model.memory_encoder.fuser.layer.dim=64",
    "++model.memory_encoder.fuser.num_layers=1",
    "++model.num_maskmem=2",
)


def sam2_version() -> str:
    """The installed ``sam2`` package's version (``1.1.0``), for provenance."""
    try:
        return metadata.version("sam2")
    except metadata.PackageNotFoundError:
        return "unknown"


def _import_sam2():
    """``sam2``'s builder and generator classes; a one-line SamError when the package is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sam2 warns about torch.jit.script and its optional CUDA extension
            # sam2 is optional: imported when a SAM 2 model is built, a one-line error when missing
            from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
            from sam2.build_sam import build_sam2
            from sam2.sam2_image_predictor import SAM2ImagePredictor
    except ImportError as error:
        raise SamError(f"SAM 2.1 needs the sam2 package (pip install sam2==1.1.0): {error}") from None
    _use_components_without_extension()
    return build_sam2, SAM2AutomaticMaskGenerator, SAM2ImagePredictor


def connected_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``sam2.utils.misc.get_connected_components`` computed with OpenCV: the 8-connected components of
    binary masks of shape (N, 1, H, W).

    Returns:
        (labels, areas), int32 tensors of the mask's shape on its device: a component label (> 0) and the
        component's area at every foreground pixel, 0 on the background — the outputs sam2's CUDA kernel
        gives (sam2 uses only ``labels > 0`` and the areas).
    """
    binary = np.ascontiguousarray(mask.detach().to("cpu", torch.uint8).numpy())
    labels = np.empty(binary.shape, np.int32)
    for index in range(binary.shape[0]):  # OpenCV writes the labels in place; its stats would cost 5x more
        cv2.connectedComponents(binary[index, 0], labels=labels[index, 0], connectivity=8, ltype=cv2.CV_32S)
    flat = labels.reshape(binary.shape[0], binary.shape[2] * binary.shape[3])
    areas = np.empty_like(flat)
    for index in range(binary.shape[0]):
        component_area = np.bincount(flat[index])
        component_area[0] = 0  # OpenCV's label 0 is the background
        np.take(component_area, flat[index], out=areas[index])
    areas = areas.reshape(binary.shape)
    return torch.from_numpy(labels).to(mask.device), torch.from_numpy(areas).to(mask.device)


def _has_cuda_extension() -> bool:
    try:
        from sam2 import _C  # noqa: F401  (compiled only with CUDA at install time)
    except ImportError:
        return False
    return True


def _use_components_without_extension() -> None:
    """Let sam2's hole and sprinkle filling (``min_mask_region_area`` inside the generator) run where its
    CUDA kernel cannot (no extension, or tensors on the CPU), so a CPU run post-processes masks as a GPU
    run with the extension does, instead of skipping that step with a warning."""
    # sam2 is optional: imported only when a SAM 2 model is built
    from sam2.utils import misc

    if getattr(misc.get_connected_components, "samis_fallback", False):
        return
    kernel = misc.get_connected_components
    has_extension = _has_cuda_extension()

    def get_connected_components(mask):
        if has_extension and mask.is_cuda:
            return kernel(mask)
        return connected_components(mask)

    get_connected_components.samis_fallback = True
    misc.get_connected_components = get_connected_components


def build_tiny_sam2(seed: int = TINY_SAM2_SEED):
    """The test-size SAM 2 with random weights drawn from ``seed`` (deterministic on CPU).

    Returns:
        an eval-mode ``sam2.modeling.sam2_base.SAM2Base`` on the CPU, about 1.3 M parameters.
    """
    build_sam2, _, _ = _import_sam2()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = build_sam2(TINY_SAM2_MODEL.config, None, device="cpu", hydra_overrides_extra=list(TINY_SAM2_OVERRIDES))
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


#: weights SAM 2.1 added to SAM 2 (a SAM 2 checkpoint lacks exactly these)
SAM21_ONLY_KEYS = ("no_obj_embed_spatial", "obj_ptr_tpos_proj.")


def build_sam2_from_state(model: ModelSpec, state: dict, path: Path):
    """A SAM 2.1 model from the package's config, with a checked checkpoint's weights (on the CPU).

    Raises:
        SamError: the weights do not fit the config (one line naming the file).
    """
    build_sam2, _, _ = _import_sam2()
    network = build_sam2(model.config, None, device="cpu")  # ckpt_path None: samis reads and checks the file
    expected = set(network.state_dict())
    if expected - set(state) and all(key.startswith(SAM21_ONLY_KEYS) for key in expected - set(state)):
        raise SamError(f"{path}: a SAM 2 checkpoint (July 2024), not SAM 2.1; samis runs SAM 2.1: get "
                       f"{model.checkpoint} with `python -m samis checkpoints download {model.key}`")
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        lines = str(error).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(error)
        raise SamError(f"{path}: weights do not fit SAM 2.1 {model.key} ({first[:160]})") from None
    return network.eval()


def build_sam2_network(spec: ModelSpec, path: Path | None):
    """The SAM 2 family's loader: the test-size SAM 2 (``path`` None) or a checked SAM 2.1 checkpoint's weights.

    Raises:
        SamError: the file is not this model's, or its weights do not fit the config (one line).
    """
    if path is None:
        return build_tiny_sam2()
    state = load_state_dict(path, spec.key)
    try:
        return build_sam2_from_state(spec, state, path)
    finally:
        del state


def fit_predictor(predictor):
    """Size ``SAM2ImagePredictor``'s feature maps to its model's input.

    sam2 1.1.0 writes the backbone's feature sizes for a 1024-pixel input, ``[(256, 256), (128, 128),
    (64, 64)]``; they are ``image_size`` / 4, / 8, / 16, which is the same for SAM 2.1 and right for
    the test-size model's 256 pixels.
    """
    side = predictor.model.image_size
    predictor._bb_feat_sizes = [(side // 4, side // 4), (side // 8, side // 8), (side // 16, side // 16)]
    return predictor


def image_predictor(model, **kwargs):
    """A ``SAM2ImagePredictor`` for a loaded SAM 2 model (feature sizes fitted, see :func:`fit_predictor`)."""
    _, _, predictor_class = _import_sam2()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # sam2's transforms use torch.jit.script
        return fit_predictor(predictor_class(model, **kwargs))


def stock_generator(model, params: Sam2AmgParams):
    """``SAM2AutomaticMaskGenerator`` with every parameter of ``params`` (binary masks out)."""
    _, generator_class, _ = _import_sam2()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # sam2's transforms use torch.jit.script
        generator = generator_class(model, output_mode="binary_mask", **params.stock_kwargs())
    fit_predictor(generator.predictor)
    return generator


class Sam2MaskGenerator:
    """Automatic masks of SAM 2.1: the official generator, its records as a :class:`MaskSet`.

    Args:
        model: a loaded ``SAM2Base``.
        params: :class:`Sam2AmgParams` (every ``SAM2AutomaticMaskGenerator`` parameter).
        notify: callable receiving one-line notices (once: sam2 skipped its hole filling).
    """

    def __init__(self, model, params: Sam2AmgParams, notify=None):
        self.params = params
        self.notify = notify or (lambda message: None)
        self._told_hole_filling = False
        self._generator = stock_generator(model, params)

    def generate(self, image: np.ndarray, embeddings=None, on_embedding=None) -> MaskSet:
        """Masks of one RGB uint8 image, in the generator's order.

        Raises:
            SamError: the embedding cache was asked for (SAM's engine only), or a bad image.
        """
        if embeddings is not None or on_embedding is not None:
            raise SamError("the embedding cache (--cache-embeddings) is for SAM models only, not SAM 2.1")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SamError(f"SAM 2.1 needs an RGB uint8 image, got shape {image.shape} {image.dtype}")
        if not image.flags.writeable:
            image = image.copy()  # sam2's transforms hand the array to torch, which warns on read-only memory
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            previous = logging.root.manager.disable
            logging.disable(logging.INFO)  # set_image logs at INFO for every image
            try:
                records = self._generator.generate(image)
            finally:
                logging.disable(previous)
        for warning in caught:
            if "Skipping the post-processing" in str(warning.message):
                # sam2 warns, many lines, for every batch (its filling failed): say it once, in one line
                if not self._told_hole_filling:
                    self._told_hole_filling = True
                    first = str(warning.message).strip().splitlines()[0][:160]
                    self.notify(f"sam2 skipped its hole filling for min_mask_region_area ({first}); the "
                                "small-region removal after generation ran")
            elif not issubclass(warning.category, FutureWarning):  # torch.jit.script's deprecation inside sam2
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return MaskSet.from_stock(records, image.shape[:2])


def mask_generator(model, params: Sam2AmgParams, notify=None) -> Sam2MaskGenerator:
    """The family's automatic mask generator (what :mod:`samis.sam.engine` asks every backend for)."""
    return Sam2MaskGenerator(model, params, notify)


def package_version() -> str:
    """``sam2 1.1.0``: the package that ran the model, for provenance."""
    return f"sam2 {sam2_version()}"


def weights_seed() -> int:
    """The seed of the test-size SAM 2's random weights."""
    return TINY_SAM2_SEED
