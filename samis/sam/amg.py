"""Automatic mask generation (SAM's "segment everything"), same masks as
``SamAutomaticMaskGenerator.generate`` in a fraction of the time.

The stock generator upsamples every one of the 3 x 1024 candidate masks to 1024 x 1024 and back
down to the image size, thresholds and run-length-encodes all of them in Python, and only then
drops duplicates. Here, per point batch:

1. the decoder (:mod:`samis.sam.decoder`) shares the image-side work between prompts and returns
   predicted IoUs first, so candidates below ``pred_iou_thresh`` are dropped *before* upscaling;
2. the two bilinear resizes (low-res -> 1024 -> crop -> image size) are composed into one small
   linear map per axis, built from ``F.interpolate`` itself so it has the same weights, and applied
   as two matrix products on the device (no 1024 x 1024 intermediate);
3. stability score, threshold, boxes and crop-edge filter are the stock functions, on the device;
4. duplicates are removed by the same box NMS, and only the survivors are ever copied to the host.

Everything runs under ``torch.inference_mode``. The result is a :class:`~samis.sam.masks.MaskSet`
in the stock generator's order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.utils.amg import (
    batched_mask_to_box,
    build_all_layer_point_grids,
    calculate_stability_score,
    generate_crop_boxes,
    is_box_near_crop_edge,
    remove_small_regions,
)
from segment_anything.utils.transforms import ResizeLongestSide
from torchvision.ops.boxes import batched_nms, box_area

from samis.errors import SamError
from samis.sam.decoder import PointPromptDecoder
from samis.sam.masks import MaskSet
from samis.sam.params import AmgParams

#: float32 bytes of full-size masks made at once; bounds the generator's memory whatever the image
#: size and ``points_per_batch`` (64 x 3 candidates of a 3000 x 3000 image would be 6.9 GB)
MASK_CHUNK_BYTES = 128 * 1024 * 1024


# ---- composed resize -------------------------------------------------------------------------
def _interp_matrix(in_len: int, out_len: int) -> torch.Tensor:
    """(out_len, in_len) matrix of ``F.interpolate(mode='linear', align_corners=False)``."""
    eye = torch.eye(in_len, dtype=torch.float64).unsqueeze(0)  # channel c = unit vector e_c
    return F.interpolate(eye, size=out_len, mode="linear", align_corners=False)[0].transpose(0, 1)


def _axis_matrix(low_len: int, model_len: int, input_len: int, out_len: int, device) -> torch.Tensor:
    """(out_len, low_len) map of low-res -> model size (e.g. 1024) -> first ``input_len`` -> ``out_len``.

    Each row has at most 4 non-zero weights, but a dense matrix product beats gathering them
    (measured: 2x on 256 -> 200, 10x on 64 -> 200 for 192 masks on the CPU).
    """
    up = _interp_matrix(low_len, model_len)[:input_len]
    down = _interp_matrix(input_len, out_len)
    return (down @ up).to(device=device, dtype=torch.float32)  # composed in float64: no extra rounding


def masks_to_boxes_xyxy(masks: torch.Tensor) -> torch.Tensor:
    """Inclusive XYXY boxes of (M, H, W) bool masks, [0, 0, 0, 0] for an empty mask.

    Same result as ``segment_anything.utils.amg.batched_mask_to_box`` from two ``any`` reductions
    and ``argmax`` instead of its ``max`` over coordinate-weighted copies of every mask.
    """
    count, height, width = masks.shape
    if count == 0:
        return torch.zeros((0, 4), dtype=torch.int64, device=masks.device)
    rows = masks.any(-1).to(torch.uint8)  # (M, H)
    cols = masks.any(-2).to(torch.uint8)  # (M, W)
    top = rows.argmax(-1)
    bottom = height - 1 - rows.flip(-1).argmax(-1)
    left = cols.argmax(-1)
    right = width - 1 - cols.flip(-1).argmax(-1)
    boxes = torch.stack([left, top, right, bottom], dim=-1)
    return boxes * rows.any(-1, keepdim=True)


def _resize(logits: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Apply the composed resize to (M, h, w) low-res logits -> (M, H, W)."""
    return torch.matmul(torch.matmul(rows, logits), cols.t())


