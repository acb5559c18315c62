"""One interactive predictor per model family: the image embedded once, then one decoder call per click.

Every adapter has the same two calls, whatever package runs the model:

- ``embed(image)``: the image encoder, once per image (``set_image`` of the family's predictor);
- ``predict(points, labels, mask_input, multimask) -> (mask, logits)``: the decoder with every click so far
  (``points`` (k, 2) x, y image pixels; ``labels`` 1 positive, 0 negative), the previous low-resolution logits
  as the mask prompt (or None), and the multimask output on the first click, of which the highest-scored mask
  is kept. ``mask`` is (H, W) bool at the image's size; ``logits`` (1, h, w) float, fed back on the next click.

Families (:attr:`samis.models.ModelFamily.name` → adapter):

- ``sam``: ``segment_anything.SamPredictor``;
- ``hq-sam``: ``segment_anything_hq.SamPredictor`` (its HQ output; its decoder picks the best of the multimask
  outputs itself and returns one);
- ``sam2``: ``sam2.sam2_image_predictor.SAM2ImagePredictor`` (SAM 2.1 and the test-size SAM 2);
- ``efficientvit-sam``: ``efficientsam``'s ``EfficientViTSamPredictor``.

SAM 3 (another branch adds the family): register its adapter in :data:`ADAPTERS` under the family's name, with
these two calls; until then ``clicks --model`` refuses it in one line, as every model without point prompts.
"""

from __future__ import annotations

import numpy as np
import torch
from segment_anything import SamPredictor

from samis.errors import SamError
from samis.models import ModelSpec
from samis.sam.engine import LoadedSam, family_backend
from samis.sam.prompts import set_image


class PredictorAdapter:
    """The interactive calls over a predictor with ``segment_anything``'s ``predict`` signature (numpy in, out).

    Args:
        predictor: the family's predictor, built on the loaded model.
        extra: keyword arguments every ``predict`` call passes (HQ-SAM's ``hq_token_only``).
    """

    def __init__(self, predictor, extra: dict | None = None):
        self.predictor, self.extra = predictor, dict(extra or {})

    def embed(self, image: np.ndarray) -> None:
        """Run the image encoder once (RGB uint8)."""
        set_image(self.predictor, image)

    def predict(self, points: np.ndarray, labels: np.ndarray, mask_input: np.ndarray | None,
                multimask: bool) -> tuple[np.ndarray, np.ndarray]:
        """The mask for every click so far (see the module docstring)."""
        with torch.inference_mode():
            masks, scores, logits = self.predictor.predict(
                point_coords=np.asarray(points, np.float32), point_labels=np.asarray(labels, np.int32),
                mask_input=mask_input, multimask_output=multimask, **self.extra)
        masks, scores, logits = (_numpy(v) for v in (masks, scores, logits))
        best = int(np.argmax(scores)) if multimask and len(scores) > 1 else 0
        return masks[best] > 0, logits[best:best + 1].astype(np.float32)

    def predict_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """The union of the single-mask answers to each box (K, 4) ``x0, y0, x1, y1``; (H, W) bool (none: empty)."""
        union = None
        with torch.inference_mode():
            for box in np.asarray(boxes, np.float32).reshape(-1, 4):
                masks, _, _ = self.predictor.predict(box=box, multimask_output=False, **self.extra)
                mask = _numpy(masks)[0] > 0
                union = mask if union is None else union | mask
        return union

    def reset(self) -> None:
        """Forget the image (the predictor's own reset)."""
        reset = getattr(self.predictor, "reset_predictor", None) or getattr(self.predictor, "reset_image", None)
        if reset is not None:
            reset()


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    return np.asarray(value)


def _sam_adapter(loaded: LoadedSam) -> PredictorAdapter:
    return PredictorAdapter(SamPredictor(loaded.model))


def _hq_adapter(loaded: LoadedSam) -> PredictorAdapter:
    return PredictorAdapter(family_backend(loaded.spec).image_predictor(loaded.model), {"hq_token_only": False})


def _backend_adapter(loaded: LoadedSam) -> PredictorAdapter:
    return PredictorAdapter(family_backend(loaded.spec).image_predictor(loaded.model))


#: family name → adapter factory ``(LoadedSam) -> PredictorAdapter`` (SAM 3: add its own here)
ADAPTERS = {"sam": _sam_adapter, "hq-sam": _hq_adapter, "sam2": _backend_adapter,
            "efficientvit-sam": _backend_adapter}


def check_promptable(spec: ModelSpec, mode: str = "point", where: str = "clicks") -> None:
    """Raises SamError (one line) for a model that cannot take ``mode`` prompts here (no such mode, or no adapter)."""
    spec.check_mode(mode, where)
    if spec.code.name not in ADAPTERS:
        raise SamError(f"{where}: {spec.family_title} ({spec.key}) has no interactive predictor in samis yet; "
                       f"families with one: {', '.join(ADAPTERS)}")


def check_clickable(spec: ModelSpec) -> None:
    """Raises SamError (one line) for a model that cannot take point prompts (no adapter, or no point mode)."""
    check_promptable(spec, "point", "clicks")


def interactive_adapter(loaded: LoadedSam) -> PredictorAdapter:
    """The adapter of a loaded model's family.

    Raises:
        SamError: the family takes no point prompts (see :func:`check_clickable`).
    """
    check_clickable(loaded.spec)
    return ADAPTERS[loaded.spec.code.name](loaded)
