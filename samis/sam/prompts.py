"""Prompted SAM: one prompt per ground-truth component, through ``SamPredictor`` (upper bounds).

* ``box``   — the bounding box of each connected component of the ground truth (single-mask output);
* ``point`` — one positive point per component, at the component pixel nearest to its centroid
  (so it lies on the defect even for curved scratches), multimask output, best predicted IoU kept.

The masks of all components are united into the image's map. The prompts come from the ground
truth, so these are upper bounds, written as methods ``sam-<model>+box`` / ``sam-<model>+point``.
SAM 2.1 is prompted the same way through ``sam2``'s ``SAM2ImagePredictor`` (methods
``sam2.1-<model>+box`` …, ``sam2-tiny-random+box`` for the test-size SAM 2).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from segment_anything import SamPredictor

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import DatasetError, SamError
from samis.imageio import ImageReadError, read_rgb
from samis.methods import sam_method_id
from samis.runs import ProgressCallback, ProgressTracker, Report
from samis.sam.engine import LoadedSam, family_backend
from samis.sam.records import SelectionRecord, write_selection_record
from samis.sam.selection import union_of_masks
from samis.store import write_manifest, write_prediction
from samis.workspace import Workspace


def component_prompts(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4) XYXY and points (K, 2) XY of the 8-connected components of a GT mask."""
    labels, count = ndimage.label(gt, structure=np.ones((3, 3), bool))
    boxes, points = [], []
    for index, slices in enumerate(ndimage.find_objects(labels), start=1):
        if slices is None:
            continue
        rows, cols = slices
        boxes.append([cols.start, rows.start, cols.stop - 1, rows.stop - 1])
        ys, xs = np.nonzero(labels[slices] == index)
        ys, xs = ys + rows.start, xs + cols.start
        nearest = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
        points.append([xs[nearest], ys[nearest]])
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(points, np.float64).reshape(-1, 2)


def _box_masks(predictor: SamPredictor, boxes: np.ndarray, points: np.ndarray) -> torch.Tensor:
    """One mask per box (single-mask output): (K, H, W) bool."""
    box_t = torch.as_tensor(predictor.transform.apply_boxes(boxes, predictor.original_size), dtype=torch.float,
                            device=predictor.device)
    masks, _, _ = predictor.predict_torch(None, None, boxes=box_t, multimask_output=False)
    return masks[:, 0]


def _point_masks(predictor: SamPredictor, boxes: np.ndarray, points: np.ndarray) -> torch.Tensor:
    """One mask per point: of the multimask output, the one with the best predicted IoU; (K, H, W) bool."""
    device = predictor.device
    coords = torch.as_tensor(predictor.transform.apply_coords(points, predictor.original_size), dtype=torch.float,
                             device=device)
    labels = torch.ones(len(points), 1, dtype=torch.int, device=device)
    masks, scores, _ = predictor.predict_torch(coords[:, None, :], labels, multimask_output=True)
    return masks[torch.arange(len(points), device=device), scores.argmax(1)]


def _box_masks_sam2(predictor, boxes: np.ndarray, points: np.ndarray) -> torch.Tensor:
    """SAM 2: one mask per box (single-mask output), through ``SAM2ImagePredictor.predict``; (K, H, W) bool."""
    masks, _, _ = predictor.predict(box=boxes, multimask_output=False)
    height, width = masks.shape[-2:]
    return torch.from_numpy(masks.reshape(len(boxes), -1, height, width)[:, 0] > 0)


def _point_masks_sam2(predictor, boxes: np.ndarray, points: np.ndarray) -> torch.Tensor:
    """SAM 2: one mask per point, the best predicted IoU of the multimask output; (K, H, W) bool."""
    masks, scores, _ = predictor.predict(point_coords=points[:, None, :], point_labels=np.ones((len(points), 1)),
                                         multimask_output=True)
    height, width = masks.shape[-2:]
    masks = masks.reshape(len(points), -1, height, width)
    best = scores.reshape(len(points), -1).argmax(1)
    return torch.from_numpy(masks[np.arange(len(points)), best] > 0)


#: prompt kind → ``masks(predictor, boxes, points)`` giving one mask per ground-truth component
PROMPTS = {"box": _box_masks, "point": _point_masks}
#: the same for SAM 2's ``SAM2ImagePredictor``
SAM2_PROMPTS = {"box": _box_masks_sam2, "point": _point_masks_sam2}
PROMPT_KINDS = tuple(PROMPTS)


def prompted_mask(predictor, gt: np.ndarray, kind: str) -> np.ndarray:
    """Union of SAM's masks for the GT components of one image (``predictor`` has the image set).

    ``predictor`` is a ``SamPredictor`` (SAM, and HQ-SAM's and EfficientViT-SAM's predictors, which have its
    interface) or, for SAM 2, a ``SAM2ImagePredictor``.
    """
    boxes, points = component_prompts(gt)
    if len(boxes) == 0:
        return np.zeros(gt.shape, bool)
    prompts = SAM2_PROMPTS if type(predictor).__name__ == "SAM2ImagePredictor" else PROMPTS
    with torch.inference_mode():
        masks = prompts[kind](predictor, boxes, points).cpu().numpy()
    return union_of_masks(masks, gt.shape)


