"""Mask explorer: every cached SAM mask of one image, and what each selection made of it (the paper's Fig. 4).

:func:`explore_masks` reads the image's compressed mask cache (never recomputes it), the selection
records (:mod:`samis.sam.records`) and maps of every SAM method of that model on the image, and
scores each map against the ground truth (:func:`samis.metrics.score_image`). The drawings are
plain numpy + Pillow:

- :func:`all_masks_overlay` — every (shown) mask in a random colour, as SAM's demo draws them
  (largest first, 35 % opacity, seeded colours fixed per mask index, so hiding a mask keeps the others' colours);
- :func:`chosen_overlay` — the masks a selection chose, filled in their colours; a negated mask (the
  map uses everything *but* it) is drawn as its outline in magenta with the area it contributes hatched;
- :func:`fig4_figure` — image · all masks · chosen masks · resulting map · ground truth, one PNG.

Everything is drawn at display size (long side ``max_side``), so a 100-mask image opens quickly at any
image size. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from samis.datasets import Dataset, Sample, load_dataset
from samis.errors import DatasetError, SamError
from samis.evaluation import cached_image_scores
from samis.imageio import ImageReadError, read_rgb
from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES, describe, sam_method_id, sam_model_of
from samis.models import RUNNABLE_MODELS, ModelSpec
from samis.sam.masks import MaskSet, read_mask_set
from samis.sam.records import SelectionRecord, read_selection_record
from samis.store import prediction_files, read_prediction
from samis.workspace import Workspace
from samis.metrics import IMAGE_METRICS, score_image
from samis.figures import caption_font

#: opacity of each mask in the all-masks overlay (SAM's demo notebook uses 0.35)
MASK_ALPHA = 0.35
NEGATED_COLOR = (230, 0, 200)
HATCH_SPACING = 6
GT_COLUMN = "IoU with GT †"
GT_NOTE = "† uses the ground truth (for looking, not for choosing)"


# ---- what is cached ---------------------------------------------------------------------------------
def cached_models(workspace: Workspace, dataset_id: str) -> list[str]:
    """Labels of the SAM / SAM 2.1 models with a mask cache folder for the dataset: real models first (``sam-vit_h``
    …, ``sam2.1-hiera_t`` …), then the test-size ones (``sam-tiny-random``, ``sam2-tiny-random``)."""
    base = workspace.root / "cache" / "sam"
    models = list(RUNNABLE_MODELS.values())
    known = [m.label for m in models if not m.random_weights] + [m.label for m in models if m.random_weights]
    return [label for label in known if (base / label / dataset_id).is_dir()]


def cached_images(workspace: Workspace, dataset_id: str, label: str) -> list[str]:
    """Image ids with a mask cache file of one model, sorted."""
    folder = workspace.sam_cache_dir(label, dataset_id)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.npz") if not p.name.startswith("."))


def resolve_model(text: str) -> ModelSpec:
    """The SAM model a user named (``tiny``, ``sam-tiny-random``, ``vit_h``, ``sam-vit_h``).

    Raises:
        SamError: unknown model.
    """
    model = sam_model_of(text)
    if model is None:
        raise SamError(f"unknown SAM model {text!r}; choose from {', '.join(m.label for m in RUNNABLE_MODELS.values())}")
    return model


def selection_command(dataset_id: str, model: ModelSpec, params: dict | None) -> str:
    """The command that writes a selection from cached masks: the flags of every parameter the masks were
    made with that differs from the generator's default, so the run reuses the cache instead of making
    other masks (a random-weights model keeps none at SAM's default thresholds)."""
    # lazy: the parameter schema is needed only for this hint
    from samis.sam.params import GENERATOR_PARAMS

    flags = []
    for param in GENERATOR_PARAMS:
        value = (params or {}).get(param.name)
        if value is None or param.sam2_only:
            continue
        if value != param.default_for(False):
            flags.append(f"{param.cli_flag} {value:g}" if isinstance(value, float) else f"{param.cli_flag} {value}")
    return f"python -m samis sam {dataset_id} --model {model.key} " + " ".join([*flags, "--selection oracle"])


def compute_command(dataset_id: str, model: ModelSpec) -> str:
    """The command that computes a model's masks for a dataset."""
    checkpoint = f" --checkpoint {model.checkpoint}" if model.checkpoint else ""
    return f"python -m samis sam {dataset_id} --model {model.key}{checkpoint} --split all"


# ---- the explorer -------------------------------------------------------------------------------------
@dataclass
class SelectionView:
    """One SAM method (strategy or prompt kind) on the image.

    Attributes:
        method: its id (``sam-tiny-random+oracle``).
        how: the strategy or prompt kind.
        record: its selection record, None when the map was written without one (``record_note`` says so).
        saliency: the stored uint8 map at ground-truth size (None: no map for this image).
        metrics: per-image values (:data:`samis.metrics.IMAGE_METRICS`) of the map against the ground truth.
        note: the method's remark (upper bound, random weights).
    """

    method: str
    how: str
    record: SelectionRecord | None
    record_note: str
    saliency: np.ndarray | None
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class MaskExplorer:
    """Everything the Masks view and ``masks`` command show for one image and model."""

    dataset_id: str
    image_id: str
    model: ModelSpec
    sample: Sample
    image: np.ndarray  # RGB at the image's size
    gt: np.ndarray | None  # bool at the ground truth's size (None: unreadable)
    mask_set: MaskSet  # at the image's size, cache order
    provenance: dict
    cache_path: Path
    table: pd.DataFrame
    selections: list[SelectionView]
    notes: list[str] = field(default_factory=list)

    def table_of(self, shown) -> pd.DataFrame:
        """The rows of :attr:`table` for the masks numbered in ``shown`` (all of them when every mask is shown)."""
        shown = list(shown)
        return self.table[self.table["mask"].isin(shown)] if len(shown) < len(self.table) else self.table

    def selection(self, how: str) -> SelectionView:
        """The view of one strategy or prompt kind.

        Raises:
            SamError: an unknown strategy (the valid ones listed), or no map of that strategy for this
                image (with the ``sam`` command that writes it: ``--selection`` for a strategy,
                ``--prompts`` for a prompt kind).
        """
        for view in self.selections:
            if view.how == how or view.method == how:
                return view
        have = ", ".join(v.how for v in self.selections) or "none"
        if how in SELECTION_STRATEGIES:
            flag = f"--selection {how}"
        elif how in PROMPT_KINDS:
            flag = f"--prompts {how}"
        else:
            raise SamError(f"unknown strategy or prompt kind {how!r} (strategies: {', '.join(SELECTION_STRATEGIES)}; "
                           f"prompt kinds: {', '.join(PROMPT_KINDS)}; written for this image: {have})")
        raise SamError(f"no {self.model.label}+{how} map for image {self.image_id} of {self.dataset_id} "
                       f"(have: {have}); write it with: python -m samis sam {self.dataset_id} --model {self.model.key} "
                       f"{flag}")


def _gt_ious(masks: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of each mask with the ground truth, masks brought to the ground truth's size (nearest)."""
    if len(masks) == 0:
        return np.zeros(0)
    if masks.shape[1:] != gt.shape:
        masks = masks[:, _nearest_index(gt.shape[0], masks.shape[1])][:, :, _nearest_index(gt.shape[1], masks.shape[2])]
    flat = masks.reshape(len(masks), -1)
    gt_flat = gt.reshape(-1)
    inter = np.count_nonzero(flat & gt_flat, axis=1).astype(np.float64)
    union = np.count_nonzero(flat, axis=1) + np.count_nonzero(gt_flat) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _nearest_index(target: int, source: int) -> np.ndarray:
    return (np.arange(target) * source // target).clip(0, source - 1)


def mask_table(mask_set: MaskSet, gt: np.ndarray | None, selections: list[SelectionView] = ()) -> pd.DataFrame:
    """One row per cached mask: index, predicted IoU, stability, area, box, IoU with GT †, chosen by.

    The values are the cache's (the IoU with the ground truth is computed here, marked † because it
    uses the ground truth). ``chosen by`` lists the strategies that chose the mask, ``¬`` marking a negation.
    """
    h, w = mask_set.shape
    chosen_by = {i: [] for i in range(len(mask_set))}
    for view in selections:
        if view.record is None:
            continue
        for index in view.record.chosen:
            if index in chosen_by:
                chosen_by[index].append(("¬" if index in view.record.negated else "") + view.how)
    frame = pd.DataFrame({
        "mask": np.arange(len(mask_set), dtype=np.int64),
        "predicted IoU": np.asarray(mask_set.predicted_iou, np.float64),
        "stability": np.asarray(mask_set.stability_score, np.float64),
        "area": np.asarray(mask_set.area, np.int64),
        "area %": np.asarray(mask_set.area, np.float64) * 100.0 / (h * w),
        "box x": mask_set.bbox[:, 0].astype(np.int64) if len(mask_set) else np.zeros(0, np.int64),
        "box y": mask_set.bbox[:, 1].astype(np.int64) if len(mask_set) else np.zeros(0, np.int64),
        "box w": mask_set.bbox[:, 2].astype(np.int64) if len(mask_set) else np.zeros(0, np.int64),
        "box h": mask_set.bbox[:, 3].astype(np.int64) if len(mask_set) else np.zeros(0, np.int64),
        GT_COLUMN: _gt_ious(mask_set.masks, gt) if gt is not None else np.full(len(mask_set), np.nan),
        "chosen by": [", ".join(chosen_by[i]) for i in range(len(mask_set))],
    })
    return frame


def _score(saliency: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    values = score_image(saliency, gt).scalars
    return {name: float(v) for name, v in zip(IMAGE_METRICS, values)}


def _order(how: str) -> int:
    names = [*SELECTION_STRATEGIES, *PROMPT_KINDS]
    return names.index(how) if how in names else len(names)


def explore_masks(workspace: Workspace, dataset_id: str, image_id: str, model: str, *, metrics: bool = True,
                  dataset: Dataset | None = None) -> MaskExplorer:
    """Read one image's cached SAM masks and every selection made of them.

    Args:
        dataset_id: a registered dataset.
        image_id: an image id of it.
        model: a SAM model key or label (``tiny``, ``sam-tiny-random``, ``vit_h`` …).
        metrics: score each selection's map against the ground truth.
        dataset: the loaded dataset (saves loading it again).

    Returns:
        a :class:`MaskExplorer`.

    Raises:
        DatasetError, WorkspaceError: unknown dataset or image.
        SamError: unknown model; no cached masks for the image (the message names the command that
            computes them); a damaged mask cache file (one line, never shown as no masks).
    """
    found = resolve_model(model)
    dataset = dataset or load_dataset(workspace, dataset_id)
    sample = dataset.by_id().get(image_id)
    if sample is None:
        raise DatasetError(f"{dataset_id}: no image with id {image_id!r}")
    path = workspace.sam_cache_dir(found.label, dataset_id) / f"{image_id}.npz"
    if not path.is_file():
        raise SamError(f"image {image_id} of {dataset_id} has no cached {found.label} masks; compute them with: "
                       f"{compute_command(dataset_id, found)}")
    mask_set, provenance = read_mask_set(path)
    image = read_rgb(sample.image_path)
    notes = []
    if image.shape[:2] != mask_set.shape:
        notes.append(f"the masks are {mask_set.shape[1]}x{mask_set.shape[0]} but the image is "
                     f"{image.shape[1]}x{image.shape[0]}: the image file changed after SAM ran; run sam again")
        image = np.asarray(Image.fromarray(image).resize((mask_set.shape[1], mask_set.shape[0]), Image.BILINEAR))
    gt = None
    try:
        gt = sample.read_gt()
    except (ImageReadError, OSError) as error:
        notes.append(f"ground truth unreadable ({error}); no IoU with it, no metrics")
    selections = []
    methods = workspace.prediction_methods(dataset_id)
    for method in methods:
        info = describe(method)
        how = info.strategy or info.prompt
        if info.model is None or info.model.label != found.label or how not in (*SELECTION_STRATEGIES, *PROMPT_KINDS):
            continue
        if method != sam_method_id(found.key, how):
            continue  # a variant (oracle-10): its records would not be ours to read
        map_path = prediction_files(workspace, dataset_id, method).get(image_id)
        if map_path is None:
            continue
        record = read_selection_record(workspace, dataset_id, method, image_id)
        saliency = read_prediction(map_path, gt.shape if gt is not None else None)
        values = {}
        if metrics and gt is not None:  # the evaluation's cached values when current, else scored here
            values = cached_image_scores(workspace, dataset_id, method, sample, map_path) or _score(saliency, gt)
        record_note = "" if record is not None else \
            "no selection record: this map was written before samis kept them; run the selection again to see its choice"
        selections.append(SelectionView(method, how, record, record_note, saliency, values, info.note))
    selections.sort(key=lambda v: _order(v.how))
    table = mask_table(mask_set, gt, selections)
    return MaskExplorer(dataset_id, image_id, found, sample, image, gt, mask_set, provenance, path, table,
                        selections, notes)


# ---- drawing -----------------------------------------------------------------------------------------
def mask_colors(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) uint8 random colours, fixed per mask index for a seed (SAM's demo: a random colour per mask)."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, 3)) * 200 + 40).astype(np.uint8)


def display_shape(shape: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(height, width) of a picture of ``shape`` scaled so its long side is ``max_side`` (never 0)."""
    h, w = shape
    scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if masks.shape[1:] == tuple(shape):
        return masks
    (height, width), (out_h, out_w) = masks.shape[1:], shape
    if height % out_h == 0 and width % out_w == 0:
        # a whole-number shrink picks every k-th pixel, as the nearest index does: a view, no copy of 100 masks
        return masks[:, ::height // out_h, ::width // out_w]
    return masks[np.ix_(np.arange(len(masks)), _nearest_index(out_h, height), _nearest_index(out_w, width))]


def _resize_rgb(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == tuple(shape):
        return image
    return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.BILINEAR))


def _outline(mask: np.ndarray) -> np.ndarray:
    """The boundary pixels of a mask, or of each mask of a stack (…, H, W)."""
    inner = mask.copy()
    inner[..., 1:, :] &= mask[..., :-1, :]
    inner[..., :-1, :] &= mask[..., 1:, :]
    inner[..., :, 1:] &= mask[..., :, :-1]
    inner[..., :, :-1] &= mask[..., :, 1:]
    return mask & ~inner


def all_masks_overlay(image: np.ndarray, masks: np.ndarray, shown=None, seed: int = 0,
                      max_side: int = 512) -> np.ndarray:
    """Every shown mask over the image in its random colour, largest first (SAM's demo ``show_anns``).

    Args:
        image: RGB (H, W, 3) uint8 at the masks' size.
        masks: (n, H, W) bool.
        shown: mask indices to draw (None: all).
        seed: colour seed.
        max_side: long side of the drawing.

    Returns:
        uint8 RGB at display size.
    """
    source = masks.shape[1:] if masks.ndim == 3 and masks.shape[0] else image.shape[:2]
    shape = display_shape(source, min(max_side, max(source)))  # never enlarged: the viewer scales
    out = _resize_rgb(image, shape).astype(np.float32)
    indices = list(range(len(masks))) if shown is None else [int(i) for i in shown if 0 <= int(i) < len(masks)]
    if not indices:
        return out.round().astype(np.uint8)
    # contiguous: the boolean indexing below is several times slower on a strided view
    small = np.ascontiguousarray(_resize_masks(masks[indices] if shown is not None else masks, shape))
    colors = mask_colors(len(masks), seed).astype(np.float32)[indices]
    order = np.argsort(-small.reshape(len(indices), -1).sum(1), kind="stable")  # largest first, as SAM's demo
    rows, cols = small.any(2), small.any(1)
    boxes = []
    for k in order:  # each mask drawn over the ones before it, only inside its own box
        r, c = np.flatnonzero(rows[k]), np.flatnonzero(cols[k])
        if len(r) == 0:
            continue
        box = (slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1))
        region, mask = out[box], small[k][box]
        region[mask] = (1 - MASK_ALPHA) * region[mask] + MASK_ALPHA * colors[k]
        boxes.append((k, box))
    for k, box in boxes:
        region = out[box]
        region[_outline(small[k][box])] = colors[k] * 0.6
    return out.round().clip(0, 255).astype(np.uint8)


def _hatch(shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return ((xx + yy) % HATCH_SPACING) < 2


def chosen_overlay(image: np.ndarray, masks: np.ndarray, record: SelectionRecord | None, seed: int = 0,
                   max_side: int = 512) -> np.ndarray:
    """The masks a selection chose: used masks filled in their colours; a negated mask's outline in
    magenta with the area it contributes (everything outside it) hatched; prompts drawn as boxes / points.

    Returns:
        uint8 RGB at display size (the plain image in grey when there is no record).
    """
    shape = display_shape(image.shape[:2], max_side)
    base = _resize_rgb(image, shape).astype(np.float32)
    out = base.mean(axis=2, keepdims=True).repeat(3, axis=2)  # grey: the colours are the choice
    if record is None:
        return out.round().astype(np.uint8)
    colors = mask_colors(len(masks), seed).astype(np.float32)
    hatch = _hatch(shape)
    if record.whole_image:
        out[hatch] = 0.4 * out[hatch] + 0.6 * np.array(NEGATED_COLOR, np.float32)
    chosen = [i for i in record.chosen if 0 <= i < len(masks)]
    small = _resize_masks(masks[chosen], shape) if chosen else np.zeros((0, *shape), bool)
    for k, index in enumerate(chosen):
        mask = small[k]
        if index in record.negated:
            area = ~mask & hatch
            out[area] = 0.3 * out[area] + 0.7 * np.array(NEGATED_COLOR, np.float32)
        else:
            out[mask] = 0.45 * out[mask] + 0.55 * colors[index]
    for k, index in enumerate(chosen):
        edge = _outline(small[k])
        out[edge] = np.array(NEGATED_COLOR, np.float32) if index in record.negated else colors[index] * 0.6
    picture = Image.fromarray(out.round().clip(0, 255).astype(np.uint8))
    if record.prompts:
        sy, sx = shape[0] / image.shape[0], shape[1] / image.shape[1]
        draw = ImageDraw.Draw(picture)
        for x0, y0, x1, y1 in record.prompts.get("boxes", []):
            draw.rectangle([x0 * sx, y0 * sy, (x1 + 1) * sx - 1, (y1 + 1) * sy - 1], outline=(0, 220, 0), width=2)
        for x, y in record.prompts.get("points", []):
            cx, cy = (x + 0.5) * sx, (y + 0.5) * sy
            draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=(0, 220, 0), outline=(255, 255, 255))
    return np.asarray(picture)


FIG4_TITLES = ("image", "all masks", "chosen masks", "resulting map", "ground truth")


def fig4_layout(shape: tuple[int, int], panel: int = 256, gap: int = 6, title: int = 20) -> tuple[tuple[int, int], list[tuple[int, int, int, int]]]:
    """The Fig. 4 figure's size (width, height) and each panel's box (x0, y0, x1, y1), for an image of ``shape``.

    Each panel is the image scaled so its long side is ``panel``; panels sit in a row under their titles.
    """
    ph, pw = display_shape(shape, panel)
    boxes = [(gap + k * (pw + gap), title + gap, gap + k * (pw + gap) + pw, title + gap + ph) for k in range(5)]
    return (gap + 5 * (pw + gap), title + ph + 2 * gap), boxes


def fig4_figure(explorer: MaskExplorer, how: str, shown=None, seed: int = 0, panel: int = 256) -> Image.Image:
    """image · all masks · chosen masks · resulting map · ground truth, as one RGB picture.

    Args:
        how: the strategy or prompt kind (or method id) whose choice to draw.
        shown: mask indices drawn in the all-masks panel (None: all).

    Raises:
        SamError: no map of that strategy for this image.
    """
    view = explorer.selection(how)
    shape = explorer.mask_set.shape
    size, boxes = fig4_layout(shape, panel)
    dshape = display_shape(shape, panel)
    masks = explorer.mask_set.masks
    gt = explorer.gt if explorer.gt is not None else np.zeros(shape, bool)
    saliency = view.saliency if view.saliency is not None else np.zeros(gt.shape, np.uint8)
    panels = [
        _resize_rgb(explorer.image, dshape),
        all_masks_overlay(explorer.image, masks, shown, seed, panel),
        chosen_overlay(explorer.image, masks, view.record, seed, panel),
        np.repeat(np.asarray(Image.fromarray(saliency).resize((dshape[1], dshape[0]), Image.NEAREST))[:, :, None], 3, 2),
        np.repeat((_resize_masks(gt[None], dshape)[0].astype(np.uint8) * 255)[:, :, None], 3, 2),
    ]
    canvas = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = caption_font(13)
    titles = list(FIG4_TITLES)
    titles[2] = f"chosen: {view.how}"
    for (x0, y0, x1, y1), picture, text in zip(boxes, panels, titles):
        canvas.paste(Image.fromarray(picture[:, :, :3].astype(np.uint8)), (x0, y0))
        draw.text((x0, 3), text, fill=(20, 20, 20), font=font)
    return canvas


def explorer_document(explorer: MaskExplorer, how: str | None = None) -> dict:
    """The mask table and selection records as a JSON-ready document (``masks --format json``)."""
    views = [explorer.selection(how)] if how else explorer.selections
    table = explorer.table.rename(columns={GT_COLUMN: "iou_with_gt"})
    return {
        "dataset": explorer.dataset_id, "image": explorer.image_id, "model": explorer.model.label,
        "random_weights": explorer.model.random_weights,
        "note": explorer.model.title if explorer.model.random_weights else "",
        "mask_cache": str(explorer.cache_path), "image_size": list(explorer.mask_set.shape),
        "n_masks": len(explorer.mask_set), "iou_with_gt_note": GT_NOTE,
        "masks": table.to_dict(orient="records"),
        "selections": [{"method": v.method, "how": v.how, "note": v.note,
                        "record": v.record.as_dict() if v.record else None, "record_note": v.record_note,
                        "metrics": v.metrics} for v in views],
        "notes": explorer.notes,
    }