# ---- the generator ---------------------------------------------------------------------------
class FastMaskGenerator:
    """Automatic mask generation for one SAM model and one parameter set.

    Args:
        model: a SAM model in eval mode, on its device.
        params: the generator parameters.
        embedding_provider: optional callable ``(crop_image, crop_key) -> features or None`` used to
            skip the image encoder (the embedding cache); and ``embedding_sink(crop_key, features)``.
    """

    def __init__(self, model: Sam, params: AmgParams):
        self.model = model
        self.params = params
        self.transform = ResizeLongestSide(model.image_encoder.img_size)
        self.point_grids = build_all_layer_point_grids(params.points_per_side, params.crop_n_layers,
                                                       params.crop_n_points_downscale_factor)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def encode(self, crop: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """Image embedding of an RGB uint8 crop (the stock ``SamPredictor.set_image`` steps)."""
        resized = self.transform.apply_image(crop)
        tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        input_size = tuple(tensor.shape[-2:])
        with torch.inference_mode():
            features = self.model.image_encoder(self.model.preprocess(tensor))
        return features, input_size

    def generate(self, image: np.ndarray, embeddings=None, on_embedding=None) -> MaskSet:
        """Masks of one RGB uint8 image (H, W, 3).

        Args:
            embeddings: optional callable ``crop_index -> features or None`` (cached embeddings).
            on_embedding: optional callable ``(crop_index, features, input_size)`` to store them.

        Raises:
            SamError: the image is not (H, W, 3) uint8.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SamError(f"SAM needs an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        params = self.params
        orig_h, orig_w = image.shape[:2]
        crop_boxes, layer_indices = generate_crop_boxes((orig_h, orig_w), params.crop_n_layers, params.crop_overlap_ratio)
        parts = []
        with torch.inference_mode():
            for crop_index, (crop_box, layer_index) in enumerate(zip(crop_boxes, layer_indices)):
                cached = embeddings(crop_index) if embeddings else None
                x0, y0, x1, y1 = crop_box
                crop = image[y0:y1, x0:x1, :]
                if cached is not None:
                    features, input_size = cached
                    features = features.to(self.device)
                else:
                    features, input_size = self.encode(crop)
                    if on_embedding:
                        on_embedding(crop_index, features, input_size)
                parts.append(self._process_crop(features, input_size, crop.shape[:2], crop_box, layer_index, (orig_h, orig_w)))
            data = _concat(parts)
            if len(crop_boxes) > 1 and len(data["iou"]):
                scores = 1 / box_area(data["crop_boxes"].float())
                keep = batched_nms(data["boxes"].float(), scores.to(data["boxes"].device),
                                   torch.zeros(len(data["boxes"]), device=data["boxes"].device),
                                   iou_threshold=params.crop_nms_thresh)
                data = _take(data, keep)
            if params.min_mask_region_area > 0 and len(data["iou"]):
                data = self._remove_small_regions(data)
        return _to_mask_set(data, (orig_h, orig_w))

    def _process_crop(self, features, input_size, crop_size, crop_box, layer_index, orig_size) -> dict:
        params = self.params
        crop_h, crop_w = crop_size
        orig_h, orig_w = orig_size
        decoder = PointPromptDecoder(self.model, features)
        points_for_image = self.point_grids[layer_index] * np.array(crop_size)[None, ::-1]
        model_len = self.model.image_encoder.img_size
        rows = cols = None
        crop_t = torch.tensor(crop_box, device=self.device)
        found = []
        for start in range(0, len(points_for_image), params.points_per_batch):
            points = points_for_image[start:start + params.points_per_batch]
            coords = self.transform.apply_coords(points, crop_size)
            # float64 like the stock generator; MPS has no float64
            coords = torch.as_tensor(coords, dtype=torch.float32 if self.device.type == "mps" else torch.float64,
                                     device=self.device)
            labels = torch.ones(coords.shape[0], dtype=torch.int, device=self.device)
            sparse, _ = self.model.prompt_encoder(points=(coords[:, None, :], labels[:, None]), boxes=None, masks=None)
            hidden, keys = decoder.transform(sparse)
            iou = decoder.predicted_iou(hidden)[:, 1:].float()  # multimask output: tokens 1..3 (float for NMS under bf16)
            n_masks = iou.shape[1]
            point_ids = torch.arange(len(points), device=self.device).repeat_interleave(n_masks)
            iou_flat = iou.flatten()
            keep = iou_flat > params.pred_iou_thresh if params.pred_iou_thresh > 0.0 else torch.ones_like(iou_flat, dtype=torch.bool)
            if not bool(keep.any()):
                continue
            prompt_keep = keep.view(-1, n_masks).any(1)
            logits = decoder.low_res_logits(hidden[prompt_keep], keys[prompt_keep], list(range(1, 1 + n_masks)))
            logits = logits.flatten(0, 1)[keep.view(-1, n_masks)[prompt_keep].flatten()]
            if rows is None:
                low_h, low_w = logits.shape[-2:]
                rows = _axis_matrix(low_h, model_len, input_size[0], crop_h, self.device)
                cols = _axis_matrix(low_w, model_len, input_size[1], crop_w, self.device)
            iou_kept, ids = iou_flat[keep], point_ids[keep]
            # upscaled masks are made a few at a time (MASK_CHUNK_BYTES of float32), and only the
            # low-res logits of the candidates are kept until NMS: a 3000 x 3000 image with every
            # candidate kept would otherwise hold 3 x 1024 full-size masks (tens of GB)
            chunk = self._chunk_size(crop_h * crop_w)
            for first in range(0, len(logits), chunk):
                part = slice(first, first + chunk)
                candidate = self._filter_candidates(logits[part], iou_kept[part], ids[part], rows, cols,
                                                    crop_box, orig_size)
                if candidate is not None:
                    candidate["points"] = torch.as_tensor(points, dtype=coords.dtype, device=self.device)[candidate.pop("ids")]
                    found.append(candidate)
        data = _concat(found)
        if len(data["iou"]) == 0:
            return _empty(orig_size, self.device)
        keep = batched_nms(data["boxes"].float(), data["iou"], torch.zeros(len(data["boxes"]), device=self.device),
                           iou_threshold=params.box_nms_thresh)
        data = _take(data, keep)
        # the survivors' masks again from their logits: the same products, so the same pixels
        logits = data.pop("logits")
        chunk = self._chunk_size(crop_h * crop_w)
        data["masks"] = torch.cat([_resize(logits[i:i + chunk].float(), rows, cols) > self.model.mask_threshold
                                   for i in range(0, len(logits), chunk)])
        x0, y0, x1, y1 = crop_box
        if not (x0 == 0 and y0 == 0 and x1 == orig_w and y1 == orig_h):
            data["masks"] = F.pad(data["masks"], (x0, orig_w - x1, y0, orig_h - y1), value=False)
            data["boxes"] = data["boxes"] + torch.tensor([[x0, y0, x0, y0]], device=self.device)
            data["points"] = data["points"] + torch.tensor([[x0, y0]], device=self.device)
        data["crop_boxes"] = crop_t[None].expand(len(data["iou"]), 4).clone()
        return data

    def _chunk_size(self, pixels: int) -> int:
        """How many full-size float32 masks fit in :data:`MASK_CHUNK_BYTES` (at least one)."""
        return max(1, MASK_CHUNK_BYTES // (4 * max(1, pixels)))

    def _filter_candidates(self, logits, iou, ids, rows, cols, crop_box, orig_size) -> dict | None:
        """Stability filter, boxes and crop-edge filter of some candidates (the stock steps, per mask).

        Returns:
            the survivors' low-res ``logits``, ``boxes``, ``iou``, ``stability`` and prompt ``ids``
            (None when none survives); their full-size masks are not kept.
        """
        params = self.params
        masks = _resize(logits.float(), rows, cols)
        stability = calculate_stability_score(masks, self.model.mask_threshold, params.stability_score_offset)
        if params.stability_score_thresh > 0.0:
            stable = stability >= params.stability_score_thresh
            masks, logits, iou, ids, stability = masks[stable], logits[stable], iou[stable], ids[stable], stability[stable]
        binary = masks > self.model.mask_threshold
        del masks
        boxes = masks_to_boxes_xyxy(binary)
        del binary
        inside = ~is_box_near_crop_edge(boxes, crop_box, [0, 0, orig_size[1], orig_size[0]])
        if not bool(inside.all()):
            logits, boxes, iou, ids, stability = logits[inside], boxes[inside], iou[inside], ids[inside], stability[inside]
        if len(iou) == 0:
            return None
        return {"logits": logits, "boxes": boxes, "iou": iou, "stability": stability, "ids": ids}

    def _remove_small_regions(self, data: dict) -> dict:
        """The stock ``postprocess_small_regions``: fill small holes, drop small islands, NMS again."""
        area = self.params.min_mask_region_area
        masks = data["masks"].cpu().numpy()
        new_masks, scores = [], []
        for mask in masks:
            mask, changed_holes = remove_small_regions(mask, area, mode="holes")
            mask, changed_islands = remove_small_regions(mask, area, mode="islands")
            new_masks.append(mask)
            scores.append(float(not (changed_holes or changed_islands)))
        stacked = torch.as_tensor(np.stack(new_masks), device=self.device)
        boxes = batched_mask_to_box(stacked)
        keep = batched_nms(boxes.float(), torch.as_tensor(scores, device=self.device),
                           torch.zeros(len(boxes), device=self.device),
                           iou_threshold=max(self.params.box_nms_thresh, self.params.crop_nms_thresh))
        changed = torch.as_tensor([s == 0.0 for s in scores], device=self.device)
        data = dict(data)
        data["masks"] = torch.where(changed[:, None, None], stacked, data["masks"])
        data["boxes"] = torch.where(changed[:, None], boxes, data["boxes"])
        return _take(data, keep)


def _empty(orig_size, device) -> dict:
    h, w = orig_size
    return {"masks": torch.zeros((0, h, w), dtype=torch.bool, device=device),
            "boxes": torch.zeros((0, 4), dtype=torch.int64, device=device),
            "iou": torch.zeros(0, device=device), "stability": torch.zeros(0, device=device),
            "points": torch.zeros((0, 2), dtype=torch.float32 if device.type == "mps" else torch.float64, device=device),
            "crop_boxes": torch.zeros((0, 4), dtype=torch.int64, device=device)}


def _concat(parts: list[dict]) -> dict:
    parts = [p for p in parts if p and len(p["iou"])]
    if not parts:
        return {"iou": torch.zeros(0)}
    return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


def _take(data: dict, keep: torch.Tensor) -> dict:
    return {key: value[keep] for key, value in data.items()}


def _to_mask_set(data: dict, orig_size) -> MaskSet:
    if len(data["iou"]) == 0:
        return MaskSet.empty(orig_size)
    boxes = data["boxes"].cpu().numpy().astype(np.int64)
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    crops = data["crop_boxes"].cpu().numpy().astype(np.int64)
    crops_xywh = np.stack([crops[:, 0], crops[:, 1], crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]], axis=1)
    masks = data["masks"].cpu().numpy()
    return MaskSet(
        masks=masks,
        predicted_iou=data["iou"].float().cpu().numpy(),
        stability_score=data["stability"].float().cpu().numpy(),
        area=masks.reshape(len(masks), -1).sum(1).astype(np.int64),
        bbox=xywh,
        point_coords=data["points"].double().cpu().numpy(),
        crop_box=crops_xywh,
    )