def prompt_record(method: str, stem: str, kind: str, gt: np.ndarray) -> SelectionRecord:
    """The record of a prompted map: the prompts made from the ground truth (its masks are not in the cache)."""
    boxes, points = component_prompts(gt)
    return SelectionRecord(
        method, stem, kind, "prompt", score_name="none: one prompt per ground-truth component, masks united",
        uses_ground_truth=True,
        prompts={"boxes": boxes.astype(int).tolist() if kind == "box" else [],
                 "points": points.astype(int).tolist() if kind == "point" else [],
                 "coordinates": "image pixels: boxes x0, y0, x1, y1; points x, y"},
        details={"components": int(len(boxes)),
                 "note": "SAM was prompted again: these masks are not in the automatic mask cache"})


@dataclass
class PromptReport(Report):
    """What a prompted run wrote."""

    method: str
    images: int
    seconds: float

    def summary(self) -> str:
        return f"wrote {self.method}: {self.images} maps  [upper bound: prompts from ground truth]"


def run_prompted_over_dataset(workspace: Workspace, dataset: Dataset, loaded: LoadedSam, kind: str,
                              split: str = "all", progress: ProgressCallback | None = None,
                              samples: list[Sample] | None = None) -> PromptReport:
    """Write ``<label>+<kind>`` maps for a split, prompting SAM from each image's ground truth.

    Args:
        kind: one of :data:`PROMPT_KINDS`.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage: the method) at the
            start and after each image.
        samples: run on these samples instead of the split.

    Returns:
        a :class:`PromptReport`.

    Raises:
        SamError: unknown kind, or an image without readable ground truth.
        DatasetError: the split has no images.
    """
    if kind not in PROMPT_KINDS:
        raise SamError(f"unknown prompt kind {kind!r}; choose from {', '.join(PROMPT_KINDS)}")
    loaded.spec.check_mode(kind)
    samples = list(samples) if samples is not None else get_split(workspace, dataset, split)
    if not samples:
        raise DatasetError(f"dataset {dataset.id!r} has no images in split {split!r}")
    method = sam_method_id(loaded.label, kind)
    started = time.perf_counter()
    tracker = ProgressTracker(progress, len(samples), method).start()
    with loaded.lock:
        if loaded.spec.code.backend:  # the family's own predictor (sam2, segment_anything_hq, efficientsam)
            predictor = family_backend(loaded.spec).image_predictor(loaded.model)
        else:
            predictor = SamPredictor(loaded.model)
        for sample in samples:
            try:
                gt = sample.read_gt()
            except (ImageReadError, OSError) as error:
                raise SamError(f"{kind} prompts come from the ground truth, but image {sample.id} has none readable ({error})") from None
            image = read_rgb(sample.image_path)
            set_image(predictor, image)
            prompt_gt = gt if gt.shape == image.shape[:2] else _nearest(gt, image.shape[:2])
            mask = prompted_mask(predictor, prompt_gt, kind)
            if mask.shape != gt.shape:
                mask = _nearest(mask, gt.shape)
            write_prediction(workspace, dataset.id, method, sample.id, mask)
            write_selection_record(workspace, dataset.id, prompt_record(method, sample.id, kind, prompt_gt))
            tracker.advance()
        predictor.reset_predictor() if hasattr(predictor, "reset_predictor") else predictor.reset_image()
    write_manifest(workspace, dataset.id, method, {
        "source": "sam-prompted", "prompt": kind, "upper_bound": True,
        "note": "prompts come from the ground-truth components: an upper bound, not a practical result",
        "split": split, "images": len(samples), **loaded.provenance(), "samis_version": __version__,
    })
    return PromptReport(method, len(samples), time.perf_counter() - started)


def set_image(predictor, image: np.ndarray) -> None:
    """``predictor.set_image(image)``: any family's predictor (SAM 2's without its INFO log for every image)."""
    if isinstance(predictor, SamPredictor):
        predictor.set_image(image)
        return
    if not image.flags.writeable:
        image = image.copy()  # sam2's transforms hand the array to torch, which warns on read-only memory
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # SAM2ImagePredictor logs at INFO for every image
    try:
        predictor.set_image(image)
    finally:
        logging.disable(previous)


def _nearest(mask: np.ndarray, shape) -> np.ndarray:
    rows = (np.arange(shape[0]) * mask.shape[0] // shape[0]).clip(0, mask.shape[0] - 1)
    cols = (np.arange(shape[1]) * mask.shape[1] // shape[1]).clip(0, mask.shape[1] - 1)
    return mask[rows][:, cols]
