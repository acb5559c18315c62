"""SAM 3 through the official ``sam3`` package (0.1.4): load the image model, prompt it.

* The real model (``--model sam3``): :mod:`samis.sam.checkpoints` checks the file by its key → shape map
  (:func:`samis.sam.sam3_assembly.variant_shapes`); the network is :func:`~samis.sam.sam3_assembly.assemble_sam3` at
  SAM 3's sizes, loaded strictly on every parameter. The package's own loader uses ``strict=False`` and prints
  what it skipped, so a file of another family would load as random weights.
* ``--model tiny-sam3``: the assembly at test sizes, seeded random weights. Its output says nothing about SAM 3.
* Prompts (:class:`Sam3Predictor`): a text (``Sam3Processor.set_text_prompt``), a positive exemplar box
  (``add_geometric_prompt``: "everything like this"), and SAM-style box / point prompts through the interactive
  instance predictor (``predict_inst``). A box given to the concept processor is an exemplar, not a box prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from samis.errors import SamError
from samis.models import ModelSpec
from samis.sam.engine import device_name
from samis.speed.timing import SpeedSubject
from samis.sam.checkpoints import load_state_dict
from samis.sam.sam3_assembly import SAM3_SIZES, TINY_SIZES, package_modules, assemble_sam3, model_keys

TINY_SAM3_SEED = 20251119


def sam3_version() -> str:
    try:
        return metadata.version("sam3")
    except metadata.PackageNotFoundError:
        return "unknown"


def package_version() -> str:
    """``sam3 0.1.4``: the package that ran the model, for provenance."""
    return f"sam3 {sam3_version()}"


def weights_seed() -> int:
    """The seed of the test-size SAM 3's random weights."""
    return TINY_SAM3_SEED


def build_tiny_sam3(seed: int = TINY_SAM3_SEED):
    """The test-size SAM 3 with random weights drawn from ``seed`` (deterministic on CPU), in eval mode.

    The text encoder leaves its positional embedding and projection uninitialised (``torch.empty``: the checkpoint
    fills them), so they are drawn as open_clip initialises them; the presence head's last bias is raised so the
    random model's scores spread around 0.5 instead of staying under it.
    """
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = assemble_sam3(TINY_SIZES)
        text = model.backbone.language_backbone.encoder
        with torch.no_grad():
            text.positional_embedding.normal_(0.0, 0.01)
            text.text_projection.normal_(0.0, TINY_SIZES.text_width ** -0.5)
            model.transformer.decoder.presence_token_head.layers[-1].bias.fill_(4.0)
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


def build_sam3_network(spec: ModelSpec, path: Path | None):
    """The SAM 3 family's loader: the test-size SAM 3 (``path`` None) or a checked ``sam3.pt``, strict on every
    parameter (the package's own loader is ``strict=False`` and would load another file as random weights).

    Raises:
        SamError: not a SAM 3 file (another family's included), or weights that do not fit (one line).
    """
    if path is None:
        return build_tiny_sam3()
    state = load_state_dict(path, spec.key)  # checks the family and the key → shape map first
    network = assemble_sam3(SAM3_SIZES)
    try:
        missing, unexpected = network.load_state_dict(model_keys(state), strict=False)
    except RuntimeError as error:
        lines = str(error).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(error)
        raise SamError(f"{path}: weights do not fit SAM 3 {spec.key} ({first[:160]})") from None
    buffers = {name for name, _ in network.named_buffers()}
    left = [name for name in [*missing, *unexpected] if name not in buffers]
    if left:  # strict on the parameters: only the constructors' own buffers may be absent from the file
        raise SamError(f"{path}: weights do not fit SAM 3 {spec.key} ({len(left)} parameters missing or unexpected, "
                       f"e.g. {left[0]})")
    return network.eval()


@dataclass
class Instances:
    """What SAM 3 found in one image for one prompt: masks (n, H, W) bool, scores (n,), boxes (n, 4) XYXY pixels."""

    masks: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray


class Sam3Predictor:
    """SAM 3 on one image at a time: concept prompts (text, exemplar boxes) and the instance predictor.

    Args:
        model: a loaded ``Sam3Image``; its input size is the model's (1008, or the test-size model's).
    """

    def __init__(self, model):
        self.model = model
        device = next(model.parameters()).device
        resolution = int(model.inst_interactive_predictor.model.image_size)  # 1008, or the test-size model's
        # threshold 0: every query comes back with its score; samis applies its own threshold
        self.processor = package_modules()["processor"].Sam3Processor(model, resolution=resolution, device=str(device),
                                                               confidence_threshold=0.0)
        self.state = None

    def set_image(self, image: np.ndarray) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SamError(f"SAM 3 needs an RGB uint8 image, got shape {image.shape} {image.dtype}")
        self.state = self.processor.set_image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))

    def text(self, term: str) -> Instances:
        """Every instance of the concept ``term`` (the processor's text prompt)."""
        self.processor.reset_all_prompts(self.state)
        return _instances(self.processor.set_text_prompt(term, self.state))

    def exemplar(self, box_xyxy) -> Instances:
        """Every instance like the one in ``box_xyxy`` (pixels): a positive exemplar box, no text."""
        self.processor.reset_all_prompts(self.state)
        height, width = self.state["original_height"], self.state["original_width"]
        x0, y0, x1, y1 = (float(v) for v in box_xyxy)
        box = [(x0 + x1 + 1) / 2 / width, (y0 + y1 + 1) / 2 / height, (x1 - x0 + 1) / width, (y1 - y0 + 1) / height]
        return _instances(self.processor.add_geometric_prompt(box, True, self.state))

    def instance(self, box=None, point=None) -> np.ndarray:
        """One mask from a box (XYXY) or a positive point (XY) through ``predict_inst``: (H, W) bool.

        A box here is a SAM-style box prompt for one object, not an exemplar of a concept.
        """
        kwargs = ({"box": np.asarray(box, np.float32)[None], "multimask_output": False} if box is not None else
                  {"point_coords": np.asarray(point, np.float32)[None], "point_labels": np.ones(1, np.int32),
                   "multimask_output": True})
        masks, scores, _ = self.model.predict_inst(self.state, **kwargs)
        return np.asarray(masks[int(np.argmax(scores))] > 0)


def _instances(state: dict) -> Instances:
    masks = state["masks"][:, 0].cpu().numpy().astype(bool)
    return Instances(masks, state["scores"].float().cpu().numpy().astype(np.float32),
                     state["boxes"].float().cpu().numpy().astype(np.float32).reshape(-1, 4))


def image_predictor(model) -> Sam3Predictor:
    """SAM 3's predictor for a loaded model (what :mod:`samis.sam.engine` asks every backend for)."""
    return Sam3Predictor(model)


def mask_generator(model, params, notify=None):
    """SAM 3 has no automatic mask generator in samis: it is prompted with text or exemplars."""
    raise SamError("SAM 3 has no automatic mode; run it with --prompts text (or exemplar, box, point)")


#: the vocabulary SAM 3 is timed with: SD-saliency-900's three defect classes, each term one text prompt
SPEED_VOCABULARY = ("inclusion", "patches", "scratches")


def speed_subject(loaded):
    """A :class:`samis.speed.timing.SpeedSubject` for SAM 3: one image through the image encoder and one text
    prompt per term of :data:`SPEED_VOCABULARY` (the deployable mode), every query's mask at the image's size."""
    predictor = Sam3Predictor(loaded.model)
    spec = loaded.spec

    def run(image: np.ndarray):
        predictor.set_image(image)
        return [predictor.text(term) for term in SPEED_VOCABULARY]

    if spec.random_weights:
        label, note = (f"{spec.label}: test-size SAM 3, random weights (not SAM 3)",
                       "test-size SAM 3, random weights: speed and code paths only, not SAM 3's accuracy")
    else:
        label, note = spec.title, f"checkpoint {loaded.checkpoint.name}"
    return SpeedSubject(method=loaded.label, label=label, params_m=loaded.params_m, size_mb=loaded.size_mb, run=run,
                        device=device_name(loaded.device),
                        synchronize=torch.cuda.synchronize if loaded.device.type == "cuda" else None,
                        note=note + f"; text prompts ({len(SPEED_VOCABULARY)} terms), {spec.code.generator}")
